//! prune run as operators run it: a dedicated Unix user that may read the backups but not
//! write beside them (made `nobody` with setpriv when the tests run as root). A dry run works
//! with read access only; removing without write access, or backups it cannot read, are
//! errors (exit 1) that name each backup, never "being written" nor a silent exit 0.

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use cli_support::*;

/// `pryv-backup prune <root> --keep-last 1 [extra]` as a user that may not write in `root`:
/// `nobody` when the tests run as root, else the test's own user (then `root` is made 0555).
fn prune_without_write_access(root: &Path, extra: &[&str]) -> Output {
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let mut command = if as_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("pryv-backup"));
        c
    } else {
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o555)).unwrap();
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"))
    };
    command
        .env_remove("PRYV_BACKUP_PASSPHRASE")
        .env_remove("NODE_ENV")
        .arg("prune")
        .arg(root)
        .args(["--keep-last", "1"])
        .args(extra)
        .output()
        .unwrap()
}

/// Gives everyone read access to `path` and below (as a backup group would have).
fn readable_by_all(path: &Path) {
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Two dated backups of the sample install in `<work>/backups`.
fn two_backups() -> (tempfile::TempDir, std::path::PathBuf) {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backups");
    backup(&source, &root.join("2026-11"), &[]);
    backup(&source, &root.join("2026-12"), &[]);
    (work, root)
}

#[test]
fn a_dry_run_needs_read_access_only_and_removing_without_write_access_fails() {
    let (work, root) = two_backups();
    readable_by_all(work.path());

    let dry = prune_without_write_access(&root, &["--json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let report = stdout_json(&dry);
    assert_eq!(report["removed"].as_array().unwrap().len(), 1, "{report:#}");
    assert_eq!(report["kept"].as_array().unwrap().len(), 1, "{report:#}");
    assert!(
        report["skipped"].as_array().unwrap().is_empty(),
        "{report:#}"
    );

    let applied = prune_without_write_access(&root, &["--yes"]);
    assert_eq!(applied.status.code(), Some(1), "{}", text(&applied));
    let said = text(&applied);
    assert!(!said.contains("being written"), "{said}");
    assert!(said.contains("cannot take its lock"), "{said}");
    assert!(
        said.contains("2026-11") && said.contains("2026-12"),
        "{said}"
    );
    assert!(root.join("2026-11/manifest.json").is_file());
}

#[test]
fn backups_it_cannot_read_make_prune_fail() {
    let (work, root) = two_backups();
    // The folders can be listed, the backups' own files (0600, 0700) cannot be read.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();

    let dry = prune_without_write_access(&root, &[]);
    assert_eq!(dry.status.code(), Some(1), "{}", text(&dry));
    let said = text(&dry);
    assert!(
        said.contains("2026-11") && said.contains("2026-12"),
        "{said}"
    );
    assert!(!said.contains("being written"), "{said}");
}

/// A backup prune removes leaves no lock file beside the folder it was in.
#[test]
fn a_removed_backup_leaves_no_lock_file() {
    let (_work, root) = two_backups();
    let output = cli()
        .arg("prune")
        .arg(&root)
        .args(["--keep-last", "1", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(!root.join("2026-11").exists(), "{}", text(&output));
    assert!(root.join("2026-12/manifest.json").is_file());
    let left: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("2026-11"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
