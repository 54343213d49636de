//! The live SQLite install of tests/fixtures/live-reference-sqlite (SQLite base and audit,
//! platform DB in an rqlite node's file, stopped): what pryv-backup backs up of it, against
//! the archive the core's own `bin/backup.js` wrote of it (`backup-by-reference-plain`).
//!
//! The fixture's files are never opened in place: each test works on a copy (SQLite would
//! create `-wal`/`-shm` files beside them).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pryv_backup::archive::{ArchiveWriter, WriterOptions};
use pryv_backup::backup::{self, BackupOptions};
use pryv_backup::engine::Composite;
use pryv_backup::engines::rqlite::RqlitePlatform;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::progress::Silent;
use serde_json::Value;

fn live(relative: &str) -> PathBuf {
    testbed::fixture(&format!("live-reference-sqlite/{relative}"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `root`, relative to it.
fn relative_files(root: &Path) -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// The install as the stopped core left it, copied into `work`: its engine (SQLite base
/// and audit, attachments on disk, the platform from the node's data file; no series: the
/// InfluxDB series are not in the core's archive to compare with).
fn stopped_install(work: &Path) -> Composite {
    let users = work.join("users");
    copy_tree(&live("source-files/users"), &users);
    let platform = work.join("rqlite-data");
    copy_tree(&live("source-platform/rqlite-data"), &platform);
    Composite {
        base: Box::new(SqliteEngine::open_with_fs_attachments(&users).unwrap()),
        audit: None,
        series: None,
        platform: Some(Box::new(RqlitePlatform::stopped_node(&platform))),
    }
}

fn back_up(engine: &Composite, out: &Path) {
    let writer = ArchiveWriter::create(
        out,
        WriterOptions {
            compress: false,
            ..Default::default()
        },
    )
    .unwrap();
    let options = BackupOptions {
        users: Vec::new(),
        previous: None,
        include_ephemeral: false,
        jobs: 2,
        engine_name: "sqlite".into(),
        domain: "http://127.0.0.1:3641/".into(),
        core_version: "test".into(),
        pii_key: None,
        clock_skew: 300.0,
        hook: None,
    };
    backup::run(engine, writer, &options, &Silent).unwrap();
}

/// The lines of a JSONL file, sorted.
fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// A JSON value with keys in one order at every level, numbers as the doubles they read as.
fn by_value(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(format!("number {}", n.as_f64().unwrap_or(f64::NAN))),
        Value::Array(items) => Value::Array(items.into_iter().map(by_value).collect()),
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, by_value(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        other => other,
    }
}

/// Two sorted lists equal, or a failure naming the items only one holds.
fn assert_same_items(want: &[String], got: &[String], name: &str) {
    let only_want: Vec<&String> = want.iter().filter(|i| !got.contains(i)).collect();
    let only_got: Vec<&String> = got.iter().filter(|i| !want.contains(i)).collect();
    assert!(
        only_want.is_empty() && only_got.is_empty() && want.len() == got.len(),
        "{name}: {} against {} items\nonly in the reference's: {only_want:#?}\nonly in ours: {only_got:#?}",
        want.len(),
        got.len()
    );
}

fn items_by_value(lines: &[String]) -> Vec<String> {
    let mut items: Vec<String> = lines
        .iter()
        .map(|l| by_value(serde_json::from_str(l).unwrap()).to_string())
        .collect();
    items.sort();
    items
}

/// The account item with what the core's SQLite export leaves out or orders otherwise:
/// - a password's `createdBy` (the core's SQLite account export drops it, and its own
///   SQLite import then fails on `passwords.createdBy NOT NULL`: see the fixture's README);
///   ours carries it, an addition;
/// - the order of `accountFields`: rows keyed by (field, time), listed by the core newest
///   first within a field, by us in storage order; the order carries nothing.
fn account_as_the_core_exports(line: &str) -> String {
    let mut account: Value = serde_json::from_str(line).unwrap();
    if let Some(passwords) = account["passwords"].as_array_mut() {
        for password in passwords {
            password.as_object_mut().unwrap().shift_remove("createdBy");
        }
    }
    if let Some(fields) = account["accountFields"].as_array_mut() {
        fields.sort_by_key(|f| by_value(f.clone()).to_string());
    }
    account.to_string()
}

/// A deletion record (`deleted` set, no `time`) without the `endTime: null` the core's
/// SQLite reader adds to it: we export it as `{id, deleted, ...}`, as the PostgreSQL engine
/// does (docs/storage-layout.md, section 5); restores read both.
fn tombstone_as_we_export_it(line: &str) -> String {
    let mut event: Value = serde_json::from_str(line).unwrap();
    let fields = event.as_object_mut().unwrap();
    if fields.get("time").is_none() && fields.get("deleted").is_some_and(|d| !d.is_null()) {
        fields.shift_remove("endTime");
    }
    event.to_string()
}

/// Backing up the stopped install gives, file by file, the items of the core's archive of
/// it. The audit files hold the very same lines (the SQLite audit's shape: same keys in the
/// same order, same value types, same number texts); the other files the same items by
/// value, but for the account exceptions of [`account_as_the_core_exports`] and the
/// tombstones' `endTime` ([`tombstone_as_we_export_it`]). What ours
/// adds: the passwords' `createdBy`, the platform's `user-core/` and `access-index/` rows (the core's
/// archive carries user fields only). Series: none here (they live in InfluxDB, and the
/// core's archive holds none to compare with).
#[test]
fn our_backup_of_the_stopped_sqlite_install_holds_the_reference_archives_items() {
    let work = tempfile::tempdir().unwrap();
    let engine = stopped_install(work.path());
    let out = work.path().join("backup");
    back_up(&engine, &out);

    let reference = live("backup-by-reference-plain");
    let (theirs, ours) = (relative_files(&reference), relative_files(&out));
    let only_ours: Vec<&PathBuf> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&PathBuf> = theirs.difference(&ours).collect();
    assert!(only_ours.is_empty(), "files only in ours: {only_ours:?}");
    assert!(
        only_theirs.is_empty(),
        "files only in the reference's: {only_theirs:?}"
    );

    let mut audit_rows = 0;
    for path in &theirs {
        let name = path.to_string_lossy();
        if name.ends_with("manifest.json") {
            continue; // times, tool and checksums differ by nature
        }
        let (want, got) = (reference.join(path), out.join(path));
        if name.contains("/attachments/") {
            assert_eq!(
                std::fs::read(&want).unwrap(),
                std::fs::read(&got).unwrap(),
                "{name}"
            );
            continue;
        }
        let (want, mut got) = (lines(&want), lines(&got));
        if name.contains("/audit/") {
            audit_rows += got.len();
            assert_same_items(&want, &got, &name);
            continue;
        }
        if name == "platform/platform.jsonl" {
            got.retain(|l| {
                !l.contains("\"key\":\"user-core/") && !l.contains("\"key\":\"access-index/")
            });
        }
        if name.contains("/events/") {
            let want: Vec<String> = want.iter().map(|l| tombstone_as_we_export_it(l)).collect();
            assert_same_items(&items_by_value(&want), &items_by_value(&got), &name);
            continue;
        }
        if name.ends_with("/account.jsonl") {
            got = got.iter().map(|l| account_as_the_core_exports(l)).collect();
            let want: Vec<String> = want
                .iter()
                .map(|l| account_as_the_core_exports(l))
                .collect();
            assert_same_items(&items_by_value(&want), &items_by_value(&got), &name);
            continue;
        }
        assert_same_items(&items_by_value(&want), &items_by_value(&got), &name);
    }
    assert_eq!(audit_rows, 241 + 238 + 238);
}
