//! The shipped systemd units, as operators install them: `systemd-analyze verify` accepts
//! each (with the binary at the path the units name replaced by this build), and the drill
//! unit's way of naming its backup (the folder of monthly backups) drills the newest
//! complete backup by the backups' records, whatever the folder names.

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;

fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/systemd")
}

#[test]
fn systemd_analyze_verify_accepts_every_unit() {
    let Ok(probe) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    assert!(probe.status.success());
    let work = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo::cargo_bin("pryv-backup");
    let mut units = Vec::new();
    for entry in std::fs::read_dir(units_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".service") || name.ends_with(".timer")) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/local/bin/pryv-backup", &binary.to_string_lossy());
        std::fs::write(work.path().join(&name), text).unwrap();
        units.push(work.path().join(&name));
    }
    assert!(units.len() >= 7, "{units:?}");
    for unit in &units {
        let output = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(unit)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Unknown keys and bad values are only warnings (exit 0): any line fails the test.
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| !l.contains("pryv-backup-failure@.service") || !l.contains("instance"))
            .collect();
        assert!(
            output.status.success() && said.is_empty(),
            "{}: {stderr}",
            unit.display()
        );
    }
}

/// The drill unit passes `$PRYV_BACKUP_ROOT`: a `lost+found`, an unfinished month, and a
/// month whose name sorts last but whose backup is older are passed over.
#[test]
fn the_drill_of_a_folder_of_backups_takes_the_newest_complete_one() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("pryv");
    backup(&source, &root.join("2026-12"), &[]);
    backup(&source, &root.join("2026-11"), &[]);
    std::fs::create_dir_all(root.join("lost+found")).unwrap();
    std::fs::create_dir_all(root.join("zz-unfinished/users")).unwrap();
    std::fs::write(root.join("zz-unfinished/.pryv-backup-in-progress"), b"").unwrap();

    let output = run(&["drill".as_ref(), root.as_os_str(), "--json".as_ref()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = stdout_json(&output);
    assert_eq!(
        report["backup"].as_str(),
        Some(root.join("2026-11").to_str().unwrap()),
        "{report:#}"
    );
    assert_eq!(report["ok"], true, "{report:#}");

    let said = text(&run(&["drill".as_ref(), root.as_os_str()]));
    assert!(
        said.contains(&format!(
            "drilling {}, the newest complete backup in {}",
            root.join("2026-11").display(),
            root.display()
        )),
        "{said}"
    );
}
