//! A backup of a platform in use loses nothing: no time cutoff in a full backup, and an
//! incremental one starts from each user's previous snapshot less a clock-skew margin.

mod cli_support;

use std::path::Path;

use cli_support::*;

const ALICE: &str = "cksamplealice0001";

/// Restores `dir` into an empty install: alice's rows equal the source's.
fn assert_alice_restores_as_in(source: &Install, dir: &Path) {
    let (target, output) = restore_into_new(dir, &[]);
    assert_exit_stderr(&output, 0);
    assert_same(
        &user_rows(&source.dump(), ALICE),
        &user_rows(&target.dump(), ALICE),
    );
}

/// Changes the content of alice's `rank`-th live event, stamped `modified`, as the core's
/// update does.
fn edit_alice_event(source: &Install, rank: u32, content: &str, modified: f64) {
    source.sql(&format!(
        "UPDATE events SET content = '\"{content}\"', modified = {modified} WHERE user_id = '{ALICE}' AND id = \
         (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL ORDER BY id OFFSET {rank} LIMIT 1)"
    ));
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
    let (source, _work, out) = sample_backed_up("chain");
    edit_alice_event(&source, 0, "changed late", now() - 60.0);
    backup(&source, &out, &["--incremental"]);
    assert_eq!(
        alice_events(&out.join("increments/0001")),
        1,
        "the late change is in the increment"
    );

    assert_alice_restores_as_in(&source, &out);
}

/// Each increment starts from the newest snapshot of the user, not the base's: a second
/// increment holds the change made after the first one only.
#[test]
fn each_increment_starts_from_the_previous_one() {
    let (source, _work, out) = sample_backed_up("chain");
    let change = |rank: u32| edit_alice_event(&source, rank, &format!("change {rank}"), now());
    change(0);
    backup(&source, &out, &["--incremental", "--clock-skew", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    change(1);
    backup(&source, &out, &["--incremental", "--clock-skew", "0"]);
    assert_eq!(alice_events(&out.join("increments/0001")), 1);
    assert_eq!(
        alice_events(&out.join("increments/0002")),
        1,
        "the second increment took the first one's change again"
    );
    assert_alice_restores_as_in(&source, &out);
}

/// `consolidate` merges a chain into one full backup, without the install: restoring it
/// gives every table the chain restore gives, and an increment can follow it.
#[test]
fn a_consolidated_backup_restores_as_its_chain() {
    let (source, work, chain) = sample_backed_up("chain");
    // Changes as the core makes them: an update, a new event, a deletion (live-reference's
    // tombstone shape: fields emptied, event_streams rows gone).
    let t = now();
    edit_alice_event(&source, 0, "edited", t);
    source.sql(&format!(
        "INSERT INTO events SELECT (json_populate_record(NULL::events,
             (row_to_json(e)::jsonb || jsonb_build_object('id', 'ev-new-after-base', 'created', {t}, 'modified', {t}))::json)).*
           FROM events e WHERE user_id = '{ALICE}' AND id =
             (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL ORDER BY id OFFSET 1 LIMIT 1);
         INSERT INTO event_streams SELECT (json_populate_record(NULL::event_streams,
             (row_to_json(s)::jsonb || jsonb_build_object('event_id', 'ev-new-after-base'))::json)).*
           FROM event_streams s WHERE user_id = '{ALICE}' AND event_id =
             (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL ORDER BY id OFFSET 1 LIMIT 1);
         WITH gone AS (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL ORDER BY id OFFSET 2 LIMIT 1)
         UPDATE events SET stream_ids = NULL, time = NULL, end_time = NULL, type = NULL, tags = NULL,
             content = NULL, description = NULL, client_data = NULL, attachments = NULL, trashed = NULL,
             created = NULL, created_by = NULL, modified = {t}, deleted = {t}
           WHERE user_id = '{ALICE}' AND id IN (SELECT id FROM gone);
         DELETE FROM event_streams WHERE user_id = '{ALICE}' AND event_id NOT IN
           (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL);"
    ));
    backup(&source, &chain, &["--incremental"]);

    let full = work.path().join("full");
    let output = cli()
        .args(["--json", "consolidate"])
        .arg(&chain)
        .arg("--output")
        .arg(&full)
        .output()
        .unwrap();
    assert_exit_stderr(&output, 0);
    assert_eq!(stdout_json(&output)["report"]["generations"], 2);
    assert!(!full.join("increments").exists());

    let restore = |dir: &Path| {
        let target = Install::empty();
        cli()
            .arg("restore")
            .args(target.args())
            .arg("--restore")
            .arg(dir)
            .assert()
            .code(0);
        target.dump()
    };
    let from_chain = restore(&chain);
    assert_same(&from_chain, &restore(&full));
    // Sessions and password resets are not backed up without --include-ephemeral.
    let backed_up = || without(source.dump(), &["sessions", "password_resets"]);
    let restored = |dump| without(dump, &["sessions", "password_resets"]);
    assert_same(&backed_up(), &restored(from_chain));

    // An increment on top of the consolidated backup takes only what changed since.
    backup(&source, &full, &["--incremental"]);
    assert!(full.join("increments/0001/manifest.json").is_file());
    assert_same(&backed_up(), &restored(restore(&full)));
}

/// open-pryv.io's `bin/backup.js --restore` restores only the base of a folder with
/// increments, silently: `backup --help`, the increment's warning and `inspect` say so.
#[test]
fn operators_are_told_that_bin_backup_js_restores_only_the_base() {
    let help = cli().args(["backup", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("bin/backup.js --restore") && help.contains("reads only its base"),
        "{help}"
    );

    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("chain");
    let full = run_backup(&source, &out, &["--incremental"]);
    assert_eq!(full.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&full.stderr).contains("bin/backup.js"),
        "a full backup is restored whole by bin/backup.js: no warning"
    );
    let inspect = |json: bool| {
        let mut command = cli();
        command.arg("inspect");
        if json {
            command.arg("--json");
        }
        command.arg(&out).output().unwrap()
    };
    assert_eq!(
        stdout_json(&inspect(true))["coreRestoreReadsBaseOnly"],
        false
    );

    let increment = run_backup(&source, &out, &["--incremental"]);
    assert_eq!(increment.status.code(), Some(0));
    let warning = String::from_utf8_lossy(&increment.stderr);
    assert!(
        warning.contains("warning:")
            && warning.contains("bin/backup.js --restore restores only that base"),
        "{warning}"
    );
    let text = String::from_utf8_lossy(&inspect(false).stdout).to_string();
    assert!(
        text.contains("bin/backup.js --restore restores only the base"),
        "{text}"
    );
    assert_eq!(
        stdout_json(&inspect(true))["coreRestoreReadsBaseOnly"],
        true
    );
}
