//! Streams of a real SQLite-engine install (tests/fixtures/live-reference-sqlite/source-files)
//! backed up and restored into an empty SQLite install come back row for row: the core keeps
//! a `path` in a stream's data only until the stream is first updated, and a deleted
//! stream's data is `{}`; a restore adds nothing to either.

use std::path::Path;

use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use pryv_backup::engines::filesystem::user_local_dir;
use pryv_backup::engines::sqlite::SqliteEngine;

/// `(id, deleted, data)` of every stream row, as stored.
fn stream_rows(base: &Path, user_id: &str) -> Vec<(String, Option<f64>, String)> {
    let file = user_local_dir(base, user_id)
        .unwrap()
        .join("baseStorage-1.0.0.sqlite");
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, deleted, data FROM streams ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    rows
}

#[test]
fn sqlite_streams_restore_as_the_core_stored_them() {
    let work = tempfile::tempdir().unwrap();
    // A copy: opening the fixture's files read-write would leave SQLite side files in it.
    let source_base = work.path().join("source");
    testbed::copy_tree(
        &testbed::fixture("live-reference-sqlite/source-files/users"),
        &source_base,
    );
    let source = SqliteEngine::open_with_fs_attachments(&source_base).unwrap();
    let target_base = work.path().join("target");
    std::fs::create_dir(&target_base).unwrap();
    let target = SqliteEngine::open_with_fs_attachments(&target_base).unwrap();

    let users = source.users().unwrap();
    assert_eq!(users.len(), 3);
    let mut paths_kept = 0;
    for user in &users {
        let mut data = MemoryUser::default();
        let everything = ExportOptions {
            window: ExportWindow::everything(),
            include_ephemeral: false,
        };
        source.export_user(user, &everything, &mut data).unwrap();
        target
            .import_user(user, &data, &ImportOptions::default())
            .unwrap();
        let expected = stream_rows(&source_base, &user.user_id);
        assert_eq!(
            stream_rows(&target_base, &user.user_id),
            expected,
            "{}",
            user.username
        );
        // The fixture's cases: streams with and without a path, a tombstone of `{}`.
        paths_kept += expected.iter().filter(|r| r.2.contains("\"path\"")).count();
        assert!(expected
            .iter()
            .any(|r| r.0 == "diary" && !r.2.contains("\"path\"")));
        assert!(expected
            .iter()
            .any(|r| r.0 == "lab-scratch" && r.1.is_some() && r.2 == "{}"));
    }
    assert!(paths_kept > 20, "{paths_kept}");
}
