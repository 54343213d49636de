//! The items our PostgreSQL export writes have the shapes of the reference archives: each
//! user's items from `full-plain` (bob, then alice and carol) go into PostgreSQL through
//! import_user, come back out through export_user, and equal the fixture item by item, up to
//! the differences the core's PostgreSQL storage itself makes (see `pg_core_differences`).

mod postgres_support;

use pryv_backup::series_time::{millis_from_nanos, TimeUnit};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use postgres_support::{empty_engine, everything};
use pryv_backup::engine::{Engine, ImportOptions, MemoryUser};
use pryv_backup::model::{Collection, Item, UserRef};
use serde_json::Value;

const USERS: [(&str, &str); 3] = [
    ("cjx1bobxyzab0002", "bob"),
    ("cjx1alicexyz0001", "alice"),
    ("cjx1carolxyz0003", "carol"),
];

fn fixture_user_dir(user_id: &str) -> PathBuf {
    testbed::fixture("reference-archives/full-plain/users").join(user_id)
}

/// A tiny JSONL reader: one JSON value per non-empty line.
fn read_jsonl(path: &Path) -> Vec<Item> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn read_chunks(dir: &Path) -> Vec<Item> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().flat_map(|f| read_jsonl(f)).collect()
}

fn load_fixture_user(user_id: &str) -> MemoryUser {
    let dir = fixture_user_dir(user_id);
    let mut user = MemoryUser::default();
    for c in [
        Collection::Streams,
        Collection::Accesses,
        Collection::Profile,
        Collection::Webhooks,
    ] {
        user.collections
            .insert(c, read_jsonl(&dir.join(format!("{}.jsonl", c.name()))));
    }
    user.collections
        .insert(Collection::Events, read_chunks(&dir.join("events")));
    user.collections
        .insert(Collection::Audit, read_chunks(&dir.join("audit")));
    user.collections
        .insert(Collection::Series, read_chunks(&dir.join("series")));
    let account = dir.join("account.jsonl");
    user.account = if account.exists() {
        read_jsonl(&account).into_iter().next()
    } else {
        None
    };
    for event in user.items_of(Collection::Events).to_vec() {
        for att in event
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let file_id = att["id"].as_str().unwrap().to_string();
            let bytes = std::fs::read(dir.join("attachments").join(&file_id)).unwrap();
            user.attachments
                .insert(file_id, (event["id"].as_str().unwrap().to_string(), bytes));
        }
    }
    user
}

/// What the core's PostgreSQL storage itself changes in these items (docs/storage-layout.md
/// §2): accesses keep `headId: null`, and a shared access without device name reads back
/// with `deviceName: null`. Series points come back with `time` (see `time_named_points`).
fn pg_core_differences(collection: Collection, item: &mut Item) {
    if collection == Collection::Series {
        time_named_points(item);
        return;
    }
    // Our addition: a deleted stream keeps its path (the fixture's deletions are roots).
    if collection == Collection::Streams && item.get("deleted").is_some() {
        let path = format!("{}/", item["id"].as_str().unwrap());
        item.as_object_mut()
            .unwrap()
            .insert("path".into(), Value::String(path));
        return;
    }
    if collection != Collection::Accesses {
        return;
    }
    let obj = item.as_object_mut().unwrap();
    obj.entry("headId").or_insert(Value::Null);
    if obj.get("type").and_then(Value::as_str) == Some("shared") {
        obj.entry("deviceName").or_insert(Value::Null);
    }
}

/// The fixture's synthetic points name their time `deltaTime`, in seconds; the engine reads
/// that and writes `time` first, in milliseconds, as the core's own series export does, and
/// marks the unit.
fn time_named_points(measurement: &mut Item) {
    for point in measurement["points"].as_array_mut().unwrap() {
        let p = point.as_object_mut().unwrap();
        if let Some(Value::Number(seconds)) = p.shift_remove("deltaTime") {
            let ns = TimeUnit::Seconds.nanos(&seconds).unwrap();
            p.shift_insert(0, "time".into(), millis_from_nanos(ns));
        }
    }
    measurement
        .as_object_mut()
        .unwrap()
        .shift_insert(1, "timeUnit".into(), "ms".into());
}

/// Items by id (audit rows by eventid, series by measurement), for order-free comparison.
fn by_key(items: &[Item]) -> BTreeMap<String, Item> {
    items
        .iter()
        .map(|i| {
            let key = ["id", "eventid", "measurement"]
                .iter()
                .find_map(|k| i.get(*k).and_then(Value::as_str))
                .unwrap_or_else(|| panic!("item without key: {i}"));
            (key.to_string(), i.clone())
        })
        .collect()
}

#[test]
fn postgres_export_gives_the_reference_shapes() {
    let (_db, engine) = empty_engine();
    for (user_id, username) in USERS {
        let fixture = load_fixture_user(user_id);
        if username == "bob" {
            assert_eq!(fixture.items_of(Collection::Events).len(), 44);
        }
        let user = UserRef {
            user_id: user_id.into(),
            username: username.into(),
        };
        engine
            .import_user(&user, &fixture, &ImportOptions::default())
            .unwrap();
        let mut exported = MemoryUser::default();
        engine
            .export_user(&user, &everything(), &mut exported)
            .unwrap();
        compare(username, &fixture, &exported);
    }
}

fn compare(username: &str, fixture: &MemoryUser, exported: &MemoryUser) {
    for c in Collection::ALL.into_iter().filter(|c| !c.is_ephemeral()) {
        let mut expected = fixture.items_of(c).to_vec();
        expected.iter_mut().for_each(|i| pg_core_differences(c, i));
        let (want, got) = (by_key(&expected), by_key(exported.items_of(c)));
        let what = format!("{username}'s {}", c.name());
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "{what} ids"
        );
        for (id, item) in &want {
            assert_eq!(
                item, &got[id],
                "{what} item {id}: fixture (left) vs export (right)"
            );
            // Numbers keep the text JavaScript wrote.
            assert_eq!(
                item.to_string().len(),
                got[id].to_string().len(),
                "{what} item {id} text"
            );
        }
    }
    assert_eq!(fixture.account, exported.account, "{username}'s account");
    assert_eq!(
        fixture.attachments, exported.attachments,
        "{username}'s attachments"
    );
}
