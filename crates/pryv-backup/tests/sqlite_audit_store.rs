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

/// Set in the child process of `a_read_only_install_is_backed_up_without_a_write`: the
/// audit root it exports, as an unprivileged user.
const READ_ONLY_CHILD: &str = "PRYV_BACKUP_TEST_READ_ONLY_AUDIT_ROOT";

/// The Unix user the child runs as: neither the files' owner (nobody) nor root.
const BACKUP_UID: &str = "60123";

/// Exports alice's audit in a child process run as another unprivileged user (setpriv), as
/// a backup run by a dedicated user with read access only; prints the row count or error.
fn export_as_reader(root: &Path) -> String {
    let run = std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={BACKUP_UID}"),
            &format!("--regid={BACKUP_UID}"),
            "--clear-groups",
        ])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_read_only_install_is_backed_up_without_a_write",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(READ_ONLY_CHILD, root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("EXPORTED ").map(|(_, said)| said))
        .unwrap_or_else(|| panic!("no result from the child: {stdout}"))
        .to_string()
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

fn chmod_tree(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chmod_tree(&entry.unwrap().path());
        }
    }
}

/// Least privilege: the install's files belong to the core's user (here nobody), the backup
/// runs as another user that may read them and write nothing there. Its audit is exported
/// with the core stopped (no -wal), with the core running (-wal and -shm, a change only in
/// the -wal), and when a -wal is left without its -shm the error names the -shm and the
/// access it needs; no file is ever created in the install.
#[test]
fn a_read_only_install_is_backed_up_without_a_write() {
    let (user, audit) = alice();
    if let Some(root) = std::env::var_os(READ_ONLY_CHILD) {
        let store = SqliteAudit::new(Path::new(&root));
        let mut rows = 0;
        let result = store.export_user(&user, &everything(), &mut |_| {
            rows += 1;
            Ok(())
        });
        match result {
            Ok(()) => println!("EXPORTED {rows} rows"),
            Err(e) => println!("EXPORTED error: {e}"),
        }
        return;
    }
    if !is_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipped: needs root and setpriv to run the export as another user");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("users");
    let store = SqliteAudit::new(&root);
    import(&store, &user, &audit, false).unwrap();
    let file = audit_file(&root, &user);
    let dir = file.parent().unwrap().to_path_buf();
    let nobody = 65534;
    chmod_tree(work.path());
    chown_tree(&root, nobody);

    // The core stopped: the file alone.
    assert_eq!(entries(&dir), ["audit-1.0.0.sqlite"]);
    assert_eq!(export_as_reader(&root), format!("{} rows", audit.len()));
    assert_eq!(entries(&dir), ["audit-1.0.0.sqlite"]);

    // The core running: its connection keeps a -wal (holding one deletion) and a -shm.
    let core = rusqlite::Connection::open(&file).unwrap();
    core.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; \
         DELETE FROM events WHERE rowid = (SELECT max(rowid) FROM events);",
    )
    .unwrap();
    chown_tree(&root, nobody);
    chmod_tree(&root);
    let running = [
        "audit-1.0.0.sqlite",
        "audit-1.0.0.sqlite-shm",
        "audit-1.0.0.sqlite-wal",
    ];
    assert_eq!(entries(&dir), running);
    assert_eq!(export_as_reader(&root), format!("{} rows", audit.len() - 1));
    assert_eq!(entries(&dir), running);

    // A -wal left without its -shm, in a folder this user cannot write.
    let wal = std::fs::read(dir.join("audit-1.0.0.sqlite-wal")).unwrap();
    let _ = rusqlite::Connection::close(core);
    std::fs::write(dir.join("audit-1.0.0.sqlite-wal"), wal).unwrap();
    let _ = std::fs::remove_file(dir.join("audit-1.0.0.sqlite-shm"));
    chown_tree(&root, nobody);
    chmod_tree(&root);
    let left = ["audit-1.0.0.sqlite", "audit-1.0.0.sqlite-wal"];
    assert_eq!(entries(&dir), left);
    let said = export_as_reader(&root);
    assert!(
        said.contains("audit-1.0.0.sqlite-shm") && said.contains("write access to the folder"),
        "{said}"
    );
    assert_eq!(entries(&dir), left);
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
