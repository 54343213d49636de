//! File order of our archives, read the way the reference's reader (bin/backup.js restore)
//! reads them. That reader goes through each file in order and (a) gives each attachment
//! file to the LAST event listing it, (b) computes a stream's path as its parent's path (as
//! far as already read) + its id + `/`, unless the item carries a `path`. So our archives
//! must list streams parents first and every history copy before its head event.
//!
//! The data is the real core's: tests/fixtures/live-reference/source-db (PostgreSQL rows of
//! a live open-pryv.io v2 install, with history copies listing their head's attachments and
//! a stream renamed after its children were created) and source-files (its attachments).

mod archive_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use archive_support::*;
use pryv_backup::archive::{ArchiveWriter, Manifest, UserEntries, WriterOptions};
use pryv_backup::backup::{self, BackupOptions};
use pryv_backup::chain::PreviousState;
use pryv_backup::engine::Engine;
use pryv_backup::engines::filesystem::FsAttachments;
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};
use serde_json::Value;

/// A small chunk limit, so the events of each user span several chunk files.
const CHUNK: u64 = 4000;

fn options(previous: Option<Manifest>) -> BackupOptions {
    BackupOptions {
        users: Vec::new(),
        previous: previous
            .as_ref()
            .map(|m| PreviousState::from_manifest(m).expect("previous state")),
        include_ephemeral: false,
        jobs: 2,
        engine_name: "test".into(),
        domain: "https://order.example".into(),
        core_version: "test".into(),
        pii_key: None,
        clock_skew: 0.0,
        hook: None,
    }
}

fn write_backup(engine: &dyn Engine, dir: &Path, previous: Option<Manifest>) -> Manifest {
    let writer = ArchiveWriter::create(
        dir,
        WriterOptions {
            compress: false,
            max_chunk_size: CHUNK,
            ..Default::default()
        },
    )
    .unwrap();
    backup::run(engine, writer, &options(previous), &Silent).unwrap();
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the reference's reader makes of one user folder (our own code, from its behaviour
/// as described above): stream id → path, attachment file id → owning event id.
struct ReferenceReading {
    paths: BTreeMap<String, String>,
    owners: BTreeMap<String, String>,
    files: BTreeSet<String>,
}

fn read_like_the_reference(user_dir: &Path, event_chunks: &[String]) -> ReferenceReading {
    let mut paths = BTreeMap::new();
    for stream in jsonl(&user_dir.join("streams.jsonl")) {
        let id = stream["id"].as_str().unwrap().to_string();
        let path = match stream.get("path").and_then(Value::as_str) {
            Some(own) => own.to_string(),
            None => {
                let parent = stream
                    .get("parentId")
                    .and_then(Value::as_str)
                    .and_then(|p| paths.get(p).cloned())
                    .unwrap_or_default();
                format!("{parent}{id}/")
            }
        };
        paths.insert(id, path);
    }
    let mut owners = BTreeMap::new();
    for chunk in event_chunks {
        for event in jsonl(&user_dir.join("events").join(chunk)) {
            for file in event["attachments"].as_array().into_iter().flatten() {
                owners.insert(
                    file["id"].as_str().unwrap().to_string(),
                    event["id"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    let files = match std::fs::read_dir(user_dir.join("attachments")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    };
    ReferenceReading {
        paths,
        owners,
        files,
    }
}

/// Per user id: source stream id → path, and file id → the head event listing it.
struct Source {
    paths: BTreeMap<String, BTreeMap<String, String>>,
    owners: BTreeMap<String, BTreeMap<String, String>>,
}

fn source() -> Source {
    let mut paths: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for row in testbed::live_source_rows("streams") {
        let row: Value = serde_json::from_str(&row).unwrap();
        paths
            .entry(row["user_id"].as_str().unwrap().into())
            .or_default()
            .insert(
                row["id"].as_str().unwrap().into(),
                row["path"].as_str().unwrap().into(),
            );
    }
    let mut owners: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for row in testbed::live_source_rows("events") {
        let row: Value = serde_json::from_str(&row).unwrap();
        if !row["head_id"].is_null() {
            continue;
        }
        for file in row["attachments"].as_array().into_iter().flatten() {
            owners
                .entry(row["user_id"].as_str().unwrap().into())
                .or_default()
                .insert(
                    file["id"].as_str().unwrap().into(),
                    row["id"].as_str().unwrap().into(),
                );
        }
    }
    Source { paths, owners }
}

/// Checks a full backup read as the reference reads it against the source install.
/// `pathless_tombstones`: the archive's deleted streams carry no path (the reference's
/// own archives, and so a SQLite install restored from one), so its reader gives them `id/`.
fn assert_read_faithfully(dir: &Path, manifest: &Manifest, pathless_tombstones: &[&str]) {
    let source = source();
    assert_eq!(manifest.users.len(), 3);
    for user in manifest.users.to_vec().unwrap() {
        let uid = &user.user_id;
        let chunks = user.chunks.get("events").cloned().unwrap_or_default();
        assert!(chunks.len() > 1, "{uid}: events should span several chunks");
        let read = read_like_the_reference(&dir.join("users").join(uid), &chunks);

        let mut expected = source.paths[uid].clone();
        for id in pathless_tombstones {
            expected.insert(id.to_string(), format!("{id}/"));
        }
        assert_eq!(read.paths, expected, "stream paths of {}", user.username);

        let heads = &source.owners[uid];
        assert_eq!(read.files.len(), heads.len(), "files of {}", user.username);
        for file in &read.files {
            assert_eq!(
                read.owners.get(file),
                heads.get(file),
                "{}: file {file} must go to its head event",
                user.username
            );
        }
    }
}

/// The live install's base data in a fresh PostgreSQL database, its attachments on disk.
fn live_postgres() -> (testbed::TestDb, PgEngine) {
    let mut db = testbed::pg_database();
    let files = FsAttachments::new(testbed::fixture("live-reference/source-files/users"));
    let engine = PgEngine::connect(db.conn_str(), Some(Arc::new(files))).unwrap();
    engine.ensure_schema().unwrap();
    for table in ["users_index", "streams", "events", "accesses", "profile"] {
        testbed::load_live_table(db.client(), table);
    }
    (db, engine)
}

#[test]
fn a_postgres_backup_reads_right_in_the_reference_readers_file_order() {
    let (_db, engine) = live_postgres();
    let work = tempfile::tempdir().unwrap();
    let full = work.path().join("full");
    let manifest = write_backup(&engine, &full, None);
    // A deletion's tombstone is `{id, deleted}` as the core exports it, plus its `path` (our
    // addition), which the reference's reader keeps.
    assert_read_faithfully(&full, &manifest, &[]);

    // An incremental export (since just before `journal` was renamed, `archive` trashed and
    // `labo-tmp` deleted) keeps the same order among what it holds.
    let mut previous = manifest.clone();
    let mut users = manifest.users.to_vec().unwrap();
    for user in &mut users {
        user.backup_timestamp = 1_796_194_656_000;
    }
    previous.users = UserEntries::from_vec(users).unwrap();
    let inc = work.path().join("inc");
    let inc_manifest = write_backup(&engine, &inc, Some(previous));
    assert_eq!(inc_manifest.backup_type, "incremental");
    for user in inc_manifest.users.to_vec().unwrap() {
        assert_order(
            &inc.join("users").join(&user.user_id),
            &user.chunks["events"],
        );
    }
}

/// Within one archive folder: no stream before its parent, no history copy after its head.
fn assert_order(user_dir: &Path, chunks: &[String]) {
    let mut seen = BTreeSet::new();
    let streams = jsonl(&user_dir.join("streams.jsonl"));
    let ids: BTreeSet<&str> = streams.iter().filter_map(|s| s["id"].as_str()).collect();
    for s in &streams {
        if let Some(parent) = s.get("parentId").and_then(Value::as_str) {
            assert!(
                !ids.contains(parent) || seen.contains(parent),
                "{}: stream {} before its parent",
                user_dir.display(),
                s["id"]
            );
        }
        seen.insert(s["id"].as_str().unwrap());
    }
    let mut heads_seen = BTreeSet::new();
    for chunk in chunks {
        for e in jsonl(&user_dir.join("events").join(chunk)) {
            match e.get("headId").and_then(Value::as_str) {
                Some(head) => assert!(
                    !heads_seen.contains(head),
                    "{}: history copy {} after its head",
                    user_dir.display(),
                    e["id"]
                ),
                None => {
                    heads_seen.insert(e["id"].as_str().unwrap().to_string());
                }
            }
        }
    }
}

#[test]
fn a_sqlite_backup_reads_right_in_the_reference_readers_file_order() {
    // A SQLite install holding the live data in the reference archive's own order (rows are
    // stored as restored): streams with children before a renamed parent, history copies
    // after their head for dora77.
    let work = tempfile::tempdir().unwrap();
    let base = work.path().join("sqlite");
    std::fs::create_dir(&base).unwrap();
    let sqlite = SqliteEngine::open_with_fs_attachments(&base).unwrap();
    let archive = testbed::fixture("live-reference/backup-by-reference");
    let chain = open_local_chain(&archive);
    let report = restore::run(
        &sqlite,
        &chain,
        &archive,
        &RestoreOptions {
            jobs: 2,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    assert_eq!(report.restored.len(), 3, "{report:?}");

    let out = work.path().join("backup");
    let manifest = write_backup(&sqlite, &out, None);
    // The reference's archive carried no path for the deleted `labo-tmp`.
    assert_read_faithfully(&out, &manifest, &["labo-tmp"]);
}
