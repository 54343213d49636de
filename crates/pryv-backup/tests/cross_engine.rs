//! An archive made from one engine restores into the other: PostgreSQL → archive → SQLite
//! and SQLite → archive → PostgreSQL, every user's items and attachments equal.

mod archive_support;

use std::collections::BTreeMap;
use std::path::Path;

use archive_support::*;
use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, MemoryUser};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::engines::sqlite::SqliteEngine;
use serde_json::Value;

/// Backs `from` up into `dir`, then restores that archive into `to`, checking integrity.
fn transfer(from: &dyn Engine, to: &dyn Engine, dir: &Path) {
    let options = backup_options("test", "https://cross.example");
    backup_into(from, dir, &options);
    restore_verified(dir, to, false);
}

fn assert_same_users(a: &dyn Engine, b: &dyn Engine) {
    let everything = ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: true,
    };
    let users = a.users().expect("users");
    assert_eq!(users.len(), 4);
    assert_eq!(b.users().expect("users").len(), users.len());
    for user in &users {
        let (mut left, mut right) = (MemoryUser::default(), MemoryUser::default());
        a.export_user(user, &everything, &mut left)
            .expect("export a");
        b.export_user(user, &everything, &mut right)
            .expect("export b");
        // Engines list items in their own storage order: compare as sets.
        for collection in left.collections.keys().chain(right.collections.keys()) {
            let (l, r) = (sorted(&left, *collection), sorted(&right, *collection));
            let missing: Vec<_> = l.iter().filter(|i| !r.contains(i)).collect();
            let unexpected: Vec<_> = r.iter().filter(|i| !l.contains(i)).collect();
            assert!(
                missing.is_empty() && unexpected.is_empty() && l.len() == r.len(),
                "{} of {}:\nmissing {missing:#?}\nunexpected {unexpected:#?}",
                collection.name(),
                user.username
            );
        }
        assert_eq!(
            left.account.as_ref().map(|a| canonical(a, true)),
            right.account.as_ref().map(|a| canonical(a, true)),
            "account of {}",
            user.username
        );
        assert_eq!(
            left.attachments, right.attachments,
            "attachments of {}",
            user.username
        );
    }
}

/// An item's data, not its storage form: each engine stores objects its own way (PostgreSQL's
/// jsonb orders keys; the core's PostgreSQL accesses carry `headId: null`), so keys are sorted
/// at every level and top-level nulls dropped. Values, numbers' text included, must be equal.
fn canonical(item: &Value, top: bool) -> Value {
    match item {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .filter(|(_, v)| !(top && v.is_null()))
                .map(|(k, v)| (k, canonical(v, false)))
                .collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| canonical(v, false)).collect()),
        other => other.clone(),
    }
}

fn sorted(user: &MemoryUser, collection: pryv_backup::model::Collection) -> Vec<String> {
    let mut items: Vec<String> = user
        .items_of(collection)
        .iter()
        .map(|i| {
            // PostgreSQL keeps a deleted stream's path (a column of its own, carried in our
            // archives); the SQLite engine stores a deletion as `{id, deleted}` only.
            let mut i = i.clone();
            // Each audit engine exports its own row shape (see docs/archive-format.md).
            if collection == pryv_backup::model::Collection::Audit {
                i = testbed::audit::postgres_shape(&i);
            }
            if collection == pryv_backup::model::Collection::Streams && i.get("deleted").is_some() {
                i.as_object_mut().map(|o| o.shift_remove("path"));
            }
            canonical(&i, true).to_string()
        })
        .collect();
    items.sort();
    items
}

#[test]
fn cross_engine_postgres_archive_restores_into_sqlite() {
    let db = testbed::pg_database();
    let pg = PgEngine::connect(db.conn_str(), None).expect("connect");
    fill_with_sample(&pg);
    let work = tempfile::tempdir().expect("tempdir");
    let sqlite_dir = work.path().join("sqlite");
    std::fs::create_dir(&sqlite_dir).expect("mkdir");
    let sqlite = SqliteEngine::open_with_fs_attachments(&sqlite_dir).expect("sqlite");
    transfer(&pg, &sqlite, &work.path().join("backup"));
    assert_same_users(&pg, &sqlite);
}

#[test]
fn cross_engine_sqlite_archive_restores_into_postgres() {
    let work = tempfile::tempdir().expect("tempdir");
    let sqlite_dir = work.path().join("sqlite");
    std::fs::create_dir(&sqlite_dir).expect("mkdir");
    let sqlite = SqliteEngine::open_with_fs_attachments(&sqlite_dir).expect("sqlite");
    fill_with_sample(&sqlite);
    let db = testbed::pg_database();
    let pg = PgEngine::connect(db.conn_str(), None).expect("connect");
    transfer(&sqlite, &pg, &work.path().join("backup"));
    assert_same_users(&sqlite, &pg);
}
