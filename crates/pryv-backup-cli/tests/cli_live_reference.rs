//! Restores of the archive the real open-pryv.io `bin/backup.js` wrote of a live install
//! (tests/fixtures/live-reference: hashed PII mode, so platform entries name users by token).

mod cli_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cli_support::*;

/// The live install's pepper (`platform:piiHmacKey` of live-reference/config/refe-config.yml).
const PII: &str =
    "platform:\n  piiMode: hashed\n  piiHmacKey: 'q8Vb0m3v8ZQ0wG7r7m6dYc3f6bXk0wq0a1mV8sY2n7Q='\n";

fn live(relative: &str) -> PathBuf {
    testbed::fixture(&format!("live-reference/{relative}"))
}

/// An empty install configured as the live one: hashed PII mode, attachments on disk.
fn hashed_install() -> (Install, tempfile::TempDir) {
    let install = Install::empty();
    let users_dir = testbed::data_dir();
    write_live_override(&install, users_dir.path());
    (install, users_dir)
}

/// The live install's settings that matter here, its attachments under `users_dir`.
fn write_live_override(install: &Install, users_dir: &Path) {
    let extra = live_override(install);
    std::fs::write(
        &extra,
        format!(
            "{PII}storages:\n  file: {{ engine: filesystem }}\n  engines:\n    sqlite:\n      path: '{}'\n",
            users_dir.display()
        ),
    )
    .unwrap();
}

/// The install's live-like settings (see `write_live_override`).
fn live_override(install: &Install) -> PathBuf {
    install.core_dir.path().join("live-override.yml")
}

/// `pryv-backup restore` of `dir` into an install configured as the live one.
fn restore_dir(install: &Install, dir: &Path, args: &[&str]) -> std::process::Output {
    cli()
        .arg("restore")
        .args(install.args())
        .arg("--config")
        .arg(live_override(install))
        .arg("--restore")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// A restore of the reference's archive of the live install.
fn restore(install: &Install, args: &[&str]) -> std::process::Output {
    restore_dir(install, &live("backup-by-reference"), args)
}

/// The platform_kv rows of user fields, as the live install's dump holds them.
fn source_user_fields(keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    std::fs::read_to_string(live("source-db/platform_kv.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            l.starts_with("{\"key\":\"user-unique/") || l.starts_with("{\"key\":\"user-indexed/")
        })
        .filter(|l| keep(l))
        .map(str::to_string)
        .collect()
}

/// Every row of `platform_kv`, as `row_to_json` writes it (the dump keeps user fields only).
fn restored_platform_rows(install: &Install) -> BTreeSet<String> {
    install
        .db
        .connect()
        .query("SELECT row_to_json(t)::text FROM platform_kv t", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The live install's `platform_kv`, but for the core's own `core-info/` row: the target
/// core writes its own when it starts, and no backup carries it.
fn live_platform_rows() -> BTreeSet<String> {
    testbed::live_source_rows("platform_kv")
        .into_iter()
        .filter(|l| !l.starts_with("{\"key\":\"core-info/"))
        .collect()
}

fn restored_user_fields(install: &Install) -> BTreeSet<String> {
    restored_platform_rows(install)
        .into_iter()
        .filter(|l| {
            l.starts_with("{\"key\":\"user-unique/") || l.starts_with("{\"key\":\"user-indexed/")
        })
        .collect()
}

/// The access-index rows of the three deleted accesses: the live core stamped the index's
/// deletion a few milliseconds after the access's own `deleted`, a time no archive holds.
const DELETED_ACCESSES: [&str; 3] = [
    "lcgudqjkh6wmg2ddxau7fapq",
    "npu0wdch5l0rf62p3m0jobny",
    "p21vb66pz6rhxkb2sj6gvsjm",
];

/// `(key, value)` of a dumped row.
fn key_value(row: &str) -> (String, serde_json::Value) {
    let row: serde_json::Value = serde_json::from_str(row).unwrap();
    let key = row["key"].as_str().unwrap().to_string();
    let value = row["value"].as_str().unwrap();
    (
        key,
        serde_json::from_str(value).unwrap_or_else(|_| value.into()),
    )
}

#[test]
fn platform_entries_named_by_token_are_restored() {
    let (install, _files) = hashed_install();
    let output = restore(&install, &["--json"]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    // 15 user fields, and 3 user-core + 18 access-index rows rebuilt.
    assert_eq!(report["platformEntries"], 36, "{report}");
    assert_eq!(restored_user_fields(&install), source_user_fields(|_| true));
}

/// The whole `platform_kv` table after restoring the core's archive, which lacks the
/// `user-core/` and `access-index/` rows, against the live install's. Exceptions:
/// `core-info/single` is the target core's own row, written by the core when it starts; and
/// the deleted accesses' index rows carry the access's deletion time (see DELETED_ACCESSES).
#[test]
fn the_platform_table_is_rebuilt_as_the_live_core_wrote_it() {
    let (install, _files) = hashed_install();
    let output = restore(&install, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let source = live_platform_rows();
    let restored = restored_platform_rows(&install);
    let is_deleted = |row: &String| DELETED_ACCESSES.iter().any(|id| row.contains(id));
    let same = |rows: &BTreeSet<String>| -> BTreeSet<String> {
        rows.iter().filter(|r| !is_deleted(r)).cloned().collect()
    };
    assert_eq!(same(&restored), same(&source));

    let accesses = std::fs::read_to_string(live("source-db/accesses.jsonl")).unwrap();
    for id in DELETED_ACCESSES {
        let find =
            |rows: &BTreeSet<String>| key_value(rows.iter().find(|r| r.contains(id)).unwrap());
        let (key, mut ours) = find(&restored);
        let (source_key, mut live) = find(&source);
        assert_eq!(key, source_key);
        let access: serde_json::Value = accesses
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|a| a["id"] == id)
            .unwrap();
        assert_eq!(ours["deleted"], access["deleted"], "{ours}");
        assert_eq!(ours["lastModified"], access["deleted"], "{ours}");
        for entry in [&mut ours, &mut live] {
            let fields = entry.as_object_mut().unwrap();
            fields.remove("deleted");
            fields.remove("lastModified");
        }
        assert_eq!(ours, live);
    }
}

#[test]
fn a_single_user_restore_takes_that_users_token_entries_only() {
    let (install, _files) = hashed_install();
    let output = restore(&install, &["--user", "dora77"]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // token("username", "dora77"), from live-reference/README.md.
    let dora = "3eab5cccf80569a9510c414ffc26e6a65d254594b5cd522a57a6fb30ddcbd2cb";
    let expected = source_user_fields(|l| l.contains(dora));
    assert_eq!(expected.len(), 5, "1 unique email + 4 indexed fields");
    assert_eq!(restored_user_fields(&install), expected);
}

/// The live core hashed each history copy (`headId` set) as of its head; its own integrity
/// check passes on this data, and so must ours.
#[test]
fn verify_integrity_accepts_the_history_copies_the_core_hashed() {
    let (install, _files) = hashed_install();
    let output = restore(&install, &["--json", "--verify-integrity"]);
    let report = stdout_json(&output);
    assert!(output.status.success(), "{report:#}");
    assert_eq!(
        report["restored"].as_array().unwrap().len(),
        3,
        "{report:#}"
    );
    assert_eq!(
        report["rolledBack"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(
        install.count("SELECT count(*) FROM events WHERE head_id IS NOT NULL"),
        48,
        "16 history copies per user"
    );
}

/// A backup of the live install's platform by pryv-backup carries every row of its users,
/// `user-core/` and `access-index/` included, and restores them as they were.
#[test]
fn our_backup_carries_every_platform_row_of_its_users() {
    let (source, _source_files) = hashed_install();
    source.engine().ensure_schema().unwrap();
    let mut client = source.db.connect();
    // Account rows too: a restore refuses a user without account data.
    for table in [
        "users_index",
        "accesses",
        "passwords",
        "account_fields",
        "platform_kv",
    ] {
        testbed::load_live_table(&mut client, table);
    }
    let extra = live_override(&source);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    backup(
        &source,
        &out,
        &["--no-compress", "--config", extra.to_str().unwrap()],
    );
    let carried = std::fs::read_to_string(out.join("platform/platform.jsonl")).unwrap();
    let index_rows = carried
        .lines()
        .filter(|l| l.contains("\"key\":\"user-core/") || l.contains("\"key\":\"access-index/"))
        .count();
    assert_eq!(index_rows, 3 + 18, "{carried}");

    let (target, _target_files) = hashed_install();
    let output = restore_dir(&target, &out, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(restored_platform_rows(&target), live_platform_rows());
}

/// The live install's rows of `table` (source-db), sorted as `Install::dump` sorts them.
fn source_rows(table: &str) -> Vec<String> {
    let mut rows = testbed::live_source_rows(table);
    rows.sort();
    rows
}

/// Attachment files under a data directory's `users/`: path relative to it, bytes.
fn attachment_files(users_dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files(users_dir)
        .into_iter()
        .map(|(p, bytes)| (p.strip_prefix(users_dir).unwrap().to_path_buf(), bytes))
        .collect()
}

/// Restoring the reference's own archive of the live install into an empty install gives
/// back what the source held: streams, events, event_streams and the attachment files on
/// disk, row for row and byte for byte. The one exception: the deleted stream `labo-tmp`,
/// whose path (`labo/labo-tmp/`, kept by the core's delete) is not in that archive (its
/// tombstone is `{id, deleted}`, and the core clears `parentId` on delete), so it becomes a
/// root path. The reference's own restore differs in more (tests/fixtures/live-reference/
/// README.md): child paths computed in file order, `trashed` null → false, files under a
/// history copy's id.
#[test]
fn restoring_the_reference_archive_gives_back_the_source_rows_and_files() {
    let (install, users_dir) = hashed_install();
    let output = restore(&install, &[]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dump = install.dump();
    let restored = |table: &str| -> Vec<String> {
        dump.iter()
            .find(|(t, _)| t == table)
            .map(|(_, rows)| rows.clone())
            .unwrap_or_default()
    };
    for table in ["events", "event_streams"] {
        let (want, got) = (source_rows(table), restored(table));
        assert_same(&[(table.to_string(), want)], &[(table.to_string(), got)]);
    }
    assert_same(
        &[("streams".to_string(), source_streams_with_root_tombstone())],
        &[("streams".to_string(), restored("streams"))],
    );

    let source_files = attachment_files(&live("source-files/users"));
    assert_eq!(source_files.len(), 9);
    assert_eq!(attachment_files(users_dir.path()), source_files);
}

/// The live install itself: its base rows (source-db) in a fresh database, its attachment
/// files (source-files) where its configuration says.
fn live_source() -> Install {
    let install = Install::empty();
    install.engine().ensure_schema().unwrap();
    let mut client = install.db.connect();
    for table in [
        "users_index",
        "streams",
        "events",
        "event_streams",
        "accesses",
        "profile",
        "webhooks",
        "passwords",
        "account_fields",
        "audit_events",
        "series_data",
        "platform_kv",
    ] {
        testbed::load_live_table(&mut client, table);
    }
    write_live_override(&install, &live("source-files/users"));
    install
}

/// Our own backup of the live install restores to exactly its rows and files, the deleted
/// stream's path included: our archive carries it on the tombstone (the core's export does
/// not, see `restoring_the_reference_archive_gives_back_the_source_rows_and_files`).
#[test]
fn our_backup_of_the_live_install_restores_to_its_rows_and_files() {
    let source = live_source();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let source_extra = live_override(&source);
    backup(&source, &out, &["--config", source_extra.to_str().unwrap()]);

    let (install, users_dir) = hashed_install();
    let output = restore_dir(&install, &out, &[]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dump = install.dump();
    for table in ["streams", "events", "event_streams"] {
        let got = dump
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, rows)| rows.clone())
            .unwrap_or_default();
        assert_same(
            &[(table.to_string(), source_rows(table))],
            &[(table.to_string(), got)],
        );
    }
    assert_eq!(
        attachment_files(users_dir.path()),
        attachment_files(&live("source-files/users"))
    );
}

/// source-db's streams, but the deleted `labo-tmp` with the root path `labo-tmp/` a restore
/// gives it: its tombstone in an archive is `{id, deleted}`, and the core's delete cleared
/// its `parentId`, so the kept path `labo/labo-tmp/` cannot be rebuilt.
fn source_streams_with_root_tombstone() -> Vec<String> {
    let mut want = source_rows("streams");
    for row in &mut want {
        if row.contains("\"id\":\"labo-tmp\"") {
            *row = row.replace("\"path\":\"labo/labo-tmp/\"", "\"path\":\"labo-tmp/\"");
        }
    }
    want.sort();
    want
}

/// Every table after restoring the reference's archive, against the live install's. The
/// exceptions, each for a reason the archive itself gives: `series_data` (the reference's
/// exporter looked series up under the wrong key and backed up none), `sessions` (not in a
/// backup without --include-ephemeral), the deleted stream's path (see
/// `source_streams_with_root_tombstone`), and `platform_kv`'s index rows (their own test).
#[test]
fn every_table_restores_as_the_live_install_held_it() {
    let (install, _users_dir) = hashed_install();
    let output = restore(&install, &[]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (table, got) in install.dump() {
        let want = match table.as_str() {
            "series_data" | "sessions" | "schema_migrations" => continue,
            "streams" => source_streams_with_root_tombstone(),
            "platform_kv" => source_rows(&table)
                .into_iter()
                .filter(|r| {
                    r.contains("\"key\":\"user-unique/") || r.contains("\"key\":\"user-indexed/")
                })
                .collect(),
            _ => source_rows(&table),
        };
        assert_same(&[(table.clone(), want)], &[(table, got)]);
    }
}

/// A JSON value with every number as the double it reads as (JSONB keeps `0.00000015`
/// where the reference, through JavaScript, writes `1.5e-7`: the same value), and keys in
/// one order.
fn by_value(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
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

/// The items of a JSONL file (or the one object of account.jsonl), by value, sorted.
fn items_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut items: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| by_value(serde_json::from_str(l).unwrap()).to_string())
        .collect();
    items.sort();
    items
}

/// Backing up the live install gives, file by file, the items the reference's own backup
/// of it holds (compared by value, in any order: ours writes parents and history copies
/// first). What ours adds: the series the reference missed, the platform's `user-core/`
/// and `access-index/` rows, and a deleted stream's `path`.
#[test]
fn our_backup_of_the_live_install_holds_the_reference_archives_items() {
    let source = live_source();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let extra = live_override(&source);
    backup(
        &source,
        &out,
        &["--no-compress", "--config", extra.to_str().unwrap()],
    );

    let reference = live("backup-by-reference-plain");
    let relative = |root: &Path| -> BTreeSet<PathBuf> {
        files(root)
            .into_iter()
            .map(|(p, _)| p.strip_prefix(root).unwrap().to_path_buf())
            .collect()
    };
    let (theirs, ours) = (relative(&reference), relative(&out));
    // Our generation record (chain.json, in the clear at the root) is ours alone too.
    let added: Vec<&PathBuf> = ours
        .difference(&theirs)
        .filter(|p| p.as_path() != Path::new("chain.json"))
        .collect();
    assert!(
        added
            .iter()
            .all(|p| p.to_string_lossy().contains("/series")),
        "files only in ours: {added:?}"
    );
    assert_eq!(added.len(), 3, "one series file per user: {added:?}");
    let missing: Vec<&PathBuf> = theirs.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "files only in the reference's: {missing:?}"
    );

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
        let mut got = items_of(&got);
        if name.ends_with("/streams.jsonl") {
            got = got
                .into_iter()
                .map(|i| i.replace(",\"path\":\"labo/labo-tmp/\"", ""))
                .collect();
            got.sort();
        }
        if name == "platform/platform.jsonl" {
            got.retain(|i| {
                !i.contains("\"key\":\"user-core/") && !i.contains("\"key\":\"access-index/")
            });
        }
        assert_eq!(items_of(&want), got, "{name}");
    }
}
