//! An increment writes a folder only for the users with something new: the others are in
//! its record alone (where they stand, and the marks of their account and series), and the
//! chain still restores every user, at any generation; erasure removes them from every record.
//!
//! On the sample platform, changed as the core changes it (cli_support's
//! `change_sample_alice`; a password changed as the core stores a new one: a new row of
//! `passwords`, the bcrypt hash and its time). Its alice and bob have series of fewer than
//! 1,000 points, which go whole into every increment (no mark for so few points): their
//! folders are in every increment; carol and dave have none.

mod cli_support;

use std::collections::BTreeSet;
use std::path::Path;

use cli_support::*;
use serde_json::Value;

const ALICE: &str = "cksamplealice0001";
const BOB: &str = "cksamplebobby0002";
const CAROL: &str = "cksamplecarol0003";

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The user folders a generation holds.
fn user_folders(generation: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(generation.join("users")) {
        Err(_) => BTreeSet::new(),
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
    }
}

fn backup_json(source: &Install, chain: &Path) -> Value {
    let output = run_backup(
        source,
        chain,
        &["--incremental", "--clock-skew", "0", "--json"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    stdout_json(&output)
}

/// An install's rows but the tables where `change_sample_alice`'s SQL leaves in the source
/// what the core's delete clears: the fields of alice's deleted stream (the chain holds its
/// tombstone) and the files of her deleted event (the core removes them); and the ephemeral
/// tables, not backed up without --include-ephemeral.
fn rows(install: &Install) -> Dump {
    without(
        install.dump(),
        &["streams", "attachment_files", "sessions", "password_resets"],
    )
}

fn restored(chain: &Path, extra: &[&str]) -> Install {
    let extra: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
    let (target, output) = restore_into_new(chain, &extra);
    assert!(output.status.success(), "{}", text(&output));
    target
}

#[test]
fn an_increment_holds_only_the_users_with_something_new_and_the_chain_restores_them_all() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let chain = work.path().join("chain");
    backup(&source, &chain, &[]);
    let users: BTreeSet<String> = user_folders(&chain);
    assert!(users.len() >= 3, "{users:?}");
    let base_state = rows(&source);
    let base_time = json(&chain.join("chain.json"))["backupTimestamp"]
        .as_u64()
        .unwrap();

    // Alice changed: her folder and bob's (their small series), not carol's nor dave's.
    change_sample_alice(&source);
    let report = backup_json(&source, &chain);
    let first = chain.join("increments/0001");
    let changed = BTreeSet::from([ALICE.to_string(), BOB.to_string()]);
    assert_eq!(user_folders(&first), changed);
    assert_eq!(
        json(&first.join("manifest.json"))["users"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Every user is in the record: where it stands for the next increment.
    assert_eq!(
        json(&first.join("chain.json"))["users"]
            .as_array()
            .unwrap()
            .len(),
        users.len()
    );
    assert_eq!(report["report"]["unchangedUsers"], users.len() - 2);
    assert!(
        !first
            .join("users")
            .join(ALICE)
            .join("account.jsonl.gz")
            .exists(),
        "alice's account did not change"
    );
    let alice_state = rows(&source);

    // Nothing new: the small series only.
    backup_json(&source, &chain);
    assert_eq!(user_folders(&chain.join("increments/0002")), changed);

    // Carol's password changed: her account only.
    source.sql(&format!(
        "INSERT INTO passwords (user_id, time, hash, created_by)
         VALUES ('{CAROL}', extract(epoch FROM clock_timestamp()),
                 '$2b$10$Zm9yLXRoZS10ZXN0LW9ubHkuTmV3SGFzaGVzLmFyZS5yYW5kb20uMDE', 'acc-personal')"
    ));
    backup_json(&source, &chain);
    let third = chain.join("increments/0003");
    assert_eq!(
        user_folders(&third),
        BTreeSet::from([ALICE.to_string(), BOB.to_string(), CAROL.to_string()])
    );
    let carol = third.join("users").join(CAROL);
    assert!(carol.join("account.jsonl.gz").is_file());
    assert!(!carol.join("events").exists());

    assert_same(&rows(&source), &rows(&restored(&chain, &[])));
    let as_of_first = json(&first.join("chain.json"))["backupTimestamp"]
        .as_u64()
        .unwrap();
    assert_same(
        &alice_state,
        &rows(&restored(&chain, &["--as-of", &as_of_first.to_string()])),
    );
    assert_same(
        &base_state,
        &rows(&restored(&chain, &["--as-of", &base_time.to_string()])),
    );

    // Erasing carol leaves no trace of her in any generation's record, including those
    // holding no folder of hers.
    let output = cli()
        .arg("forget")
        .arg(&chain)
        .args(["--user", "carol", "--yes"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let carol_digest = pryv_backup::chain::user_digest(CAROL).to_string();
    for generation in [chain.clone(), first, chain.join("increments/0002"), third] {
        let record = std::fs::read_to_string(generation.join("chain.json")).unwrap();
        assert!(!record.contains(&carol_digest), "{}", generation.display());
    }
    let after = restored(&chain, &[]);
    assert_eq!(
        after.count(&format!(
            "SELECT count(*) FROM users_index WHERE user_id = '{CAROL}'"
        )),
        0
    );
}
