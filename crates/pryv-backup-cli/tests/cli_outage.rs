//! The backup's store going away in the middle of a restore (an S3 store cut off, a local
//! backup folder unmounted): the run stops once, saying the store is unreachable, within the
//! S3 client's retry bound; no user is called damaged and none is left half restored.

mod cli_support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;
use pryv_backup::engine::Engine;

/// `pryv-backup` as [`cli`] runs it, as a std command (to spawn it and see it pause).
fn bare_cli() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"));
    for name in [
        "PRYV_BACKUP_PASSPHRASE",
        "PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE",
        "PRYV_CORE_DIR",
        "NODE_ENV",
        "RUST_LOG",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// A restore paused once everything before its users was read from the backup.
fn paused_restore(cmd: &mut Command, pause_file: &Path) -> Child {
    let mut child = cmd
        .env("PRYV_BACKUP_TEST_PAUSE_AT", "restore-manifests-read")
        .env("PRYV_BACKUP_TEST_PAUSE_FILE", pause_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pause_file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "the restore ended ({status}) before its pause point:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the restore never reached its pause point"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Lets the paused restore go on and waits for its end: its output and how long it took.
fn resume(child: Child, pause_file: &Path) -> (Output, Duration) {
    let start = Instant::now();
    std::fs::remove_file(pause_file).unwrap();
    let output = child.wait_with_output().unwrap();
    (output, start.elapsed())
}

/// Each user of `source` is either absent from `target` or there whole.
fn no_half_user(source: &Install, target: &Install) {
    // A restore makes the schema with its first user.
    if target.count("SELECT count(*) FROM pg_tables WHERE tablename = 'streams'") == 0 {
        return;
    }
    let (expected, actual) = (source.dump(), target.dump());
    for user in source.engine().users().unwrap() {
        let there = user_rows(&actual, &user.user_id);
        if there.iter().all(|(_, rows)| rows.is_empty()) {
            continue;
        }
        assert_same(&user_rows(&expected, &user.user_id), &there);
    }
}

/// The run stopped on the outage: exit 1, the store named, no user called damaged.
fn stopped_on_outage(output: &Output, elapsed: Duration, names: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("the restore ended {elapsed:?} after the store went away:\n{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}\n{stdout}");
    assert!(stderr.contains("is unreachable"), "{stderr}");
    for name in names {
        assert!(stderr.contains(name), "{name} not named:\n{stderr}");
    }
    for said in [stderr.as_str(), &*stdout] {
        assert!(
            !said.contains("damaged") && !said.contains("items found"),
            "{said}"
        );
    }
    stderr
}

#[test]
fn a_backup_folder_gone_mid_restore_stops_the_run_as_unreachable() {
    let (source, _dir, backup) = sample_backed_up("outage-local");
    let target = Install::empty();
    let scratch = tempfile::tempdir().unwrap();
    let pause_file = scratch.path().join("paused");
    let mut restore = bare_cli();
    restore.arg("--restore").arg(&backup).args(target.args());
    let child = paused_restore(&mut restore, &pause_file);
    // As an unmount would: the folder is no longer where the run found it.
    let away = scratch.path().join("unmounted");
    std::fs::rename(&backup, &away).unwrap();
    let (output, elapsed) = resume(child, &pause_file);

    let folder = backup.display().to_string();
    stopped_on_outage(&output, elapsed, &[&folder]);
    no_half_user(&source, &target);
}
