//! The SQLite engine against real SQLite files in temporary directories.

use std::sync::Arc;

use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use pryv_backup::engines::filesystem::FsAttachments;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::{Collection, UserRef};
use pryv_backup::sample::sample_platform;

fn engine(dir: &std::path::Path) -> SqliteEngine {
    SqliteEngine::open(dir, Arc::new(FsAttachments::new(dir))).expect("open engine")
}

fn everything() -> ExportOptions {
    ExportOptions {
        window: ExportWindow::everything_before(f64::MAX),
        include_ephemeral: false,
    }
}

fn export(engine: &SqliteEngine, user: &UserRef) -> MemoryUser {
    let mut out = MemoryUser::default();
    engine
        .export_user(user, &everything(), &mut out)
        .expect("export");
    out
}

/// Item by item, so a failure names the first difference.
fn assert_same_user(expected: &MemoryUser, actual: &MemoryUser, who: &str) {
    for c in Collection::ALL {
        let (e, a) = (expected.items_of(c), actual.items_of(c));
        assert_eq!(e.len(), a.len(), "{who}: number of {}", c.name());
        for (x, y) in e.iter().zip(a) {
            assert_eq!(x, y, "{who}: {} item differs", c.name());
        }
    }
    assert_eq!(expected.account, actual.account, "{who}: account");
    assert_eq!(
        expected.attachments.keys().collect::<Vec<_>>(),
        actual.attachments.keys().collect::<Vec<_>>(),
        "{who}: attachment ids"
    );
    assert_eq!(
        expected.attachments, actual.attachments,
        "{who}: attachment bytes"
    );
}

#[test]
fn sqlite_sample_platform_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let platform = sample_platform(42);
    for (user, data) in &platform {
        engine
            .import_user(user, data, &ImportOptions::default())
            .expect("import");
    }
    let users = engine.users().unwrap();
    assert_eq!(
        users,
        platform.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>()
    );
    for (user, data) in &platform {
        assert_same_user(data, &export(&engine, user), &user.username);
    }
    let alice = &platform[0].1;
    assert!(alice.items_of(Collection::Events).len() > 20 && alice.attachments.len() == 2);
}

#[test]
fn sqlite_files_match_the_core_layout() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let (user, data) = sample_platform(7).remove(0);
    engine
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap();
    let udir = dir.path().join("1/0/0/cksamplealice0001");
    for f in [
        "baseStorage-1.0.0.sqlite",
        "local-1.0.0.sqlite",
        "audit-1.0.0.sqlite",
        "account-1.0.0.sqlite",
        "series-1.0.0.sqlite",
        "attachments/ev-with-files/att-sample-1",
    ] {
        assert!(udir.join(f).is_file(), "{f} missing");
    }
    // Nothing but the core's files is left in the user directory (no staging leftovers).
    let mut names: Vec<String> = std::fs::read_dir(&udir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    // The full-text index was filled by the core's triggers, and the file is in WAL mode.
    let conn = rusqlite::Connection::open(udir.join("local-1.0.0.sqlite")).unwrap();
    let hits: i64 = conn
        .query_row(
            "SELECT count(*) FROM events_fts WHERE events_fts MATCH '\"weight-morning\"'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hits > 0);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let index = rusqlite::Connection::open(dir.path().join("user-index.db")).unwrap();
    let id: String = index
        .query_row(
            "SELECT userId FROM id4name WHERE username = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(id, "cksamplealice0001");
}
