//! A backup of a platform in use loses nothing: no time cutoff in a full backup, and an
//! incremental one starts from each user's previous snapshot less a clock-skew margin.

mod cli_support;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use cli_support::*;

const ALICE: &str = "cksamplealice0001";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Restores `dir` into an empty install: alice's rows equal the source's.
fn assert_alice_restores_as_in(source: &Install, dir: &Path) {
    let target = Install::empty();
    let output = cli()
        .arg("restore")
        .args(target.args())
        .arg("--restore")
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_same(
        &user_rows(&source.dump(), ALICE),
        &user_rows(&target.dump(), ALICE),
    );
}

fn alice_events(dir: &Path) -> u64 {
    let output = cli().args(["inspect", "--json"]).arg(dir).output().unwrap();
    let summary = stdout_json(&output);
    let users = summary["users"].as_array().unwrap();
    let alice = users.iter().find(|u| u["userId"] == ALICE).unwrap();
    alice["stats"]["events"].as_u64().unwrap()
}

/// The reproduction: one event stamped 30 s ahead (what a core whose clock runs
/// ahead writes, and what an edit during a long backup amounts to) is in a full backup,
/// in `inspect`'s counts and after a restore.
#[test]
fn an_event_changed_after_the_backup_started_is_in_the_full_backup() {
    let source = Install::sample();
    let before = source.count(&format!(
        "SELECT count(*) FROM events WHERE user_id = '{ALICE}'"
    ));
    let ahead = now() + 30.0;
    source.sql(&format!(
        "UPDATE events SET modified = {ahead} WHERE user_id = '{ALICE}' AND id = \
         (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL ORDER BY id LIMIT 1)"
    ));
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("full");
    backup(&source, &out, &[]);
    assert_eq!(alice_events(&out) as i64, before);

    assert_alice_restores_as_in(&source, &out);
}

/// A change dated slightly before the previous snapshot (a core whose clock runs behind the
/// backup host) is taken by the next incremental backup, thanks to the margin.
#[test]
fn an_incremental_backup_takes_changes_dated_within_the_clock_skew_margin() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("chain");
    backup(&source, &out, &[]);
    let behind = now() - 60.0;
    source.sql(&format!(
        "UPDATE events SET content = '\"changed late\"', modified = {behind} WHERE user_id = '{ALICE}' AND id = \
         (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL ORDER BY id LIMIT 1)"
    ));
    backup(&source, &out, &["--incremental"]);
    assert_eq!(
        alice_events(&out.join("increments/0001")),
        1,
        "the late change is in the increment"
    );

    assert_alice_restores_as_in(&source, &out);
}
