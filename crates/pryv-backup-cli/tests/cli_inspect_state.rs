//! `inspect` shows what the latest state of a chain (or its state --as-of a time) holds per
//! user: the counts a restore of the chain writes, the attachments, the snapshot time;
//! --user narrows it, above 30 users the text sums it up, and an encrypted backup read
//! without its key says that the state per user needs it.

mod cli_support;

use std::ffi::OsStr;
use std::path::Path;

use cli_support::*;
use serde_json::Value;

const ALICE: &str = "cksamplealice0001";

fn inspect(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&OsStr> = vec!["inspect".as_ref(), dir.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    run(&args)
}

fn state(dir: &Path, extra: &[&str]) -> Value {
    let mut extra = extra.to_vec();
    extra.push("--json");
    let output = inspect(dir, &extra);
    assert_exit(&output, 0);
    stdout_json(&output)["latestState"].clone()
}

fn user<'a>(state: &'a Value, username: &str) -> &'a Value {
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("no {username}: {state:#}"))
}

fn items(user: &Value, collection: &str) -> u64 {
    user["collections"][collection]["items"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn the_state_per_user_is_what_a_restore_of_the_chain_holds() {
    let work = tempfile::tempdir().unwrap();
    let chain = work.path().join("chain");
    let _source = sample_chain_with_alice_changed(&chain);

    let latest = state(&chain, &[]);
    assert_eq!(latest["userCount"], 4, "{latest:#}");
    assert_eq!(latest["newestGeneration"], "increments/0001");
    let target = Install::empty();
    assert_exit(&restore(&target, &chain, &[]), 0);
    for shown in latest["users"].as_array().unwrap() {
        let id = shown["userId"].as_str().unwrap();
        for (collection, table) in [
            ("streams", "streams"),
            ("events", "events"),
            ("accesses", "accesses"),
            ("webhooks", "webhooks"),
            ("profile", "profile"),
            ("audit", "audit_events"),
        ] {
            let restored = target.count(&format!(
                "SELECT count(*) FROM {table} WHERE user_id = '{id}'"
            ));
            assert_eq!(
                items(shown, collection),
                restored as u64,
                "{id} {collection}: {shown:#}"
            );
        }
    }
    // alice's event with files is deleted: its attachments are no longer in the state.
    let alice = user(&latest, "alice");
    assert_eq!(alice["attachments"], 0);
    let bob = user(&latest, "bob");
    assert_eq!(bob["attachments"], 2);
    let bob_report = "%PDF-1.4 report for bob\n".len() as u64;
    assert_eq!(bob["attachmentBytes"], 5000 + bob_report);
    let summed: u64 = [
        "streams", "events", "accesses", "profile", "webhooks", "audit", "series",
    ]
    .iter()
    .map(|c| bob["collections"][c]["bytes"].as_u64().unwrap_or(0))
    .sum();
    assert_eq!(bob["itemBytes"], summed);

    // As of the base: the base's own counts, alice's attachments back.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(chain.join("manifest.json")).unwrap()).unwrap();
    let base_ms = manifest["backupTimestamp"].as_u64().unwrap().to_string();
    let then = state(&chain, &["--as-of", &base_ms]);
    assert_eq!(then["newestGeneration"], ".");
    let alice_then = user(&then, "alice");
    let alice_base = manifest["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userId"] == ALICE)
        .unwrap();
    for collection in ["streams", "events", "accesses", "audit"] {
        assert_eq!(
            items(alice_then, collection),
            alice_base["stats"][collection].as_u64().unwrap(),
            "{collection}"
        );
    }
    assert_eq!(items(alice_then, "events"), items(alice, "events") - 1);
    assert_eq!(alice_then["attachments"], 2);
    assert!(
        alice["snapshotTime"].as_u64() > alice_then["snapshotTime"].as_u64(),
        "{alice} {alice_then}"
    );

    // --user narrows, by username or userId; a user the state does not hold is an error.
    let narrowed = state(&chain, &["--user", "alice", "--user", "cksamplebobby0002"]);
    let names: Vec<&str> = narrowed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_exit_saying(&inspect(&chain, &["--user", "nobody"]), 1, "\"nobody\"");
    // A folder of backups has no one state: refused rather than --user left unheard.
    assert_exit_saying(
        &inspect(work.path(), &["--user", "alice"]),
        1,
        "is a folder of backups: --as-of and --user are about one backup's state",
    );

    // Text: one line per user, time for people.
    let output = inspect(&chain, &["--user", "alice"]);
    assert_exit(&output, 0);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("latest state, per user, as a restore writes it (the base and 1 of 1 increment(s), the newest made "),
        "{shown}"
    );
    let line = format!(
        "  alice ({ALICE}): snapshot {}",
        &shown[shown
            .find("  alice (cksamplealice0001): snapshot ")
            .unwrap()
            + 38..]
            .lines()
            .next()
            .unwrap()
    );
    assert!(line.contains("Z, "), "{line}");
    assert!(
        line.contains(&format!("; {} item(s), ", alice["items"])),
        "{line}"
    );
    assert!(line.ends_with("; 0 attachment(s), 0 B"), "{line}");
    assert!(shown.contains("  total: 1 user(s), "), "{shown}");

    // A damaged increment: the rest is shown, the state is not, and the run fails naming
    // the file.
    let damaged = work.path().join("damaged");
    copy_tree(&chain, &damaged);
    let chunk = files(
        &damaged
            .join("increments/0001/users")
            .join(ALICE)
            .join("events"),
    )
    .into_iter()
    .next()
    .unwrap()
    .0;
    std::fs::write(&chunk, b"not a chunk").unwrap();
    let output = inspect(&damaged, &[]);
    assert_exit_saying(&output, 1, "the state per user cannot be shown: ");
    assert!(
        text(&output).contains(chunk.file_name().unwrap().to_str().unwrap()),
        "{}",
        text(&output)
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("increments/0001: incremental backup made"),
        "{shown}"
    );
}

#[test]
fn an_encrypted_backup_read_without_its_key_says_the_state_needs_it() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let pass_file = work.path().join("passphrase");
    std::fs::write(&pass_file, "state me").unwrap();
    let sealed = work.path().join("sealed");
    backup(
        &source,
        &sealed,
        &["--encrypt-passphrase-file", pass_file.to_str().unwrap()],
    );

    let output = inspect(&sealed, &[]);
    assert_exit(&output, 0);
    let shown = text(&output);
    assert!(
        shown.contains("latest state per user: needs the backup's key (--private-key or --decrypt-passphrase-file)"),
        "{shown}"
    );
    assert!(shown.contains("full backup made"), "{shown}");
    assert_eq!(state(&sealed, &[]), serde_json::json!({"needsKey": true}));
    let opened = state(
        &sealed,
        &["--decrypt-passphrase-file", pass_file.to_str().unwrap()],
    );
    assert_eq!(opened["userCount"], 4, "{opened:#}");
    assert!(items(user(&opened, "alice"), "events") > 0, "{opened:#}");
}

#[test]
fn above_thirty_users_the_text_shows_the_largest_and_json_all() {
    // 32 users, each a copy of one of the sample's four (rich, rich, small, account only)
    // under its own userId, imported as Install::sample imports the sample.
    let install = Install::empty();
    let engine = install.engine();
    let sample = pryv_backup::sample::sample_platform(SEED);
    for n in 0..32 {
        let (_, data) = &sample[n % sample.len()];
        let user = pryv_backup::model::UserRef {
            user_id: format!("ckmanyusers{n:04}"),
            username: format!("user{n:02}"),
        };
        pryv_backup::engine::Engine::import_user(&engine, &user, data, &Default::default())
            .unwrap_or_else(|e| panic!("seeding {}: {e}", user.username));
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("many");
    backup(&install, &dir, &[]);

    let all = state(&dir, &[]);
    assert_eq!(all["users"].as_array().unwrap().len(), 32);
    let output = inspect(&dir, &[]);
    assert_exit(&output, 0);
    let shown = String::from_utf8_lossy(&output.stdout);
    let section = &shown[shown.find("latest state, per user").unwrap()..];
    assert!(section.contains("  the 20 largest users:\n"), "{section}");
    assert!(
        section.contains("  and 12 more user(s): --user USER shows one, --json shows them all\n"),
        "{section}"
    );
    assert!(section.contains("  total: 32 user(s), "), "{section}");
    let listed = section
        .lines()
        .filter(|l| l.contains("): snapshot "))
        .count();
    assert_eq!(listed, 20, "{section}");
    // The largest first: a copy of a rich user, not one holding only an account.
    let first = section
        .lines()
        .find(|l| l.contains("): snapshot "))
        .unwrap();
    let largest = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["itemBytes"].as_u64().unwrap() + u["attachmentBytes"].as_u64().unwrap())
        .max()
        .unwrap();
    let first_name = first.trim_start().split(' ').next().unwrap();
    let first_user = user(&all, first_name);
    assert_eq!(
        first_user["itemBytes"].as_u64().unwrap() + first_user["attachmentBytes"].as_u64().unwrap(),
        largest
    );
    // --user shows the one asked for, whatever the number of users.
    let output = inspect(&dir, &["--user", "user03"]);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains("  user03 (ckmanyusers0003): snapshot "),
        "{shown}"
    );
    assert!(!shown.contains("largest"), "{shown}");
}
