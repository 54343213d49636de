//! A restore into an empty PostgreSQL database loads the rows before it builds the secondary
//! indexes and `event_streams`' primary key (as pg_restore does), and ends with the whole schema: the same indexes as the
//! DDL, which is the core's (postgres_schema.rs checks it against docs/storage-layout.md).
//! The platform restored is the built-in sample one: what is checked here is the schema a
//! restore leaves, whatever rows it wrote.

use std::collections::BTreeMap;
use std::path::Path;

use pryv_backup::archive::{ArchiveReader, ArchiveWriter, Backend, WriterOptions};
use pryv_backup::backup::{self, BackupOptions};
use pryv_backup::chain::Chain;
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::engines::postgres::{schema, PgEngine};
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::UserRef;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};
use pryv_backup::sample::sample_platform;

/// Index name → definition, for the database's current schema.
fn indexes(client: &mut postgres::Client) -> BTreeMap<String, String> {
    client
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The indexes of a database created with the whole DDL at once.
fn ddl_indexes() -> BTreeMap<String, String> {
    let mut db = testbed::pg_database();
    schema::create(db.client()).unwrap();
    indexes(db.client())
}

/// A backup of the sample platform (kept in SQLite files) in `dir`.
fn sample_backup(dir: &Path) -> Chain {
    let users_dir = dir.join("install");
    std::fs::create_dir_all(&users_dir).unwrap();
    let source = SqliteEngine::open_with_fs_attachments(&users_dir).unwrap();
    for (user, data) in sample_platform(3) {
        source
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }
    let out = dir.join("backup");
    let writer = ArchiveWriter::create(&out, WriterOptions::default()).unwrap();
    let options = BackupOptions {
        users: Vec::new(),
        previous: None,
        include_ephemeral: true,
        jobs: 2,
        engine_name: "test".into(),
        domain: "https://indexes.example".into(),
        core_version: "test".into(),
        pii_key: None,
        clock_skew: 300.0,
        hook: None,
    };
    backup::run(&source, writer, &options, &Silent).unwrap();
    Chain::open(&Backend::Local, &out, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .unwrap()
    .unwrap()
}

/// Restores `users` of the chain (all of them when empty) and ends the restore.
fn restore(target: &PgEngine, chain: &Chain, dir: &Path, users: Vec<String>) {
    let report = restore::run(
        target,
        chain,
        dir,
        &RestoreOptions {
            users,
            jobs: 2,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
}

/// Imports the chain's first user through the engine alone (no restore run around it).
fn import_first(target: &PgEngine, chain: &Chain, options: &ImportOptions) -> UserRef {
    let first = chain.users()[0].clone();
    let source = chain.user_source(&first.user_id).unwrap();
    target.import_user(&first, &source, options).unwrap();
    first
}

#[test]
fn a_restore_into_an_empty_database_builds_the_indexes_last() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = sample_backup(tmp.path());
    let mut db = testbed::pg_database();
    let target = PgEngine::connect(db.conn_str(), None).unwrap();

    // One user in through the engine alone: its rows are in, the deferred indexes not yet.
    import_first(&target, &chain, &ImportOptions::default());
    let during = indexes(db.client());
    let deferred = schema::built_after_load();
    assert!(deferred.len() > 1);
    assert!(deferred.iter().any(|i| i.name == "event_streams_pkey"));
    for index in &deferred {
        assert!(
            !during.contains_key(&index.name),
            "{} built early",
            index.name
        );
    }
    // Keys and unique indexes are there from the start: they guard the rows.
    assert!(during.contains_key("events_pkey"));
    assert!(during.contains_key("idx_access_token"));

    target.finish_restore(2).unwrap();
    assert_eq!(indexes(db.client()), ddl_indexes());
}

#[test]
fn a_restore_stopped_before_its_indexes_is_completed_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = sample_backup(tmp.path());
    let mut db = testbed::pg_database();
    // What a restore leaves when it stops after creating the schema, before its end.
    schema::create_for_load(db.client()).unwrap();
    assert_ne!(indexes(db.client()), ddl_indexes());

    let target = PgEngine::connect(db.conn_str(), None).unwrap();
    // Its first user finds event_streams' key built: each user's statements use it.
    import_first(&target, &chain, &ImportOptions::default());
    assert!(indexes(db.client()).contains_key("event_streams_pkey"));
    let others = chain.users()[1..]
        .iter()
        .map(|u| u.user_id.clone())
        .collect();
    restore(&target, &chain, &tmp.path().join("backup"), others);
    assert_eq!(indexes(db.client()), ddl_indexes());
}

/// Rows per table of one user, `event_streams` included.
fn user_rows(client: &mut postgres::Client, user_id: &str) -> Vec<(String, i64)> {
    [
        "events",
        "event_streams",
        "streams",
        "accesses",
        "audit_events",
    ]
    .iter()
    .map(|t| {
        let sql = format!("SELECT count(*) FROM {t} WHERE user_id = $1");
        (
            t.to_string(),
            client.query_one(&sql, &[&user_id]).unwrap().get(0),
        )
    })
    .collect()
}

/// In a schema it created, the engine skips the per-user clean-up for a user it had not
/// registered; a user it had, restored again (with overwrite, or upserted without), is
/// still replaced, not doubled.
#[test]
fn a_user_restored_twice_into_a_schema_being_loaded_is_replaced_not_doubled() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = sample_backup(tmp.path());
    let mut db = testbed::pg_database();
    let target = PgEngine::connect(db.conn_str(), None).unwrap();
    let first = import_first(&target, &chain, &ImportOptions::default());
    let once = user_rows(db.client(), &first.user_id);
    assert!(once.iter().all(|(_, n)| *n > 0), "{once:?}");
    let overwrite = ImportOptions {
        overwrite: true,
        ..Default::default()
    };
    import_first(&target, &chain, &overwrite);
    assert_eq!(user_rows(db.client(), &first.user_id), once);
    // Without overwrite the events are upserted, their event_streams rows replaced by plain
    // INSERTs (the table has no key yet to name in an upsert).
    import_first(&target, &chain, &ImportOptions::default());
    assert_eq!(user_rows(db.client(), &first.user_id), once);
    // The key is built over rows that hold it.
    target.finish_restore(2).unwrap();
    assert_eq!(indexes(db.client()), ddl_indexes());
}

#[test]
fn a_whole_restore_ends_with_the_ddls_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = sample_backup(tmp.path());
    let mut db = testbed::pg_database();
    let target = PgEngine::connect(db.conn_str(), None).unwrap();
    restore(&target, &chain, &tmp.path().join("backup"), Vec::new());
    assert_eq!(indexes(db.client()), ddl_indexes());
    let events: i64 = db
        .client()
        .query_one("SELECT count(*) FROM events", &[])
        .unwrap()
        .get(0);
    assert!(events > 0);
}
