//! A restore into an empty PostgreSQL database loads the rows before it builds the secondary
//! indexes and the big tables' primary keys (as pg_restore does), and ends with the whole
//! schema: the same indexes as the DDL, which is the core's (postgres_schema.rs checks it
//! against docs/storage-layout.md). While a key is absent, a user whose rows repeat one is
//! still refused before its commit.
//! The platform restored is the built-in sample one: what is checked here is the schema a
//! restore leaves, whatever rows it wrote.

mod archive_support;

use std::collections::BTreeMap;
use std::path::Path;

use archive_support::*;
use pryv_backup::chain::Chain;
use pryv_backup::engine::MemoryUser;
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::engines::postgres::{schema, PgEngine};
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::{Collection, UserRef};
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
    let options = backup_options("test", "https://indexes.example");
    backup_into(&source, &out, &options);
    open_local_chain(&out)
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
    for key in [
        "event_streams_pkey",
        "events_pkey",
        "audit_events_pkey",
        "series_data_pkey",
    ] {
        assert!(deferred.iter().any(|i| i.name == key), "{key}");
    }
    for index in &deferred {
        assert!(
            !during.contains_key(&index.name),
            "{} built early",
            index.name
        );
    }
    // The other keys and the unique indexes are there from the start: they guard the rows.
    assert!(during.contains_key("accesses_pkey"));
    assert!(during.contains_key("idx_access_token"));

    target
        .finish_restore(2, &pryv_backup::progress::Silent)
        .unwrap();
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
    // Its first user finds the keys built: they guard the rows already committed.
    import_first(&target, &chain, &ImportOptions::default());
    for key in schema::LOAD_KEYS {
        assert!(indexes(db.client()).contains_key(key.name), "{}", key.name);
    }
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
    target
        .finish_restore(2, &pryv_backup::progress::Silent)
        .unwrap();
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

/// Sample users as a restore reads them from pryv-backup's backups: events with history
/// copies first, then heads, by id within each (the order `archive_order.rs` checks our
/// backups write); audit rows by id; series points by time within each measurement.
fn sample_users_in_export_order() -> Vec<(UserRef, MemoryUser)> {
    let id = |item: &serde_json::Value, field: &str| item[field].as_str().unwrap_or("").to_string();
    sample_platform(5)
        .into_iter()
        .map(|(user, mut data)| {
            if let Some(events) = data.collections.get_mut(&Collection::Events) {
                events.sort_by_key(|e| (e.get("headId").is_none(), id(e, "id")));
            }
            if let Some(audit) = data.collections.get_mut(&Collection::Audit) {
                audit.sort_by_key(|e| id(e, "eventid"));
            }
            (user, data)
        })
        .collect()
}

fn rows_of(client: &mut postgres::Client, user_id: &str) -> i64 {
    user_rows(client, user_id)
        .iter()
        .map(|(_, n)| n)
        .sum::<i64>()
        + client
            .query_one(
                "SELECT count(*) FROM users_index WHERE user_id = $1",
                &[&user_id],
            )
            .unwrap()
            .get::<_, i64>(0)
}

/// Rows with a key already written, in every place a backup could put them: next to it
/// (found by the order), in the other run of the events (the sample's one history copy
/// given a head's id: found by the merge), among rows in no order (found by the database),
/// in audit and in series. Each time the user is refused and has nothing written; the
/// others restore and the keys build at the end.
#[test]
fn a_user_whose_rows_repeat_a_key_is_refused_while_the_key_is_absent() {
    let mut db = testbed::pg_database();
    let target = PgEngine::connect(db.conn_str(), None).unwrap();
    let users = sample_users_in_export_order();
    let (alice, good) = users[0].clone();
    let events = good.items_of(Collection::Events).to_vec();
    let heads: Vec<_> = events
        .iter()
        .filter(|e| e.get("headId").is_none())
        .collect();
    assert!(events.iter().any(|e| e.get("headId").is_some()) && heads.len() > 2);

    // The user's data with one collection edited.
    let edited = |collection: Collection, edit: &dyn Fn(&mut Vec<serde_json::Value>)| {
        let mut data = good.clone();
        edit(data.collections.get_mut(&collection).unwrap());
        data
    };
    let id_of = |collection: Collection, at: usize, field: &str| {
        good.items_of(collection)[at][field]
            .as_str()
            .unwrap()
            .to_string()
    };
    let last = events.len() - 1;
    // What is broken, the key it repeats, and the user's data so broken.
    let broken = [
        (
            "a head twice in a row",
            id_of(Collection::Events, last, "id"),
            edited(Collection::Events, &|events| {
                events.push(events[events.len() - 1].clone())
            }),
        ),
        (
            "a history copy with a head's id",
            heads[1]["id"].as_str().unwrap().to_string(),
            edited(Collection::Events, &|events| {
                let history = events.iter_mut().find(|e| e.get("headId").is_some());
                history.unwrap()["id"] = heads[1]["id"].clone();
            }),
        ),
        (
            "a head again, among events in no order",
            heads[2]["id"].as_str().unwrap().to_string(),
            edited(Collection::Events, &|events| {
                events.reverse();
                events.push(heads[2].clone());
            }),
        ),
        (
            "an audit row twice",
            id_of(Collection::Audit, 0, "eventid"),
            edited(Collection::Audit, &|audit| audit.push(audit[0].clone())),
        ),
        (
            "a series point twice",
            id_of(Collection::Series, 0, "measurement"),
            edited(Collection::Series, &|series| {
                let points = series[0]["points"].as_array_mut().unwrap();
                points.push(points[0].clone());
            }),
        ),
    ];
    for (what, key, data) in &broken {
        let error = target
            .import_user(&alice, data, &ImportOptions::default())
            .expect_err(what)
            .to_string();
        assert!(
            error.contains("two") && error.contains(key.as_str()),
            "{what}: {error}"
        );
        assert_eq!(rows_of(db.client(), &alice.user_id), 0, "{what}");
    }
    // The refused users left no key to build over repeated rows.
    for (user, data) in &users {
        target
            .import_user(user, data, &ImportOptions::default())
            .unwrap();
    }
    target
        .finish_restore(2, &pryv_backup::progress::Silent)
        .unwrap();
    assert_eq!(indexes(db.client()), ddl_indexes());
}

/// Keys stay absent while each user's rows prove theirs distinct by their order. Once a
/// user's rows do not, its check reads the table, and the next users find the keys built.
/// The reversed events copy bin/backup.js's archives: in its backup of the live install
/// (tests/fixtures/live-reference/backup-by-reference), a user's 48 events come in 25
/// ascending runs; cli_live_reference.rs restores that archive itself. A verified restore reads each user's
/// events back through events' key: that one is built from its first user.
#[test]
fn keys_are_built_early_for_rows_in_no_order_and_for_verification() {
    let users = sample_users_in_export_order();
    let present = |db: &mut testbed::TestDb, key: &str| indexes(db.client()).contains_key(key);

    let mut db = testbed::pg_database();
    let target = PgEngine::connect(db.conn_str(), None).unwrap();
    let (first, data) = &users[0];
    target
        .import_user(first, data, &ImportOptions::default())
        .unwrap();
    assert!(!present(&mut db, "events_pkey"));
    let (second, data) = &users[1];
    let mut shuffled = data.clone();
    shuffled
        .collections
        .get_mut(&Collection::Events)
        .unwrap()
        .reverse();
    target
        .import_user(second, &shuffled, &ImportOptions::default())
        .unwrap();
    assert!(!present(&mut db, "events_pkey"));
    let (third, data) = &users[2];
    target
        .import_user(third, data, &ImportOptions::default())
        .unwrap();
    for key in schema::GUARDED_KEYS {
        assert!(present(&mut db, key.name), "{}", key.name);
    }
    target
        .finish_restore(2, &pryv_backup::progress::Silent)
        .unwrap();
    assert_eq!(indexes(db.client()), ddl_indexes());

    let mut db = testbed::pg_database();
    let target = PgEngine::connect(db.conn_str(), None).unwrap();
    let verify = ImportOptions {
        verify_integrity: true,
        ..Default::default()
    };
    target.import_user(first, &users[0].1, &verify).unwrap();
    assert!(present(&mut db, "events_pkey"));
    assert!(!present(&mut db, "audit_events_pkey"));
    target
        .finish_restore(2, &pryv_backup::progress::Silent)
        .unwrap();
    assert_eq!(indexes(db.client()), ddl_indexes());
}
