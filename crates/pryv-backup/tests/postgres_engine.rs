//! PgEngine behaviours around the round trip: export windows, conflicts, refusals.

mod postgres_support;

use postgres_support::*;
use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::model::{Collection, UserRef};
use pryv_backup::Error;
use serde_json::{json, Value};

fn ids(data: &MemoryUser, c: Collection) -> Vec<String> {
    data.items_of(c)
        .iter()
        .map(|i| {
            i.get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Bob's export of the dataset, only what changed after `since` (no ephemeral data).
fn export_bob_since(since: f64) -> MemoryUser {
    let (_db, engine) = dataset_engine();
    let bob = UserRef {
        user_id: "cuser0bob0002".into(),
        username: "bob".into(),
    };
    let options = ExportOptions {
        window: ExportWindow { since: Some(since) },
        include_ephemeral: false,
    };
    let mut data = MemoryUser::default();
    engine.export_user(&bob, &options, &mut data).unwrap();
    data
}

#[test]
fn postgres_export_applies_the_window() {
    // ev-1 .. ev-15 were modified at 1763981000 + i * 37.125.
    let data = export_bob_since(1763981000.0 + 3.0 * 37.125);
    let mut events = ids(&data, Collection::Events);
    events.sort();
    // Tombstones are dated by their `deleted` time: ev-deleted was deleted before `since`.
    // No upper bound: every event changed after `since`, up to the newest.
    assert_eq!(
        events,
        [
            "ev-10", "ev-11", "ev-12", "ev-13", "ev-14", "ev-15", "ev-4", "ev-5", "ev-6", "ev-7",
            "ev-8", "ev-9"
        ]
    );
    // Streams were all changed (or deleted) before `since`.
    assert!(ids(&data, Collection::Streams).is_empty());
    assert_eq!(
        data.items_of(Collection::Profile).len(),
        3,
        "profile has no time: always whole"
    );
    assert!(
        data.items_of(Collection::Sessions).is_empty(),
        "ephemeral only on request"
    );
    assert!(
        data.attachments.is_empty(),
        "attachments only of exported events"
    );
    assert!(data.account.is_some());
}

#[test]
fn postgres_exported_items_follow_the_core_rules() {
    let (_db, engine) = dataset_engine();
    let users = export_all(&engine);
    let (_, alice) = &users[0];
    let find = |c: Collection, id: &str| {
        alice
            .items_of(c)
            .iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    assert_eq!(
        find(Collection::Streams, "old-stream"),
        json!({"id": "old-stream", "deleted": 1763980060, "path": "old-stream/"})
    );
    assert_eq!(find(Collection::Streams, "health")["parentId"], Value::Null);
    assert_eq!(find(Collection::Streams, "daily")["singleActivity"], true);
    assert!(find(Collection::Streams, "health").get("trashed").is_none());
    let running = find(Collection::Events, "ev-running");
    assert_eq!(running["endTime"], Value::Null);
    assert!(running.get("content").is_none() && running.get("trashed").is_none());
    assert_eq!(
        find(Collection::Events, "ev-deleted"),
        json!({"id": "ev-deleted", "integrity": "EVENT:0:d", "deleted": 1763980090})
    );
    assert_eq!(find(Collection::Events, "ev-hist-1")["headId"], "ev-1");
    assert_eq!(
        find(Collection::Events, "ev-1")["time"].to_string(),
        "1763981037.125"
    );
    assert_eq!(
        find(Collection::Events, "ev-2")["content"].to_string(),
        "2.4"
    );
    assert_eq!(
        find(Collection::Accesses, "acc-shared")["deviceName"],
        Value::Null
    );
    assert_eq!(
        find(Collection::Accesses, "acc-personal")["headId"],
        Value::Null
    );
    assert_eq!(
        find(Collection::Profile, "diary-app")["data"]["big"].to_string(),
        "12345678901234567000"
    );
    assert_eq!(
        find(Collection::Webhooks, "wh-gone"),
        json!({"id": "wh-gone", "deleted": 1763980081})
    );
    let series = &alice.items_of(Collection::Series)[0];
    assert_eq!(series["measurement"], "ev-series");
    assert_eq!(series["timeUnit"], "ms");
    assert_eq!(series["points"][1], json!({"time": 500, "value": 7.3}));
    assert_eq!(alice.items_of(Collection::Audit)[0]["head_id"], Value::Null);
    let session = &alice.items_of(Collection::Sessions)[0];
    assert_eq!(session["expires"].to_string(), "1795516000.123");
    let account = alice.account.as_ref().unwrap();
    assert_eq!(account["passwords"][1]["time"].to_string(), "1763980500.75");
    assert_eq!(account["accountFields"].as_array().unwrap().len(), 3);

    let platform = platform_items(&engine);
    assert!(platform.contains(&json!({"username": "alice", "field": "email", "value": "alice@example.com", "isUnique": true})));
    assert!(platform.contains(
        &json!({"username": "bob", "field": "language", "value": "fr", "isUnique": false})
    ));
    // The user-core rows travel as raw rows, not as user fields.
    let raw = platform.iter().filter(|i| i.get("key").is_some()).count();
    assert_eq!((platform.len() - raw, raw), (4, 2), "{platform:#?}");
}

#[test]
fn postgres_conflicts_and_bad_items_are_refused_clearly() {
    let (db, engine) = dataset_engine();
    let before = dump(&mut db.connect());

    let impostor = UserRef {
        user_id: "cother0000099".into(),
        username: "alice".into(),
    };
    let conflict = engine.find_conflict(&impostor).unwrap().unwrap();
    assert!(
        conflict.contains("username \"alice\" already exists with userId \"cuser0alice01\""),
        "{conflict}"
    );
    let renamed = UserRef {
        user_id: "cuser0alice01".into(),
        username: "alicia".into(),
    };
    assert!(engine
        .find_conflict(&renamed)
        .unwrap()
        .unwrap()
        .contains("already registered as \"alice\""));
    let err = engine
        .import_user(
            &impostor,
            &MemoryUser::default(),
            &ImportOptions {
                overwrite: true,
                verify_integrity: false,
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");

    let mut bad = MemoryUser::default();
    bad.collections.insert(
        Collection::Events,
        vec![json!({"id": "e", "streamIds": ["s"], "colour": "red"})],
    );
    let newcomer = UserRef {
        user_id: "cnew00000001".into(),
        username: "newcomer".into(),
    };
    let err = engine
        .import_user(&newcomer, &bad, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "PostgreSQL cannot take events item e: field \"colour\" has no column in table events"
    );
    bad.collections.insert(
        Collection::Events,
        vec![json!({"id": "e", "time": "yesterday"})],
    );
    let err = engine
        .import_user(&newcomer, &bad, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("field \"time\" should be a number"), "{err}");
    assert_same(&before, &dump(&mut db.connect()));
    assert!(!engine.user_exists("cnew00000001").unwrap());
    assert!(engine.user_exists("cuser0carol03").unwrap());
}

#[test]
fn postgres_engine_creates_the_schema_in_an_empty_database_only() {
    let (_db, engine) = empty_engine();
    assert!(engine.users().unwrap().is_empty());
    assert!(
        engine.describe().starts_with("PostgreSQL postgres@"),
        "{}",
        engine.describe()
    );
    engine.ensure_schema().unwrap();
    engine.ensure_schema().unwrap();

    let mut other = testbed::pg_database();
    other
        .client()
        .batch_execute("CREATE TABLE events (id TEXT)")
        .unwrap();
    let err = PgEngine::connect(other.conn_str(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no schema_migrations table"), "{err}");
}

#[test]
fn postgres_errors_carry_the_server_message() {
    let (_db, engine) = dataset_engine();
    let alice = UserRef {
        user_id: "cuser0alice01".into(),
        username: "alice".into(),
    };
    // Another stream named "Weight" under "health": the sibling-name index refuses it.
    let mut data = MemoryUser::default();
    data.collections.insert(
        Collection::Streams,
        vec![json!({"id": "weight-2", "name": "Weight", "parentId": "health"})],
    );
    let err = engine
        .import_user(&alice, &data, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("idx_stream_sibling") && err.contains("23505"),
        "{err}"
    );

    let err = PgEngine::connect("postgresql://postgres@127.0.0.1:1/x", None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("PostgreSQL: error connecting to server: "),
        "{err}"
    );
}

#[test]
fn postgres_import_copies_new_events_and_replaces_existing_ones() {
    let (_db, engine) = empty_engine();
    let (user, mut data) = pryv_backup::sample::sample_platform(5).swap_remove(0);
    let first_event = |d: &MemoryUser| {
        d.items_of(Collection::Events)
            .iter()
            .find(|e| e["id"] == "ev-alice-0000")
            .cloned()
            .expect("ev-alice-0000")
    };
    // Text that COPY must escape, kept byte for byte (a new user's events go by COPY).
    let events = data.collections.get_mut(&Collection::Events).unwrap();
    events[0]["description"] = json!("tab\there\nnew line\r\\ back\\slash \\N");
    // 0.00000015 as JSONB writes it (it would turn 1.5e-7 into this text).
    events[0]["content"] = serde_json::from_str(r#"{"s":"a\tb\\nc","n":0.00000015}"#).unwrap();
    events[0].as_object_mut().unwrap().shift_remove("integrity");
    let count = data.items_of(Collection::Events).len();
    let first = import_then_export(&engine, &user, &data);
    assert_eq!(first.items_of(Collection::Events).len(), count);
    // Maps compare without regard to key order (JSONB reorders keys).
    assert_eq!(first_event(&first), first_event(&data));

    // Again without overwrite: rows with the same id are replaced (upsert), none added.
    let events = data.collections.get_mut(&Collection::Events).unwrap();
    events[0]["description"] = json!("changed");
    let second = import_then_export(&engine, &user, &data);
    assert_eq!(second.items_of(Collection::Events).len(), count);
    assert_eq!(first_event(&second)["description"], "changed");
}

#[test]
fn postgres_export_window_carries_deletions_made_in_it() {
    // ev-deleted was deleted at 1763980090, old-stream at 1763980060.
    let data = export_bob_since(1763980080.0);
    let events = ids(&data, Collection::Events);
    assert!(events.iter().any(|e| e == "ev-deleted"), "{events:?}");
    assert!(ids(&data, Collection::Streams).is_empty());
}

#[test]
fn postgres_event_streams_are_the_same_whether_events_are_copied_or_upserted() {
    let (mut db, engine) = empty_engine();
    let (user, mut data) = pryv_backup::sample::sample_platform(5).swap_remove(0);
    // A stream twice, one the user does not have, and an id that is not a string.
    let events = data.collections.get_mut(&Collection::Events).unwrap();
    events[0]["streamIds"] = json!(["health", "nowhere", "health", 7]);
    events[0].as_object_mut().unwrap().shift_remove("integrity");
    let first_id = events[0]["id"].as_str().unwrap().to_string();
    let event_streams = |db: &mut testbed::TestDb| -> Vec<(String, String, String)> {
        db.client()
            .query(
                "SELECT event_id, stream_id, stream_path FROM event_streams ORDER BY 1, 2",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };

    // A new user: events by COPY, event_streams derived in SQL.
    engine
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap();
    let copied = event_streams(&mut db);
    let of_first: Vec<_> = copied.iter().filter(|r| r.0 == first_id).collect();
    assert_eq!(of_first.len(), 2, "{of_first:?}");
    assert_eq!(of_first[0].1, "health");
    assert!(of_first[0].2.ends_with("health/"), "{of_first:?}");
    assert_eq!(
        of_first[1],
        &(first_id.clone(), "nowhere".into(), "nowhere/".into())
    );
    // History versions and deletions have none.
    assert!(!copied.iter().any(|r| r.0 == "ev-hist-1"));

    // The same events again: upserted, event_streams rows built one by one.
    engine
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap();
    assert_eq!(event_streams(&mut db), copied);
}

/// A text holding U+0000 cannot go into PostgreSQL (the live core's own events.create fails
/// on it with "unsupported Unicode escape sequence"); the restore names the event and why,
/// and writes nothing of the user.
#[test]
fn postgres_refuses_a_nul_character_by_event() {
    let (_db, engine) = empty_engine();
    let user = UserRef {
        user_id: "cnul000000001".into(),
        username: "nul-user".into(),
    };
    let mut data = MemoryUser::default();
    data.collections.insert(
        Collection::Events,
        vec![
            json!({"id": "ev-fine", "streamIds": ["s"], "type": "note/txt", "time": 1, "content": "ok"}),
            json!({"id": "ev-nul", "streamIds": ["s"], "type": "note/txt", "time": 2, "content": {"t": "a\u{0}b"}}),
        ],
    );
    let err = engine
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ev-nul") && err.contains("U+0000"), "{err}");
    assert!(!engine.user_exists(&user.user_id).unwrap());
}

/// JSONB keeps a number's digits (`12345678901234567890`, `9007199254740993`, `1.0`); so
/// does the backup, while the integrity hash is the one the core computes on the value
/// JavaScript reads. The event is written with SQL, as a core or a migration holding such
/// numbers leaves it (the live core's own writes go through JavaScript first).
#[test]
fn postgres_numbers_keep_the_databases_text() {
    let (db, engine) = empty_engine();
    let user = UserRef {
        user_id: "cnum000000001".into(),
        username: "num-user".into(),
    };
    let mut data = MemoryUser::default();
    let mut event = json!({"id": "ev-num", "streamIds": ["s"], "type": "count/generic",
        "time": 1, "content": 0, "created": 1, "createdBy": "a", "modified": 1, "modifiedBy": "a"});
    let held =
        r#"{"big":12345678901234567890,"safe":9007199254740993,"one":1.0,"small":0.00000015}"#;
    let content: Value = serde_json::from_str(held).unwrap();
    event["content"] = content.clone();
    event["integrity"] = Value::String(pryv_backup::integrity::compute(
        pryv_backup::integrity::ItemKind::Event,
        &event,
    ));
    data.collections.insert(Collection::Events, vec![event]);
    engine
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap();
    let stored: String = db
        .connect()
        .query_one("SELECT content::text FROM events WHERE id = 'ev-num'", &[])
        .unwrap()
        .get(0);
    // JSONB orders keys its own way; the numbers are what matters (compared as text).
    assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), content);

    let (_, exported) = export_all(&engine).into_iter().next().unwrap();
    let event = &exported.items_of(Collection::Events)[0];
    assert_eq!(event["content"], content);
    assert_eq!(event["content"]["big"].to_string(), "12345678901234567890");
    assert_eq!(event["content"]["one"].to_string(), "1.0");
    assert_eq!(
        pryv_backup::integrity::check(pryv_backup::integrity::ItemKind::Event, event),
        pryv_backup::integrity::Check::Valid
    );
    // The hash is the core's: made on the values JavaScript reads, where the big integer
    // is 12345678901234567000 and 1.0 is 1.
    let mut as_javascript = event.clone();
    as_javascript["content"] = serde_json::from_str(
        r#"{"big":12345678901234567000,"safe":9007199254740992,"one":1,"small":1.5e-7}"#,
    )
    .unwrap();
    assert_eq!(
        pryv_backup::integrity::compute(pryv_backup::integrity::ItemKind::Event, &as_javascript),
        event["integrity"].as_str().unwrap()
    );
}
