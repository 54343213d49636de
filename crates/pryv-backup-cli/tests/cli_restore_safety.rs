//! Restores that must not do harm: conflicts, skipped users, integrity failures, single users.

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;
use pryv_backup::engine::Engine;
use pryv_backup::model::UserRef;
use pryv_backup::sample;

const ALICE: &str = "cksamplealice0001";
const BOB: &str = "cksamplebobby0002";
const OTHER_ALICE: &str = "cktargetalice0099";

/// A target install where another user (another userId) already has the username `alice`,
/// with her own platform entries.
fn target_with_another_alice() -> Install {
    let target = Install::empty();
    let engine = target.engine();
    let (_, carol_data) = sample::sample_platform(99)
        .into_iter()
        .find(|(u, _)| u.username == "carol")
        .unwrap();
    let other_alice = UserRef {
        user_id: OTHER_ALICE.into(),
        username: "alice".into(),
    };
    engine
        .import_user(&other_alice, &carol_data, &Default::default())
        .unwrap();
    let entries = [
        serde_json::json!({"username": "alice", "field": "language", "value": "xx", "isUnique": false}),
        serde_json::json!({"username": "alice", "field": "email", "value": "other-alice@example.com", "isUnique": true}),
    ];
    engine
        .import_platform(&mut entries.into_iter().map(Ok))
        .unwrap();
    target
}

fn platform_rows(dump: &Dump) -> Vec<String> {
    dump.iter()
        .find(|(t, _)| t == "platform_kv")
        .map(|(_, r)| r.clone())
        .unwrap_or_default()
}

#[test]
fn conflicts_abort_before_writing_and_skip_conflicts_restores_the_others() {
    let (source, work, out) = sample_backed_up("backup");
    let source_dump = source.dump();

    let target = target_with_another_alice();
    let before = target.dump();

    let output = restore(&target, &out, &[]);
    assert_exit(&output, 1);
    assert!(
        text(&output).contains("alice"),
        "the conflict is not named: {}",
        text(&output)
    );
    assert_same(&before, &target.dump());

    // bin/backup.js's rule: skipping conflicts needs to say what becomes of the backup. Bad
    // usage (exit 2), told before any configuration is read or store reached.
    let output = restore(&target, &out, &["--skip-conflicts"]);
    assert_exit_saying(&output, 2, "--move-on-success");
    assert_same(&before, &target.dump());
    let output = cli()
        .args([
            "restore",
            "--restore",
            "x",
            "--core-dir",
            "/nonexistent/core",
        ])
        .arg("--skip-conflicts")
        .output()
        .unwrap();
    assert_exit_saying(&output, 2, "--delete-on-success");

    // Deleting would lose the skipped alice's only copy: the backup stays, and says why.
    let other_target = target_with_another_alice();
    let output = restore(
        &other_target,
        &out,
        &["--skip-conflicts", "--delete-on-success", "--json"],
    );
    assert_exit(&output, 3);
    let disposition = stdout_json(&output)["backupDisposition"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        out.join("manifest.json").is_file(),
        "the backup was deleted"
    );
    assert!(
        disposition.starts_with("kept at") && disposition.contains("skipped"),
        "{disposition}"
    );

    let done = work.path().join("done/backup");
    let output = restore(
        &target,
        &out,
        &[
            "--skip-conflicts",
            "--move-on-success",
            done.to_str().unwrap(),
            "--json",
        ],
    );
    assert_exit(&output, 3);
    let report = stdout_json(&output);
    let names = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("skipped"), ["alice"]);
    assert_eq!(names("restored"), ["bob", "carol", "dave"]);

    let after = target.dump();
    // The target's own alice is untouched, platform entries included.
    assert_same(
        &user_rows(&before, OTHER_ALICE),
        &user_rows(&after, OTHER_ALICE),
    );
    let platform = platform_rows(&after);
    assert!(
        platform
            .iter()
            .any(|r| r.contains("user-indexed/language/alice") && r.contains("\"xx\"")),
        "{platform:#?}"
    );
    assert!(
        !platform
            .iter()
            .any(|r| r.contains("user-unique/email/alice@example.com")),
        "{platform:#?}"
    );
    for (user_id, _) in sample::sample_platform(SEED)
        .iter()
        .map(|(u, _)| (u.user_id.clone(), ()))
    {
        if user_id != ALICE {
            assert_same(
                &user_rows(&source_dump, &user_id),
                &user_rows(&after, &user_id),
            );
        }
    }
    assert!(
        platform
            .iter()
            .any(|r| r.contains("user-unique/email/bob@example.com")),
        "{platform:#?}"
    );

    // Skipped users' data travels with the moved backup (nothing lost).
    assert!(
        !out.exists() && done.join("manifest.json").is_file(),
        "the backup was not moved"
    );
    assert_eq!(
        report["backupDisposition"],
        format!("moved to {}", done.display())
    );
}

/// Restores `backup` into an empty install, where bob alone must fail: exit code 3, none of
/// his rows written, the 3 others restored. Returns why bob failed.
fn bob_alone_failed(backup: &Path) -> String {
    let target = Install::empty();
    let output = restore(&target, backup, &["--json"]);
    assert_exit(&output, 3);
    let report = stdout_json(&output);
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{report:#}");
    assert_eq!(failed[0]["userId"], BOB);
    assert_no_rows_of(&target, BOB, "bob");
    assert_eq!(report["restored"].as_array().unwrap().len(), 3);
    failed[0]["reason"].as_str().unwrap().to_string()
}

/// Restores `backup` into an empty install, where alice must fail (exit code 3) for a reason
/// that names `file`. Returns the install restored into.
fn alice_failed_on(backup: &Path, file: &str) -> Install {
    let target = Install::empty();
    let output = restore(&target, backup, &["--json"]);
    assert_exit(&output, 3);
    let report = stdout_json(&output);
    assert_eq!(report["failed"][0]["userId"], ALICE, "{report:#}");
    assert!(
        report["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains(file),
        "{report:#}"
    );
    target
}

/// Asserts `install` holds no row of the user `user_id` (called `name` in the message).
#[track_caller]
fn assert_no_rows_of(install: &Install, user_id: &str, name: &str) {
    for (table, rows) in user_rows(&install.dump(), user_id) {
        assert!(rows.is_empty(), "{name} has {table} rows: {rows:#?}");
    }
}

/// Rewrites one of bob's event contents in a plaintext backup, keeping the line valid JSON.
fn tamper_one_event(backup: &Path) -> String {
    let user_dir = backup.join("users").join(BOB);
    for (path, bytes) in files(&user_dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("events") && name.ends_with(".jsonl")) {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        for line in lines.iter_mut() {
            let mut event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event.get("content").is_some_and(|c| c.is_string()) && event.get("deleted").is_none()
            {
                let id = event["id"].as_str().unwrap().to_string();
                event["content"] = serde_json::Value::String("forged".into());
                *line = serde_json::to_string(&event).unwrap();
                std::fs::write(&path, lines.join("\n") + "\n").unwrap();
                return id;
            }
        }
    }
    panic!("no event with a text content in {}", user_dir.display());
}

/// Removes the recorded sizes and SHA-256 (`files`) from every manifest of the backup.
fn drop_checksums(backup: &Path) {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("files");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    for (path, bytes) in files(backup) {
        if path
            .file_name()
            .is_some_and(|n| n == "manifest.json" || n == "user-manifest.json")
        {
            let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            strip(&mut json);
            std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        }
    }
}

/// Damage the manifests record (an edited value, a dropped line, a flipped attachment byte)
/// is found before the user is written, without any flag: the user is not restored, the
/// report names the file, the others are restored.
#[test]
fn damaged_files_are_found_before_the_user_is_written() {
    let (source, work, out) = sample_backed_up_with("backup", &["--no-compress"]);

    // An edited value.
    tamper_one_event(&out);
    let reason = bob_alone_failed(&out);
    assert!(
        reason.contains("events") && (reason.contains("SHA-256") || reason.contains("size")),
        "{reason}"
    );
    // The text report names the user and why, as the JSON one does.
    let output = restore(&Install::empty(), &out, &[]);
    assert_exit(&output, 3);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(BOB))
        .unwrap_or_else(|| panic!("bob is not in the report:\n{stdout}"));
    assert!(
        line.contains("events") && line.contains(&reason),
        "{stdout}"
    );
    assert!(stdout.contains("failed (rolled back): 1"), "{stdout}");

    // A dropped line, and a flipped attachment byte, in alice's files.
    let fresh = work.path().join("fresh");
    backup(&source, &fresh, &["--no-compress"]);
    let alice = fresh.join("users").join(ALICE);
    for (path, bytes) in files(&alice) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("streams") {
            let text = String::from_utf8(bytes).unwrap();
            let kept: Vec<&str> = text.lines().skip(1).collect();
            std::fs::write(&path, kept.join("\n") + "\n").unwrap();
        }
    }
    alice_failed_on(&fresh, "streams");

    let flipped = work.path().join("flipped");
    backup(&source, &flipped, &["--no-compress"]);
    let (path, mut bytes) = files(&flipped.join("users").join(ALICE).join("attachments"))
        .into_iter()
        .next()
        .expect("alice has attachments");
    bytes[0] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let target = alice_failed_on(&flipped, "attachments");
    assert_no_rows_of(&target, ALICE, "alice");
}

/// Records `file`'s new size and SHA-256 in the manifests, as a writer would have that wrote
/// it so: in its user's manifest, and that manifest's in the root one.
fn rerecord(backup: &Path, user_id: &str, file: &Path) {
    use sha2::{Digest, Sha256};
    let record = |manifest: &Path, relative: &str, bytes: &[u8]| {
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
        let entry = json["files"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|f| f["path"] == relative)
            .unwrap_or_else(|| panic!("{relative} is not in {}", manifest.display()));
        entry["size"] = bytes.len().into();
        entry["sha256"] = hex::encode(Sha256::digest(bytes)).into();
        std::fs::write(manifest, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    };
    let user_dir = backup.join("users").join(user_id);
    let relative = file
        .strip_prefix(&user_dir)
        .unwrap()
        .to_string_lossy()
        .to_string();
    let user_manifest = user_dir.join("user-manifest.json");
    record(&user_manifest, &relative, &std::fs::read(file).unwrap());
    record(
        &backup.join("manifest.json"),
        &format!("users/{user_id}/user-manifest.json"),
        &std::fs::read(&user_manifest).unwrap(),
    );
}

/// Bob's (first) events file in a plaintext backup, and its bytes.
fn bob_events_file(backup: &Path) -> (std::path::PathBuf, Vec<u8>) {
    files(&backup.join("users").join(BOB))
        .into_iter()
        .find(|(p, _)| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("events") && name.ends_with(".jsonl")
        })
        .expect("bob has events")
}

/// A file whose recorded hash is right but whose content is not (a line cut in half, hashed
/// after): the pre-check trusts the hash and does not parse it again, the import reads the
/// bad line and the user is rolled back whole, before its commit; the others are restored.
#[test]
fn a_bad_line_under_a_matching_hash_is_refused_before_its_user_commits() {
    let (_source, _work, out) = sample_backed_up_with("backup", &["--no-compress"]);
    let (path, bytes) = bob_events_file(&out);
    let content = String::from_utf8(bytes).unwrap();
    let mut lines: Vec<String> = content.lines().map(String::from).collect();
    let last = lines.len() - 1;
    let cut = lines[last].len() / 2;
    lines[last].truncate(cut);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    rerecord(&out, BOB, &path);

    let reason = bob_alone_failed(&out);
    assert!(reason.contains("events"), "{reason}");
}

/// Without recorded hashes (bin/backup.js's archives have none) the pre-check reads every
/// line: one that is not JSON stops its user before anything of it is written, and the
/// report names the file and the line.
#[test]
fn a_bad_line_without_recorded_hashes_is_found_before_its_user_is_written() {
    let (_source, _work, out) = sample_backed_up_with("backup", &["--no-compress"]);
    drop_checksums(&out);
    let (path, bytes) = bob_events_file(&out);
    let mut content = String::from_utf8(bytes).unwrap();
    let lines = content.lines().count();
    content.push_str("{\"id\": \"cut-here\", \"streamIds\": [\n");
    std::fs::write(&path, content).unwrap();

    let reason = bob_alone_failed(&out);
    assert!(
        reason.contains("events") && reason.contains(&format!("line {}", lines + 1)),
        "{reason}"
    );
}

#[test]
fn verify_integrity_rolls_back_a_tampered_user_and_restores_the_others() {
    let (source, work, out) = sample_backed_up_with("backup", &["--no-compress"]);
    let forged = tamper_one_event(&out);
    // A forger who also drops the checksums (a bin/backup.js archive has none) gets past the
    // file check: only the integrity hashes can tell.
    drop_checksums(&out);
    let source_dump = source.dump();

    let target = Install::empty();
    let done = work.path().join("done");
    let output = restore(
        &target,
        &out,
        &[
            "--verify-integrity",
            "--json",
            "--move-on-success",
            done.to_str().unwrap(),
        ],
    );
    assert_exit(&output, 3);
    let report = stdout_json(&output);
    let rolled_back = report["rolledBack"].as_array().unwrap();
    assert_eq!(rolled_back.len(), 1, "{report:#}");
    assert_eq!(rolled_back[0]["userId"], BOB);
    assert!(
        rolled_back[0]["reason"].as_str().unwrap().contains(&forged),
        "the reason does not name the event: {report:#}"
    );
    assert_eq!(report["restored"].as_array().unwrap().len(), 3);

    let after = target.dump();
    for (table, rows) in user_rows(&after, BOB) {
        assert!(
            rows.is_empty(),
            "bob has {table} rows after his rollback: {rows:#?}"
        );
    }
    assert!(
        !platform_rows(&after).iter().any(|r| r.contains("bob")),
        "bob's platform entries were restored"
    );
    assert_same(&user_rows(&source_dump, ALICE), &user_rows(&after, ALICE));
    // The backup is the only copy of bob: it stays where it is.
    assert!(
        out.join("manifest.json").is_file() && !done.exists(),
        "the backup was moved"
    );

    // Without the check, the forged content goes in unnoticed (the reason for the flag).
    let unchecked = Install::empty();
    assert_eq!(restore(&unchecked, &out, &[]).status.code(), Some(0));
}

#[test]
fn single_user_backup_and_restore() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let whole = work.path().join("whole");
    let only_alice = work.path().join("alice");
    backup(&source, &whole, &[]);
    backup(&source, &only_alice, &["--user", "alice"]);
    let source_dump = source.dump();

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(only_alice.join("manifest.json")).unwrap()).unwrap();
    let users: Vec<&str> = manifest["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice"]);

    // A single-user backup restores that user.
    let target = Install::empty();
    assert_eq!(restore(&target, &only_alice, &[]).status.code(), Some(0));
    let after = target.dump();
    assert_same(&user_rows(&source_dump, ALICE), &user_rows(&after, ALICE));
    assert!(user_rows(&after, BOB)
        .iter()
        .all(|(_, rows)| rows.is_empty()));

    // One user out of a whole backup, by userId.
    let target = Install::empty();
    assert_eq!(
        restore(&target, &whole, &["--user", BOB]).status.code(),
        Some(0)
    );
    let after = target.dump();
    assert_same(&user_rows(&source_dump, BOB), &user_rows(&after, BOB));
    assert!(user_rows(&after, ALICE)
        .iter()
        .all(|(_, rows)| rows.is_empty()));
    let platform = platform_rows(&after);
    assert!(
        platform.iter().any(|r| r.contains("bob@example.com")),
        "bob's platform entries: {platform:#?}"
    );
    assert!(
        !platform.iter().any(|r| r.contains("alice")),
        "alice's platform entries came along: {platform:#?}"
    );

    // A user the backup does not hold is an error, not an empty success.
    let output = restore(&Install::empty(), &whole, &["--user", "nobody"]);
    assert_exit(&output, 1);
    assert!(text(&output).contains("nobody"));
    let output = cli()
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(work.path().join("nobody"))
        .args(["--user", "nobody"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(text(&output).contains("nobody"));
}

#[test]
fn postgres_engine_checks_integrity_of_what_it_wrote() {
    let (user, mut data) = sample::sample_platform(SEED)
        .into_iter()
        .find(|(u, _)| u.user_id == BOB)
        .unwrap();
    let events = data
        .collections
        .get_mut(&pryv_backup::model::Collection::Events)
        .unwrap();
    let event = events
        .iter_mut()
        .find(|e| e.get("content").is_some_and(|c| c.is_string()))
        .unwrap();
    event["content"] = serde_json::Value::String("forged".into());
    let target = Install::empty();
    let options = pryv_backup::engine::ImportOptions {
        overwrite: false,
        verify_integrity: true,
    };
    let result = target.engine().import_user(&user, &data, &options);
    assert!(
        matches!(result, Err(pryv_backup::Error::Integrity(_))),
        "{result:?}"
    );
    assert_eq!(target.count("SELECT count(*) FROM events"), 0);
}

#[test]
fn existing_users_need_overwrite_and_a_backup_is_never_written_over() {
    let (source, _work, out) = sample_backed_up("backup");
    let ephemeral = ["sessions", "password_resets"];
    let expected = without(source.dump(), &ephemeral);

    let target = Install::empty();
    assert_eq!(restore(&target, &out, &[]).status.code(), Some(0));
    target.sql(&format!(
        "DELETE FROM streams WHERE user_id = '{ALICE}' AND id = 'notes'"
    ));
    let damaged = target.dump();

    let output = restore(&target, &out, &[]);
    assert_exit_saying(&output, 1, "--overwrite");
    assert_same(&damaged, &target.dump());

    let output = restore(&target, &out, &["--overwrite"]);
    assert_exit(&output, 0);
    assert_same(&expected, &without(target.dump(), &ephemeral));

    // A second full backup into the same directory is refused; the first stays as it was.
    let before = files(&out);
    let output = run_backup(&source, &out, &[]);
    assert_exit_saying(&output, 1, out.to_str().unwrap());
    assert_eq!(files(&out), before);
}

#[test]
fn a_platform_failure_after_the_users_is_reported_and_keeps_the_backup() {
    let (_source, work, out) = sample_backed_up("backup");

    let target = Install::empty();
    target.engine().ensure_schema().unwrap();
    target.sql(
        "CREATE FUNCTION refuse_platform() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'platform store unavailable (test)'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON platform_kv FOR EACH ROW EXECUTE FUNCTION refuse_platform();",
    );
    let done = work.path().join("done");
    let output = restore(
        &target,
        &out,
        &["--json", "--move-on-success", done.to_str().unwrap()],
    );
    assert_exit(&output, 3);
    let report = stdout_json(&output);
    assert_eq!(
        report["restored"].as_array().unwrap().len(),
        4,
        "{report:#}"
    );
    assert!(
        report["platformError"]
            .as_str()
            .unwrap()
            .contains("platform store unavailable"),
        "{report:#}"
    );
    assert!(
        out.join("manifest.json").is_file() && !done.exists(),
        "the backup was moved"
    );
}

/// Two runs at once on one output or one install: the second fails at once, clearly, and
/// writes nothing (the locks a concurrent run holds are taken here in the test process).
#[test]
fn a_second_backup_or_restore_at_once_is_refused() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");

    let held = pryv_backup::lock::lock_backup_output(&out).unwrap();
    let output = run_backup(&source, &out, &[]);
    // Exit 11: locked, as scripts tell it from other errors.
    assert_exit_saying(&output, 11, "another pryv-backup run");
    assert!(!out.join("manifest.json").exists());
    drop(held);
    backup(&source, &out, &[]);

    let target = Install::empty();
    let engine = target.engine();
    let held = engine.lock_for_restore().unwrap();
    let output = restore(&target, &out, &[]);
    assert_exit_saying(&output, 11, "another pryv-backup restore");
    drop(held);
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(target.count(tables), 0, "the refused restore wrote");
    let output = restore(&target, &out, &[]);
    assert_exit(&output, 0);
}

/// An output inside the install's data folder (where a restore's --delete-on-success would
/// then delete live attachments), or a folder holding other files, is refused before anything
/// is written.
#[test]
fn an_output_in_the_install_or_over_other_files_is_refused() {
    let source = Install::sample();
    let data = testbed::data_dir();
    let users_dir = data.path().join("users");
    std::fs::create_dir_all(users_dir.join("live")).unwrap();
    std::fs::write(users_dir.join("live/attachment"), b"live data").unwrap();
    let extra = source.core_dir.path().join("data-dir.yml");
    std::fs::write(
        &extra,
        format!(
            "storages:\n  file: {{ engine: filesystem }}\n  engines:\n    sqlite:\n      path: '{}'\n",
            users_dir.display()
        ),
    )
    .unwrap();
    let run = |out: &Path| {
        cli()
            .arg("backup")
            .args(source.args())
            .arg("--config")
            .arg(&extra)
            .arg("--output")
            .arg(out)
            .output()
            .unwrap()
    };

    let inside = users_dir.join("backup");
    let output = run(&inside);
    assert_exit_saying(&output, 1, "overlaps the install's data folder");
    assert!(
        !inside.exists(),
        "something was written into the data folder"
    );
    let holding = data.path().to_path_buf();
    let output = run(&holding);
    assert!(text(&output).contains("overlaps"), "{}", text(&output));

    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("notes.txt"), b"not a backup").unwrap();
    let output = run(work.path());
    assert_exit_saying(&output, 1, "other content (notes.txt)");
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 1);
}

/// --delete-on-success removes the files the backup's manifests account for and the folders
/// they leave empty, never a file it does not list (here one beside the backup's own, as in a
/// backup wrongly written over other data).
#[test]
fn delete_on_success_removes_only_the_backups_files() {
    let (source, work, out) = sample_backed_up("backup");
    let foreign = [
        out.join("keep-me.txt"),
        out.join("users").join(ALICE).join("notes"),
    ];
    for f in &foreign {
        std::fs::write(f, b"not the backup's").unwrap();
    }
    let target = Install::empty();
    let output = restore(&target, &out, &["--delete-on-success"]);
    assert_exit(&output, 0);
    let left: Vec<PathBuf> = files(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(left, foreign.to_vec(), "only the unlisted files are left");
    assert!(
        !out.join("users").join(BOB).exists(),
        "emptied folders are removed"
    );

    // A backup with nothing foreign goes entirely.
    let clean = work.path().join("clean");
    backup(&source, &clean, &[]);
    let target = Install::empty();
    let output = restore(&target, &clean, &["--delete-on-success"]);
    assert_exit(&output, 0);
    assert!(!clean.exists(), "the backup folder is gone");
}

#[test]
fn a_user_listed_twice_in_the_manifest_is_refused() {
    let (_source, _work, out) = sample_backed_up("backup");
    let manifest_path = out.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let users = manifest["users"].as_array_mut().unwrap();
    let first = users[0].clone();
    users.push(first);
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let output = cli().arg("verify").arg(&out).output().unwrap();
    assert_exit_saying(&output, 1, "listed twice");

    let target = Install::empty();
    let output = restore(&target, &out, &[]);
    assert_exit_saying(&output, 1, "listed twice");
    assert_eq!(
        target.count(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users_index'"
        ),
        0,
        "the restore created the schema before refusing"
    );
}

/// `drill` restores into a throwaway platform with every check on: a good backup passes;
/// a flipped attachment byte, a missing attachment or a forged event (its checksums
/// removed, so only the integrity hash can tell) fail, naming the user and why.
#[test]
fn drill_passes_a_good_backup_and_names_what_is_damaged() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let drill = |dir: &Path| cli().arg("--json").arg("drill").arg(dir).output().unwrap();

    let good = work.path().join("good");
    backup(&source, &good, &[]);
    let output = drill(&good);
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["report"]["restored"], 4, "{report:#}");
    assert!(
        report["report"]["platformEntries"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    // The state as of a time (here: now, the whole chain).
    let now_ms = pryv_backup::backup::now_millis().to_string();
    let output = cli()
        .args(["drill", "--as-of", &now_ms])
        .arg(&good)
        .output()
        .unwrap();
    assert_exit(&output, 0);

    let damaged_user = |dir: &Path| {
        let output = drill(dir);
        assert_exit(&output, 1);
        let report = stdout_json(&output);
        assert_eq!(report["ok"], false);
        let damaged = report["report"]["damaged"].as_array().unwrap().clone();
        assert_eq!(damaged.len(), 1, "{report:#}");
        (
            damaged[0]["userId"].as_str().unwrap().to_string(),
            damaged[0]["reason"].as_str().unwrap().to_string(),
        )
    };
    let attachment = |dir: &Path| {
        files(&dir.join("users").join(ALICE).join("attachments"))
            .into_iter()
            .next()
            .expect("alice has attachments")
    };

    let flipped = work.path().join("flipped");
    backup(&source, &flipped, &[]);
    let (path, mut bytes) = attachment(&flipped);
    bytes[0] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let (user, reason) = damaged_user(&flipped);
    assert_eq!(user, ALICE);
    assert!(reason.contains("attachments"), "{reason}");

    let missing = work.path().join("missing");
    backup(&source, &missing, &[]);
    std::fs::remove_file(attachment(&missing).0).unwrap();
    let (user, reason) = damaged_user(&missing);
    assert_eq!(user, ALICE);
    assert!(reason.contains("attachments"), "{reason}");

    let forged = work.path().join("forged");
    backup(&source, &forged, &["--no-compress"]);
    let event = tamper_one_event(&forged);
    drop_checksums(&forged);
    let (user, reason) = damaged_user(&forged);
    assert_eq!(user, BOB);
    assert!(
        reason.contains("integrity") && reason.contains(&event),
        "{reason}"
    );
}

/// `prune` over a folder of two backups, one with an increment: a dry run removes nothing;
/// a kept increment keeps its base; a newest increment nothing keeps goes alone; a backup
/// being written (its lock held) is left alone; a backup nothing keeps goes whole.
#[test]
fn prune_keeps_what_the_rules_and_the_chains_need() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backups");
    let (b1, b2) = (root.join("b1"), root.join("b2"));
    backup(&source, &b1, &[]);
    backup(&source, &b1, &["--incremental"]);
    backup(&source, &b2, &[]);
    let increment = b1.join("increments/0001");
    assert!(increment.join("manifest.json").is_file());
    let prune = |args: &[&str]| {
        let output = cli()
            .arg("--json")
            .arg("prune")
            .arg(&root)
            .args(args)
            .output()
            .unwrap();
        assert_exit(&output, 0);
        stdout_json(&output)
    };
    let dirs = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|g| g["dir"].as_str().unwrap().to_string())
            .collect()
    };
    let shown = |p: &Path| p.display().to_string();

    // No rule (or only counts of 0) would remove everything: bad usage.
    for rules in [&[][..], &["--keep-last", "0"][..]] {
        let output = cli().arg("prune").arg(&root).args(rules).output().unwrap();
        assert_ne!(
            output.status.code(),
            Some(0),
            "{rules:?}: {}",
            text(&output)
        );
        assert!(b1.join("manifest.json").is_file() && b2.join("manifest.json").is_file());
    }
    let output = cli().arg("prune").arg(&root).output().unwrap();
    assert_exit(&output, 2);

    // Dry run: b1 and its increment would go, nothing does.
    let report = prune(&["--keep-last", "1"]);
    assert_eq!(report["applied"], false);
    assert_eq!(dirs(&report["removed"]), [shown(&b1), shown(&increment)]);
    assert!(b1.join("manifest.json").is_file() && increment.join("manifest.json").is_file());

    // The increment is kept, so its base is too.
    let report = prune(&["--keep-last", "2", "--yes"]);
    assert!(dirs(&report["removed"]).is_empty(), "{report:#}");
    let kept = &report["kept"].as_array().unwrap()[0];
    assert_eq!(
        kept["keptBy"][0], "needed by a later increment",
        "{report:#}"
    );

    // An increment dated before its base (a clock stepped back; its record edited here)
    // still ranks newest in its chain: it stays, with its base.
    let record = increment.join("chain.json");
    let original = std::fs::read(&record).unwrap();
    let mut r: serde_json::Value = serde_json::from_slice(&original).unwrap();
    r["backupTimestamp"] = serde_json::json!(1_000);
    std::fs::write(&record, serde_json::to_vec(&r).unwrap()).unwrap();
    let report = prune(&["--keep-last", "2", "--yes"]);
    assert!(dirs(&report["removed"]).is_empty(), "{report:#}");
    assert!(increment.join("manifest.json").is_file());
    std::fs::write(&record, original).unwrap();
    cli().arg("verify").arg(&b1).assert().code(0);

    // A backup being written is left alone.
    let held = pryv_backup::lock::lock_backup_output(&b2).unwrap();
    let report = prune(&["--keep-last", "1", "--yes"]);
    assert_eq!(report["skipped"][0][0], shown(&b2), "{report:#}");
    assert!(dirs(&report["removed"]).is_empty(), "{report:#}");
    drop(held);

    // Nothing keeps b1: it goes whole; b2 stays whole.
    let report = prune(&["--keep-last", "1", "--yes"]);
    assert_eq!(
        dirs(&report["removed"]),
        [shown(&b1), shown(&increment)],
        "{report:#}"
    );
    assert!(
        !b1.exists(),
        "only b1's listed files were in it: {:?}",
        files(&b1)
    );
    cli().arg("verify").arg(&b2).assert().code(0);
}

/// A full backup killed before its manifest (SIGKILL while paused before carol's snapshot,
/// through the test-only pause, once alice and bob are written: one job reads the sample's
/// first two users in one batch) leaves its files and its in-progress marker: the next run
/// into the same folder replaces them, says so, and its backup restores whole. Files in
/// `users/` that no run marked as its own are still refused, and left as they are.
#[test]
fn a_killed_full_backup_is_replaced_by_the_next_run_into_its_folder() {
    use std::io::BufRead;
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("month");
    let mut killed = std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"))
        .env_remove("NODE_ENV")
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&out)
        .arg("--include-ephemeral")
        .args(["--jobs", "1"])
        .env("PRYV_BACKUP_TEST_PAUSE_AT", "before-user:carol")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(killed.stderr.take().unwrap());
    let paused = stderr
        .lines()
        .map_while(|l| l.ok())
        .any(|l| l.contains("paused at before-user:carol"));
    assert!(paused, "the backup never reached its pause");
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(!out.join("manifest.json").exists());
    assert!(out.join(".pryv-backup-in-progress").is_file());
    assert_eq!(
        out.join("users").read_dir().unwrap().count(),
        2,
        "alice and bob written"
    );

    let again = run_backup(&source, &out, &["--include-ephemeral"]);
    assert_exit_saying(
        &again,
        0,
        "replacing an unfinished backup left by an earlier run",
    );
    assert!(!out.join(".pryv-backup-in-progress").exists());
    cli().arg("verify").arg(&out).assert().code(0);
    let target = Install::empty();
    let restored = restore(&target, &out, &[]);
    assert_exit(&restored, 0);
    assert_same(&source.dump(), &target.dump());

    // Not marked by a run: refused, untouched.
    let foreign = work.path().join("foreign");
    std::fs::create_dir_all(foreign.join("users/someone")).unwrap();
    std::fs::write(foreign.join("users/someone/notes"), b"not ours").unwrap();
    let refused = run_backup(&source, &foreign, &[]);
    assert_exit_saying(&refused, 1, "choose an empty directory");
    assert_eq!(
        std::fs::read(foreign.join("users/someone/notes")).unwrap(),
        b"not ours"
    );
    assert!(!foreign.join("manifest.json").exists());
}

/// `restore --dry-run` says which users would be restored and which conflict, and writes
/// nothing: not into an empty install (no table created), not beside a conflicting user.
#[test]
fn a_dry_run_restore_says_what_it_would_do_and_writes_nothing() {
    let (_source, _work, out) = sample_backed_up("backup");
    let empty = Install::empty();
    let output = restore(&empty, &out, &["--dry-run", "--json"]);
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    let would: Vec<&str> = report["wouldRestore"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(
        would.contains(&"alice") && would.contains(&"bob"),
        "{report:#}"
    );
    assert!(
        report["restored"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(empty.count(tables), 0, "the dry run created tables");

    let target = target_with_another_alice();
    let before = target.dump();
    // Exits as the restore would: conflicts stop it.
    let output = restore(&target, &out, &["--dry-run"]);
    assert_exit(&output, 1);
    assert!(
        text(&output).contains("dry run, nothing was written: the restore would stop")
            && text(&output).contains("alice"),
        "{}",
        text(&output)
    );
    let output = restore(
        &target,
        &out,
        &[
            "--dry-run",
            "--skip-conflicts",
            "--move-on-success",
            "/nonexistent/moved",
        ],
    );
    assert_exit(&output, 3); // as the restore would: some users skipped
    assert!(
        text(&output).contains("would be skipped (conflict): alice"),
        "{}",
        text(&output)
    );
    assert_same(&before, &target.dump());
    assert!(
        out.join("manifest.json").is_file(),
        "the dry run moved the backup"
    );
}

/// One shape for the backup argument: `restore DIR`, as inspect, verify and drill take it,
/// and bin/backup.js's `-r DIR` still; both at once is bad usage.
#[test]
fn restore_takes_the_backup_as_its_argument_or_with_r() {
    let (source, _work, out) = sample_backed_up("backup");
    let target = Install::empty();
    let output = cli()
        .arg("restore")
        .arg(&out)
        .args(target.args())
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let users = "SELECT count(*) FROM users_index";
    assert_eq!(target.count(users), source.count(users));
    let output = cli()
        .arg("restore")
        .arg(&out)
        .arg("-r")
        .arg(&out)
        .args(Install::empty().args())
        .output()
        .unwrap();
    assert_exit(&output, 2);
}
