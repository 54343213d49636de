//! Mistakes an operator makes around the install's configuration and the report, and what
//! the binary answers (issue #15, rows 6, 7, 8 and 11). The configuration rules copied here
//! are the core's own (`@pryv/boiler`): `NODE_ENV` has no default, environment variables
//! name paths with `__`, `override-config.yml` beats them, and paths are the caller's.

mod cli_support;

use std::path::Path;

use cli_support::*;

#[test]
fn a_core_dir_that_is_not_an_install_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    // A folder that does not exist; one that exists but is no install (without --config, its
    // built-in defaults would name some other database).
    for (core_dir, why) in [
        (work.path().join("does/not/exist"), "no such directory"),
        (work.path().to_path_buf(), "no config/ folder"),
    ] {
        let output = cli()
            .args(["backup", "--core-dir"])
            .arg(&core_dir)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        assert_exit_saying(&output, 1, why);
        assert!(!out.exists(), "a backup was started");
    }
}

/// The core's service runs with `NODE_ENV=production` and reads
/// `config/production-config.yml`; environment variables such as
/// `storages__engines__postgresql__database` override it.
#[test]
fn node_env_and_environment_variables_are_read_as_the_core_reads_them() {
    let source = Install::sample();
    let config_dir = source.core_dir.path().join("config");
    let settings = std::fs::read_to_string(&source.config).unwrap();
    std::fs::write(
        config_dir.join("production-config.yml"),
        settings.replace(source.db.name(), "a-database-that-is-not-there"),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = |out: &Path, node_env: Option<&str>| {
        let mut cmd = cli();
        cmd.args(["--json", "backup", "--core-dir"])
            .arg(source.core_dir.path())
            .arg("--output")
            .arg(out)
            .env("storages__engines__postgresql__database", source.db.name());
        if let Some(env) = node_env {
            cmd.env("NODE_ENV", env);
        }
        cmd.output().unwrap()
    };

    let output = run(&work.path().join("production"), Some("production"));
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    let database = report["install"]["database"].as_str().unwrap();
    assert!(database.ends_with(source.db.name()), "{report:#}");
    assert_eq!(report["report"]["users"].as_array().unwrap().len(), 4);

    // Without NODE_ENV the core reads no environment file, and neither do we: the
    // operator is told which file was left out.
    let output = run(&work.path().join("unset"), None);
    assert!(
        text(&output).contains("NODE_ENV is not set")
            && text(&output).contains("production-config.yml"),
        "{}",
        text(&output)
    );
}

/// Attachments on the filesystem, under `<core-dir>/var-pryv/users` (the core's default),
/// with `--core-dir` given relative to the current directory.
#[test]
fn a_relative_core_dir_is_resolved_once() {
    let (_source, work, out) = sample_backed_up("backup");
    let attachments = |dir: &Path| {
        files(dir)
            .into_iter()
            .filter(|(p, _)| p.components().any(|c| c.as_os_str() == "attachments"))
            .count()
    };
    let source_attachments = attachments(&out.join("users"));
    assert!(source_attachments > 0);

    let target = Install::empty();
    let filesystem = work.path().join("filesystem.yml");
    std::fs::write(&filesystem, "storages:\n  file: { engine: filesystem }\n").unwrap();
    let parent = target.core_dir.path().parent().unwrap();
    let relative = target.core_dir.path().file_name().unwrap();
    let output = cli()
        .current_dir(parent)
        .arg("restore")
        .arg("--core-dir")
        .arg(relative)
        .arg("--config")
        .arg(&target.config)
        .arg("--config")
        .arg(&filesystem)
        .arg("--restore")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let users_dir = target.core_dir.path().join("var-pryv/users");
    assert_eq!(attachments(&users_dir), source_attachments);
    assert!(!target.core_dir.path().join(relative).exists());

    // The same install named by its absolute path finds them again.
    let again = work.path().join("again");
    let output = cli()
        .arg("--json")
        .arg("backup")
        .arg("--core-dir")
        .arg(target.core_dir.path())
        .arg("--config")
        .arg(&target.config)
        .arg("--config")
        .arg(&filesystem)
        .arg("--output")
        .arg(&again)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(
        report["report"]["attachments"].as_u64(),
        Some(source_attachments as u64),
        "{report:#}"
    );
    let dirs = report["install"]["dataDirs"].as_array().unwrap();
    assert!(
        dirs.iter()
            .any(|d| d.as_str() == Some(users_dir.to_str().unwrap())),
        "{report:#}"
    );
}

/// `pryv-backup inspect BIG | head`: the reader goes away before the report is written.
#[test]
fn a_report_into_a_closed_pipe_ends_quietly() {
    let (_source, _work, out) = sample_backed_up("backup");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // std's Command, since assert_cmd's captures stdout itself.
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"))
        .arg("inspect")
        .arg(&out)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// A bar of items, bytes and users is drawn on a terminal only: a run whose stderr is a
/// pipe or a file (cron, systemd, a script) gets plain lines, no bar.
#[test]
fn progress_is_quiet_when_stderr_is_not_a_terminal() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let output = run_backup(&source, &out, &[]);
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains(" items"),
        "{stderr}"
    );
}

/// One user whose data cannot be read (here its SQLite audit file, the core's default audit,
/// is not a database) does not stop the backup: the others are backed up, the user is named
/// (text and --json), counted in the metrics, left out of the manifest, exit 3.
#[test]
fn a_user_whose_data_cannot_be_read_is_left_out_and_the_others_backed_up() {
    let source = Install::sample();
    let data = testbed::data_dir();
    let users_dir = data.path().join("users");
    std::fs::create_dir_all(&users_dir).unwrap();
    let extra = source.core_dir.path().join("sqlite-audit.yml");
    std::fs::write(
        &extra,
        format!(
            "storages:\n  audit: {{ engine: sqlite }}\n  engines:\n    sqlite:\n      path: '{}'\n",
            users_dir.display()
        ),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let config = ["--config", extra.to_str().unwrap()];
    backup(&source, &work.path().join("all"), &config);
    let all = pryv_backup::archive::ArchiveReader::open(&work.path().join("all"), None)
        .unwrap()
        .manifest()
        .users
        .to_vec()
        .unwrap();
    assert!(all.len() > 1);
    let broken = &all[0];
    let dir =
        pryv_backup::engines::filesystem::user_local_dir(&users_dir, &broken.user_id).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("audit-1.0.0.sqlite"),
        b"not a database, not even close",
    )
    .unwrap();

    let out = work.path().join("partial");
    let prom = work.path().join("backup.prom");
    let mut args = config.to_vec();
    args.extend(["--json", "--metrics-file", prom.to_str().unwrap()]);
    let output = run_backup(&source, &out, &args);
    assert_exit(&output, 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("user {} ({})", broken.username, broken.user_id))
            && stderr.contains("audit-1.0.0.sqlite"),
        "{stderr}"
    );
    let json = stdout_json(&output);
    assert_eq!(
        json["report"]["failedUsers"][0]["userId"], broken.user_id,
        "{json}"
    );
    assert_eq!(
        json["report"]["users"].as_array().unwrap().len(),
        all.len() - 1
    );
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pryv_backup_failed_users{") && l.ends_with("} 1")),
        "{metrics}"
    );
    let reader = pryv_backup::archive::ArchiveReader::open(&out, None).unwrap();
    let listed: Vec<&str> = reader.manifest().users.ids().map(|(id, _)| id).collect();
    assert_eq!(listed.len(), all.len() - 1);
    assert!(!listed.contains(&broken.user_id.as_str()));
    assert!(!out.join("users").join(&broken.user_id).exists());
    cli().arg("verify").arg(&out).assert().code(0);
}
