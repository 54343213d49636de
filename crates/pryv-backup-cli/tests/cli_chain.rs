//! Chains of generations that cannot lose a link, a clock or their encryption (issue 30,
//! points 1 to 3): a lost middle generation is an error naming it in every command, a
//! crashed run's leftover is not; a clock stepped back misses nothing and ranks nothing
//! older; an encrypted chain stays encrypted, with one key, and works from the public key.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_support::*;

const ALICE: &str = "cksamplealice0001";
const PASSPHRASE: &str = "the chain's own passphrase";

fn secret_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Gives alice a new event, stamped `at` (seconds) as the core stamps a creation.
fn new_alice_event(source: &Install, id: &str, content: &str, at: f64) {
    source.sql(&format!(
        "INSERT INTO events (user_id, id, stream_ids, time, type, content, integrity, created, created_by, modified, modified_by)
         VALUES ('{ALICE}', '{id}', '[\"health\"]', {at}, 'note/txt', '\"{content}\"', NULL, {at}, 'acc-app', {at}, 'acc-app');
         INSERT INTO event_streams (user_id, event_id, stream_id, stream_path)
         VALUES ('{ALICE}', '{id}', 'health', 'health/');"
    ));
}

fn has_alice_event(install: &Install, id: &str) -> bool {
    install.count(&format!(
        "SELECT count(*) FROM events WHERE user_id = '{ALICE}' AND id = '{id}'"
    )) == 1
}

/// A plain chain of a base and three increments, each adding one event of alice's, in
/// `folder/chain` (a folder of backups, for prune).
fn chain_of_four(source: &Install, folder: &Path, tag: &str) -> PathBuf {
    let chain = folder.join("chain");
    backup(source, &chain, &[]);
    for n in 1..=3 {
        new_alice_event(
            source,
            &format!("ev-{tag}-{n}"),
            &format!("generation {n}"),
            now(),
        );
        backup(source, &chain, &["--incremental", "--clock-skew", "0"]);
    }
    assert!(chain.join("increments/0003/manifest.json").is_file());
    chain
}

/// `pryv-backup prune FOLDER --keep-last 1 --yes`, whatever its outcome.
fn prune_to_last_one(folder: &Path) -> Output {
    run(&[
        "prune".as_ref(),
        folder.as_os_str(),
        "--keep-last".as_ref(),
        "1".as_ref(),
        "--yes".as_ref(),
    ])
}

/// Every command that reads a chain fails, naming the lost generation.
fn assert_every_command_names(chain: &Path, folder: &Path, lost: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let consolidated = scratch.path().join("consolidated");
    let (target, output) = restore_into_new(chain, &[]);
    assert_eq!(output.status.code(), Some(1), "restore: {}", text(&output));
    assert!(text(&output).contains(lost), "restore: {}", text(&output));
    assert_eq!(
        target.count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'"),
        0,
        "restore wrote to the install"
    );
    let runs: Vec<(&str, Output)> = vec![
        ("verify", run(&["verify".as_ref(), chain.as_os_str()])),
        ("inspect", run(&["inspect".as_ref(), chain.as_os_str()])),
        ("drill", run(&["drill".as_ref(), chain.as_os_str()])),
        (
            "consolidate",
            run(&[
                "consolidate".as_ref(),
                chain.as_os_str(),
                "--output".as_ref(),
                consolidated.as_os_str(),
            ]),
        ),
        ("prune", prune_to_last_one(folder)),
    ];
    for (command, output) in runs {
        assert_eq!(
            output.status.code(),
            Some(1),
            "{command}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains(lost),
            "{command} does not name {lost}: {}",
            text(&output)
        );
    }
    assert!(
        !consolidated.join("manifest.json").exists(),
        "consolidate wrote a backup"
    );
    assert!(
        chain.join("manifest.json").is_file()
            && chain.join("increments/0003/manifest.json").is_file(),
        "prune removed generations of a broken chain"
    );
}

#[test]
fn a_lost_middle_generation_is_an_error_naming_it_in_every_command() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();

    // Its whole folder removed.
    let folder = work.path().join("whole");
    let chain = chain_of_four(&source, &folder, "whole");
    std::fs::remove_dir_all(chain.join("increments/0002")).unwrap();
    assert_every_command_names(&chain, &folder, "increments/0002");

    // Only its manifest removed.
    let folder = work.path().join("manifest");
    let chain = chain_of_four(&source, &folder, "manifest");
    std::fs::remove_file(chain.join("increments/0002/manifest.json")).unwrap();
    assert_every_command_names(&chain, &folder, "increments/0002");

    // Replaced by another run's generation of the same number: not the one 0003 follows.
    let folder = work.path().join("replaced");
    let chain = chain_of_four(&source, &folder, "replaced");
    let other = work.path().join("other");
    let other_chain = chain_of_four(&source, &other, "other");
    std::fs::remove_dir_all(chain.join("increments/0002")).unwrap();
    copy_tree(
        &other_chain.join("increments/0002"),
        &chain.join("increments/0002"),
    );
    assert_every_command_names(&chain, &folder, "increments/0002");
}

#[test]
fn a_crashed_newest_increment_is_still_a_harmless_leftover() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("backups");
    let chain = folder.join("chain");
    backup(&source, &chain, &[]);
    new_alice_event(&source, "ev-in-0001", "kept", now());
    backup(&source, &chain, &["--incremental"]);
    // A run that crashed before its manifest: files, no manifest.json.
    copy_tree(
        &chain.join("increments/0001"),
        &chain.join("increments/0002"),
    );
    std::fs::remove_file(chain.join("increments/0002/manifest.json")).unwrap();

    for command in ["verify", "inspect", "drill"] {
        let output = run(&[command.as_ref(), chain.as_os_str()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command}: {}",
            text(&output)
        );
    }
    let (target, output) = restore_into_new(&chain, &[]);
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-in-0001"));

    // The next run follows 0001 (the last complete one) and the chain reads on.
    new_alice_event(&source, "ev-in-0003", "after the crash", now());
    backup(&source, &chain, &["--incremental"]);
    assert!(chain.join("increments/0003/manifest.json").is_file());
    let (target, output) = restore_into_new(&chain, &[]);
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-in-0003"));
    let output = run(&[
        "prune".as_ref(),
        folder.as_os_str(),
        "--keep-last".as_ref(),
        "1".as_ref(),
    ]);
    assert_exit(&output, 0);
}

#[test]
fn a_clock_stepped_back_misses_nothing_and_the_newest_increment_stays_newest() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("backups");
    let chain = folder.join("chain");
    // The full backup with the host's clock an hour ahead.
    let ahead_ms = ((now() + 3600.0) * 1000.0) as u64;
    let output = cli()
        .env("PRYV_BACKUP_TEST_NOW_MS", ahead_ms.to_string())
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&chain)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    // The clock is put right, the core writes, an increment is taken.
    new_alice_event(
        &source,
        "ev-after-the-step",
        "written after the correction",
        now(),
    );
    let output = cli()
        .arg("--json")
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&chain)
        .arg("--incremental")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    let step = &report["report"]["clockSteppedBack"];
    assert!(
        step["previousSnapshot"].as_f64().unwrap() > step["snapshot"].as_f64().unwrap(),
        "{report}"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(chain.join("increments/0001/chain.json")).unwrap())
            .unwrap();
    assert_eq!(record["clockSteppedBack"], *step, "recorded");
    // Stepped back again, below the increment's time: the same, in the text report.
    new_alice_event(&source, "ev-after-the-step-2", "and again", now());
    let behind_ms = ((now() - 600.0) * 1000.0) as u64;
    let output = cli()
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&chain)
        .arg("--incremental")
        .env("PRYV_BACKUP_TEST_NOW_MS", behind_ms.to_string())
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(
        text(&output).contains("stepped back"),
        "no warning: {}",
        text(&output)
    );

    let (target, output) = restore_into_new(&chain, &[]);
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-after-the-step"), "missed");
    assert!(has_alice_event(&target, "ev-after-the-step-2"), "missed");
    assert_same(
        &user_rows(&source.dump(), ALICE),
        &user_rows(&target.dump(), ALICE),
    );

    // Retention ranks by sequence: the newest increment is kept, with what it needs.
    let output = prune_to_last_one(&folder);
    assert_exit(&output, 0);
    for generation in ["", "increments/0001", "increments/0002"] {
        assert!(
            chain.join(generation).join("manifest.json").is_file(),
            "prune removed {generation:?}: {}",
            text(&output)
        );
    }
}

/// `consolidate` of `chain` into `full` with the `key` arguments succeeds, and what it writes
/// is still encrypted.
fn assert_consolidates_encrypted(chain: &Path, full: &Path, key: &[&std::ffi::OsStr]) {
    let mut args = vec![
        "consolidate".as_ref(),
        chain.as_os_str(),
        "--output".as_ref(),
        full.as_os_str(),
    ];
    args.extend_from_slice(key);
    let output = run(&args);
    assert_exit(&output, 0);
    assert!(
        full.join("encryption.json").is_file(),
        "consolidated in clear"
    );
}

/// Whether any file under `dir` holds `needle` in clear.
fn in_clear(dir: &Path, needle: &str) -> bool {
    files(dir)
        .iter()
        .any(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[test]
fn an_encrypted_chain_stays_encrypted_with_one_passphrase() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let pass = secret_file(work.path(), "pass", PASSPHRASE);
    let other = secret_file(work.path(), "other", "another passphrase entirely");
    let chain = work.path().join("encrypted");
    backup(
        &source,
        &chain,
        &["--encrypt-passphrase-file", pass.to_str().unwrap()],
    );

    // Only the passphrase to read the chain: the increment is sealed with it.
    new_alice_event(&source, "ev-secret-1", "secret-increment-content-1", now());
    backup(
        &source,
        &chain,
        &[
            "--incremental",
            "--decrypt-passphrase-file",
            pass.to_str().unwrap(),
        ],
    );
    assert!(chain.join("increments/0001/encryption.json").is_file());
    assert!(
        !in_clear(&chain, "secret-increment-content-1"),
        "a clear increment"
    );

    // A new passphrase for the increment: refused, nothing written.
    for extra in [
        vec![
            "--encrypt-passphrase-file",
            other.to_str().unwrap(),
            "--decrypt-passphrase-file",
            pass.to_str().unwrap(),
        ],
        vec!["--encrypt-passphrase-file", other.to_str().unwrap()],
    ] {
        let mut args = vec!["--incremental"];
        args.extend(extra);
        let output = run_backup(&source, &chain, &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output));
        assert!(
            text(&output).contains("rotation"),
            "{args:?}: {}",
            text(&output)
        );
        assert!(!chain.join("increments/0002").exists(), "{args:?} wrote");
    }

    // Consolidated, it stays encrypted with the same passphrase.
    let full = work.path().join("consolidated");
    assert_consolidates_encrypted(
        &chain,
        &full,
        &["--decrypt-passphrase-file".as_ref(), pass.as_os_str()],
    );
    assert!(!in_clear(&full, "secret-increment-content-1"));
    let (target, output) = restore_into_new(
        &full,
        &["--decrypt-passphrase-file".as_ref(), pass.as_os_str()],
    );
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-secret-1"));

    // A clear increment planted in the encrypted chain: refused by name, key or not.
    let plain = work.path().join("plain");
    backup(&source, &plain, &[]);
    new_alice_event(&source, "ev-planted", "planted", now());
    backup(&source, &plain, &["--incremental"]);
    copy_tree(
        &plain.join("increments/0001"),
        &chain.join("increments/0002"),
    );
    let with_key = ["--decrypt-passphrase-file".as_ref(), pass.as_os_str()];
    let mut verify: Vec<&std::ffi::OsStr> = vec!["verify".as_ref(), chain.as_os_str()];
    verify.extend(with_key);
    let output = run(&verify);
    assert_exit_saying(&output, 1, "increments/0002");
    let (target, output) = restore_into_new(&chain, &with_key);
    assert_exit_saying(&output, 1, "increments/0002");
    assert_eq!(
        target.count("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'"),
        0,
        "restore wrote to the install"
    );
    std::fs::remove_dir_all(chain.join("increments/0002")).unwrap();

    // A clear backup opened with a key: a warning.
    let (_, output) = restore_into_new(&plain, &with_key);
    assert_exit(&output, 0);
    assert!(
        text(&output).contains("warning") && text(&output).contains("not encrypted"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_chain_for_a_recipient_key_grows_prunes_and_inspects_without_the_private_key() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let (public, private) = recipient_keys();
    let folder = work.path().join("backups");
    let chain = folder.join("hybrid");
    let pubkey = ["--recipient-pubkey", public.to_str().unwrap()];
    backup(&source, &chain, &pubkey);
    new_alice_event(&source, "ev-hybrid-1", "hybrid-increment-content", now());
    let mut incremental = vec!["--incremental"];
    incremental.extend(pubkey);
    backup(&source, &chain, &incremental);
    assert!(chain.join("increments/0001/encryption.json").is_file());
    assert!(!in_clear(&chain, "hybrid-increment-content"));
    // The clear records name no user in clear.
    for record in [
        chain.join("chain.json"),
        chain.join("increments/0001/chain.json"),
    ] {
        let text = std::fs::read_to_string(&record).unwrap();
        assert!(!text.contains(ALICE), "{}: {text}", record.display());
    }

    let output = run(&["--json".as_ref(), "inspect".as_ref(), chain.as_os_str()]);
    assert_exit(&output, 0);
    let summary = stdout_json(&output);
    assert_eq!(summary["increments"][0]["complete"], true, "{summary}");

    let output = prune_to_last_one(&folder);
    assert_exit(&output, 0);
    assert!(chain.join("increments/0001/manifest.json").is_file());

    // Another recipient key for an increment: refused, nothing written.
    let other_private = work.path().join("other.key.pem");
    let other_public = work.path().join("other.pub.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&other_private)
        .status()
        .unwrap();
    assert!(made.success());
    let made = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&other_private)
        .arg("-out")
        .arg(&other_public)
        .status()
        .unwrap();
    assert!(made.success());
    let output = run_backup(
        &source,
        &chain,
        &[
            "--incremental",
            "--recipient-pubkey",
            other_public.to_str().unwrap(),
        ],
    );
    assert_exit_saying(&output, 1, "rotation");
    assert!(!chain.join("increments/0002").exists());

    // Consolidated with the private key: still for the same recipient.
    let full = work.path().join("consolidated");
    assert_consolidates_encrypted(
        &chain,
        &full,
        &["--private-key".as_ref(), private.as_os_str()],
    );
    assert!(!in_clear(&full, "hybrid-increment-content"));

    let (target, output) =
        restore_into_new(&chain, &["--private-key".as_ref(), private.as_os_str()]);
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-hybrid-1"));
    let (target, output) =
        restore_into_new(&full, &["--private-key".as_ref(), private.as_os_str()]);
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-hybrid-1"));
}

/// No table of the install holds a row (a restore refused before writing).
fn assert_nothing_restored(target: &Install) {
    let rows = target.count("SELECT coalesce(sum(n_live_tup), 0)::bigint FROM pg_stat_user_tables");
    assert_eq!(rows, 0, "nothing written");
}

/// The clear record (`chain.json`, which increments are planned from) must be the one
/// sealed in its generation's manifest: edited, removed or planted, every restore of the
/// chain refuses it by name and writes nothing. The edit moves a user's `since` back, what
/// a tamperer would do to make the next increment re-read a user's history.
#[test]
fn an_altered_missing_or_planted_clear_record_is_refused_by_name() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let chain = chain_of_four(&source, work.path(), "record");
    let record = chain.join("increments/0002/chain.json");
    let original = std::fs::read(&record).unwrap();
    let refused = |what: &str| {
        let (target, output) = restore_into_new(&chain, &[]);
        assert_exit_saying(&output, 1, "increments/0002");
        assert_exit_saying(&output, 1, what);
        assert_nothing_restored(&target);
    };

    let mut edited: serde_json::Value = serde_json::from_slice(&original).unwrap();
    edited["users"][0]["since"] = serde_json::json!(1);
    std::fs::write(&record, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    refused("altered");

    std::fs::remove_file(&record).unwrap();
    refused("has no chain.json");

    // A manifest that seals no record (the newest: nothing links to it): the clear one
    // beside it was put there.
    std::fs::write(&record, &original).unwrap();
    let newest = chain.join("increments/0003/manifest.json");
    let sealed = std::fs::read(&newest).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
    assert!(manifest
        .as_object_mut()
        .unwrap()
        .shift_remove("chain")
        .is_some());
    std::fs::write(&newest, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let (target, output) = restore_into_new(&chain, &[]);
    assert_exit_saying(&output, 1, "increments/0003");
    assert_exit_saying(&output, 1, "planted");
    assert_nothing_restored(&target);

    // Put back as written, the chain restores.
    std::fs::write(&newest, &sealed).unwrap();
    let (target, output) = restore_into_new(&chain, &[]);
    assert_exit(&output, 0);
    assert!(has_alice_event(&target, "ev-record-3"));
}
