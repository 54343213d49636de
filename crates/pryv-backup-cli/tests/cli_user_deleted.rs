//! A user deleted while `pryv-backup backup` runs (issue #30, point 7), through the binary:
//! the backup pauses just before the user's snapshot (test-only PRYV_BACKUP_TEST_PAUSE_AT),
//! the "core" deletes the user, the backup goes on. The user is left out and named in the
//! report, as text and in --json.

mod cli_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

/// Every table the core keys by user id.
const USER_TABLES: [&str; 11] = [
    "streams",
    "events",
    "accesses",
    "webhooks",
    "profile",
    "passwords",
    "store_key_values",
    "account_fields",
    "audit_events",
    "attachment_files",
    "alias_index",
];

/// Backs `install` up into `out`, deleting `username` (as the core does: its index entry
/// first, then its rows) while the backup waits just before that user's snapshot.
fn backup_deleting(install: &Install, out: &Path, username: &str, json: bool) -> Output {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("paused");
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"));
    if json {
        command.arg("--json");
    }
    let child = command
        .arg("backup")
        .args(install.args())
        .arg("--output")
        .arg(out)
        .env_remove("NODE_ENV")
        .env(
            "PRYV_BACKUP_TEST_PAUSE_AT",
            format!("before-user:{username}"),
        )
        .env("PRYV_BACKUP_TEST_PAUSE_FILE", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backup never reached {username}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let user_id: String = install
        .db
        .connect()
        .query_one(
            "SELECT user_id FROM users_index WHERE username = $1",
            &[&username],
        )
        .unwrap()
        .get(0);
    install.sql(&format!(
        "DELETE FROM users_index WHERE user_id = '{user_id}'"
    ));
    for table in USER_TABLES {
        install.sql(&format!("DELETE FROM {table} WHERE user_id = '{user_id}'"));
    }
    std::fs::remove_file(&marker).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_user_deleted_during_a_backup_is_named_as_left_out_in_json_and_text() {
    let install = Install::sample();
    let work = tempfile::tempdir().unwrap();

    let output = backup_deleting(&install, &work.path().join("json"), "bob", true);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = &stdout_json(&output)["report"];
    assert_eq!(
        report["leftOut"],
        serde_json::json!([{
            "userId": "cksamplebobby0002",
            "username": "bob",
            "reason": "deleted during the backup"
        }]),
        "{report:#}"
    );
    let users: Vec<&str> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice", "carol", "dave"]);

    let output = backup_deleting(&install, &work.path().join("text"), "carol", false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("backup of 2 user(s)")
            && stdout.contains("left out: carol (cksamplecarol0003): deleted during the backup"),
        "{stdout}"
    );
}
