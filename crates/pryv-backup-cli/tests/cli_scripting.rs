//! pryv-backup in scripts and timers (issue 32): the backup location from
//! PRYV_BACKUP_REPOSITORY, the passphrase from a command, `--quiet`, the exit codes for "no
//! backup there" (10) and "nothing to do" (4, see cli_forget), `backup --dry-run`, and the
//! phases a run names on a stderr that is no terminal.

mod cli_support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use cli_support::*;

const REPOSITORY_ENV: &str = "PRYV_BACKUP_REPOSITORY";
const COMMAND_ENV: &str = "PRYV_BACKUP_PASSPHRASE_COMMAND";
/// The reference archive's passphrase (tests/fixtures/reference-archives/README.md).
const REFERENCE_PASSPHRASE: &str = "correct horse battery staple";

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The location commands, each with what it needs besides its location.
const LOCATION_COMMANDS: [&str; 10] = [
    "backup",
    "restore",
    "inspect",
    "list",
    "verify",
    "drill",
    "prune",
    "forget",
    "consolidate",
    "decrypt",
];

#[test]
fn the_backup_location_comes_from_pryv_backup_repository_when_not_given() {
    for command in LOCATION_COMMANDS {
        let help = run(&[command.as_ref(), "--help".as_ref()]);
        assert_exit(&help, 0);
        assert!(
            stdout(&help).contains("[env: PRYV_BACKUP_REPOSITORY="),
            "{command} --help does not name {REPOSITORY_ENV}: {}",
            stdout(&help)
        );
    }
    let archive = reference_archives().join("full-gz");
    let inspect = cli()
        .env(REPOSITORY_ENV, &archive)
        .arg("inspect")
        .output()
        .unwrap();
    assert_exit(&inspect, 0);
    let alone = cli().arg("inspect").arg(&archive).output().unwrap();
    assert_eq!(inspect.stdout, alone.stdout, "{}", text(&inspect));
    // An argument wins over the environment.
    let given = cli()
        .env(REPOSITORY_ENV, "/nonexistent/pryv-backups")
        .arg("inspect")
        .arg(&archive)
        .output()
        .unwrap();
    assert_exit(&given, 0);
    assert_eq!(given.stdout, alone.stdout);
    let verify = cli()
        .env(REPOSITORY_ENV, &archive)
        .arg("verify")
        .output()
        .unwrap();
    assert_exit(&verify, 0);
    let list = cli()
        .env(REPOSITORY_ENV, reference_archives())
        .args(["--json", "list"])
        .output()
        .unwrap();
    assert_exit(&list, 0);
    assert_eq!(stdout_json(&list)["backups"].as_array().unwrap().len(), 5);

    // restore's -r (bin/backup.js's form) wins over the environment too; naming two backups
    // on the command line is bad usage, found before anything is read.
    let target = Install::empty();
    let restore = cli()
        .env(REPOSITORY_ENV, "/nonexistent/pryv-backups")
        .arg("restore")
        .args(target.args())
        .arg("-r")
        .arg(&archive)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_exit_saying(&restore, 0, "3 user(s) would be restored");
    let two = cli()
        .arg("restore")
        .arg(&archive)
        .arg("-r")
        .arg(reference_archives().join("full-plain"))
        .args(["--core-dir", "/nonexistent/core"])
        .output()
        .unwrap();
    assert_exit_saying(&two, 2, "two backups given");
}

#[test]
fn backup_takes_its_folder_as_an_argument_like_every_command_and_output_still_works() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let positional = work.path().join("positional");
    let by_flag = work.path().join("by-flag");
    let argument = cli()
        .arg("backup")
        .arg(&positional)
        .args(source.args())
        .output()
        .unwrap();
    assert_exit(&argument, 0);
    // bin/backup.js's --output wins over PRYV_BACKUP_REPOSITORY, as restore's -r does.
    let flag = cli()
        .env(REPOSITORY_ENV, work.path().join("from-env"))
        .arg("backup")
        .arg("--output")
        .arg(&by_flag)
        .args(source.args())
        .output()
        .unwrap();
    assert_exit(&flag, 0);
    assert!(!work.path().join("from-env").exists());
    for dir in [&positional, &by_flag] {
        let inspect = cli()
            .arg("--json")
            .arg("inspect")
            .arg(dir)
            .output()
            .unwrap();
        assert_exit(&inspect, 0);
        assert_eq!(stdout_json(&inspect)["userCount"], 4, "{}", text(&inspect));
    }
    let two = cli()
        .arg("backup")
        .arg(work.path().join("a"))
        .arg("--output")
        .arg(work.path().join("b"))
        .args(["--core-dir", "/nonexistent/core"])
        .output()
        .unwrap();
    assert_exit_saying(&two, 2, "two backups given");
    assert!(!work.path().join("a").exists() && !work.path().join("b").exists());
}

/// A script that writes how often it ran into `count`, then prints `passphrase`.
fn counting_command(work: &Path, passphrase: &str) -> String {
    let script = work.join("pass.sh");
    std::fs::write(
        &script,
        format!(
            "echo run >> '{}'\nprintf '%s\\n' '{passphrase}'\n",
            work.join("count").display()
        ),
    )
    .unwrap();
    format!("sh '{}'", script.display())
}

fn runs(work: &Path) -> usize {
    std::fs::read_to_string(work.join("count"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn the_passphrase_comes_from_a_command_run_once_and_never_shown() {
    let work = tempfile::tempdir().unwrap();
    let archive = reference_archives().join("encrypted-passphrase");
    let verify = |extra: &[&OsStr], env: &[(&str, &str)]| {
        let mut command = cli();
        command.arg("verify").arg(&archive).args(extra);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let good = counting_command(work.path(), REFERENCE_PASSPHRASE);
    assert_exit(
        &verify(&["--passphrase-command".as_ref(), good.as_ref()], &[]),
        0,
    );
    assert_eq!(runs(work.path()), 1);
    assert_exit(&verify(&[], &[(COMMAND_ENV, &good)]), 0);
    // The command wins over PRYV_BACKUP_PASSPHRASE; a passphrase file over the command.
    assert_exit(
        &verify(
            &[],
            &[(COMMAND_ENV, &good), ("PRYV_BACKUP_PASSPHRASE", "wrong")],
        ),
        0,
    );
    let pass_file = work.path().join("pass");
    std::fs::write(&pass_file, REFERENCE_PASSPHRASE).unwrap();
    std::fs::set_permissions(
        &pass_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    assert_exit(
        &verify(
            &[
                "--decrypt-passphrase-file".as_ref(),
                pass_file.as_os_str(),
                "--passphrase-command".as_ref(),
                "exit 9".as_ref(),
            ],
            &[],
        ),
        0,
    );

    // A wrong passphrase from the command is a wrong secret (12), not shown.
    let wrong = verify(
        &[
            "--passphrase-command".as_ref(),
            "echo not-the-Pa55phrase".as_ref(),
        ],
        &[],
    );
    assert_exit(&wrong, 12);
    assert!(
        !text(&wrong).contains("not-the-Pa55phrase"),
        "{}",
        text(&wrong)
    );

    // A command that fails: exit 1, its stderr shown, its exit status named, and whatever
    // it printed on stdout never.
    let failed = verify(
        &[
            "--passphrase-command".as_ref(),
            "echo half-a-Secret; echo 'vault sealed' >&2; exit 3".as_ref(),
        ],
        &[],
    );
    assert_exit(&failed, 1);
    let said = stderr(&failed);
    assert!(said.contains("vault sealed"), "{said}");
    assert!(said.contains("exit status: 3"), "{said}");
    assert!(said.contains("--passphrase-command"), "{said}");
    assert!(
        !text(&failed).contains("half-a-Secret"),
        "{}",
        text(&failed)
    );
    let silent = verify(&["--passphrase-command".as_ref(), "true".as_ref()], &[]);
    assert_exit_saying(&silent, 1, "printed nothing");

    // The completion script and the manual page offer it.
    let bash = run(&["completions".as_ref(), "bash".as_ref()]);
    assert!(stdout(&bash).contains("--passphrase-command"));
    let pages = work.path().join("man");
    assert_exit(
        &run(&["man".as_ref(), "--output-dir".as_ref(), pages.as_os_str()]),
        0,
    );
    let page = std::fs::read_to_string(pages.join("pryv-backup-verify.1")).unwrap();
    assert!(page.contains("passphrase\\-command"), "{page}");
}

#[test]
fn a_passphrase_command_encrypts_a_chain_and_runs_once_per_run() {
    let work = tempfile::tempdir().unwrap();
    let source = Install::sample();
    let out = work.path().join("sealed");
    let command = counting_command(work.path(), "a passphrase from a vault");
    backup(&source, &out, &["--passphrase-command", &command]);
    assert_eq!(runs(work.path()), 1);
    assert!(out.join("encryption.json").is_file());
    // An increment encrypts with it and opens the base with it: one run all the same.
    backup(
        &source,
        &out,
        &["--incremental", "--passphrase-command", &command],
    );
    assert_eq!(runs(work.path()), 2);
    let pass_file = work.path().join("pass");
    std::fs::write(&pass_file, "a passphrase from a vault").unwrap();
    let verify = cli()
        .arg("verify")
        .arg(&out)
        .arg("--decrypt-passphrase-file")
        .arg(&pass_file)
        .output()
        .unwrap();
    assert_exit(&verify, 0);
}

#[test]
fn quiet_leaves_the_report_and_drops_progress_and_information() {
    let (source, work, _) = sample_backed_up("first");
    let loud = run_backup(&source, &work.path().join("loud"), &[]);
    assert_exit(&loud, 0);
    assert!(stderr(&loud).contains("reading "), "{}", text(&loud));
    let quiet = cli()
        .arg("-q")
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(work.path().join("quiet"))
        .output()
        .unwrap();
    assert_exit(&quiet, 0);
    assert_eq!(stderr(&quiet), "", "--quiet printed on stderr");
    assert!(
        stdout(&quiet).contains("full backup of 4 user(s) written to"),
        "{}",
        text(&quiet)
    );
    let restore = cli()
        .arg("restore")
        .arg("--quiet")
        .args(Install::empty().args())
        .arg(work.path().join("quiet"))
        .output()
        .unwrap();
    assert_exit(&restore, 0);
    assert_eq!(stderr(&restore), "", "--quiet printed on stderr");
    assert!(
        stdout(&restore).contains("restored: 4"),
        "{}",
        text(&restore)
    );
    // -q and -v contradict each other: bad usage, nothing read.
    let both = run(&[
        "-q".as_ref(),
        "-v".as_ref(),
        "inspect".as_ref(),
        "/x".as_ref(),
    ]);
    assert_exit_saying(&both, 2, "cannot be used with");
}

#[test]
fn no_backup_at_the_location_is_exit_10() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = work.path().join("missing");
    let out = work.path().join("out");
    let empty_s = empty.to_str().unwrap();
    let missing_s = missing.to_str().unwrap();
    let out_s = out.to_str().unwrap();
    // Commands that read one backup: none in an empty or missing folder.
    for (location, saying) in [
        (empty_s, "holds no complete backup"),
        (missing_s, "no such folder"),
    ] {
        for args in [
            vec!["inspect", location],
            vec!["verify", location],
            vec!["drill", location],
            vec!["decrypt", location, "--out", out_s],
            vec!["consolidate", location, "--output", out_s],
            vec!["restore", location, "--core-dir", missing_s],
        ] {
            let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            let output = run(&args);
            assert_exit_saying(&output, 10, saying);
        }
    }
    // Commands over a folder of backups: a missing folder is 10, an empty one is fine.
    for args in [
        vec!["list"],
        vec!["prune", "--keep-last", "1"],
        vec!["forget", "--user", "bob"],
    ] {
        let with = |location: &str| {
            let mut all: Vec<&OsStr> = vec![OsStr::new(args[0]), OsStr::new(location)];
            all.extend(args[1..].iter().map(OsStr::new));
            run(&all)
        };
        assert_exit_saying(&with(missing_s), 10, "does not exist");
        let code = if args[0] == "forget" { 4 } else { 0 };
        assert_exit(&with(empty_s), code);
    }
    // A folder of backups given where one backup is read: said so, exit 1.
    let folder = run(&["verify".as_ref(), reference_archives().as_os_str()]);
    assert_exit_saying(&folder, 1, "is a folder of backups");
    assert!(!missing.exists() && !out.exists());
}

/// Every file under `dir` and beside it (locks are written beside a backup folder).
fn everything_around(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files(dir.parent().unwrap())
}

#[test]
fn backup_dry_run_says_what_it_would_do_and_writes_nothing() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let new = work.path().join("2026-11");
    let dry = run_backup(&source, &new, &["--dry-run"]);
    assert_exit(&dry, 0);
    assert!(!new.exists(), "a dry run created {}", new.display());
    assert_eq!(
        files(work.path()),
        Vec::new(),
        "a dry run wrote beside the output"
    );
    let said = stdout(&dry);
    assert!(
        said.contains(&format!(
            "dry run, nothing was written: a full backup would be written to {} (not encrypted)",
            new.display()
        )),
        "{said}"
    );
    assert!(said.contains("4 user(s) would be backed up"), "{said}");
    assert!(said.contains("- alice ("), "{said}");
    assert!(said.contains("install: "), "{said}");

    // In an existing chain: the increment it would write, after which generation, sealed
    // as the chain is; nothing of the chain changes, byte for byte.
    backup(&source, &new, &[]);
    let before = everything_around(&new);
    let dry = cli()
        .arg("--json")
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&new)
        .args(["--incremental", "--dry-run", "--user", "alice"])
        .output()
        .unwrap();
    assert_exit(&dry, 0);
    assert!(
        everything_around(&new) == before,
        "a dry run changed the chain"
    );
    let report = stdout_json(&dry);
    assert_eq!(
        report["output"],
        new.join("increments/0001").to_str().unwrap()
    );
    assert_eq!(report["incrementOf"], new.to_str().unwrap());
    assert_eq!(report["follows"], "the base backup", "{report:#}");
    assert_eq!(report["encryption"], "none");
    assert_eq!(report["plan"]["incrementalUsers"], 1);
    assert_eq!(report["plan"]["users"][0]["username"], "alice");
    assert!(report["install"].is_object(), "{report:#}");

    // A plain backup into a folder holding one would be refused: so is its dry run.
    let again = run_backup(&source, &new, &["--dry-run"]);
    assert_exit_saying(&again, 1, "already holds a backup");
    assert!(everything_around(&new) == before);
}

#[test]
fn a_run_names_its_phases_in_order_on_a_stderr_that_is_no_terminal() {
    let (_source, _work, out) = sample_backed_up("phases");
    let backup_phases = run_backup(&_source, &_work.path().join("again"), &[]);
    assert_exit(&backup_phases, 0);
    assert_in_order(
        &stderr(&backup_phases),
        &[
            "listing the users…",
            "backing up the users…",
            "backing up the platform entries…",
            "writing the manifest…",
        ],
    );
    // Into an empty PostgreSQL database, the indexes are built after the load.
    let (_target, restored) = restore_into_new(&out, &[]);
    assert_exit(&restored, 0);
    let said = stderr(&restored);
    assert_in_order(
        &said,
        &[
            "restoring the users…",
            "restoring the platform entries…",
            "flushing the commits to disk…",
            "building the indexes…",
            "restored ",
        ],
    );
    let last = said.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("restored ") && last.contains(" items and ") && last.contains("items/s)"),
        "{said}"
    );
    // --json draws none of it.
    let (_target, json) = restore_into_new(&out, &["--json".as_ref()]);
    assert_exit(&json, 0);
    assert!(!stderr(&json).contains('…'), "{}", stderr(&json));
}

#[track_caller]
fn assert_in_order(text: &str, expected: &[&str]) {
    let mut from = 0;
    for e in expected {
        match text[from..].find(e) {
            Some(at) => from += at + e.len(),
            None => panic!("{e:?} not found (in this order) in:\n{text}"),
        }
    }
}
