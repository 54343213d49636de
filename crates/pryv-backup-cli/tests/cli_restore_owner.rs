//! A restore run as root into a SQLite install whose data folder belongs to the core's user
//! (here nobody, 65534): everything it creates there belongs to that user too, with the
//! folder's modes (0755 folders, 0644 files, as the core makes them under umask 022),
//! whatever the umask the restore runs under; staging and the swap journal as well, while
//! they exist. Needs root (to give files away); skipped otherwise.

mod cli_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

const CORE_USER: u32 = 65534;

/// `pryv-backup` with `args` under `umask`, paused at `pause` (a point and its marker file).
fn spawn(args: &[std::ffi::OsString], umask: u32, pause: Option<(&str, &Path)>) -> Child {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"));
    cmd.args(args)
        .env_remove("PRYV_BACKUP_PASSPHRASE")
        .env_remove("PRYV_CORE_DIR")
        .env_remove("NODE_ENV")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((point, file)) = pause {
        cmd.env("PRYV_BACKUP_TEST_PAUSE_AT", point)
            .env("PRYV_BACKUP_TEST_PAUSE_FILE", file);
    }
    let mask = umask as libc::mode_t;
    // SAFETY: umask is async-signal-safe and touches only the child being started.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

fn finish(child: Child) {
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

/// Every entry under `dir` (not `dir` itself).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Entries not owned by the core's user, or (with `modes`) not 0755/0644.
fn wrong(dir: &Path, modes: bool) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter_map(|path| {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            let expected = if meta.is_dir() { 0o755 } else { 0o644 };
            let bad =
                meta.uid() != CORE_USER || meta.gid() != CORE_USER || (modes && mode != expected);
            bad.then(|| format!("{} {}:{} {mode:o}", path.display(), meta.uid(), meta.gid()))
        })
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    entries(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

#[test]
fn a_root_restore_leaves_the_core_user_owner_of_what_it_creates() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: giving files to another user needs root");
        return;
    }
    let (_source, work, backup) = sample_backed_up("full");
    for umask in [0o022, 0o077] {
        let install = SqliteInstall::new();
        let data = install.data.path();
        std::os::unix::fs::chown(data, Some(CORE_USER), Some(CORE_USER)).unwrap();
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o755)).unwrap();

        // Paused inside the first user's swap: staging, asides and journal exist.
        let marker = work.path().join(format!("paused-{umask:o}"));
        let child = spawn(
            &install.restore_args(&backup, &[]),
            umask,
            Some(("sqlite-swap", &marker)),
        );
        let start = Instant::now();
        while !marker.exists() {
            assert!(start.elapsed() < Duration::from_secs(300), "never paused");
            std::thread::sleep(Duration::from_millis(20));
        }
        let during = names(data);
        for prefix in [
            ".pryv-backup-swap-",
            ".pryv-backup-restore-",
            ".pryv-backup-replaced-",
        ] {
            assert!(
                during.iter().any(|n| n.contains(prefix)),
                "umask {umask:o}: no {prefix}* while paused: {during:?}"
            );
        }
        assert_eq!(
            wrong(data, false),
            Vec::<String>::new(),
            "umask {umask:o}: not the core user's while the swap runs"
        );
        std::fs::remove_file(&marker).unwrap();
        finish(child);

        let after = names(data);
        for expected in ["user-index.db", "/attachments/", "/user.alice/"] {
            assert!(
                after.iter().any(|n| n.contains(expected)),
                "umask {umask:o}: no {expected} restored: {after:?}"
            );
        }
        assert_eq!(
            wrong(data, true),
            Vec::<String>::new(),
            "umask {umask:o}: not the core user's, or not its modes, after the restore"
        );

        // Over the first: old files aside, attachments replaced.
        finish(spawn(
            &install.restore_args(&backup, &["--overwrite"]),
            umask,
            None,
        ));
        assert_eq!(
            wrong(data, true),
            Vec::<String>::new(),
            "umask {umask:o}: not the core user's, or not its modes, after --overwrite"
        );
    }
}
