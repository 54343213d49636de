//! `restore --user U --stream S` / `--from T1 --to T2`: part of one user put back from a
//! backup into an install that holds the user, on real PostgreSQL and SQLite installs.
//!
//! The install's changes after the backup are made as the core makes them and stores them
//! (items in the core's export shapes, written through the engine): an edited event with its
//! new integrity hash and a history copy of its previous version, a deletion in the default
//! `keep-nothing` mode (only `id` and `deleted` left, its attachments gone), new events and a
//! new child stream, renamed streams and access (each re-hashed), changed series points, a
//! new audit record.

mod cli_support;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use cli_support::*;
use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use pryv_backup::integrity::{self, Check, ItemKind};
use pryv_backup::model::{Collection, Item, UserRef};
use serde_json::json;

/// Seconds: the sample's first timestamp (see `pryv_backup::sample`).
const T0: f64 = 1_763_980_000.0;

/// A sample install of either engine, as the binary and the library reach it.
enum Target {
    Pg(Box<Install>),
    Sqlite(SqliteInstall),
}

impl Target {
    /// The sample platform, alice with one more event (in `weight-morning`, with an
    /// attachment) and a session.
    fn sample(postgres: bool) -> Target {
        let target = if postgres {
            Target::Pg(Box::new(Install::empty()))
        } else {
            Target::Sqlite(SqliteInstall::new())
        };
        let engine = target.engine();
        for (user, mut data) in pryv_backup::sample::sample_platform(SEED) {
            if user.username == "alice" {
                let mut photo = json!({"id": "ev-photo-morning", "streamIds": ["weight-morning"],
                    "time": T0 + 1500.0, "type": "picture/attached",
                    "attachments": [{"id": "att-morning", "fileName": "scale.jpg", "type": "image/jpeg",
                        "size": 4, "integrity": "sha256-AAAA"}],
                    "created": T0 + 1500.0, "createdBy": "acc-app", "modified": T0 + 1500.0,
                    "modifiedBy": "acc-app", "integrity": ""});
                seal(&mut photo);
                data.collections
                    .entry(Collection::Events)
                    .or_default()
                    .push(photo);
                data.attachments.insert(
                    "att-morning".into(),
                    ("ev-photo-morning".into(), b"JPEG".to_vec()),
                );
                data.collections.insert(
                    Collection::Sessions,
                    vec![json!({"id": "sess-alice", "data": {"username": "alice", "appId": "pryv-browser"},
                        "expires": 1_795_516_000.5})],
                );
            }
            engine
                .import_user(&user, &data, &ImportOptions::default())
                .unwrap_or_else(|e| panic!("seeding {}: {e}", user.username));
        }
        engine
            .import_platform(
                &mut pryv_backup::sample::sample_platform_entries(SEED)
                    .into_iter()
                    .map(Ok),
            )
            .unwrap_or_else(|e| panic!("seeding the platform entries: {e}"));
        target
    }

    fn config_args(&self) -> Vec<OsString> {
        match self {
            Target::Pg(install) => install.args(),
            Target::Sqlite(install) => vec![
                "--core-dir".into(),
                install.core_dir.path().into(),
                "--config".into(),
                install.core_dir.path().join("sqlite.yml").into(),
            ],
        }
    }

    /// The engine the binary builds from the same configuration.
    fn engine(&self) -> Box<dyn Engine> {
        let args = self.config_args();
        pryv_backup::install::Install::load(&pryv_backup::install::InstallSources {
            core_dir: args[1].clone().into(),
            node_env: None,
            files: vec![args[3].clone().into()],
            env: Vec::new(),
            overrides: Vec::new(),
        })
        .and_then(|install| install.engine())
        .unwrap_or_else(|e| panic!("the test install's engine: {e}"))
    }

    fn backup(&self, out: &Path) {
        let output = cli()
            .arg("backup")
            .args(self.config_args())
            .arg("--output")
            .arg(out)
            .arg("--include-ephemeral")
            .output()
            .unwrap();
        assert_exit(&output, 0);
    }

    fn restore(&self, backup: &Path, extra: &[&str]) -> std::process::Output {
        cli()
            .arg("restore")
            .arg(backup)
            .args(self.config_args())
            .args(extra)
            .output()
            .unwrap()
    }

    /// Everything the install holds of a user, as a backup reads it.
    fn export(&self, user: &UserRef) -> MemoryUser {
        let mut data = MemoryUser::default();
        self.engine()
            .export_user(
                user,
                &ExportOptions {
                    window: ExportWindow::everything(),
                    include_ephemeral: true,
                },
                &mut data,
            )
            .unwrap_or_else(|e| panic!("exporting {}: {e}", user.username));
        data
    }

    /// Replaces the user's data by `data`, as the core would have come to hold it.
    fn write(&self, user: &UserRef, data: &MemoryUser) {
        self.engine()
            .import_user(
                user,
                data,
                &ImportOptions {
                    overwrite: true,
                    verify_integrity: true,
                },
            )
            .unwrap_or_else(|e| panic!("changing {}: {e}", user.username));
    }
}

fn alice() -> UserRef {
    UserRef {
        user_id: "cksamplealice0001".into(),
        username: "alice".into(),
    }
}

fn bob() -> UserRef {
    UserRef {
        user_id: "cksamplebobby0002".into(),
        username: "bob".into(),
    }
}

/// The integrity hash the core stores for an event it writes.
fn seal(event: &mut Item) {
    event["integrity"] = json!(integrity::compute(ItemKind::Event, event));
}

/// A collection's items by their key (id, measurement, audit eventid).
fn keyed(data: &MemoryUser, collection: Collection) -> BTreeMap<String, Item> {
    let field = match collection {
        Collection::Series => "measurement",
        Collection::Audit => "eventid",
        _ => "id",
    };
    data.items_of(collection)
        .iter()
        .map(|item| {
            (
                item[field].as_str().unwrap_or_default().to_string(),
                item.clone(),
            )
        })
        .collect()
}

/// Two keyed collections are the same; the message names the keys that differ.
#[track_caller]
fn assert_same_items(actual: &BTreeMap<String, Item>, expected: &BTreeMap<String, Item>) {
    let differ: Vec<String> = actual
        .keys()
        .chain(expected.keys())
        .filter(|k| actual.get(*k) != expected.get(*k))
        .map(|k| format!("{k}: {:?} instead of {:?}", actual.get(k), expected.get(k)))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

fn set_events(data: &mut MemoryUser, events: BTreeMap<String, Item>) {
    data.collections
        .insert(Collection::Events, events.into_values().collect());
}

/// Changes to alice after the backup, in and out of the streams `weight` (child
/// `weight-morning`, and a new child `weight-evening`), as the core makes them.
fn change_alice_streams(before: &MemoryUser) -> MemoryUser {
    let mut changed = before.clone();
    let mut events = keyed(before, Collection::Events);
    let now = cli_support::now();
    // In scope: an edit with its history copy, a deletion, a new event, a deleted photo.
    let edited = events["ev-alice-0000"].clone();
    let mut copy = edited.clone();
    copy.as_object_mut().unwrap().remove("integrity");
    copy["id"] = json!("ev-hist-2");
    copy["headId"] = json!("ev-alice-0000");
    events.insert("ev-hist-2".into(), copy);
    let e = events.get_mut("ev-alice-0000").unwrap();
    e["content"] = json!(99.5);
    e["modified"] = json!(now);
    seal(e);
    for gone in ["ev-alice-0002", "ev-photo-morning"] {
        events.insert(gone.into(), json!({"id": gone, "deleted": now}));
    }
    changed.attachments.remove("att-morning");
    let mut added = json!({"id": "ev-added-weight", "streamIds": ["weight"], "time": now,
        "type": "mass/kg", "content": 71.0, "created": now, "createdBy": "acc-app",
        "modified": now, "modifiedBy": "acc-app", "integrity": ""});
    seal(&mut added);
    events.insert("ev-added-weight".into(), added);
    let mut evening = json!({"id": "ev-evening", "streamIds": ["weight-evening"], "time": now,
        "type": "note/txt", "content": "evening", "created": now, "createdBy": "acc-app",
        "modified": now, "modifiedBy": "acc-app", "integrity": ""});
    seal(&mut evening);
    events.insert("ev-evening".into(), evening);
    // Out of scope: an edit and a new event in `health`.
    let e = events.get_mut("ev-alice-0001").unwrap();
    e["description"] = json!("edited after the backup");
    e["modified"] = json!(now);
    seal(e);
    let mut kept = json!({"id": "ev-added-health", "streamIds": ["health"], "time": now,
        "type": "note/txt", "content": "kept", "created": now, "createdBy": "acc-app",
        "modified": now, "modifiedBy": "acc-app", "integrity": ""});
    seal(&mut kept);
    events.insert("ev-added-health".into(), kept);
    set_events(&mut changed, events);

    let streams = changed.collections.get_mut(&Collection::Streams).unwrap();
    for stream in streams.iter_mut() {
        match stream["id"].as_str() {
            Some("weight") => stream["name"] = json!("Weight (renamed)"),
            Some("health") => stream["name"] = json!("Health (renamed)"),
            _ => continue,
        }
        stream["modified"] = json!(now);
    }
    streams.push(
        json!({"id": "weight-evening", "name": "Evening", "parentId": "weight",
        "created": now, "createdBy": "acc-app", "modified": now, "modifiedBy": "acc-app"}),
    );

    for series in changed.collections.get_mut(&Collection::Series).unwrap() {
        series["points"] = json!([{"time": 0, "value": 1}]);
    }
    change_the_rest(&mut changed, now);
    changed
}

/// What a partial restore keeps whatever its scope: an access renamed (re-hashed) and a new
/// audit record.
fn change_the_rest(changed: &mut MemoryUser, now: f64) {
    for access in changed.collections.get_mut(&Collection::Accesses).unwrap() {
        if access["id"] == "acc-app" {
            access["name"] = json!("diary-app (renamed)");
            access["modified"] = json!(now);
            access["integrity"] = json!(integrity::compute(ItemKind::Access, access));
        }
    }
    let audit = changed.collections.get_mut(&Collection::Audit).unwrap();
    let mut record = audit[0].clone();
    record["eventid"] = json!("audit-after-the-backup");
    audit.push(record);
}

/// Every event and access hash of `data` checks out (and there are some).
#[track_caller]
fn assert_integrity(data: &MemoryUser) {
    let mut valid = 0;
    for (collection, kind) in [
        (Collection::Events, ItemKind::Event),
        (Collection::Accesses, ItemKind::Access),
    ] {
        for item in data.items_of(collection) {
            match integrity::check(kind, item) {
                Check::Valid => valid += 1,
                Check::Absent => {}
                other => panic!("{} {}: {other:?}", collection.name(), item["id"]),
            }
        }
    }
    assert!(valid > 20, "{valid} hashes checked");
}

/// What a partial restore leaves as the install has it.
#[track_caller]
fn assert_kept(after: &MemoryUser, changed: &MemoryUser) {
    for collection in [
        Collection::Accesses,
        Collection::Audit,
        Collection::Profile,
        Collection::Webhooks,
        Collection::Sessions,
        Collection::PasswordResets,
    ] {
        assert_eq!(
            keyed(after, collection),
            keyed(changed, collection),
            "{}",
            collection.name()
        );
    }
    assert_eq!(after.account, changed.account);
}

fn partial_restore_of_a_stream(postgres: bool) {
    let target = Target::sample(postgres);
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("full");
    target.backup(&backup);
    let before = target.export(&alice());
    let bob_before = target.export(&bob());
    target.write(&alice(), &change_alice_streams(&before));
    // As the engine holds it (e.g. a missing `endTime` read back as null).
    let changed = target.export(&alice());
    let scratch = work.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();

    let scratch_arg = scratch.display().to_string();
    let output = target.restore(
        &backup,
        &[
            "--user",
            "alice",
            "--stream",
            "weight",
            "--json",
            "--scratch-dir",
            &scratch_arg,
        ],
    );
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(
        report["streamsInScope"],
        json!(["weight", "weight-evening", "weight-morning"])
    );
    assert_eq!(report["integrityChecked"], true);
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "the scratch copy is removed"
    );

    let after = target.export(&alice());
    // In scope: as in the backup. Out of scope: as in the install.
    let mut expected = keyed(&changed, Collection::Events);
    let was = keyed(&before, Collection::Events);
    for id in ["ev-alice-0000", "ev-alice-0002", "ev-photo-morning"] {
        expected.insert(id.into(), was[id].clone());
    }
    for id in ["ev-hist-2", "ev-added-weight", "ev-evening"] {
        expected.remove(id);
    }
    assert_same_items(&keyed(&after, Collection::Events), &expected);
    assert_eq!(
        after.items_of(Collection::Events).len(),
        expected.len(),
        "no event twice"
    );
    let mut streams = keyed(&changed, Collection::Streams);
    streams.insert(
        "weight".into(),
        keyed(&before, Collection::Streams)["weight"].clone(),
    );
    streams.remove("weight-evening");
    assert_same_items(&keyed(&after, Collection::Streams), &streams);
    assert_eq!(streams["health"]["name"], "Health (renamed)");
    assert_eq!(
        keyed(&after, Collection::Series),
        keyed(&before, Collection::Series),
        "the series of ev-series-1 (in weight) is the backup's"
    );
    assert_eq!(
        after.attachments, before.attachments,
        "the photo is back, the files of ev-with-files (out of scope) kept"
    );
    assert_kept(&after, &changed);
    assert_integrity(&after);
    assert_eq!(target.export(&bob()), bob_before, "other users untouched");
}

#[test]
fn a_stream_and_its_children_come_back_as_in_the_backup_on_postgresql() {
    partial_restore_of_a_stream(true);
}

#[test]
fn a_stream_and_its_children_come_back_as_in_the_backup_on_sqlite() {
    partial_restore_of_a_stream(false);
}

/// Seconds of the sample's event `ev-alice-<i>`.
fn time_of(i: usize) -> f64 {
    T0 + 1000.0 + i as f64 * 37.125
}

fn partial_restore_of_a_time_range(postgres: bool) {
    let target = Target::sample(postgres);
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("full");
    target.backup(&backup);
    let before = target.export(&alice());
    let mut changed = before.clone();
    let mut events = keyed(&before, Collection::Events);
    let now = cli_support::now();
    // ev-alice-0004 (in range) edited, 0005 (in range) deleted, one added in range; 0009
    // (at --to: excluded) and 0010 (after) edited.
    for id in ["ev-alice-0004", "ev-alice-0009", "ev-alice-0010"] {
        let e = events.get_mut(id).unwrap();
        e["description"] = json!("edited after the backup");
        e["modified"] = json!(now);
        seal(e);
    }
    events.insert(
        "ev-alice-0005".into(),
        json!({"id": "ev-alice-0005", "deleted": now}),
    );
    let mut added = json!({"id": "ev-added-in-range", "streamIds": ["notes"], "time": time_of(6) + 1.0,
        "type": "note/txt", "content": "added", "created": now, "createdBy": "acc-app",
        "modified": now, "modifiedBy": "acc-app", "integrity": ""});
    seal(&mut added);
    events.insert("ev-added-in-range".into(), added);
    set_events(&mut changed, events);
    for stream in changed.collections.get_mut(&Collection::Streams).unwrap() {
        if stream["id"] == "health" {
            stream["name"] = json!("Health (renamed)");
        }
    }
    change_the_rest(&mut changed, now);
    target.write(&alice(), &changed);
    let changed = target.export(&alice());

    let from = format!("{}", (time_of(3) * 1000.0) as u64);
    let to = format!("{}", (time_of(9) * 1000.0) as u64);
    assert_eq!(from.len(), 13);
    let output = target.restore(&backup, &["--user", "alice", "--from", &from, "--to", &to]);
    assert_exit(&output, 0);
    let text = text(&output);
    assert!(text.contains("events from 2025-11-24T10:45:11Z"), "{text}");
    assert!(text.contains(" to 2025-11-24T10:48:54Z"), "{text}");
    println!("{text}");

    let after = target.export(&alice());
    let mut expected = keyed(&changed, Collection::Events);
    let was = keyed(&before, Collection::Events);
    for id in ["ev-alice-0004", "ev-alice-0005"] {
        expected.insert(id.into(), was[id].clone());
    }
    expected.remove("ev-added-in-range");
    assert_same_items(&keyed(&after, Collection::Events), &expected);
    assert_eq!(
        keyed(&after, Collection::Streams),
        keyed(&changed, Collection::Streams),
        "a time range puts back no stream"
    );
    assert_kept(&after, &changed);
    assert_integrity(&after);
}

#[test]
fn events_of_a_time_range_come_back_as_in_the_backup_on_postgresql() {
    partial_restore_of_a_time_range(true);
}

#[test]
fn events_of_a_time_range_come_back_as_in_the_backup_on_sqlite() {
    partial_restore_of_a_time_range(false);
}

/// The backup holds an event of `weight` whose integrity hash is wrong (written so by a
/// faulty tool, or altered); the install since holds it re-hashed. Putting `weight` back
/// fails its integrity check: the user is left exactly as it was.
fn a_failed_partial_restore_changes_nothing(postgres: bool) {
    let target = Target::sample(postgres);
    let mut bad = target.export(&alice());
    let mut tampered = json!({"id": "ev-tampered", "streamIds": ["weight"], "time": T0 + 3000.0,
        "type": "mass/kg", "content": 80.0, "created": T0 + 3000.0, "createdBy": "acc-app",
        "modified": T0 + 3000.0, "modifiedBy": "acc-app", "integrity": ""});
    seal(&mut tampered);
    tampered["content"] = json!(81.0);
    bad.collections
        .get_mut(&Collection::Events)
        .unwrap()
        .push(tampered.clone());
    target
        .engine()
        .import_user(
            &alice(),
            &bad,
            &ImportOptions {
                overwrite: true,
                verify_integrity: false,
            },
        )
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("full");
    target.backup(&backup);
    let mut changed = change_alice_streams(&target.export(&alice()));
    let mut events = keyed(&changed, Collection::Events);
    seal(events.get_mut("ev-tampered").unwrap());
    set_events(&mut changed, events);
    target.write(&alice(), &changed);
    let before = target.export(&alice());
    let rows_before = match &target {
        Target::Pg(install) => Some(user_rows(&install.dump(), &alice().user_id)),
        Target::Sqlite(_) => None,
    };

    let output = target.restore(&backup, &["--user", "alice", "--stream", "weight"]);
    assert_exit_saying(&output, 1, "nothing of the user was changed");
    assert!(text(&output).contains("ev-tampered"), "{}", text(&output));
    assert_eq!(target.export(&alice()), before);
    if let (Target::Pg(install), Some(rows)) = (&target, rows_before) {
        assert_same(&rows, &user_rows(&install.dump(), &alice().user_id));
    }
}

#[test]
fn a_failed_partial_restore_leaves_the_user_as_it_was_on_postgresql() {
    a_failed_partial_restore_changes_nothing(true);
}

#[test]
fn a_failed_partial_restore_leaves_the_user_as_it_was_on_sqlite() {
    a_failed_partial_restore_changes_nothing(false);
}

#[test]
fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let target = Target::sample(true);
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("full");
    target.backup(&backup);
    let changed = change_alice_streams(&target.export(&alice()));
    target.write(&alice(), &changed);
    let Target::Pg(install) = &target else {
        unreachable!()
    };
    let dump = install.dump();

    let output = target.restore(
        &backup,
        &[
            "--user",
            "alice",
            "--stream",
            "weight",
            "--dry-run",
            "--json",
        ],
    );
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(report["dryRun"], true);
    // weight, weight-morning in both; weight-evening in the install only.
    assert_eq!(
        report["streamCounts"],
        json!({"inBackup": 2, "inInstall": 3, "added": 0, "replaced": 2, "removed": 1})
    );
    // The backup's 16 events of weight and weight-morning, ev-series-1, ev-photo-morning and
    // the history copy ev-hist-1; the install's same (two of them deleted since) plus
    // ev-hist-2, ev-added-weight, ev-evening.
    assert_eq!(
        report["eventCounts"],
        json!({"inBackup": 19, "inInstall": 22, "added": 0, "replaced": 19, "removed": 3})
    );
    assert_eq!(
        report["attachmentCounts"],
        json!({"inBackup": 1, "inInstall": 0, "added": 1, "replaced": 0, "removed": 0})
    );
    assert_eq!(
        report["seriesCounts"],
        json!({"inBackup": 2, "inInstall": 2, "added": 0, "replaced": 2, "removed": 0})
    );
    assert_same(&dump, &install.dump());

    let output = target.restore(
        &backup,
        &["--user", "alice", "--stream", "weight", "--dry-run"],
    );
    assert_exit_saying(&output, 0, "dry run, nothing was written");
    println!("{}", text(&output));
    assert_same(&dump, &install.dump());
}

#[test]
fn partial_restores_that_cannot_be_are_refused_before_anything_changes() {
    let target = Target::sample(true);
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("full");
    target.backup(&backup);
    let Target::Pg(install) = &target else {
        unreachable!()
    };

    // A stream the backup does not hold.
    let dump = install.dump();
    let output = target.restore(&backup, &["--user", "alice", "--stream", "no-such-stream"]);
    assert_exit_saying(
        &output,
        1,
        "not in this backup of the user: nothing was changed",
    );
    assert_same(&dump, &install.dump());

    // A user the install does not hold: a whole-user restore is the tool for that.
    delete_sample_bob(install);
    let dump = install.dump();
    let output = target.restore(&backup, &["--user", "bob", "--stream", "weight"]);
    assert_exit_saying(&output, 1, "is not in the install");
    assert!(text(&output).contains("--user bob"), "{}", text(&output));
    assert_same(&dump, &install.dump());

    // Bad usage, refused before the backup or the install is read (neither exists here).
    let nowhere = work.path().join("nowhere");
    for args in [
        vec!["--stream", "weight"],
        vec!["--from", "2025-11-24"],
        vec!["--user", "alice", "--user", "bob", "--stream", "weight"],
        vec!["--user", "alice", "--stream", "weight", "--overwrite"],
    ] {
        let output = cli()
            .arg("restore")
            .arg(&nowhere)
            .args(["--core-dir", &nowhere.display().to_string()])
            .args(&args)
            .output()
            .unwrap();
        assert_exit(&output, 2);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--"),
            "{args:?}: {}",
            text(&output)
        );
    }
}

/// SIGTERM once the user's current state is copied into the scratch folder: the run stops
/// (143), the private copy is removed and the user is as it was.
#[test]
fn a_stopped_partial_restore_removes_its_scratch_copy_and_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let target = Target::sample(true);
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("full");
    target.backup(&backup);
    target.write(&alice(), &change_alice_streams(&target.export(&alice())));
    let before = target.export(&alice());
    let scratch = work.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let paused = work.path().join("paused");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"))
        .arg("restore")
        .arg(&backup)
        .args(target.config_args())
        .args(["--user", "alice", "--stream", "weight", "--scratch-dir"])
        .arg(&scratch)
        .env("PRYV_BACKUP_TEST_PAUSE_AT", "partial-current-read")
        .env("PRYV_BACKUP_TEST_PAUSE_FILE", &paused)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !paused.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before its pause"
        );
        assert!(start.elapsed().as_secs() < 120, "never paused");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let copies: Vec<_> = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let mode = std::fs::metadata(&copies[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the copy is private");
    // SAFETY: kill only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 143);
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "copy removed"
    );
    assert_eq!(target.export(&alice()), before);
}
