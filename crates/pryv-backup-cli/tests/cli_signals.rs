//! SIGTERM, SIGINT and SIGKILL at chosen points (the binary's test-only pause,
//! `PRYV_BACKUP_TEST_PAUSE_AT`), and the modes of what holds user data, every child run under
//! umask 022 as operators' shells have it.

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;
use pryv_backup::engine::Engine;

/// `pryv-backup` with `args`, run under umask 022, paused at `pause` when given.
fn spawn(args: &[&std::ffi::OsStr], pause: Option<(&str, &Path)>, tmpdir: &Path) -> Child {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"));
    cmd.args(args)
        .env_remove("PRYV_BACKUP_PASSPHRASE")
        .env_remove("PRYV_CORE_DIR")
        .env_remove("NODE_ENV")
        .env_remove("RUST_LOG")
        .env("TMPDIR", tmpdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((point, file)) = pause {
        cmd.env("PRYV_BACKUP_TEST_PAUSE_AT", point)
            .env("PRYV_BACKUP_TEST_PAUSE_FILE", file);
    }
    // SAFETY: umask is async-signal-safe and touches only the child being started.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

/// Runs to the end, under umask 022.
fn run(args: &[&std::ffi::OsStr], tmpdir: &Path) -> Output {
    spawn(args, None, tmpdir).wait_with_output().unwrap()
}

/// Waits until the child reached its pause point (it wrote `file`).
fn wait_paused(child: &mut Child, file: &Path) {
    let start = Instant::now();
    while !file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).unwrap();
            }
            panic!("the run ended ({status}) before its pause point:\n{err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the run never reached its pause point"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `args` paused at `point`, sends `signal` there, and returns how it ended, plus
/// whatever `at_pause` saw while it waited.
fn signalled<T>(
    args: &[&std::ffi::OsStr],
    point: &str,
    signal: i32,
    tmpdir: &Path,
    at_pause: impl FnOnce() -> T,
) -> (Output, T) {
    let marker = tmpdir.join(format!("paused-{point}-{signal}"));
    let _ = std::fs::remove_file(&marker);
    let mut child = spawn(args, Some((point, &marker)), tmpdir);
    wait_paused(&mut child, &marker);
    let seen = at_pause();
    // SAFETY: kill only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    (child.wait_with_output().unwrap(), seen)
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every path under `dir` (itself included) whose mode is not 0700 (folders) / 0600 (files).
fn not_private(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode(&path) != want {
            bad.push((path.clone(), mode(&path)));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    bad.sort();
    bad
}

/// Every path under `dir` whose name starts with one of `prefixes`, or ends with `.tmp`.
fn leftovers(dir: &Path, prefixes: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path != dir && (prefixes.iter().any(|p| name.starts_with(p)) || name.ends_with(".tmp")) {
            found.push(path.clone());
        }
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    found.sort();
    found
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn backup_args<'a>(install: &'a Install, out: &'a Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["backup".into()];
    args.extend(install.args());
    args.push("--output".into());
    args.push(out.into());
    args
}

fn refs(args: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    args.iter().map(|a| a.as_os_str()).collect()
}

/// A nightly increment stopped by SIGTERM leaves its unfinished folder; the next night's run
/// replaces that folder rather than leaving it beside a new one for ever.
#[test]
fn an_interrupted_increment_is_replaced_by_the_next_one() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("month");
    let mut args = backup_args(&source, &out);
    args.push("--incremental".into());
    let output = run(&refs(&args), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let (output, _) = signalled(
        &refs(&args),
        "before-user:bob",
        libc::SIGTERM,
        work.path(),
        || (),
    );
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    let unfinished = out.join("increments/0001");
    assert!(unfinished.join(".pryv-backup-in-progress").is_file());

    let output = run(&refs(&args), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        unfinished.join("manifest.json").is_file(),
        "{}",
        text(&output)
    );
    assert!(!unfinished.join(".pryv-backup-in-progress").exists());
    assert!(!out.join("increments/0002").exists(), "{}", text(&output));
    let verify = run(&[os("verify"), out.as_os_str()], work.path());
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
}

#[test]
fn backup_folders_and_files_are_private_whatever_the_umask() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("full");
    let output = run(&refs(&backup_args(&source, &out)), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(not_private(&out), vec![], "under umask 022");
    let lock = pryv_backup::lock::backup_output_lock_path(&out);
    assert_eq!(mode(&lock), 0o600, "the lock file");
}

/// SIGTERM and SIGINT while a chunk is being written: the exit code says which, the chunk's
/// temporary file is gone, the lock is free, and no manifest marks the backup complete.
/// After SIGKILL at the same point, the next backup into the same folder removes the
/// temporary file (and refuses the folder, which holds an unfinished backup).
#[test]
fn a_signal_during_a_backup_stops_it_cleanly() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let out = work.path().join(format!("stopped-{signal}"));
        let args = backup_args(&source, &out);
        let (output, during) = signalled(
            &refs(&args),
            "archive-item-written",
            signal,
            work.path(),
            || leftovers(&out, &[]),
        );
        assert!(!during.is_empty(), "a chunk was being written when paused");
        assert_eq!(output.status.code(), Some(code), "{}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("stopped by SIG"),
            "{}",
            text(&output)
        );
        assert_eq!(
            leftovers(&out, &[]),
            Vec::<PathBuf>::new(),
            "temporary files"
        );
        assert!(!out.join("manifest.json").exists());
        pryv_backup::lock::lock_backup_output(&out).expect("the lock was released");
    }

    let out = work.path().join("killed");
    let args = backup_args(&source, &out);
    let (output, _) = signalled(
        &refs(&args),
        "archive-item-written",
        libc::SIGKILL,
        work.path(),
        || (),
    );
    assert_eq!(output.status.code(), None, "killed");
    assert!(
        !leftovers(&out, &[]).is_empty(),
        "a kill leaves the temporary file"
    );
    let output = run(&refs(&args), work.path());
    assert!(
        text(&output).contains("replacing an unfinished backup left by an earlier run"),
        "{}",
        text(&output)
    );
    assert_eq!(
        leftovers(&out, &[]),
        Vec::<PathBuf>::new(),
        "the next run removed it"
    );
}

#[test]
fn decrypt_out_is_private_whatever_the_umask() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let pass = work.path().join("pass.txt");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = work.path().join("sealed");
    let mut args = backup_args(&source, &out);
    args.extend(["--encrypt-passphrase-file".into(), pass.clone().into()]);
    let output = run(&refs(&args), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // Stopped half-way: no plaintext is left behind.
    let stopped = work.path().join("stopped");
    let (output, _) = signalled(
        &[
            os("decrypt"),
            out.as_os_str(),
            os("--out"),
            stopped.as_os_str(),
            os("--decrypt-passphrase-file"),
            pass.as_os_str(),
        ],
        "decrypt-file",
        libc::SIGINT,
        work.path(),
        || (),
    );
    assert_eq!(output.status.code(), Some(130), "{}", text(&output));
    assert!(!stopped.exists(), "the partial copy was removed");

    let plain = work.path().join("plain");
    let output = run(
        &[
            os("decrypt"),
            out.as_os_str(),
            os("--out"),
            plain.as_os_str(),
            os("--decrypt-passphrase-file"),
            pass.as_os_str(),
        ],
        work.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(plain.join("manifest.json").is_file());
    assert_eq!(not_private(&plain), vec![], "under umask 022");
}

/// The drill's scratch platform (decrypted user data) is private while it exists, removed on
/// SIGTERM, and one left by a killed drill is removed by the next drill: here a SQLite one
/// (no PostgreSQL binaries given).
#[test]
fn a_drills_sqlite_scratch_is_private_and_never_left_behind() {
    drill_scratch_is_private_and_never_left_behind(false);
}

/// The same with the drill's PostgreSQL server: its cluster private, the server stopped on
/// SIGTERM, and stopped with the drill when the drill is killed outright.
#[test]
fn a_drills_postgres_server_is_private_and_never_left_behind() {
    drill_scratch_is_private_and_never_left_behind(true);
}

fn drill_scratch_is_private_and_never_left_behind(postgres: bool) {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    // Run as root, the drill's server runs as the `postgres` account, which must reach it.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let out = work.path().join("full");
    let output = run(&refs(&backup_args(&source, &out)), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let no_binaries = work.path().join("no-binaries");
    std::fs::create_dir(&no_binaries).unwrap();
    let scratch = |tmp: &Path| leftovers(tmp, &["pryv-backup-drill-"]);
    let mut drill = vec![os("drill"), out.as_os_str()];
    if !postgres {
        drill.extend([os("--postgres-bin"), no_binaries.as_os_str()]);
    }
    let restored_into = if postgres { "data" } else { "users" };

    let (output, during) = signalled(&drill, "drill-restored", libc::SIGTERM, &tmp, || {
        let found = scratch(&tmp);
        let loose: Vec<(PathBuf, u32)> = found.iter().flat_map(|s| not_private(s)).collect();
        let restored = found
            .iter()
            .map(|s| files(&s.join(restored_into)).len())
            .sum::<usize>();
        (found, loose, restored, servers_in(&tmp))
    });
    assert_eq!(during.0.len(), 1, "one scratch folder while drilling");
    assert!(during.2 > 0, "the platform was restored into it");
    assert_eq!(during.1, vec![], "under umask 022");
    assert_eq!(during.3.len(), usize::from(postgres), "{:?}", during.3);
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert_eq!(scratch(&tmp), Vec::<PathBuf>::new(), "removed on SIGTERM");
    assert_eq!(servers_in(&tmp), Vec::<String>::new(), "server stopped");

    let (output, _) = signalled(&drill, "drill-restored", libc::SIGKILL, &tmp, || ());
    assert_eq!(output.status.code(), None);
    assert_eq!(scratch(&tmp).len(), 1, "a kill leaves it");
    wait_for_no_server(&tmp);
    let output = run(&drill, &tmp);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains(if postgres {
            "drill OK: this backup restores into the PostgreSQL engine"
        } else {
            "drill NOT FULLY TRIED: PostgreSQL binaries not found"
        }),
        "{}",
        text(&output)
    );
    assert_eq!(
        scratch(&tmp),
        Vec::<PathBuf>::new(),
        "the next drill removed it"
    );
    assert_eq!(servers_in(&tmp), Vec::<String>::new());
}

/// Command lines of the running `postgres` processes whose data is under `dir`.
fn servers_in(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|cmd| String::from_utf8_lossy(&cmd).replace('\0', " "))
        .filter(|cmd| cmd.contains("postgres") && cmd.contains(&needle))
        .collect()
}

/// A killed drill's server stops with it (on its parent-death signal), within moments.
fn wait_for_no_server(dir: &Path) {
    let start = Instant::now();
    while !servers_in(dir).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a server outlived its killed drill: {:?}",
            servers_in(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A backup of the PostgreSQL sample, and the ids of its first two users.
fn sample_backup(work: &Path) -> (PathBuf, String, String) {
    let source = Install::sample();
    let out = work.join("full");
    let output = run(&refs(&backup_args(&source, &out)), work);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let id = |i: usize| manifest["users"][i]["userId"].as_str().unwrap().to_string();
    (out, id(0), id(1))
}

/// The user's SQLite files and their bytes.
fn user_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

const SWAP_LEFTOVERS: [&str; 4] = [
    ".pryv-backup-replaced-",
    ".pryv-backup-restore-",
    ".pryv-backup-attachments-",
    ".pryv-backup-swap-",
];

/// SIGTERM inside the `--overwrite` swap: the swap is finished (signals never cut it) and
/// the run stops after that user. SIGKILL there: the next run (a restore of another user)
/// finds the journal and puts the old files back. Either way the user is whole.
#[test]
fn the_sqlite_overwrite_swap_never_leaves_a_half_user() {
    let work = tempfile::tempdir().unwrap();
    let (backup, user_id, other_id) = sample_backup(work.path());
    let install = SqliteInstall::new();
    let output = run(&refs(&install.restore_args(&backup, &[])), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let dir = install.user_dir(&user_id);
    let before = user_files(&dir);
    assert!(before.len() >= 2, "the user was restored: {before:?}");
    let names = |files: &[(String, Vec<u8>)]| -> Vec<String> {
        files.iter().map(|(n, _)| n.clone()).collect()
    };
    let overwrite = install.restore_args(&backup, &["--overwrite", "--user", &user_id]);

    let (output, during) = signalled(
        &refs(&overwrite),
        "sqlite-swap",
        libc::SIGTERM,
        work.path(),
        || user_files(&dir),
    );
    assert!(during.len() < before.len(), "paused inside the swap");
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert_eq!(
        names(&user_files(&dir)),
        names(&before),
        "the new files, all of them"
    );
    assert_eq!(
        leftovers(install.data.path(), &SWAP_LEFTOVERS),
        Vec::<PathBuf>::new()
    );

    let before = user_files(&dir);
    let (output, during) = signalled(
        &refs(&overwrite),
        "sqlite-swap",
        libc::SIGKILL,
        work.path(),
        || user_files(&dir),
    );
    assert_eq!(output.status.code(), None);
    assert!(during.len() < before.len(), "killed inside the swap");
    let other = install.restore_args(&backup, &["--overwrite", "--user", &other_id]);
    let output = run(&refs(&other), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        user_files(&dir) == before,
        "the old files are back, byte for byte"
    );
    assert_eq!(
        leftovers(install.data.path(), &SWAP_LEFTOVERS),
        Vec::<PathBuf>::new()
    );

    // The same kill, then a backup of the install: it undoes the swap before reading.
    let (output, _) = signalled(
        &refs(&overwrite),
        "sqlite-swap",
        libc::SIGKILL,
        work.path(),
        || (),
    );
    assert_eq!(output.status.code(), None);
    let config = install.core_dir.path().join("sqlite.yml");
    let out = work.path().join("after-kill");
    let backup = [
        os("backup"),
        os("--core-dir"),
        install.core_dir.path().as_os_str(),
        os("--config"),
        config.as_os_str(),
        os("--output"),
        out.as_os_str(),
    ];
    let output = run(&backup, work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        user_files(&dir) == before,
        "the old files are back, byte for byte"
    );
    let journal = install
        .data
        .path()
        .join(format!(".pryv-backup-swap-{user_id}.json"));
    assert!(!journal.exists(), "{}", text(&output));
}

/// SIGTERM while a user's files are staged: nothing of the staging stays (the staging folder
/// was private while it existed). SIGKILL there: the next restore removes it.
#[test]
fn a_stopped_sqlite_restore_leaves_no_staging() {
    let work = tempfile::tempdir().unwrap();
    let (backup, user_id, _) = sample_backup(work.path());
    let install = SqliteInstall::new();
    let args = install.restore_args(&backup, &["--user", &user_id]);
    let staging = |data: &Path| leftovers(data, &SWAP_LEFTOVERS);

    let (output, during) = signalled(
        &refs(&args),
        "sqlite-staged",
        libc::SIGTERM,
        work.path(),
        || {
            staging(install.data.path())
                .into_iter()
                .map(|p| (p.clone(), mode(&p)))
                .collect::<Vec<_>>()
        },
    );
    assert!(!during.is_empty(), "staged files exist while paused");
    for (path, m) in during {
        assert_eq!(m, 0o700, "{} under umask 022", path.display());
    }
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert_eq!(staging(install.data.path()), Vec::<PathBuf>::new());
    assert!(
        !install.user_dir(&user_id).exists() || user_files(&install.user_dir(&user_id)).is_empty(),
        "the user was not restored"
    );

    let (output, _) = signalled(
        &refs(&args),
        "sqlite-staged",
        libc::SIGKILL,
        work.path(),
        || (),
    );
    assert_eq!(output.status.code(), None);
    assert!(
        !staging(install.data.path()).is_empty(),
        "a kill leaves the staging"
    );
    let output = run(&refs(&args), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        staging(install.data.path()),
        Vec::<PathBuf>::new(),
        "the next run removed it"
    );
    assert!(user_files(&install.user_dir(&user_id)).len() >= 2);
}

/// A prune stopped while it removes a backup leaves it marked; the next prune finishes the
/// removal, although the backup may have lost its manifest already.
#[test]
fn an_interrupted_prune_is_finished_by_the_next_one() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backups");
    std::fs::create_dir(&root).unwrap();
    for name in ["2026-01-01", "2026-01-02"] {
        let output = run(&refs(&backup_args(&source, &root.join(name))), work.path());
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    }
    let prune = [
        os("prune"),
        root.as_os_str(),
        os("--keep-last"),
        os("1"),
        os("--yes"),
    ];
    let (output, _) = signalled(&prune, "prune-removing", libc::SIGTERM, work.path(), || ());
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    let oldest = root.join("2026-01-01");
    assert!(oldest.join(".pryv-backup-pruning.json").is_file(), "marked");
    pryv_backup::lock::lock_backup_output(&oldest).expect("the lock was released");

    let output = run(&prune, work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        !oldest.exists(),
        "the next prune finished it: {}",
        text(&output)
    );
    assert!(
        text(&output).contains("finished removing"),
        "{}",
        text(&output)
    );
    assert!(
        root.join("2026-01-02/manifest.json").is_file(),
        "the newest is kept"
    );
}

/// Consolidate writes through the same archive writer: SIGTERM leaves no temporary file and
/// releases the output's lock.
#[test]
fn a_signal_during_consolidate_stops_it_cleanly() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("full");
    let output = run(&refs(&backup_args(&source, &out)), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let merged = work.path().join("merged");
    let consolidate = [
        os("consolidate"),
        out.as_os_str(),
        os("--output"),
        merged.as_os_str(),
    ];
    let (output, during) = signalled(
        &consolidate,
        "archive-item-written",
        libc::SIGTERM,
        work.path(),
        || leftovers(&merged, &[]),
    );
    assert!(!during.is_empty(), "a chunk was being written when paused");
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert_eq!(leftovers(&merged, &[]), Vec::<PathBuf>::new());
    assert!(!merged.join("manifest.json").exists());
    pryv_backup::lock::lock_backup_output(&merged).expect("the lock was released");
    assert_eq!(not_private(&merged), vec![], "under umask 022");
}

/// Killed after a new user's commit, before its journal is gone: the next run sees the
/// user in the index and keeps the new files (finishing the swap), never undoing half.
#[test]
fn a_kill_after_a_new_users_commit_keeps_the_user() {
    let work = tempfile::tempdir().unwrap();
    let (backup, user_id, other_id) = sample_backup(work.path());
    let install = SqliteInstall::new();
    let args = install.restore_args(&backup, &["--user", &user_id]);
    let (output, _) = signalled(
        &refs(&args),
        "sqlite-swap-committed",
        libc::SIGKILL,
        work.path(),
        || (),
    );
    assert_eq!(output.status.code(), None);
    let journal = install
        .data
        .path()
        .join(format!(".pryv-backup-swap-{user_id}.json"));
    assert!(journal.exists(), "killed with its journal");
    let dir = install.user_dir(&user_id);
    let placed = user_files(&dir);
    assert!(placed.len() >= 2);
    let output = run(
        &refs(&install.restore_args(&backup, &["--user", &other_id])),
        work.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(!journal.exists(), "{}", text(&output));
    assert!(user_files(&dir) == placed, "the new files stay");
    // The user is restored: a second restore of it is a conflict, not a fresh start.
    let output = run(&refs(&args), work.path());
    assert!(
        text(&output).contains("conflict") || text(&output).contains("already"),
        "{}",
        text(&output)
    );
}

/// SIGTERM while a batch of small users is written into an empty database and not yet
/// committed: the run stops (143) with none of them in the database, and the next run
/// restores them all as they were.
#[test]
fn a_restore_stopped_inside_a_batch_of_users_leaves_none_of_them() {
    let (source, work, out) = sample_backed_up("batch-signal");
    let target = Install::empty();
    let mut args: Vec<std::ffi::OsString> = vec!["restore".into()];
    args.extend(target.args());
    args.extend(["--restore".into(), out.clone().into_os_string()]);
    let users = "SELECT count(*) FROM users_index";

    let (output, during) = signalled(
        &refs(&args),
        "restore-batch-written",
        libc::SIGTERM,
        work.path(),
        || target.count(users),
    );
    assert_eq!(output.status.code(), Some(143), "{}", text(&output));
    assert_eq!(during, 0, "another session saw the batch before its commit");
    assert_eq!(target.count(users), 0, "{}", text(&output));
    assert_eq!(target.count("SELECT count(*) FROM events"), 0);

    let output = run(&refs(&args), work.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let (expected, restored) = (source.dump(), target.dump());
    for user in source.engine().users().unwrap() {
        assert_same(
            &user_rows(&expected, &user.user_id),
            &user_rows(&restored, &user.user_id),
        );
    }
}
