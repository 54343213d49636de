//! `forget` (issue 29): a user removed from every backup and generation of a location,
//! clear or encrypted, on disk or in S3, with every other user restoring as before and every
//! backup still passing verify and drill; a dry run changes nothing; a backup being written
//! is left alone; a forget killed half-way is finished by the next one.

mod cli_support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use cli_support::*;

const BOB: &str = "cksamplebobby0002";
/// Content only bob's events hold: one in the base, one in the increment.
const BASE_MARK: &str = "bob-erasure-mark-in-the-base";
const INCREMENT_MARK: &str = "bob-erasure-mark-in-the-increment";
const PASSPHRASE: &str = "forget keeps this chain sealed";

fn secret_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Gives bob a new event with `content`, stamped now, as the core stamps a creation.
fn new_bob_event(source: &Install, id: &str, content: &str) {
    let stream: String = source
        .db
        .connect()
        .query_one(
            "SELECT id FROM streams WHERE user_id = $1 AND deleted IS NULL ORDER BY id LIMIT 1",
            &[&BOB],
        )
        .unwrap()
        .get(0);
    let at = now();
    source.sql(&format!(
        "INSERT INTO events (user_id, id, stream_ids, time, type, content, integrity, created, created_by, modified, modified_by)
         VALUES ('{BOB}', '{id}', '[\"{stream}\"]', {at}, 'note/txt', '\"{content}\"', NULL, {at}, 'acc-app', {at}, 'acc-app');
         INSERT INTO event_streams (user_id, event_id, stream_id, stream_path)
         VALUES ('{BOB}', '{id}', '{stream}', '{stream}/');"
    ));
}

/// Every file under `dir` with its text: gzip files gunzipped (through the archive's own
/// reader, line by line), others as they are.
fn readable_files(dir: &Path) -> Vec<(PathBuf, String)> {
    files(dir)
        .into_iter()
        .map(|(path, bytes)| {
            let text = if path.extension().is_some_and(|e| e == "gz") {
                pryv_backup::archive::read_jsonl(Box::new(std::io::Cursor::new(bytes)), &path, true)
                    .map(|item| item.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
                    .map(|item| format!("{item}\n"))
                    .collect()
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            };
            (path, text)
        })
        .collect()
}

/// Bob appears nowhere in `dir` (names and contents), and the backup still verifies.
fn assert_bob_gone_and_verifies(dir: &Path) {
    let found = traces_of_bob(dir);
    assert!(found.is_empty(), "{found:?}");
    let output = cli().arg("verify").arg(dir).output().unwrap();
    assert!(output.status.success(), "verify: {}", text(&output));
}

/// Where in `dir` (names and contents) bob's userId, username or event contents appear.
fn traces_of_bob(dir: &Path) -> Vec<String> {
    let needles = [BOB, "\"bob\"", "/bob\"", BASE_MARK, INCREMENT_MARK];
    let mut found = Vec::new();
    for (path, text) in readable_files(dir) {
        if path.to_string_lossy().contains(BOB) {
            found.push(format!("{}: named after bob", path.display()));
        }
        for needle in needles {
            if text.contains(needle) {
                found.push(format!("{}: holds {needle}", path.display()));
            }
        }
    }
    found
}

fn digests(dir: &Path) -> Vec<(PathBuf, String)> {
    use sha2::{Digest, Sha256};
    files(dir)
        .into_iter()
        .map(|(p, bytes)| (p, hex::encode(Sha256::digest(bytes))))
        .collect()
}

fn run_with(args: &[&OsStr], secrets: &[&OsStr]) -> Output {
    cli().args(args).args(secrets).output().unwrap()
}

/// The rows of `dump` that are not bob's: its own rows (series rows name it `user.bob`),
/// its platform entries.
fn without_bob(dump: Dump) -> Dump {
    dump.into_iter()
        .map(|(table, rows)| {
            let rows = rows
                .into_iter()
                .filter(|r| {
                    ![BOB, "\"bob\"", "/bob\"", "\"user.bob\""]
                        .iter()
                        .any(|bob| r.contains(bob))
                })
                .collect();
            (table, rows)
        })
        .collect()
}

fn restored_dump(dir: &Path) -> Dump {
    let (target, output) = restore_into_new(dir, &[]);
    assert!(output.status.success(), "restore: {}", text(&output));
    target.dump()
}

#[test]
fn forget_removes_a_user_from_every_generation_clear_or_encrypted() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let pass = secret_file(work.path(), "pass", PASSPHRASE);
    let (public_key, private_key) = recipient_keys();
    let folder = work.path().join("backups");
    let (chain, sealed, hybrid) = (
        folder.join("chain"),
        folder.join("sealed"),
        folder.join("hybrid"),
    );
    new_bob_event(&source, "ev-bob-base", BASE_MARK);
    backup(&source, &chain, &[]);
    backup(
        &source,
        &sealed,
        &["--encrypt-passphrase-file", pass.to_str().unwrap()],
    );
    backup(
        &source,
        &hybrid,
        &["--recipient-pubkey", public_key.to_str().unwrap()],
    );
    new_bob_event(&source, "ev-bob-increment", INCREMENT_MARK);
    backup(&source, &chain, &["--incremental", "--clock-skew", "0"]);
    backup(
        &source,
        &sealed,
        &[
            "--incremental",
            "--clock-skew",
            "0",
            "--decrypt-passphrase-file",
            pass.to_str().unwrap(),
        ],
    );
    backup(
        &source,
        &hybrid,
        &[
            "--incremental",
            "--clock-skew",
            "0",
            "--recipient-pubkey",
            public_key.to_str().unwrap(),
        ],
    );
    assert!(
        !traces_of_bob(&chain).is_empty(),
        "the test must see bob before"
    );
    let before = restored_dump(&chain);
    let secrets: Vec<&OsStr> = vec![
        "--decrypt-passphrase-file".as_ref(),
        pass.as_os_str(),
        "--private-key".as_ref(),
        private_key.as_os_str(),
    ];

    // A dry run says what it would change and changes nothing.
    let untouched = digests(&folder);
    let output = run_with(
        &[
            "--json".as_ref(),
            "forget".as_ref(),
            folder.as_os_str(),
            "--user".as_ref(),
            "bob".as_ref(),
        ],
        &secrets,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = stdout_json(&output);
    assert_eq!(report["applied"], false);
    assert_eq!(report["backups"].as_array().unwrap().len(), 3, "{report:#}");
    assert!(report["filesRemoved"].as_u64().unwrap() > 10, "{report:#}");
    assert!(digests(&folder) == untouched, "the dry run changed files");

    // Without the key, an encrypted backup cannot be read: said, and left alone.
    let output = run_with(
        &[
            "forget".as_ref(),
            folder.as_os_str(),
            "--user".as_ref(),
            "bob".as_ref(),
            "--yes".as_ref(),
        ],
        &["--decrypt-passphrase-file".as_ref(), pass.as_os_str()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("the public key is not enough"),
        "{}",
        text(&output)
    );
    assert!(
        digests(&hybrid) == digests_under(&untouched, &hybrid),
        "the unreadable backup was changed"
    );

    let output = run_with(
        &[
            "--json".as_ref(),
            "forget".as_ref(),
            folder.as_os_str(),
            "--user".as_ref(),
            BOB.as_ref(),
            "--yes".as_ref(),
        ],
        &secrets,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = stdout_json(&output);
    assert_eq!(report["applied"], true);
    // The clear one was done by the run refused for the hybrid one.
    assert_eq!(report["backups"].as_array().unwrap().len(), 1, "{report:#}");

    for dir in [&chain, &sealed, &hybrid] {
        for command in ["verify", "drill"] {
            let output = run_with(&[command.as_ref(), dir.as_os_str()], &secrets);
            assert!(
                output.status.success(),
                "{command} {}: {}",
                dir.display(),
                text(&output)
            );
        }
    }
    let mut found = traces_of_bob(&chain);
    for dir in [&sealed, &hybrid] {
        let plain = work.path().join(format!(
            "plain-{}",
            dir.file_name().unwrap().to_string_lossy()
        ));
        let output = run_with(
            &[
                "decrypt".as_ref(),
                dir.as_os_str(),
                "--out".as_ref(),
                plain.as_os_str(),
            ],
            &secrets,
        );
        assert!(output.status.success(), "decrypt: {}", text(&output));
        found.extend(traces_of_bob(&plain));
        let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
        assert!(
            !String::from_utf8_lossy(&manifest).contains("\"users\""),
            "{}: the rewritten manifest is in the clear",
            dir.display()
        );
    }
    assert!(found.is_empty(), "bob is still there: {found:#?}");
    assert_same(&without_bob(before), &restored_dump(&chain));

    // Forgetting again finds nothing and changes nothing: "nothing to do", exit 4.
    let done = digests(&folder);
    let output = run_with(
        &[
            "forget".as_ref(),
            folder.as_os_str(),
            "--user".as_ref(),
            "bob".as_ref(),
            "--yes".as_ref(),
        ],
        &secrets,
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        text(&output).contains("bob: in no backup read"),
        "{}",
        text(&output)
    );
    assert!(digests(&folder) == done);
}

fn digests_under(all: &[(PathBuf, String)], dir: &Path) -> Vec<(PathBuf, String)> {
    all.iter()
        .filter(|(p, _)| p.starts_with(dir))
        .cloned()
        .collect()
}

#[test]
fn a_backup_being_written_is_left_alone_and_said_so() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("backups");
    let (free, busy) = (folder.join("free"), folder.join("busy"));
    backup(&source, &free, &[]);
    backup(&source, &busy, &[]);
    let busy_before = digests(&busy);
    let lock = pryv_backup::lock::lock_backup_output(&busy).unwrap();
    let metrics = work.path().join("forget.prom");
    let forget = || {
        cli()
            .arg("--metrics-file")
            .arg(&metrics)
            .args(["forget", "--user", "bob", "--yes"])
            .arg(&folder)
            .output()
            .unwrap()
    };
    let output = forget();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let prom = std::fs::read_to_string(&metrics).unwrap();
    let sample = |name: &str| {
        prom.lines()
            .find(|l| l.starts_with(&format!("pryv_backup_{name}{{command=\"forget\"")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
    };
    assert_eq!(sample("exit_status").as_deref(), Some("3"), "{prom}");
    assert_eq!(sample("forgotten_backups").as_deref(), Some("1"), "{prom}");
    assert!(
        text(&output).contains(&format!("left alone {}: being written", busy.display())),
        "{}",
        text(&output)
    );
    assert!(
        digests(&busy) == busy_before,
        "the locked backup was changed"
    );
    assert!(traces_of_bob(&free).is_empty());
    drop(lock);
    let output = forget();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(traces_of_bob(&busy).is_empty());
}

/// Killed once the base is done (rewritten, bob's folder gone) and before its increment is
/// relinked: the chain reads as broken until the next forget finishes the job, relinking
/// the increment to the base it no longer matches.
#[test]
fn a_forget_killed_half_way_is_finished_by_the_next_one() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let chain = work.path().join("chain");
    new_bob_event(&source, "ev-bob-base", BASE_MARK);
    backup(&source, &chain, &[]);
    new_bob_event(&source, "ev-bob-increment", INCREMENT_MARK);
    backup(&source, &chain, &["--incremental", "--clock-skew", "0"]);
    let paused = work.path().join("paused");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"))
        .args(["forget", "--user", "bob", "--yes"])
        .arg(&chain)
        .env("PRYV_BACKUP_TEST_PAUSE_AT", "forget-generation-done")
        .env("PRYV_BACKUP_TEST_PAUSE_FILE", &paused)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !paused.exists() {
        assert!(child.try_wait().unwrap().is_none(), "forget ended early");
        assert!(start.elapsed().as_secs() < 60, "never paused");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(chain.join(pryv_backup::forget::FORGETTING_MARKER).exists());
    let output = cli().arg("verify").arg(&chain).output().unwrap();
    assert!(
        !output.status.success(),
        "half-rewritten, yet: {}",
        text(&output)
    );

    let output = cli()
        .args(["forget", "--user", "bob", "--yes"])
        .arg(&chain)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("finishing what an earlier forget began"),
        "{}",
        text(&output)
    );
    assert!(!chain.join(pryv_backup::forget::FORGETTING_MARKER).exists());
    assert_bob_gone_and_verifies(&chain);
    let output = cli().arg("drill").arg(&chain).output().unwrap();
    assert!(output.status.success(), "drill: {}", text(&output));
}

/// The platform entries of the backup in `dir` (clear), as text, one per line.
fn platform_text(dir: &Path) -> String {
    readable_files(&dir.join("platform"))
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

/// `token("username", name)` under a base64 HMAC key, as the core names users in hashed
/// PII mode.
fn username_token(key_b64: &str, name: &str) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(b"username\0");
    mac.update(name.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// In hashed PII mode, platform entries name users by token: forget needs the install's
/// key to find bob's, refuses without it (or with another key), and leaves the other
/// users' entries (whose accesses may share ids with bob's) alone.
#[test]
fn in_hashed_pii_mode_the_users_tokened_entries_go() {
    const KEY: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";
    let (_source, work, plain) = sample_backed_up("plain");
    let hashed_install = Install::empty();
    let hashed_config = work.path().join("hashed.yml");
    std::fs::write(
        &hashed_config,
        format!("platform:\n  piiMode: hashed\n  piiHmacKey: '{KEY}'\n"),
    )
    .unwrap();
    let config: &[&OsStr] = &["--config".as_ref(), hashed_config.as_os_str()];
    let output = run_restore(&hashed_install, &plain, config);
    assert!(output.status.success(), "restore: {}", text(&output));
    let hashed = work.path().join("hashed");
    backup(
        &hashed_install,
        &hashed,
        &["--config", hashed_config.to_str().unwrap()],
    );
    let (bob, alice) = (username_token(KEY, "bob"), username_token(KEY, "alice"));
    let before = platform_text(&hashed);
    assert!(
        before.contains(&bob) && !before.contains("\"bob\""),
        "{before}"
    );

    let untouched = digests(&hashed);
    let forget = |key: Option<&str>| {
        let mut cmd = cli();
        cmd.args(["forget", "--user", "bob", "--yes"]).arg(&hashed);
        if let Some(key) = key {
            cmd.arg("--pii-key-file")
                .arg(secret_file(work.path(), "pii-key", key));
        }
        cmd.output().unwrap()
    };
    for (key, says) in [
        (
            None,
            "give the install's platform:piiHmacKey with --pii-key-file",
        ),
        (
            Some("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="),
            "under the key given",
        ),
    ] {
        let output = forget(key);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(text(&output).contains(says), "{}", text(&output));
        assert!(
            digests(&hashed) == untouched,
            "changed without the right key"
        );
    }
    let output = forget(Some(KEY));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let after = platform_text(&hashed);
    assert!(
        !after.contains(&bob),
        "bob's tokened entries are left: {after}"
    );
    let others = |text: &str| text.lines().filter(|l| !l.contains(&bob)).count();
    assert_eq!(
        others(&after),
        others(&before),
        "another user's entries went"
    );
    assert!(after.contains(&alice));
    assert_bob_gone_and_verifies(&hashed);
}

#[test]
fn forget_over_an_s3_prefix() {
    use pryv_backup::s3::{Bucket, S3Settings};
    let server = testbed::s3::s3();
    let bucket = Bucket::connect(&S3Settings::self_hosted(
        &server.bucket,
        &server.endpoint,
        "garage",
        &server.key_id,
        &server.secret,
    ))
    .unwrap();
    let root = server.unique_prefix("cli-forget");
    let url = |name: &str| format!("s3://{}/{root}/{name}", server.bucket);
    let source = Install::sample();
    new_bob_event(&source, "ev-bob-base", BASE_MARK);
    let s3_cli = || {
        let mut cmd = cli();
        cmd.envs(server.aws_env());
        cmd
    };
    s3_cli()
        .args(["backup", "--output", &url("b1")])
        .args(source.args())
        .assert()
        .code(0);
    new_bob_event(&source, "ev-bob-increment", INCREMENT_MARK);
    s3_cli()
        .args([
            "backup",
            "--incremental",
            "--clock-skew",
            "0",
            "--output",
            &url("b1"),
        ])
        .args(source.args())
        .assert()
        .code(0);
    let bob_keys = || {
        bucket
            .list(&root)
            .unwrap()
            .into_iter()
            .filter(|k| k.contains(BOB))
            .count()
    };
    assert!(bob_keys() > 5);

    let root_url = format!("s3://{}/{root}", server.bucket);
    let output = s3_cli()
        .args(["--json", "forget", &root_url, "--user", "bob", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(stdout_json(&output)["backups"].as_array().unwrap().len(), 1);
    assert_eq!(bob_keys(), 0, "bob's objects are left");
    for command in ["verify", "drill"] {
        s3_cli().args([command, &url("b1")]).assert().code(0);
    }
    // Every object, gunzipped, is free of bob.
    let local = tempfile::tempdir().unwrap();
    for key in bucket.list(&root).unwrap() {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut bucket.get(&key).unwrap().unwrap(), &mut bytes).unwrap();
        let path = local.path().join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    assert!(
        traces_of_bob(local.path()).is_empty(),
        "{:?}",
        traces_of_bob(local.path())
    );
    assert!(
        !bucket
            .exists(&pryv_backup::lock::s3_output_lock_key(&format!(
                "{root}/b1"
            )))
            .unwrap(),
        "forget released its lock"
    );
}

/// `inspect` names the users a backup still holds after their deletion from the install;
/// once forgotten, none is left.
#[test]
fn inspect_lists_deleted_users_until_they_are_forgotten() {
    let (source, _work, chain) = sample_backed_up("chain");
    delete_sample_bob(&source);
    let output = cli()
        .args([
            "--json",
            "backup",
            "--incremental",
            "--clock-skew",
            "0",
            "--output",
        ])
        .arg(&chain)
        .args(source.args())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        stdout_json(&output)["deletedUsersHeld"],
        1,
        "said by the backup"
    );
    let inspect = || {
        let output = cli()
            .args(["--json", "inspect"])
            .arg(&chain)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        stdout_json(&output)
    };
    let report = inspect();
    let deleted = report["deletedUsers"].as_array().unwrap();
    assert_eq!(deleted.len(), 1, "{report:#}");
    assert_eq!(deleted[0]["userId"], BOB);
    assert_eq!(deleted[0]["username"], "bob");
    assert!(deleted[0]["lastBackupTimestamp"].as_u64().unwrap() > 0);
    let output = cli().arg("inspect").arg(&chain).output().unwrap();
    assert!(
        text(&output).contains("deleted from the install: bob (cksamplebobby0002)"),
        "{}",
        text(&output)
    );

    let output = cli()
        .args(["forget", "--user", "bob", "--yes"])
        .arg(&chain)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(inspect()["deletedUsers"], serde_json::json!([]));
    assert_bob_gone_and_verifies(&chain);
}

/// `prune --forget-deleted-after`: bob, deleted between October's backup and November's,
/// is forgotten from October's once the deletion is older than the duration (the clock set
/// forward through the test clock), not before; the dry run changes nothing.
#[test]
fn prune_forgets_users_deleted_longer_ago_than_asked() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("pryv");
    let october = root.join("2026-10");
    backup(&source, &october, &[]);
    delete_sample_bob(&source);
    backup(&source, &root.join("2026-11"), &[]);
    let bob_folder = october.join("users").join(BOB);
    assert!(bob_folder.is_dir());
    // inspect of the folder names bob, last seen in October's backup.
    let held = stdout_json(&run(&[
        "inspect".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(held["deletedUsers"][0]["userId"], BOB, "{held:#}");
    assert_eq!(held["deletedUsers"][0]["username"], "bob", "{held:#}");
    assert!(
        held["deletedUsers"][0]["lastSeen"].as_u64() < held["deletedUsers"][0]["goneBy"].as_u64(),
        "{held:#}"
    );
    let said = text(&run(&["inspect".as_ref(), root.as_os_str()]));
    assert!(
        said.contains(&format!(
            "deleted from the install: bob ({BOB}), last seen "
        )),
        "{said}"
    );

    let prune = |now_ms: Option<u64>, extra: &[&str]| {
        let mut command = cli();
        if let Some(ms) = now_ms {
            command.env("PRYV_BACKUP_TEST_NOW_MS", ms.to_string());
        }
        command
            .arg("prune")
            .arg(&root)
            .args(["--keep-last", "10", "--forget-deleted-after", "7d"])
            .args(extra)
            .output()
            .unwrap()
    };
    // Deleted today: not yet.
    let output = prune(None, &["--yes"]);
    assert_exit(&output, 0);
    assert!(
        text(&output).contains("no user deleted long enough ago to forget"),
        "{}",
        text(&output)
    );
    assert!(bob_folder.is_dir());

    let in_eight_days = (now() * 1000.0) as u64 + 8 * 86_400_000;
    let before = files(&root);
    let dry = prune(Some(in_eight_days), &["--json"]);
    assert_exit(&dry, 0);
    let report = stdout_json(&dry);
    let forgetting = &report["forgetDeletedUsers"];
    assert_eq!(forgetting["users"][0]["userId"], BOB, "{report:#}");
    assert_eq!(forgetting["report"]["applied"], false, "{report:#}");
    assert_eq!(files(&root), before, "the dry run changed files");

    let applied = prune(Some(in_eight_days), &["--yes"]);
    assert_exit(&applied, 0);
    assert!(
        text(&applied).contains(&format!(
            "forget bob ({BOB}): deleted from the install before"
        )),
        "{}",
        text(&applied)
    );
    assert!(!bob_folder.exists());
    cli().arg("verify").arg(&october).assert().code(0);
    let inspect = stdout_json(&run(&[
        "inspect".as_ref(),
        october.as_os_str(),
        "--json".as_ref(),
    ]));
    assert!(!inspect.to_string().contains(BOB), "{inspect:#}");
    let held = stdout_json(&run(&[
        "inspect".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(held["deletedUsers"], serde_json::json!([]), "{held:#}");
}
