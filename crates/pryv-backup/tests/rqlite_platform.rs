//! rqlite platform store through its SQLite file, and through rqlite's HTTP API served by
//! `testbed::rqlite::RqliteStandIn` (rqlited itself cannot be installed on this machine: see
//! docs/storage-layout.md section 8).

use std::path::{Path, PathBuf};

use pryv_backup::config::ServiceUrl;
use pryv_backup::engine::PlatformStore;
use pryv_backup::engines::rqlite::{RqlitePlatform, DATA_DIR_DB};
use pryv_backup::model::Item;
use pryv_backup::platform::pii_token;
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    testbed::fixtures_dir()
}

fn export(store: &RqlitePlatform) -> Vec<Item> {
    let mut out = Vec::new();
    store
        .export(&mut |item| {
            out.push(item.clone());
            Ok(())
        })
        .expect("export");
    out
}

fn import(store: &RqlitePlatform, items: &[Item]) {
    store
        .import(&mut items.iter().cloned().map(Ok))
        .expect("import");
}

/// The export order: unique rows, then indexed rows, each by key.
fn sorted_like_export(items: &[Item]) -> Vec<Item> {
    let key = |i: &Item| pryv_backup::platform::row_from_item(i).unwrap().0;
    let mut unique: Vec<Item> = items
        .iter()
        .filter(|i| i["isUnique"] == json!(true))
        .cloned()
        .collect();
    let mut indexed: Vec<Item> = items
        .iter()
        .filter(|i| i["isUnique"] != json!(true))
        .cloned()
        .collect();
    unique.sort_by_key(key);
    indexed.sort_by_key(key);
    unique.into_iter().chain(indexed).collect()
}

fn rows(path: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut st = conn
        .prepare("SELECT key, value FROM keyValue ORDER BY key")
        .unwrap();
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn rqlite_file_round_trip_of_the_reference_platform() {
    let text = std::fs::read_to_string(
        fixtures().join("reference-archives/full-plain/platform/platform.jsonl"),
    )
    .expect("reference platform.jsonl");
    let items: Vec<Item> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(items.len() >= 4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("platform.sqlite");
    let store = RqlitePlatform::sqlite_file(&path);
    import(&store, &items);
    assert_eq!(
        rows(&path),
        vec![
            ("user-indexed/language/alice".to_string(), "fr".to_string()),
            ("user-unique/email/alice@example.com".into(), "alice".into()),
            ("user-unique/email/bob@example.com".into(), "bob".into()),
            ("user-unique/email/carol@example.com".into(), "carol".into()),
        ]
    );
    let got: Vec<String> = export(&store).iter().map(Value::to_string).collect();
    let want: Vec<String> = sorted_like_export(&items)
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn rqlite_hashed_mode_rows_travel_as_stored() {
    let pepper = [0x5a; 32];
    let t = |field: &str, value: &str| pii_token(&pepper, field, value).unwrap();
    // What a hashed-mode core stores for two users, plus the core's own row, which a backup
    // leaves out.
    let stored = [
        (
            format!("user-unique/email/{}", t("email", "Alice@Example.com")),
            t("username", "alice"),
        ),
        (
            format!("user-unique/username/{}", t("username", "alice")),
            t("username", "alice"),
        ),
        (
            format!("user-unique/email/{}", t("email", "bob@example.com")),
            t("username", "bob"),
        ),
        (
            format!("user-indexed/language/{}", t("username", "bob")),
            "de".to_string(),
        ),
        (
            format!("user-core/{}", t("username", "bob")),
            "core-a".to_string(),
        ),
        (
            "core-info/core-a".to_string(),
            "{\"url\":\"https://a\"}".to_string(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.sqlite");
    {
        let conn = rusqlite::Connection::open(&source).unwrap();
        conn.execute(
            "CREATE TABLE keyValue (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            [],
        )
        .unwrap();
        for (k, v) in &stored {
            conn.execute("INSERT INTO keyValue (key, value) VALUES (?1, ?2)", [k, v])
                .unwrap();
        }
    }
    let items = export(&RqlitePlatform::sqlite_file(&source));
    assert_eq!(
        items.len(),
        5,
        "the user fields and the user-core row are backed up, core-info is not"
    );
    assert!(items.contains(
        &json!({"key": format!("user-core/{}", t("username", "bob")), "value": "core-a"})
    ));
    assert_eq!(
        items.iter().find(|i| i["field"] == "language").unwrap(),
        &json!({"username": t("username", "bob"), "field": "language", "value": "de", "isUnique": false})
    );
    let target = dir.path().join("target.sqlite");
    let restored = RqlitePlatform::sqlite_file(&target);
    import(&restored, &items);
    assert_eq!(export(&restored), items);
    let mut want: Vec<(String, String)> = stored[..5].to_vec();
    want.sort();
    assert_eq!(rows(&target), want);
}

#[test]
fn rqlite_stopped_node_is_read_but_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    std::fs::write(data_dir.join("raft.db"), b"").unwrap();
    {
        let conn = rusqlite::Connection::open(data_dir.join(DATA_DIR_DB)).unwrap();
        conn.execute(
            "CREATE TABLE keyValue (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO keyValue VALUES ('user-unique/email/e@x.io', 'eve')",
            [],
        )
        .unwrap();
    }
    let node = RqlitePlatform::stopped_node(data_dir);
    assert_eq!(
        export(&node),
        vec![json!({"username": "eve", "field": "email", "value": "e@x.io", "isUnique": true})]
    );
    let err = node
        .import(&mut std::iter::once(Ok(
            json!({"username": "f", "field": "email", "value": "f@x.io", "isUnique": true}),
        )))
        .unwrap_err();
    assert!(
        err.to_string().contains("live rqlite data directory"),
        "{err}"
    );
    assert_eq!(rows(&data_dir.join(DATA_DIR_DB)).len(), 1);
}

#[test]
fn rqlite_file_import_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sqlite");
    let store = RqlitePlatform::sqlite_file(&path);
    import(
        &store,
        &[json!({"username": "a", "field": "email", "value": "a@x.io", "isUnique": true})],
    );
    let err = store
        .import(
            &mut vec![
                Ok(json!({"username": "b", "field": "email", "value": "b@x.io", "isUnique": true})),
                Ok(json!({"field": "email"})),
            ]
            .into_iter(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("username"), "{err}");
    assert_eq!(rows(&path).len(), 1);
}

#[test]
fn rqlite_missing_file_and_unreachable_node_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = RqlitePlatform::stopped_node(dir.path())
        .export(&mut |_| Ok(()))
        .unwrap_err();
    assert!(err.to_string().contains("db.sqlite"), "{err}");
    let err = RqlitePlatform::over_http(&ServiceUrl::new("http://127.0.0.1:9"))
        .export(&mut |_| Ok(()))
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach rqlite"), "{err}");
}

/// Backup and restore over HTTP: a restore writes the rows (creating the table on a new
/// node, batch by batch) and they are in the node's file; a backup reads them back page by
/// page (more rows than one page) in export order; the core's own rows are left alone.
#[test]
fn rqlite_http_round_trip_through_a_stand_in_node() {
    let node = testbed::rqlite::RqliteStandIn::start();
    let store = RqlitePlatform::over_http(&ServiceUrl::new(node.url()));
    let probe = ["user-unique/email/alice@example.com".to_string()];
    assert_eq!(
        store
            .values(&probe)
            .expect("values on a node without the table"),
        vec![]
    );

    let text = std::fs::read_to_string(
        fixtures().join("reference-archives/full-plain/platform/platform.jsonl"),
    )
    .expect("reference platform.jsonl");
    let mut items: Vec<Item> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // More than one read page (5000 rows) and several write batches (1000 rows).
    items.extend((0..5200).map(|i| {
        json!({"username": format!("u{i:05}"), "field": "email",
               "value": format!("u{i:05}@bulk.test"), "isUnique": true})
    }));
    import(&store, &items);
    let conn = rusqlite::Connection::open(node.db_path()).unwrap();
    conn.execute(
        "INSERT INTO keyValue (key, value) VALUES ('core-info/single', '{}')",
        [],
    )
    .unwrap();
    drop(conn);

    let stored = rows(node.db_path());
    assert_eq!(stored.len(), items.len() + 1);
    assert!(stored.contains(&("user-indexed/language/alice".into(), "fr".into())));
    assert!(stored.contains(&("user-unique/email/u05199@bulk.test".into(), "u05199".into())));
    assert_eq!(
        store.values(&probe).unwrap(),
        vec![(probe[0].clone(), "alice".to_string())]
    );

    let got: Vec<String> = export(&store).iter().map(Value::to_string).collect();
    let want: Vec<String> = sorted_like_export(&items)
        .iter()
        .map(Value::to_string)
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "exported over HTTP as written");

    // A restore again over rows already there replaces them, adding none.
    import(&store, &items[..4]);
    assert_eq!(rows(node.db_path()).len(), items.len() + 1);
}
