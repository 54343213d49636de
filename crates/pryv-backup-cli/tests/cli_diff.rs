//! `diff` between two generations of one chain (named by `base`, increment, date or time)
//! and between two separate backups: the exact items added, changed and deleted, the
//! attachments, the users added and gone, in text and in --json.

mod cli_support;

use std::ffi::OsStr;
use std::path::Path;

use cli_support::*;
use serde_json::{json, Value};

const ALICE: &str = "cksamplealice0001";

fn diff(extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&OsStr> = vec!["diff".as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    run(&args)
}

fn diff_json(a: &str, b: &str) -> Value {
    let output = diff(&["--json", a, b]);
    assert_exit(&output, 0);
    stdout_json(&output)
}

fn side(dir: &Path, generation: &str) -> String {
    format!("{}@{generation}", dir.display())
}

/// What `change_sample_alice` changed, as the diff from before to after says it.
fn alice_changes() -> Value {
    json!({
        "userId": ALICE,
        "username": "alice",
        "collections": {
            "streams": {"added": 1, "changed": 1, "deleted": 1, "ids": {
                "added": ["diff-added"], "changed": ["health"], "deleted": ["weight-morning"]}},
            "events": {"added": 1, "changed": 1, "deleted": 2, "ids": {
                "added": ["ev-diff-added"], "changed": ["ev-alice-0001"],
                "deleted": ["ev-alice-0002", "ev-with-files"]}},
        },
        "accountChanged": false,
        "attachmentsAdded": [],
        "attachmentsRemoved": ["att-alice-1", "att-alice-2"],
    })
}

#[test]
fn diff_of_two_generations_names_every_item_added_changed_and_deleted() {
    let work = tempfile::tempdir().unwrap();
    let chain = work.path().join("chain");
    let _source = sample_chain_with_alice_changed(&chain);
    let chain_text = chain.display().to_string();

    let report = diff_json(&side(&chain, "base"), &chain_text);
    assert_eq!(report["users"], json!([alice_changes()]), "{report:#}");
    assert_eq!(report["usersAdded"], json!([]));
    assert_eq!(report["usersGone"], json!([]));
    assert_eq!(report["usersCompared"], 4);
    assert_eq!(report["usersChanged"], 1);
    assert_eq!(
        report["totals"],
        json!({"streams": {"added": 1, "changed": 1, "deleted": 1},
               "events": {"added": 1, "changed": 1, "deleted": 2}})
    );
    assert_eq!(report["attachmentsRemoved"], 2);
    assert_eq!(report["differ"], true);
    assert_eq!(report["a"]["generation"], ".");
    assert_eq!(report["b"]["generation"], "increments/0001");

    // Every way of naming the same two generations gives the same users.
    let base_ms = std::fs::read(chain.join("manifest.json")).unwrap();
    let base_ms = serde_json::from_slice::<Value>(&base_ms).unwrap()["backupTimestamp"]
        .as_u64()
        .unwrap()
        .to_string();
    for (a, b) in [
        (side(&chain, "base"), side(&chain, "0001")),
        (side(&chain, "."), side(&chain, "increments/0001")),
        (side(&chain, &base_ms), side(&chain, "2999-01-01")),
        (side(&chain, "base"), side(&chain, "")),
    ] {
        let same = diff_json(&a, &b);
        assert_eq!(same["users"], report["users"], "{a} {b}: {same:#}");
    }

    // Text: counts per collection; the ids with --items.
    let output = diff(&[&side(&chain, "base"), &chain_text]);
    assert_exit(&output, 0);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains(
            "alice (cksamplealice0001): streams 1 added, 1 changed, 1 deleted; \
             events 1 added, 1 changed, 2 deleted; attachments 0 added, 2 removed\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("1 of 4 user(s) held by both differ"),
        "{shown}"
    );
    assert!(
        !shown.contains("ev-diff-added"),
        "ids without --items: {shown}"
    );
    let output = diff(&["--items", &side(&chain, "base"), &chain_text]);
    let shown = String::from_utf8_lossy(&output.stdout);
    for line in [
        "  events deleted: ev-alice-0002 ev-with-files\n",
        "  streams changed: health\n",
        "  attachments removed: att-alice-1 att-alice-2\n",
    ] {
        assert!(shown.contains(line), "{line:?} missing: {shown}");
    }

    // The same state on both sides: no difference, exit 0 even with --exit-code; a
    // difference exits 1 with it.
    let output = diff(&["--exit-code", &side(&chain, "0001"), &chain_text]);
    assert_exit_saying(&output, 0, "no difference: 4 user(s), the same in both");
    assert_exit(
        &diff(&["--exit-code", &side(&chain, "base"), &chain_text]),
        1,
    );
    // A generation the chain does not have, or a time before its base, is an error.
    assert_exit_saying(
        &diff(&[&side(&chain, "0007"), &chain_text]),
        1,
        "has no generation 0007 (it has the base and increments/0001)",
    );
    assert_exit_saying(
        &diff(&[&side(&chain, "2001-01-01"), &chain_text]),
        1,
        "after the requested time",
    );
}

#[test]
fn diff_of_two_backups_names_the_users_added_and_gone() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let before = work.path().join("before");
    let after = work.path().join("after");
    backup(&source, &before, &[]);
    change_sample_alice(&source);
    delete_sample_bob(&source);
    backup(&source, &after, &[]);
    let bob = json!([{"userId": "cksamplebobby0002", "username": "bob"}]);

    let report = diff_json(&before.display().to_string(), &after.display().to_string());
    assert_eq!(report["users"], json!([alice_changes()]), "{report:#}");
    assert_eq!(report["usersGone"], bob);
    assert_eq!(report["usersAdded"], json!([]));
    assert_eq!(report["usersCompared"], 3);

    // The other way round: what was deleted comes back, what was added goes.
    let report = diff_json(&after.display().to_string(), &before.display().to_string());
    assert_eq!(report["usersAdded"], bob);
    assert_eq!(report["usersGone"], json!([]));
    assert_eq!(
        report["users"][0]["collections"]["events"],
        json!({"added": 2, "changed": 1, "deleted": 1, "ids": {
            "added": ["ev-alice-0002", "ev-with-files"], "changed": ["ev-alice-0001"],
            "deleted": ["ev-diff-added"]}}),
        "{report:#}"
    );
    assert_eq!(
        report["users"][0]["attachmentsAdded"],
        json!(["att-alice-1", "att-alice-2"])
    );

    let output = diff(&[before.to_str().unwrap(), after.to_str().unwrap()]);
    assert_exit(&output, 0);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("users gone: bob (cksamplebobby0002)\n"),
        "{shown}"
    );
    assert!(
        shown.contains("1 of 3 user(s) held by both differ: streams 1 added, 1 changed, 1 deleted; events 1 added, 1 changed, 2 deleted; attachments 0 added, 2 removed; 0 user(s) added, 1 gone"),
        "{shown}"
    );
}
