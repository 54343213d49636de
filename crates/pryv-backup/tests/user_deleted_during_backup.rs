//! A user deleted while a backup runs (issue #30, point 7): listed when the backup starts,
//! deleted by the core before its snapshot is taken. The core removes the users-index
//! entry first, then the platform entries, then the data (docs/consistency.md). The user
//! must be left out of the backup and named in its report, not saved as an empty user that
//! a restore would bring back as an index row with nothing behind it. And a backup that
//! holds such an account-less user (made by an earlier version) must not restore it.

mod live_write;

use std::path::Path;
use std::sync::Arc;

use live_write::*;
use pryv_backup::archive::{ArchiveReader, ArchiveWriter, WriterOptions};
use pryv_backup::backup::{self, BackupHook, BackupOptions, BackupReport, BackupStep};
use pryv_backup::engine::{Engine, ImportOptions, MemoryUser};
use pryv_backup::engines::filesystem::user_local_dir;
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::{Collection, UserRef};
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};
use pryv_backup::sample;

const SEED: u64 = 7;

/// Runs `delete` once, just before bob's snapshot (bob is listed by then).
fn deleting_bob_before_his_snapshot(delete: impl Fn() + Send + Sync + 'static) -> BackupHook {
    BackupHook(Arc::new(move |step: &BackupStep<'_>| {
        if let BackupStep::BeforeUser(user) = step {
            if user.user_id == BOB {
                delete();
            }
        }
    }))
}

/// Bob is named as left out, and nothing of him is in the backup.
fn assert_bob_left_out(report: &BackupReport, out: &Path) {
    let ids = |users: &[UserRef]| users.iter().map(|u| u.user_id.clone()).collect::<Vec<_>>();
    assert_eq!(report.left_out.len(), 1, "{report:?}");
    assert_eq!(report.left_out[0].user.user_id, BOB);
    assert_eq!(report.left_out[0].user.username, "bob");
    assert_eq!(report.left_out[0].reason, "deleted during the backup");
    assert_eq!(ids(&report.users), [ALICE, CAROL, DAVE]);
    let reader = ArchiveReader::open(out, None).unwrap();
    let in_manifest: Vec<&str> = reader.manifest().users.ids().map(|(id, _)| id).collect();
    assert_eq!(in_manifest, [ALICE, CAROL, DAVE]);
    assert!(
        !out.join("users").join(BOB).exists(),
        "no folder is left for the deleted user"
    );
    // The other users are whole.
    let alice = reader.user(ALICE).unwrap();
    assert!(alice.items(Collection::Events).unwrap().count() > 0);
}

#[test]
fn a_sqlite_user_deleted_after_the_listing_is_left_out_and_named() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("source");
    std::fs::create_dir(&root).unwrap();
    let source = SqliteEngine::open_with_fs_attachments(&root).unwrap();
    for (user, data) in sample::sample_platform(SEED) {
        source
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }

    // As the core deletes a user: its index entry, then its folder.
    let core_root = root.clone();
    let hook = deleting_bob_before_his_snapshot(move || {
        rusqlite::Connection::open(core_root.join("user-index.db"))
            .unwrap()
            .execute("DELETE FROM id4name WHERE userId = ?1", [BOB])
            .unwrap();
        std::fs::remove_dir_all(user_local_dir(&core_root, BOB).unwrap()).unwrap();
    });
    let out = work.path().join("backup");
    let report = full_backup(&source, &out, hook);
    assert_bob_left_out(&report, &out);

    // Restored, the platform has the three others and no trace of bob.
    let target_root = work.path().join("target");
    std::fs::create_dir(&target_root).unwrap();
    let target = SqliteEngine::open_with_fs_attachments(&target_root).unwrap();
    restore_chain(&target, &out);
    let restored: Vec<String> = target
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(restored, [ALICE, CAROL, DAVE]);
    assert!(!target.user_exists(BOB).unwrap());
}

#[test]
fn a_postgresql_user_deleted_after_the_listing_is_left_out_with_its_platform_entries() {
    let source = testbed::pg_database();
    let engine = PgEngine::connect(source.conn_str(), None).unwrap();
    for (user, data) in sample::sample_platform(SEED) {
        engine
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }
    engine
        .import_platform(&mut sample::sample_platform_entries(SEED).into_iter().map(Ok))
        .unwrap();

    // Caught halfway through the core's deletion: the index entry is gone, the platform
    // entries and most rows are still there.
    let core = std::sync::Mutex::new(source.connect());
    let hook = deleting_bob_before_his_snapshot(move || {
        core.lock()
            .unwrap()
            .batch_execute(&format!(
                "DELETE FROM users_index WHERE user_id = '{BOB}';
                 DELETE FROM events WHERE user_id = '{BOB}';"
            ))
            .unwrap();
    });
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let report = full_backup(&engine, &out, hook);
    assert_bob_left_out(&report, &out);

    let reader = ArchiveReader::open(&out, None).unwrap();
    let owners: Vec<String> = reader
        .platform_items()
        .unwrap()
        .map(|item| item.unwrap()["username"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(owners.iter().any(|o| o == "alice"), "{owners:?}");
    assert!(
        !owners.iter().any(|o| o == "bob"),
        "the deleted user's platform entries are left out too: {owners:?}"
    );

    let target = testbed::pg_database();
    let target_engine = PgEngine::connect(target.conn_str(), None).unwrap();
    restore_chain(&target_engine, &out);
    assert!(!target_engine.user_exists(BOB).unwrap());
    assert_eq!(target_engine.users().unwrap().len(), 3);
}

/// A backup as an earlier version wrote one for a user deleted while it ran: in the index
/// when listed, nothing left when read (no account data at all).
#[test]
fn a_backed_up_user_without_account_data_is_not_restored() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("source");
    std::fs::create_dir(&root).unwrap();
    let source = SqliteEngine::open_with_fs_attachments(&root).unwrap();
    let mut platform = sample::sample_platform(SEED);
    platform.truncate(1);
    let ghost = UserRef {
        user_id: "ckghostuser00009".into(),
        username: "ghost".into(),
    };
    platform.push((ghost.clone(), MemoryUser::default()));
    for (user, data) in &platform {
        source
            .import_user(user, data, &ImportOptions::default())
            .unwrap();
    }
    let out = work.path().join("backup");
    backup::run(
        &source,
        ArchiveWriter::create(&out, WriterOptions::default()).unwrap(),
        &BackupOptions {
            users: Vec::new(),
            previous: None,
            include_ephemeral: false,
            jobs: 1,
            engine_name: "sqlite".into(),
            domain: "test".into(),
            core_version: "test".into(),
            clock_skew: 300.0,
            pii_key: None,
            hook: None,
        },
        &Silent,
    )
    .unwrap();

    let target_root = work.path().join("target");
    std::fs::create_dir(&target_root).unwrap();
    let target = SqliteEngine::open_with_fs_attachments(&target_root).unwrap();
    let chain =
        pryv_backup::chain::Chain::open(&pryv_backup::archive::Backend::Local, &out, &|d| {
            ArchiveReader::open(d, None).map_err(|e| e.to_string())
        })
        .unwrap()
        .unwrap();
    let options = RestoreOptions {
        jobs: 1,
        ..Default::default()
    };
    let report = restore::run(&target, &chain, &out, &options, &Silent).unwrap();
    assert_eq!(report.restored, [platform[0].0.clone()], "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].user, ghost);
    assert!(
        report.failed[0].reason.contains("no account data"),
        "{}",
        report.failed[0].reason
    );
    assert!(!report.is_complete());
    assert!(!target.user_exists(&ghost.user_id).unwrap());
}
