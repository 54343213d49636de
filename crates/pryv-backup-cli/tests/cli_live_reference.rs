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
    let extra = install.core_dir.path().join("live-override.yml");
    std::fs::write(
        &extra,
        format!(
            "{PII}storages:\n  file: {{ engine: filesystem }}\n  engines:\n    sqlite:\n      path: '{}'\n",
            users_dir.display()
        ),
    )
    .unwrap();
}

fn restore(install: &Install, extra_config: &Path, args: &[&str]) -> std::process::Output {
    cli()
        .arg("restore")
        .args(install.args())
        .arg("--config")
        .arg(extra_config)
        .arg("--restore")
        .arg(live("backup-by-reference"))
        .args(args)
        .output()
        .unwrap()
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

fn restored_user_fields(install: &Install) -> BTreeSet<String> {
    let dump = install.dump();
    dump.iter()
        .find(|(t, _)| t == "platform_kv")
        .map(|(_, rows)| rows.iter().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn platform_entries_named_by_token_are_restored() {
    let (install, _files) = hashed_install();
    let extra = install.core_dir.path().join("live-override.yml");
    let output = restore(&install, &extra, &["--json"]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["platformEntries"], 15, "{report}");
    assert_eq!(restored_user_fields(&install), source_user_fields(|_| true));
}

#[test]
fn a_single_user_restore_takes_that_users_token_entries_only() {
    let (install, _files) = hashed_install();
    let extra = install.core_dir.path().join("live-override.yml");
    let output = restore(&install, &extra, &["--user", "dora77"]);
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

/// The live install's rows of `table` (source-db), sorted as `Install::dump` sorts them.
fn source_rows(table: &str) -> Vec<String> {
    let mut rows: Vec<String> = std::fs::read_to_string(live(&format!("source-db/{table}.jsonl")))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
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
    let extra = install.core_dir.path().join("live-override.yml");
    let output = restore(&install, &extra, &[]);
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
    ] {
        for row in source_rows(table) {
            client
                .execute(
                    format!("INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, $1::text::json)").as_str(),
                    &[&row],
                )
                .unwrap_or_else(|e| panic!("loading {table}: {e}"));
        }
    }
    write_live_override(&install, &live("source-files/users"));
    install
}

/// Our own backup of the live install restores to exactly its rows and files, but for the
/// deleted stream's path, which our archive does not carry either (same tombstone as the
/// core's export).
#[test]
fn our_backup_of_the_live_install_restores_to_its_rows_and_files() {
    let source = live_source();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let source_extra = source.core_dir.path().join("live-override.yml");
    backup(&source, &out, &["--config", source_extra.to_str().unwrap()]);

    let (install, users_dir) = hashed_install();
    let extra = install.core_dir.path().join("live-override.yml");
    let output = cli()
        .arg("restore")
        .args(install.args())
        .arg("--config")
        .arg(&extra)
        .arg("--restore")
        .arg(&out)
        .output()
        .unwrap();
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
        let want = match table {
            "streams" => source_streams_with_root_tombstone(),
            _ => source_rows(table),
        };
        assert_same(&[(table.to_string(), want)], &[(table.to_string(), got)]);
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
