//! A user deleted from a SQLite install between generations (issue 29, first part): the
//! latest state of the chain leaves it out, the state before the deletion holds it, and a
//! consolidated backup of the latest state has no trace of it.

use std::path::Path;

use pryv_backup::archive::{ArchiveWriter, WriterOptions};
use pryv_backup::chain::Chain;
use pryv_backup::consolidate;
use pryv_backup::engine::Engine;
use pryv_backup::engines::filesystem::user_local_dir;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};

mod archive_support;

use archive_support::{back_up_next_generation, fill_with_sample, open_local_chain};

const BOB: &str = "cksamplebobby0002";

/// Restores `chain` into a new SQLite install and lists its userIds.
fn restored_users(chain: &Chain, dir: &Path) -> Vec<String> {
    let target = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open_with_fs_attachments(target.path()).expect("target");
    let report = restore::run(
        &engine,
        chain,
        dir,
        &RestoreOptions {
            jobs: 2,
            ..Default::default()
        },
        &Silent,
    )
    .expect("restore");
    assert!(report.is_complete(), "{report:?}");
    let mut ids: Vec<String> = engine
        .users()
        .expect("users")
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_user_deleted_from_a_sqlite_install_leaves_the_latest_state_only() {
    let source = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open_with_fs_attachments(source.path()).expect("source");
    fill_with_sample(&engine);
    let work = tempfile::tempdir().unwrap();
    let chain_dir = work.path().join("chain");
    back_up_next_generation(&engine, &chain_dir, "sqlite");
    let base_time = open_local_chain(&chain_dir).generation(0).expect("base").1;
    // The next generation is dated strictly later than the base.
    std::thread::sleep(std::time::Duration::from_millis(20));

    // As the core deletes a user of a SQLite install: its folder (databases, attachments)
    // and its users-index row.
    std::fs::remove_dir_all(user_local_dir(source.path(), BOB).unwrap()).unwrap();
    rusqlite::Connection::open(source.path().join("user-index.db"))
        .unwrap()
        .execute("DELETE FROM id4name WHERE userId = ?1", [BOB])
        .unwrap();
    assert!(engine.users().unwrap().iter().all(|u| u.user_id != BOB));
    back_up_next_generation(&engine, &chain_dir, "sqlite");

    let chain = open_local_chain(&chain_dir);
    assert_eq!(chain.generation_count(), 2);
    assert!(chain.users().iter().all(|u| u.user_id != BOB));
    assert!(chain
        .latest_state()
        .unwrap()
        .users
        .ids()
        .all(|(id, _)| id != BOB));
    let latest = restored_users(&chain, &chain_dir);
    assert_eq!(latest.len(), 3, "{latest:?}");
    assert!(!latest.iter().any(|u| u == BOB));

    let before = open_local_chain(&chain_dir)
        .as_of(base_time)
        .expect("as of");
    let earlier = restored_users(&before, &chain_dir);
    assert_eq!(earlier.len(), 4, "{earlier:?}");
    assert!(earlier.iter().any(|u| u == BOB));

    let merged_dir = work.path().join("consolidated");
    let writer = ArchiveWriter::create(&merged_dir, WriterOptions::default()).expect("archive");
    consolidate::run(&chain, writer, &Silent).expect("consolidate");
    let merged = open_local_chain(&merged_dir);
    assert!(merged
        .generation_manifest(0)
        .unwrap()
        .users
        .ids()
        .all(|(id, _)| id != BOB));
    assert_eq!(restored_users(&merged, &merged_dir).len(), 3);
}
