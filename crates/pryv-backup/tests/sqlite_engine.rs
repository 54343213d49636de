//! The SQLite engine against real SQLite files in temporary directories.

use std::sync::Arc;

use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use pryv_backup::engines::filesystem::FsAttachments;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::{Collection, Item, UserRef};
use pryv_backup::sample::sample_platform;

fn engine(dir: &std::path::Path) -> SqliteEngine {
    SqliteEngine::open(dir, Arc::new(FsAttachments::new(dir))).expect("open engine")
}

fn everything() -> ExportOptions {
    ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: false,
    }
}

fn export(engine: &SqliteEngine, user: &UserRef) -> MemoryUser {
    let mut out = MemoryUser::default();
    engine
        .export_user(user, &everything(), &mut out)
        .expect("export");
    out
}

/// A fresh install in a temporary directory holding the sample platform's first user (alice).
fn install_with_alice(seed: u64) -> (tempfile::TempDir, SqliteEngine, UserRef, MemoryUser) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let (alice, data) = sample_platform(seed).remove(0);
    engine
        .import_user(&alice, &data, &ImportOptions::default())
        .unwrap();
    (dir, engine, alice, data)
}

/// An overwrite restore without the integrity re-read.
fn overwrite() -> ImportOptions {
    ImportOptions {
        overwrite: true,
        verify_integrity: false,
    }
}

/// Items in the order the engine exports them: streams parents first, history copies before
/// the heads (what the reference's reader needs, see tests/archive_order.rs).
fn in_export_order(c: Collection, items: &[Item]) -> Vec<Item> {
    match c {
        Collection::Streams => pryv_backup::stream_tree::parents_first(items.to_vec()),
        Collection::Events => {
            let (history, heads): (Vec<Item>, Vec<Item>) = items
                .iter()
                .cloned()
                .partition(|e| e.get("headId").is_some());
            history.into_iter().chain(heads).collect()
        }
        // The sample's audit rows are in PostgreSQL's shape; SQLite gives back its own.
        Collection::Audit => items.iter().map(testbed::audit::sqlite_shape).collect(),
        _ => items.to_vec(),
    }
}

/// Item by item, so a failure names the first difference.
fn assert_same_user(expected: &MemoryUser, actual: &MemoryUser, who: &str) {
    for c in Collection::ALL {
        let (e, a) = (in_export_order(c, expected.items_of(c)), actual.items_of(c));
        assert_eq!(e.len(), a.len(), "{who}: number of {}", c.name());
        for (x, y) in e.iter().zip(a) {
            assert_eq!(x, y, "{who}: {} item differs", c.name());
        }
    }
    assert_eq!(expected.account, actual.account, "{who}: account");
    assert_eq!(
        expected.attachments.keys().collect::<Vec<_>>(),
        actual.attachments.keys().collect::<Vec<_>>(),
        "{who}: attachment ids"
    );
    assert_eq!(
        expected.attachments, actual.attachments,
        "{who}: attachment bytes"
    );
}

#[test]
fn sqlite_sample_platform_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let platform = sample_platform(42);
    for (user, data) in &platform {
        engine
            .import_user(user, data, &ImportOptions::default())
            .expect("import");
    }
    let users = engine.users().unwrap();
    assert_eq!(
        users,
        platform.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>()
    );
    for (user, data) in &platform {
        assert_same_user(data, &export(&engine, user), &user.username);
    }
    let alice = &platform[0].1;
    assert!(alice.items_of(Collection::Events).len() > 20 && alice.attachments.len() == 2);
}

#[test]
fn sqlite_files_match_the_core_layout() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let (user, data) = sample_platform(7).remove(0);
    engine
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap();
    let udir = dir.path().join("1/0/0/cksamplealice0001");
    for f in [
        "baseStorage-1.0.0.sqlite",
        "local-1.0.0.sqlite",
        "audit-1.0.0.sqlite",
        "account-1.0.0.sqlite",
        "series-1.0.0.sqlite",
        "attachments/ev-with-files/att-alice-1",
    ] {
        assert!(udir.join(f).is_file(), "{f} missing");
    }
    // High-frequency series: in the HF server's "user.<username>" directory.
    assert!(dir
        .path()
        .join("e/c/i/user.alice/series-1.0.0.sqlite")
        .is_file());
    // Nothing but the core's files is left in the user directory (no staging leftovers).
    let mut names: Vec<String> = std::fs::read_dir(&udir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    // The full-text index was filled by the core's triggers, and the file is in WAL mode.
    let conn = rusqlite::Connection::open(udir.join("local-1.0.0.sqlite")).unwrap();
    let hits: i64 = conn
        .query_row(
            "SELECT count(*) FROM events_fts WHERE events_fts MATCH '\"weight-morning\"'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hits > 0);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let index = rusqlite::Connection::open(dir.path().join("user-index.db")).unwrap();
    let id: String = index
        .query_row(
            "SELECT userId FROM id4name WHERE username = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(id, "cksamplealice0001");
}

mod fixture {
    //! A tiny reader of the reference archive's plain (uncompressed, unencrypted) user folders.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use pryv_backup::engine::MemoryUser;
    use pryv_backup::model::{Collection, Item};

    pub fn user_dir(user_id: &str) -> PathBuf {
        let root = testbed::fixture("reference-archives/full-plain");
        root.join("users").join(user_id)
    }

    fn lines(path: &Path) -> Vec<Item> {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn read_user(user_id: &str) -> MemoryUser {
        let dir = user_dir(user_id);
        let manifest: Item =
            serde_json::from_str(&std::fs::read_to_string(dir.join("user-manifest.json")).unwrap())
                .unwrap();
        let mut user = MemoryUser::default();
        for c in [
            Collection::Streams,
            Collection::Accesses,
            Collection::Profile,
            Collection::Webhooks,
        ] {
            let path = dir.join(format!("{}.jsonl", c.name()));
            if path.exists() {
                user.collections.insert(c, lines(&path));
            }
        }
        for c in [Collection::Events, Collection::Audit] {
            let chunks = manifest["chunks"][c.name()]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let items: Vec<Item> = chunks
                .iter()
                .flat_map(|chunk| lines(&dir.join(c.name()).join(chunk.as_str().unwrap())))
                .collect();
            if !items.is_empty() {
                user.collections.insert(c, items);
            }
        }
        let series = dir.join("series/series.jsonl");
        if series.exists() {
            user.collections.insert(Collection::Series, lines(&series));
        }
        user.account = lines(&dir.join("account.jsonl")).into_iter().next();
        let mut owners = BTreeMap::new();
        for event in user.items_of(Collection::Events) {
            for att in event["attachments"].as_array().into_iter().flatten() {
                owners.insert(
                    att["id"].as_str().unwrap().to_string(),
                    event["id"].as_str().unwrap().to_string(),
                );
            }
        }
        for (file_id, event_id) in owners {
            let bytes = std::fs::read(dir.join("attachments").join(&file_id)).unwrap();
            user.attachments.insert(file_id, (event_id, bytes));
        }
        user
    }
}

fn bob() -> UserRef {
    UserRef {
        user_id: "cjx1bobxyzab0002".into(),
        username: "bob".into(),
    }
}

/// A fixture user as the core's SQLite schema can hold it: events without `tags` (no column
/// for them, refused as given: see `sqlite_refuses_what_it_cannot_store`).
fn storable(user_id: &str) -> MemoryUser {
    let mut user = fixture::read_user(user_id);
    for event in user
        .collections
        .get_mut(&Collection::Events)
        .into_iter()
        .flatten()
    {
        event.as_object_mut().unwrap().shift_remove("tags");
    }
    user
}

/// The fixture's synthetic series points name their time `deltaTime`; the engine reads that
/// (in its unit, milliseconds) but writes `time` first, as the core does, and marks the unit:
/// this is what an export gives back.
fn with_time_named_points(mut user: MemoryUser) -> MemoryUser {
    for m in user
        .collections
        .get_mut(&Collection::Series)
        .into_iter()
        .flatten()
    {
        m.as_object_mut()
            .unwrap()
            .shift_insert(1, "timeUnit".into(), "ms".into());
        for point in m["points"].as_array_mut().unwrap() {
            let p = point.as_object_mut().unwrap();
            if let Some(t) = p.shift_remove("deltaTime") {
                p.shift_insert(0, "time".into(), t);
            }
        }
    }
    user
}

fn storable_bob() -> MemoryUser {
    storable("cjx1bobxyzab0002")
}

#[test]
fn sqlite_fixture_users_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let users = [
        ("cjx1alicexyz0001", "alice", 404),
        ("cjx1bobxyzab0002", "bob", 44),
        ("cjx1carolxyz0003", "carol", 0),
    ];
    for (user_id, username, events) in users {
        let user = UserRef {
            user_id: user_id.into(),
            username: username.into(),
        };
        let data = storable(user_id);
        engine
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
        let expected = with_time_named_points(data.clone());
        let exported = export(&engine, &user);
        assert_same_user(&expected, &exported, username);
        assert_eq!(
            exported.items_of(Collection::Events).len(),
            events,
            "{username}"
        );
    }
    let bob = export(&engine, &bob());
    assert_eq!(bob.items_of(Collection::Audit).len(), 30);
    assert_eq!(bob.attachments.len(), 2);
}

#[test]
fn sqlite_refuses_what_it_cannot_store() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut with_tags = storable_bob();
    with_tags.collections.get_mut(&Collection::Events).unwrap()[0]["tags"] =
        serde_json::json!(["a"]);
    let err = engine
        .import_user(&bob(), &with_tags, &ImportOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("\"tags\""), "{err}");

    let mut bad_series = storable_bob();
    bad_series.collections.insert(
        Collection::Series,
        vec![serde_json::json!({"measurement": "m", "points": [{"value": 1}]})],
    );
    let err = engine
        .import_user(&bob(), &bad_series, &ImportOptions::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("without a numeric \"time\""),
        "{err}"
    );

    // Nothing was left behind by the refused restores.
    assert!(engine.users().unwrap().is_empty());
    assert!(!engine.user_exists("cjx1bobxyzab0002").unwrap());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file or directory left"
    );
}

/// Every file under `dir` with the SHA-256 of its bytes.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    use sha2::Digest;
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(
                    path.clone(),
                    hex::encode(sha2::Sha256::digest(std::fs::read(&path).unwrap())),
                );
            }
        }
    }
    out
}

/// A backup whose events fail after `fail_after` items, like a corrupt chunk read mid-way.
struct FailingEvents {
    inner: MemoryUser,
    fail_after: usize,
}

impl pryv_backup::engine::UserSource for FailingEvents {
    fn items(
        &self,
        collection: Collection,
    ) -> pryv_backup::Result<pryv_backup::engine::ItemIter<'_>> {
        let items = self.inner.items(collection)?;
        if collection != Collection::Events {
            return Ok(items);
        }
        let fail_after = self.fail_after;
        Ok(Box::new(items.enumerate().map(move |(i, item)| {
            if i >= fail_after {
                Err(pryv_backup::Error::Other("events chunk damaged".into()))
            } else {
                item
            }
        })))
    }
    fn account(&self) -> pryv_backup::Result<Option<pryv_backup::model::Item>> {
        self.inner.account()
    }
    fn attachment(
        &self,
        file_id: &str,
    ) -> pryv_backup::Result<Option<Box<dyn std::io::Read + '_>>> {
        self.inner.attachment(file_id)
    }
}

#[test]
fn sqlite_failed_or_refused_restore_leaves_the_user_as_it_was_and_overwrite_replaces() {
    let (dir, engine, alice, first) = install_with_alice(1);
    let before = snapshot(dir.path());

    let (_, mut second) = sample_platform(2).remove(0);
    second.collections.remove(&Collection::Webhooks);
    second
        .collections
        .get_mut(&Collection::Events)
        .unwrap()
        .pop();
    let overwrite = ImportOptions {
        overwrite: true,
        verify_integrity: true,
    };

    // Fails mid-events: nothing changes, byte for byte.
    let failing = FailingEvents {
        inner: second.clone(),
        fail_after: 5,
    };
    let err = engine
        .import_user(&alice, &failing, &overwrite)
        .unwrap_err();
    assert!(err.to_string().contains("events chunk damaged"), "{err}");
    assert_eq!(snapshot(dir.path()), before);

    // Refused without overwrite, and refused for a username held by another userId.
    let err = engine
        .import_user(&alice, &second, &ImportOptions::default())
        .unwrap_err();
    assert!(matches!(err, pryv_backup::Error::Conflict { .. }), "{err}");
    let impostor = UserRef {
        user_id: "ckimpostor00099".into(),
        username: "alice".into(),
    };
    assert!(engine.find_conflict(&impostor).unwrap().is_some());
    let err = engine
        .import_user(&impostor, &second, &overwrite)
        .unwrap_err();
    assert!(matches!(err, pryv_backup::Error::Conflict { .. }), "{err}");
    assert_eq!(snapshot(dir.path()), before);

    // Overwrite replaces everything: the webhooks and the dropped event are gone, bytes are new.
    engine.import_user(&alice, &second, &overwrite).unwrap();
    let exported = export(&engine, &alice);
    assert_same_user(&second, &exported, "alice overwritten");
    assert_ne!(first.attachments, exported.attachments);
    assert_eq!(engine.users().unwrap(), vec![alice]);
}

/// Attachments whose commit fails, after the SQLite files were already swapped in.
struct CommitFails(FsAttachments);

struct FailingImport<'a>(Box<dyn pryv_backup::engine::AttachmentImport + 'a>);

impl pryv_backup::engine::AttachmentImport for FailingImport<'_> {
    fn write(
        &mut self,
        event_id: &str,
        file_id: &str,
        data: &mut dyn std::io::Read,
    ) -> pryv_backup::Result<()> {
        self.0.write(event_id, file_id, data)
    }
    fn commit(self: Box<Self>) -> pryv_backup::Result<()> {
        Err(pryv_backup::Error::Other("disk full".into()))
    }
}

impl pryv_backup::engine::AttachmentStore for CommitFails {
    fn describe(&self) -> String {
        "failing".into()
    }
    fn read(
        &self,
        u: &str,
        e: &str,
        f: &str,
    ) -> pryv_backup::Result<Box<dyn std::io::Read + Send + '_>> {
        self.0.read(u, e, f)
    }
    fn begin_user_import(
        &self,
        user_id: &str,
        overwrite: bool,
    ) -> pryv_backup::Result<Box<dyn pryv_backup::engine::AttachmentImport + '_>> {
        Ok(Box::new(FailingImport(
            self.0.begin_user_import(user_id, overwrite)?,
        )))
    }
}

#[test]
fn sqlite_failure_at_attachments_commit_puts_the_old_files_back() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, first) = sample_platform(1).remove(0);
    engine(dir.path())
        .import_user(&alice, &first, &ImportOptions::default())
        .unwrap();
    let before = snapshot(dir.path());
    let failing = SqliteEngine::open(
        dir.path(),
        Arc::new(CommitFails(FsAttachments::new(dir.path()))),
    )
    .unwrap();
    let (_, second) = sample_platform(2).remove(0);
    let err = failing
        .import_user(&alice, &second, &overwrite())
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
    assert_same_user(
        &first,
        &export(&engine(dir.path()), &alice),
        "alice after rollback",
    );
}

#[test]
fn sqlite_incremental_export_follows_the_window() {
    let (_dir, engine, alice, data) = install_with_alice(3);
    let since = 1_763_980_000.0 + 1500.0;
    let options = ExportOptions {
        window: ExportWindow { since: Some(since) },
        include_ephemeral: false,
    };
    let mut out = MemoryUser::default();
    engine.export_user(&alice, &options, &mut out).unwrap();
    let in_window = |c: Collection| {
        data.items_of(c)
            .iter()
            .filter(|i| options.window.includes(i))
            .count()
    };
    for c in [
        Collection::Events,
        Collection::Streams,
        Collection::Accesses,
        Collection::Audit,
    ] {
        assert_eq!(out.items_of(c).len(), in_window(c), "{}", c.name());
    }
    assert!(out.items_of(Collection::Events).len() < data.items_of(Collection::Events).len());
    // Profile has no timestamps: always whole. The event with files is older: no attachments.
    assert_eq!(
        out.items_of(Collection::Profile),
        data.items_of(Collection::Profile)
    );
    assert!(out.attachments.is_empty());
}

#[test]
fn sqlite_sessions_and_password_resets_round_trip_on_request() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut platform = sample_platform(4);
    let (bob, mut bob_data) = platform.remove(1);
    let (alice, mut alice_data) = platform.remove(0);
    alice_data.collections.insert(
        Collection::Sessions,
        vec![json!({"id": "sess-a1", "data": {"username": "alice", "appId": "pryv-browser"}, "expires": 1764000000.5})],
    );
    alice_data.collections.insert(
        Collection::PasswordResets,
        vec![json!({"id": "reset-a1", "username": "alice", "expires": 1764000100})],
    );
    bob_data.collections.insert(
        Collection::Sessions,
        vec![json!({"id": "sess-b1", "data": {"username": "bob"}, "expires": 1764000200})],
    );
    engine
        .import_user(&alice, &alice_data, &ImportOptions::default())
        .unwrap();
    engine
        .import_user(&bob, &bob_data, &ImportOptions::default())
        .unwrap();

    let mut with = MemoryUser::default();
    let options = ExportOptions {
        include_ephemeral: true,
        ..everything()
    };
    engine.export_user(&alice, &options, &mut with).unwrap();
    assert_same_user(&alice_data, &with, "alice with ephemeral");
    let without = export(&engine, &alice);
    assert!(without.items_of(Collection::Sessions).is_empty());

    // Overwrite replaces alice's sessions and leaves bob's alone.
    let (_, mut again) = sample_platform(4).remove(0);
    again.collections.insert(
        Collection::Sessions,
        vec![json!({"id": "sess-a2", "data": {"username": "alice"}, "expires": 1764000300})],
    );
    engine.import_user(&alice, &again, &overwrite()).unwrap();
    let mut after = MemoryUser::default();
    engine.export_user(&alice, &options, &mut after).unwrap();
    assert_same_user(&again, &after, "alice overwritten with ephemeral");
    let mut bob_after = MemoryUser::default();
    engine.export_user(&bob, &options, &mut bob_after).unwrap();
    assert_eq!(
        bob_after.items_of(Collection::Sessions),
        bob_data.items_of(Collection::Sessions)
    );
}

#[test]
fn sqlite_export_reads_a_consistent_snapshot_while_the_core_writes() {
    let (dir, engine, alice, data) = install_with_alice(9);
    // A writer (as the core) holds an open, uncommitted write transaction on the events file.
    let events_file = dir
        .path()
        .join("1/0/0/cksamplealice0001/local-1.0.0.sqlite");
    let writer = rusqlite::Connection::open(&events_file).unwrap();
    writer
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO events (eventid, streamIds, time) VALUES ('ev-pending', 'health ..', 1);")
        .unwrap();
    let exported = export(&engine, &alice);
    assert_eq!(
        exported.items_of(Collection::Events),
        in_export_order(Collection::Events, data.items_of(Collection::Events))
    );
    writer.execute_batch("COMMIT").unwrap();
    let after = export(&engine, &alice);
    assert_eq!(
        after.items_of(Collection::Events).len(),
        data.items_of(Collection::Events).len() + 1
    );
}

/// A row as the core's SQLite audit export writes it: every column by name, in column
/// order, JSON as text, trashed 0/1 (compare tests/fixtures/live-reference-sqlite).
fn core_sqlite_audit_row() -> Item {
    serde_json::json!({"eventid": "a1", "headId": null, "streamIds": "access-x action-events.get ..", "time": 10.5,
        "deleted": null, "endTime": 10.5, "type": "audit-log/pryv-api", "content": "{\"action\":\"events.get\",\"n\":1.0e-7}",
        "description": null, "clientData": null, "integrity": null, "attachments": null, "trashed": 0,
        "created": 10.5, "createdBy": "system", "modified": 10.5, "modifiedBy": "system"})
}

/// SQLite audit rows come back out as the core's SQLite audit writes them, key for key and
/// byte for byte (the JSON text as stored, not re-serialised).
#[test]
fn sqlite_audit_is_exported_in_the_cores_sqlite_shape() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut user = MemoryUser::default();
    user.collections
        .insert(Collection::Audit, vec![core_sqlite_audit_row()]);
    let carol = UserRef {
        user_id: "ckrawaudit0003".into(),
        username: "carol".into(),
    };
    engine
        .import_user(&carol, &user, &ImportOptions::default())
        .unwrap();
    let out = export(&engine, &carol);
    let got = out.items_of(Collection::Audit);
    assert_eq!(got, &[core_sqlite_audit_row()]);
    assert_eq!(got[0].to_string(), core_sqlite_audit_row().to_string());
}

/// Rows in the PostgreSQL audit's shape go into SQLite too, and come out in SQLite's.
#[test]
fn sqlite_takes_postgresql_shape_audit_rows() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let mut user = MemoryUser::default();
    user.collections.insert(
        Collection::Audit,
        vec![json!({"eventid": "a1", "head_id": null, "stream_ids": "access-x action-events.get ..", "time": 10.5,
            "deleted": null, "end_time": 10.5, "type": "audit-log/pryv-api", "content": {"action": "events.get", "n": 1.0e-7},
            "description": null, "client_data": null, "integrity": null, "attachments": null, "trashed": true,
            "created": 10.5, "created_by": "system", "modified": 10.5, "modified_by": "system"})],
    );
    let dave = UserRef {
        user_id: "ckpgaudit00004".into(),
        username: "dave".into(),
    };
    engine
        .import_user(&dave, &user, &ImportOptions::default())
        .unwrap();
    let mut want = core_sqlite_audit_row();
    want["trashed"] = json!(1);
    // Serialised from the parsed value, as the core's SQLite audit would.
    want["content"] = json!("{\"action\":\"events.get\",\"n\":1e-7}");
    assert_eq!(export(&engine, &dave).items_of(Collection::Audit), &[want]);
}

#[test]
fn sqlite_refuses_users_the_core_has_not_migrated() {
    let (dir, engine, alice, data) = install_with_alice(9);
    std::fs::write(
        dir.path().join("1/0/0/cksamplealice0001/audit.sqlite"),
        b"v0",
    )
    .unwrap();
    let mut sink = MemoryUser::default();
    let err = engine
        .export_user(&alice, &everything(), &mut sink)
        .unwrap_err();
    assert!(err.to_string().contains("start open-pryv.io once"), "{err}");
    assert!(engine.import_user(&alice, &data, &overwrite()).is_err());
}

#[test]
fn sqlite_leaves_audit_and_series_to_other_stores_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let full = engine(dir.path());
    let (alice, data) = sample_platform(11).remove(0);
    full.import_user(&alice, &data, &ImportOptions::default())
        .unwrap();
    let udir = dir.path().join("1/0/0/cksamplealice0001");
    let audit_before = std::fs::read(udir.join("audit-1.0.0.sqlite")).unwrap();

    let partial = engine(dir.path()).without_audit().without_series();
    let out = export(&partial, &alice);
    assert!(
        out.items_of(Collection::Audit).is_empty() && out.items_of(Collection::Series).is_empty()
    );
    assert_eq!(
        out.items_of(Collection::Events),
        in_export_order(Collection::Events, data.items_of(Collection::Events))
    );
    partial.import_user(&alice, &data, &overwrite()).unwrap();
    // The other stores' files are untouched by an overwrite restore of this engine.
    assert_eq!(
        std::fs::read(udir.join("audit-1.0.0.sqlite")).unwrap(),
        audit_before
    );
    assert!(dir
        .path()
        .join("e/c/i/user.alice/series-1.0.0.sqlite")
        .is_file());
    assert_same_user(&data, &export(&full, &alice), "alice");
}

#[test]
fn sqlite_bad_items_are_errors_not_panics_and_leave_nothing() {
    use serde_json::json;
    let cases: Vec<(Collection, serde_json::Value)> = vec![
        (Collection::Events, json!("not an object")),
        (Collection::Events, json!({"streamIds": ["a"]})),
        (Collection::Events, json!({"id": "e", "time": "yesterday"})),
        (Collection::Events, json!({"id": "e", "streamIds": "a"})),
        (
            Collection::Events,
            json!({"id": "e", "streamIds": ["has space"]}),
        ),
        (Collection::Events, json!({"id": "e", "trashed": "yes"})),
        (Collection::Streams, json!({"name": "no id"})),
        (Collection::Streams, json!({"id": "s", "children": []})),
        (Collection::Accesses, json!({"id": "a", "headId": 3})),
        (Collection::Webhooks, json!({"id": "w", "deleted": "now"})),
        (Collection::Audit, json!({"time": 1})),
        (Collection::Audit, json!({"eventid": "x", "surprise": 1})),
        (
            Collection::Series,
            json!({"measurement": "m", "points": [{"value": 1}]}),
        ),
        (
            Collection::Series,
            json!({"measurement": "m", "points": "none"}),
        ),
        (Collection::Series, json!({"points": []})),
        (Collection::Sessions, json!({"id": "s", "data": {}})),
        (Collection::PasswordResets, json!({"id": "r", "expires": 1})),
    ];
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let user = UserRef {
        user_id: "ckbaditems0001".into(),
        username: "baditems".into(),
    };
    for (collection, item) in cases {
        let mut data = MemoryUser::default();
        data.collections.insert(collection, vec![item.clone()]);
        let result = engine.import_user(&user, &data, &ImportOptions::default());
        assert!(result.is_err(), "{} {item} was accepted", collection.name());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{item} left files"
        );
    }
    // Duplicates and bad account data too.
    let mut data = MemoryUser::default();
    data.collections.insert(
        Collection::Profile,
        vec![json!({"id": "p"}), json!({"id": "p"})],
    );
    assert!(engine
        .import_user(&user, &data, &ImportOptions::default())
        .is_err());
    for account in [
        json!([]),
        json!({"passwords": [{"hash": "h"}]}),
        json!({"other": 1}),
    ] {
        let data = MemoryUser {
            account: Some(account),
            ..MemoryUser::default()
        };
        assert!(engine
            .import_user(&user, &data, &ImportOptions::default())
            .is_err());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
