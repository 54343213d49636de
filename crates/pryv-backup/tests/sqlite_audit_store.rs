//! SqliteAudit: per-user audit files beside another base engine, against real SQLite files.

use std::path::{Path, PathBuf};

use pryv_backup::engine::{CollectionStore, ExportWindow};
use pryv_backup::engines::sqlite::SqliteAudit;
use pryv_backup::model::{Collection, Item, UserRef};
use pryv_backup::sample::sample_platform;
use serde_json::json;
use testbed::audit::sqlite_shape;

fn alice() -> (UserRef, Vec<Item>) {
    let (user, data) = sample_platform(11).swap_remove(0);
    let audit = data.items_of(Collection::Audit).to_vec();
    assert!(audit.len() > 3, "the sample user has audit rows");
    (user, audit)
}

fn sqlite_rows(rows: &[Item]) -> Vec<Item> {
    rows.iter().map(sqlite_shape).collect()
}

fn export(store: &SqliteAudit, user: &UserRef, window: &ExportWindow) -> Vec<Item> {
    let mut out = Vec::new();
    store
        .export_user(user, window, &mut |item| {
            out.push(item.clone());
            Ok(())
        })
        .expect("export");
    out
}

fn import(
    store: &SqliteAudit,
    user: &UserRef,
    items: &[Item],
    overwrite: bool,
) -> pryv_backup::Result<()> {
    store.import_user(user, &mut items.iter().cloned().map(Ok), overwrite)
}

fn everything() -> ExportWindow {
    ExportWindow::everything()
}

/// The core's path of a user's audit file: `<root>/<last 3 chars reversed>/<userId>/`.
fn audit_file(root: &Path, user: &UserRef) -> PathBuf {
    let tail: Vec<String> = user
        .user_id
        .chars()
        .rev()
        .take(3)
        .map(String::from)
        .collect();
    root.join(tail.join("/"))
        .join(&user.user_id)
        .join("audit-1.0.0.sqlite")
}

/// What is in the user's directory, to see that nothing was left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn sqlite_audit_round_trip_and_window() {
    let root = tempfile::tempdir().unwrap();
    let store = SqliteAudit::new(root.path());
    let (user, audit) = alice();
    import(&store, &user, &audit, false).unwrap();
    let file = audit_file(root.path(), &user);
    assert!(file.is_file(), "{} written", file.display());
    assert_eq!(entries(file.parent().unwrap()), ["audit-1.0.0.sqlite"]);
    assert_eq!(export(&store, &user, &everything()), sqlite_rows(&audit));

    let t = |i: usize| audit[i]["time"].as_f64().unwrap();
    let window = ExportWindow { since: Some(t(1)) };
    let expected: Vec<Item> = audit
        .iter()
        .filter(|i| window.includes(i))
        .map(sqlite_shape)
        .collect();
    assert_eq!(
        expected.len(),
        audit.len() - 2,
        "every item after the second"
    );
    assert_eq!(export(&store, &user, &window), expected);

    // A user without an audit file has no audit.
    let other = UserRef {
        user_id: "cknobodyhere0009".into(),
        username: "nobody".into(),
    };
    assert!(export(&store, &other, &everything()).is_empty());
}

#[test]
fn sqlite_audit_overwrite_replaces_and_failures_leave_the_file_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let store = SqliteAudit::new(root.path());
    let (user, audit) = alice();
    import(&store, &user, &audit, false).unwrap();
    let file = audit_file(root.path(), &user);
    let before = std::fs::read(&file).unwrap();

    // Without overwrite, an existing file is not merged into.
    let err = import(&store, &user, &audit[..1], false).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // A bad row halfway through: nothing changes, nothing is left behind.
    let mut bad = audit[..2].to_vec();
    bad.push(json!({"time": 1}));
    let err = import(&store, &user, &bad, true).unwrap_err();
    assert!(err.to_string().contains("eventid"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(entries(file.parent().unwrap()), ["audit-1.0.0.sqlite"]);
    assert_eq!(export(&store, &user, &everything()), sqlite_rows(&audit));

    // Overwrite replaces the whole file.
    import(&store, &user, &audit[2..4], true).unwrap();
    assert_eq!(
        export(&store, &user, &everything()),
        sqlite_rows(&audit[2..4])
    );
    assert_eq!(entries(file.parent().unwrap()), ["audit-1.0.0.sqlite"]);

    // Overwrite with no audit at all removes it.
    import(&store, &user, &[], true).unwrap();
    assert!(!file.exists());
    assert!(export(&store, &user, &everything()).is_empty());
}

#[test]
fn sqlite_audit_failed_import_of_a_new_user_leaves_no_directory() {
    let root = tempfile::tempdir().unwrap();
    let store = SqliteAudit::new(root.path());
    let (user, _) = alice();
    let err = import(&store, &user, &[json!({"eventid": 3})], false).unwrap_err();
    assert!(err.to_string().contains("eventid"), "{err}");
    assert!(
        entries(root.path()).is_empty(),
        "nothing left under the root"
    );

    // A user without audit: nothing to write, no directory made.
    import(&store, &user, &[], false).unwrap();
    assert!(entries(root.path()).is_empty(), "no directory for no audit");
}
