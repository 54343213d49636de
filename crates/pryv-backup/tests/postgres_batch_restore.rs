//! Small users restored together (`Engine::import_users_together`): into a schema the
//! restore creates, a batch of users goes in one transaction, each table's rows in one COPY,
//! with every row as the one-user restore writes it; a user whose rows PostgreSQL refuses
//! sends its batch back to one user at a time, so that it alone fails and the others restore.

mod archive_support;
mod postgres_support;

use std::path::{Path, PathBuf};

use archive_support::{backup_into, backup_options, open_local_chain};
use postgres_support::{export_all, live_postgres};
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::Collection;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions, RestoreReport};
use serde_json::json;

/// The transactions that wrote `table`'s rows (a row's `xmin` is the one that inserted it).
fn writing_transactions(client: &mut postgres::Client, table: &str) -> i64 {
    client
        .query_one(
            format!("SELECT count(DISTINCT xmin::text) FROM {table}").as_str(),
            &[],
        )
        .unwrap()
        .get(0)
}

/// A full backup of `source` in `dir`/backup.
fn backed_up(source: &dyn Engine, engine_name: &str, dir: &Path) -> PathBuf {
    let out = dir.join("backup");
    backup_into(
        source,
        &out,
        &backup_options(engine_name, "https://batch.example"),
    );
    out
}

/// `users` of the backup at `out` (all when empty) restored into a new database, one job.
fn restored_into_new(out: &Path, users: Vec<String>) -> (testbed::TestDb, PgEngine, RestoreReport) {
    let db = testbed::pg_database();
    let engine = PgEngine::connect(db.conn_str(), None).unwrap();
    let report = restore::run(
        &engine,
        &open_local_chain(out),
        out,
        &RestoreOptions {
            users,
            jobs: 1,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    (db, engine, report)
}

#[test]
fn the_live_installs_users_restore_in_one_transaction_with_every_item_as_before() {
    let (_source_db, source) = live_postgres();
    let tmp = tempfile::tempdir().unwrap();
    let out = backed_up(&source, "postgresql", tmp.path());

    let (mut target_db, target, report) = restored_into_new(&out, Vec::new());
    assert!(report.is_complete(), "{report:?}");
    let users = source.users().unwrap();
    assert_eq!(report.restored.len(), users.len());
    assert!(users.len() > 1);

    assert!(export_all(&source) == export_all(&target), "items differ");
    for table in [
        "users_index",
        "streams",
        "events",
        "accesses",
        "account_fields",
    ] {
        assert_eq!(
            writing_transactions(target_db.client(), table),
            1,
            "{table}: the {} users were written by as many transactions",
            users.len()
        );
    }
}

#[test]
fn a_user_postgresql_refuses_in_a_batch_fails_alone_and_the_others_restore() {
    // An event whose text holds U+0000: PostgreSQL cannot store it (the core on PostgreSQL
    // refuses such events), while a backup of the SQLite engine may carry one.
    let tmp = tempfile::tempdir().unwrap();
    let users_dir = tmp.path().join("install");
    std::fs::create_dir_all(&users_dir).unwrap();
    let source = SqliteEngine::open_with_fs_attachments(&users_dir).unwrap();
    let mut platform = pryv_backup::sample::sample_platform(3);
    let (refused, data) = &mut platform[1];
    let refused = refused.clone();
    let events = data.collections.entry(Collection::Events).or_default();
    let mut event = events[0].clone();
    event["id"] = json!("cnulcharacter0000000001");
    event["content"] = json!("before\u{0}after");
    events.push(event);
    for (user, data) in &platform {
        source
            .import_user(user, data, &ImportOptions::default())
            .unwrap();
    }
    let out = backed_up(&source, "sqlite", tmp.path());

    let (mut target_db, target, report) = restored_into_new(&out, Vec::new());
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].user, refused);
    assert_eq!(report.restored.len(), platform.len() - 1, "{report:?}");

    let restored = export_all(&target);
    assert!(!restored.iter().any(|(user, _)| *user == refused));
    let client = target_db.client();
    for table in ["streams", "events", "accesses", "account_fields"] {
        let rows: i64 = client
            .query_one(
                format!("SELECT count(*) FROM {table} WHERE user_id = $1").as_str(),
                &[&refused.user_id],
            )
            .unwrap()
            .get(0);
        assert_eq!(rows, 0, "{table} holds rows of the refused user");
    }
    // The others as a restore of them alone (in one batch) leaves them.
    let (_others_db, others, report) = restored_into_new(
        &out,
        platform
            .iter()
            .map(|(user, _)| user.user_id.clone())
            .filter(|id| *id != refused.user_id)
            .collect(),
    );
    assert!(report.is_complete(), "{report:?}");
    assert!(
        restored == export_all(&others),
        "the other users' items differ"
    );
}
