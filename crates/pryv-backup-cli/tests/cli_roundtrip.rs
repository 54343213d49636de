//! The binary against real PostgreSQL installs: full backup and restore, single user.

mod cli_support;

use cli_support::*;

#[test]
fn full_backup_restores_into_an_empty_install_identically() {
    let source = Install::sample();
    let target = Install::empty();
    let backup = tempfile::tempdir().unwrap();
    let out = backup.path().join("full");

    // bin/backup.js's command lines: `--output DIR` backs up, `--restore DIR` restores.
    let output = cli()
        .arg("--output")
        .arg(&out)
        .args(source.args())
        .args(["--include-ephemeral", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["report"]["backupType"], "full");
    assert_eq!(report["report"]["users"].as_array().map(Vec::len), Some(4));

    // The install given as configuration overrides rather than a file.
    cli()
        .arg("--restore")
        .arg(&out)
        .args(target.override_args())
        .assert()
        .code(0);

    let expected = source.dump();
    let empty: Vec<&str> = expected
        .iter()
        .filter(|(_, rows)| rows.is_empty())
        .map(|(t, _)| t.as_str())
        .collect();
    // schema_migrations is dumped empty on purpose: it is the schema's, not the data's.
    assert_eq!(
        empty,
        ["alias_index", "schema_migrations"],
        "the sample platform should fill every other table"
    );
    assert_same(&expected, &target.dump());
}

const ALICE: &str = "cksamplealice0001";

/// Changes to alice as the core makes them: a new event, an edited one, a deleted one (a
/// tombstone: `deleted` set, the fields of the default `keep-nothing` deletion mode cleared,
/// its stream links removed), a renamed
/// stream and a renamed access, each with `modified` = now.
fn change_alice(install: &Install) {
    install.sql(&format!(
        "CREATE TEMP TABLE victims AS
           SELECT (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL
                     AND attachments IS NULL ORDER BY id LIMIT 1) AS edited,
                  (SELECT id FROM events WHERE user_id = '{ALICE}' AND deleted IS NULL AND head_id IS NULL
                     AND attachments IS NULL AND type NOT LIKE 'series:%' ORDER BY id DESC LIMIT 1) AS gone;
         INSERT INTO events (user_id, id, stream_ids, time, type, content, integrity, created, created_by, modified, modified_by)
           VALUES ('{ALICE}', 'ev-added-after-base', '[\"health\"]', extract(epoch FROM clock_timestamp()), 'note/txt',
                   '\"added after the base backup\"', 'EVENT:0:added', extract(epoch FROM clock_timestamp()), 'acc-app',
                   extract(epoch FROM clock_timestamp()), 'acc-app');
         INSERT INTO event_streams (user_id, event_id, stream_id, stream_path)
           VALUES ('{ALICE}', 'ev-added-after-base', 'health', 'health/');
         UPDATE events SET content = '\"edited after the base backup\"', modified = extract(epoch FROM clock_timestamp()),
                modified_by = 'acc-personal'
           WHERE user_id = '{ALICE}' AND id = (SELECT edited FROM victims);
         UPDATE events SET deleted = extract(epoch FROM clock_timestamp()), integrity = 'EVENT:0:tombstone',
                stream_ids = NULL, time = NULL, end_time = NULL, type = NULL, content = NULL,
                description = NULL, client_data = NULL, attachments = NULL, trashed = NULL, created = NULL,
                created_by = NULL, modified = NULL, modified_by = NULL
           WHERE user_id = '{ALICE}' AND id = (SELECT gone FROM victims);
         DELETE FROM event_streams WHERE user_id = '{ALICE}' AND event_id = (SELECT gone FROM victims);
         UPDATE streams SET name = 'Health (renamed)', modified = extract(epoch FROM clock_timestamp()),
                modified_by = 'acc-personal'
           WHERE user_id = '{ALICE}' AND id = 'health';
         UPDATE accesses SET name = 'diary-app (renamed)', modified = extract(epoch FROM clock_timestamp()),
                modified_by = 'acc-personal'
           WHERE user_id = '{ALICE}' AND id = 'acc-app';"
    ));
    let tombstones = format!("SELECT count(*) FROM events WHERE user_id = '{ALICE}' AND integrity = 'EVENT:0:tombstone' AND deleted IS NOT NULL AND content IS NULL");
    assert_eq!(
        install.count(&tombstones),
        1,
        "the tombstone was not written"
    );
    let edited = format!("SELECT count(*) FROM events WHERE user_id = '{ALICE}' AND content = '\"edited after the base backup\"'");
    assert_eq!(install.count(&edited), 1, "the edit was not written");
}

fn backup(install: &Install, out: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let output = cli()
        .arg("backup")
        .args(install.args())
        .arg("--output")
        .arg(out)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "backup {extra:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout_json(&output)
}

/// Every file of a backup directory but its increments.
fn base_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    files(dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(dir.join("increments")))
        .collect()
}

/// Known engine deviation (see `core_tombstone_restores_exactly`): the PostgreSQL engine
/// restores an event tombstone with `trashed = false` where the core leaves NULL.
fn tombstones_untrashed(dump: Dump) -> Dump {
    dump.into_iter()
        .map(|(table, rows)| {
            let rows = rows
                .into_iter()
                .map(
                    |r| match table == "events" && !r.contains("\"deleted\":null") {
                        true => r.replace("\"trashed\":false", "\"trashed\":null"),
                        false => r,
                    },
                )
                .collect::<Vec<_>>();
            let mut rows = rows;
            rows.sort();
            (table, rows)
        })
        .collect()
}

#[test]
fn core_tombstone_restores_exactly() {
    let source = Install::sample();
    change_alice(&source);
    let backup_dir = tempfile::tempdir().unwrap();
    backup(&source, backup_dir.path(), &["--include-ephemeral"]);
    let target = Install::empty();
    assert!(restore(&target, backup_dir.path(), &[]).status.success());
    assert_same(&source.dump(), &target.dump());
}

#[test]
fn incremental_backup_adds_a_generation_and_restores_the_latest_or_an_earlier_state() {
    let source = Install::sample();
    let backup_dir = tempfile::tempdir().unwrap();
    let out = backup_dir.path().join("chain");

    backup(&source, &out, &["--include-ephemeral"]);
    let base_state = source.dump();
    let base_bytes = base_files(&out);
    let base_time = std::fs::read(out.join("manifest.json")).unwrap();
    let base_time = serde_json::from_slice::<serde_json::Value>(&base_time).unwrap()
        ["backupTimestamp"]
        .as_u64()
        .unwrap();

    change_alice(&source);
    // A user who signed up after the base backup: exported whole into the increment.
    let (_, carol_data) = pryv_backup::sample::sample_platform(SEED)
        .into_iter()
        .find(|(u, _)| u.username == "carol")
        .unwrap();
    let erin = pryv_backup::model::UserRef {
        user_id: "cknewusererin0005".into(),
        username: "erin".into(),
    };
    pryv_backup::engine::Engine::import_user(
        &source.engine(),
        &erin,
        &carol_data,
        &Default::default(),
    )
    .unwrap();
    let changed_state = source.dump();
    assert_ne!(base_state, changed_state);

    let report = backup(&source, &out, &["--include-ephemeral", "--incremental"]);
    assert_eq!(report["report"]["backupType"], "incremental");
    assert_eq!(
        report["output"].as_str().map(std::path::PathBuf::from),
        Some(out.join("increments/0001"))
    );
    assert!(out.join("increments/0001/manifest.json").is_file());
    // Only the changes: alice's 3 events, 1 stream, 1 access, not her whole history.
    let increment = std::fs::read(out.join("increments/0001/manifest.json")).unwrap();
    let increment: serde_json::Value = serde_json::from_slice(&increment).unwrap();
    let alice = increment["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userId"] == ALICE)
        .unwrap();
    // The sample's old stream tombstone is dated by its `deleted` time, before the base
    // backup: it is not a change since then.
    assert_eq!(alice["stats"]["streams"], 1, "the renamed stream only");
    assert_eq!(alice["stats"]["accesses"], 1);
    assert!(alice["stats"]["events"].as_u64().unwrap() >= 3);
    let erin = increment["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "erin")
        .unwrap();
    assert!(
        erin["stats"]["events"].as_u64().unwrap() > 0,
        "erin was not exported whole: {erin:#}"
    );
    // An increment writes a single-file collection only when it has items (both readers
    // take a missing one as empty); the restores below read the chain through them.
    let mut left_out = 0;
    for user in increment["users"].as_array().unwrap() {
        let dir = out
            .join("increments/0001/users")
            .join(user["userId"].as_str().unwrap());
        for collection in ["streams", "accesses", "profile", "webhooks"] {
            let present = dir.join(format!("{collection}.jsonl.gz")).is_file();
            assert_eq!(
                present,
                user["stats"][collection].as_u64().unwrap() > 0,
                "{collection} of {user:#}"
            );
            left_out += usize::from(!present);
        }
    }
    assert!(left_out > 0, "no collection without changes");
    assert_eq!(
        base_files(&out),
        base_bytes,
        "the incremental backup rewrote the base generation"
    );

    // The whole chain → the changed state.
    let latest = Install::empty();
    let output = restore(&latest, &out, &[]);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_same(
        &tombstones_untrashed(changed_state),
        &tombstones_untrashed(latest.dump()),
    );

    // As of the base backup → the base state, with the time in milliseconds or RFC 3339.
    let earlier = Install::empty();
    let output = restore(&earlier, &out, &["--as-of", &base_time.to_string()]);
    assert!(
        output.status.success(),
        "restore --as-of failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 of 2 generation(s)"));
    assert_same(&base_state, &earlier.dump());

    let before_base = Install::empty();
    let output = restore(&before_base, &out, &["--as-of", "2020-01-01T00:00:00Z"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("after the requested time"));
    let output = restore(&before_base, &out, &["--as-of", "last tuesday"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad --as-of is a usage error"
    );

    // inspect and verify see both generations.
    let output = cli()
        .args(["inspect", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    let summary = stdout_json(&output);
    assert_eq!(summary["backupType"], "full");
    assert_eq!(summary["increments"][0]["dir"], "increments/0001");
    assert_eq!(summary["increments"][0]["backupType"], "incremental");
    let output = cli().args(["verify", "--json"]).arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout_json(&output)["generations"], 2);

    // Damage in an increment is found, and named with its generation.
    let chunk = files(&out.join("increments/0001/users").join(ALICE))
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p.to_string_lossy().contains("/events/"))
        .unwrap();
    let mut bytes = std::fs::read(&chunk).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&chunk, bytes).unwrap();
    let output = cli().args(["verify", "--json"]).arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_json(&output);
    let path = report["problems"][0]["path"].as_str().unwrap();
    assert!(path.contains("increments/0001/users/"), "{report:#}");
}

#[test]
fn incremental_backup_carries_stream_and_access_deletions() {
    let source = Install::sample();
    let backup_dir = tempfile::tempdir().unwrap();
    backup(&source, backup_dir.path(), &[]);
    // As the core deletes them: `deleted` = now, `modified` untouched (accesses also lose
    // their integrity, recomputed by the core).
    source.sql(&format!(
        "UPDATE accesses SET deleted = extract(epoch FROM clock_timestamp()) WHERE user_id = '{ALICE}' AND id = 'acc-app';
         UPDATE streams SET deleted = extract(epoch FROM clock_timestamp()) WHERE user_id = '{ALICE}' AND id = 'weight-morning';"
    ));
    backup(&source, backup_dir.path(), &["--incremental"]);
    let target = Install::empty();
    assert!(restore(&target, backup_dir.path(), &[]).status.success());
    // (A deleted stream is exported as {id, deleted}, as the core exports it: only the
    // deletion itself is compared.)
    for (table, id) in [("accesses", "acc-app"), ("streams", "weight-morning")] {
        let deleted = format!("SELECT count(*) FROM {table} WHERE user_id = '{ALICE}' AND id = '{id}' AND deleted IS NOT NULL");
        assert_eq!(
            target.count(&deleted),
            1,
            "the deletion of {table} {id} was not restored"
        );
    }
}

#[test]
fn deleting_an_event_after_the_base_does_not_resurrect_its_history() {
    let source = Install::sample();
    let backup_dir = tempfile::tempdir().unwrap();
    let out = backup_dir.path();
    backup(&source, out, &[]);
    // As the core deletes an event in its default mode (keep-nothing): its history versions
    // are removed, the head becomes a tombstone.
    let head = "ev-alice-0000";
    assert_eq!(
        source.count(&format!(
            "SELECT count(*) FROM events WHERE user_id = '{ALICE}' AND head_id = '{head}'"
        )),
        1
    );
    source.sql(&format!(
        "DELETE FROM events WHERE user_id = '{ALICE}' AND head_id = '{head}';
         UPDATE events SET deleted = extract(epoch FROM clock_timestamp()), integrity = 'EVENT:0:tombstone',
                stream_ids = NULL, time = NULL, end_time = NULL, type = NULL, content = NULL, description = NULL,
                client_data = NULL, attachments = NULL, trashed = NULL, created = NULL, created_by = NULL,
                modified = NULL, modified_by = NULL
           WHERE user_id = '{ALICE}' AND id = '{head}';
         DELETE FROM event_streams WHERE user_id = '{ALICE}' AND event_id = '{head}';"
    ));
    backup(&source, out, &["--incremental"]);
    let target = Install::empty();
    let output = restore(&target, out, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ephemeral = ["sessions", "password_resets"];
    assert_same(
        &tombstones_untrashed(without(source.dump(), &ephemeral)),
        &tombstones_untrashed(without(target.dump(), &ephemeral)),
    );
}
