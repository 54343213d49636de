//! Restores of the archive the real open-pryv.io `bin/backup.js` wrote of a live SQLite
//! install (tests/fixtures/live-reference-sqlite: SQLite base and audit, hashed PII mode):
//! into an all-PostgreSQL install and into the core's default mix (PostgreSQL base, SQLite
//! audit). Its audit rows are in the SQLite audit's shape (camelCase, JSON as text).

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;

/// The live install's pepper (`platform:piiHmacKey` of live-reference-sqlite/config/r-config.yml).
const PII: &str =
    "platform:\n  piiMode: hashed\n  piiHmacKey: 'jdKDGy3lHhp8bUdNvkYS/xqeat5KkWe7m7OVjtuFrBY='\n";

fn live(relative: &str) -> PathBuf {
    testbed::fixture(&format!("live-reference-sqlite/{relative}"))
}

/// The users of the archive: (userId, username, events, audit rows), from its manifest.
const USERS: [(&str, &str, i64, i64); 3] = [
    ("v17fm6avvlpz21gmldt7z1s0", "wanda-r1", 198, 241),
    ("ds1kkjmbkbfprnjjeelme12k", "xaver-r2", 197, 238),
    ("pxe6ikq0052c91techtujnmu", "yuki-r3", 195, 238),
];

/// An empty PostgreSQL install configured as the live one (hashed PII, attachments on
/// disk under `users_dir`), its audit in PostgreSQL or, with `sqlite_audit`, in per-user
/// SQLite files under `users_dir` (the core's default).
fn install(sqlite_audit: bool) -> (Install, tempfile::TempDir, PathBuf) {
    let install = Install::empty();
    let users_dir = testbed::data_dir();
    let audit = if sqlite_audit {
        "  audit: { engine: sqlite }\n"
    } else {
        ""
    };
    let extra = install.core_dir.path().join("live-override.yml");
    std::fs::write(
        &extra,
        format!(
            "{PII}storages:\n  file: {{ engine: filesystem }}\n{audit}  engines:\n    sqlite:\n      path: '{}'\n",
            users_dir.path().display()
        ),
    )
    .unwrap();
    (install, users_dir, extra)
}

fn restore(install: &Install, extra: &Path) -> serde_json::Value {
    let output = cli()
        .arg("restore")
        .args(install.args())
        .arg("--config")
        .arg(extra)
        .arg("--restore")
        .arg(live("backup-by-reference"))
        .args(["--json", "--verify-integrity"])
        .output()
        .unwrap();
    let report = stdout_json(&output);
    assert!(
        output.status.success(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        report["restored"].as_array().map(Vec::len),
        Some(3),
        "{report:#}"
    );
    report
}

/// Audit rows of a user's SQLite audit file.
fn sqlite_audit_rows(users_dir: &Path, user_id: &str) -> i64 {
    let dir = pryv_backup::engines::filesystem::user_local_dir(users_dir, user_id).unwrap();
    let conn = rusqlite::Connection::open(dir.join("audit-1.0.0.sqlite")).unwrap();
    conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

/// The attachment files on disk, by file name (the archive names them by file id).
fn attachment_names(users_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = files(users_dir)
        .into_iter()
        .filter(|(p, _)| p.components().any(|c| c.as_os_str() == "attachments"))
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn archive_attachment_names() -> Vec<String> {
    let mut names: Vec<String> = USERS
        .iter()
        .flat_map(|(id, _, _, _)| {
            std::fs::read_dir(live(&format!("backup-by-reference/users/{id}/attachments")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

fn assert_users_and_events(install: &Install) {
    for (id, username, events, _) in USERS {
        assert_eq!(
            install.count(&format!(
                "SELECT count(*) FROM users_index WHERE user_id = '{id}' AND username = '{username}'"
            )),
            1,
            "{username}"
        );
        assert_eq!(
            install.count(&format!(
                "SELECT count(*) FROM events WHERE user_id = '{id}'"
            )),
            events,
            "events of {username}"
        );
    }
}

/// Into an all-PostgreSQL install: the SQLite-shape audit rows become `audit_events` rows,
/// their JSON text parsed and `trashed` a boolean.
#[test]
fn the_sqlite_installs_archive_restores_into_postgresql() {
    let (install, users_dir, extra) = install(false);
    restore(&install, &extra);
    assert_users_and_events(&install);
    for (id, username, _, audit) in USERS {
        assert_eq!(
            install.count(&format!(
                "SELECT count(*) FROM audit_events WHERE user_id = '{id}'"
            )),
            audit,
            "audit of {username}"
        );
    }
    // The archive's first audit row of wanda-r1, as the PostgreSQL audit holds it.
    let row: String = install
        .db
        .connect()
        .query_one(
            "SELECT row_to_json(a)::text FROM audit_events a WHERE eventid = 'g7ftkdzip52865tl1v937ps5'",
            &[],
        )
        .unwrap()
        .get(0);
    let row: serde_json::Value = serde_json::from_str(&row).unwrap();
    assert_eq!(
        row["content"],
        serde_json::json!({"source": {"name": "http", "ip": "127.0.0.1"}, "action": "auth.login", "query": {}})
    );
    assert_eq!(row["trashed"], false);
    assert_eq!(row["head_id"], serde_json::Value::Null);
    assert_eq!(
        row["stream_ids"],
        "access-valid-password action-auth.login .."
    );
    assert_eq!(
        attachment_names(users_dir.path()),
        archive_attachment_names()
    );
}

/// Into the core's default mix: audit rows go to each user's SQLite audit file.
#[test]
fn the_sqlite_installs_archive_restores_into_the_default_mix() {
    let (install, users_dir, extra) = install(true);
    restore(&install, &extra);
    assert_users_and_events(&install);
    assert_eq!(install.count("SELECT count(*) FROM audit_events"), 0);
    for (id, username, _, audit) in USERS {
        assert_eq!(
            sqlite_audit_rows(users_dir.path(), id),
            audit,
            "audit of {username}"
        );
    }
    assert_eq!(
        attachment_names(users_dir.path()),
        archive_attachment_names()
    );
}

/// `restore --dry-run` into the default mix (SQLite audit files beside PostgreSQL) creates
/// nothing in the data folder and no table.
#[test]
fn a_dry_run_into_the_default_mix_writes_nothing() {
    let (install, users_dir, extra) = install(true);
    let output = cli()
        .arg("restore")
        .args(install.args())
        .arg("--config")
        .arg(&extra)
        .arg("--restore")
        .arg(live("backup-by-reference"))
        .args(["--json", "--dry-run"])
        .output()
        .unwrap();
    let report = stdout_json(&output);
    assert!(output.status.success(), "{report:#}");
    assert_eq!(
        report["wouldRestore"].as_array().map(Vec::len),
        Some(3),
        "{report:#}"
    );
    let created: Vec<_> = std::fs::read_dir(users_dir.path())
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(created.is_empty(), "{created:?}");
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(install.count(tables), 0);
}

/// A drill says what it proves: a SQLite install's backup restores into a scratch SQLite
/// platform, its own engine; `verify` says it tried no engine.
#[test]
fn drill_and_verify_say_which_engines_they_tried() {
    let archive = live("backup-by-reference");
    let output = cli().arg("drill").arg(&archive).output().unwrap();
    assert_exit(&output, 0);
    assert!(
        text(&output).contains("drill OK: this backup restores into the SQLite engine"),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("into a scratch SQLite-engine platform"),
        "{}",
        text(&output)
    );

    let output = cli().arg("verify").arg(&archive).output().unwrap();
    assert_exit_saying(
        &output,
        0,
        "backup OK: its files are intact (no engine was tried",
    );
}

/// An event field the SQLite engine has no column for, in a SQLite install's backup: the
/// drill names SQLite, the backup's own engine, as the engine that cannot take it, apart from
/// damage (the files check out), and fails: the backup would not restore where it came from.
#[test]
fn a_drill_names_the_engine_whose_limit_a_user_meets() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("archive");
    copy_tree(&live("backup-by-reference-plain"), &copy);
    let events = copy.join("users/pxe6ikq0052c91techtujnmu/events/events-0001.jsonl");
    let text_before = std::fs::read_to_string(&events).unwrap();
    let (first, rest) = text_before.split_once('\n').unwrap();
    let mut event: serde_json::Value = serde_json::from_str(first).unwrap();
    event["tags"] = serde_json::json!(["kept by PostgreSQL only"]);
    std::fs::write(&events, format!("{event}\n{rest}")).unwrap();

    let output = cli().arg("drill").arg(&copy).output().unwrap();
    assert_exit(&output, 1);
    let out = text(&output);
    assert!(
        out.contains("NOT STORABLE IN SQLITE yuki-r3 (pxe6ikq0052c91techtujnmu)"),
        "{out}"
    );
    assert!(!out.contains("DAMAGED"), "{out}");
    assert!(
        out.contains("drill FAILED: 1 user(s) cannot go into the SQLite engine, the backup's own"),
        "{out}"
    );

    let output = cli().args(["--json", "drill"]).arg(&copy).output().unwrap();
    let report = stdout_json(&output);
    assert_eq!(
        report["report"]["damaged"],
        serde_json::json!([]),
        "{report:#}"
    );
    assert_eq!(
        report["report"]["engineLimits"][0]["engineLimit"], "SQLite",
        "{report:#}"
    );
    assert_eq!(report["report"]["restored"], 2, "{report:#}");
}
