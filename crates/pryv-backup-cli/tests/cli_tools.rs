//! inspect, verify, decrypt, demo and the command line itself (help, usage errors), on the
//! archives open-pryv.io wrote and on ours. No database needed.

mod cli_support;

use std::path::Path;

use cli_support::*;

const FIXTURE_PASSPHRASE: &str = "correct horse battery staple";

/// Flips a byte in the middle of the first events chunk of the first user, returning its path.
fn damage_a_chunk(backup: &Path) -> std::path::PathBuf {
    let chunk = files(&backup.join("users"))
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| p.to_string_lossy().contains("/events/"))
        .unwrap_or_else(|| panic!("no events chunk in {}", backup.display()));
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&chunk, bytes).unwrap();
    chunk
}

#[test]
fn inspect_and_verify_a_reference_archive_and_catch_a_damaged_chunk() {
    let fixture = reference_archives().join("full-gz");
    let output = run(&["inspect".as_ref(), fixture.as_os_str()]);
    assert_exit_saying(&output, 0, "alice (cjx1alicexyz0001)");

    let output = run(&["inspect".as_ref(), "--json".as_ref(), fixture.as_os_str()]);
    let summary = stdout_json(&output);
    assert_eq!(summary["userCount"], 3);
    assert_eq!(summary["totals"]["events"], 448);

    let output = run(&["verify".as_ref(), fixture.as_os_str(), "--json".as_ref()]);
    assert_exit(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(report["ok"], true);
    assert_eq!(report["users"], 3);

    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("full-gz");
    copy_tree(&fixture, &copy);
    let damaged = damage_a_chunk(&copy);
    let output = run(&["verify".as_ref(), copy.as_os_str()]);
    assert_exit(&output, 1);
    let name = damaged.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        text(&output).contains(&name) && text(&output).contains("DAMAGED"),
        "{}",
        text(&output)
    );
}

#[test]
fn decrypt_a_reference_archive_then_verify_the_plaintext_copy() {
    let fixture = reference_archives().join("encrypted-passphrase");
    let work = tempfile::tempdir().unwrap();
    let pass = work.path().join("pass");
    std::fs::write(&pass, FIXTURE_PASSPHRASE).unwrap();
    let plain = work.path().join("plain");

    let output = run(&[
        "inspect".as_ref(),
        fixture.as_os_str(),
        "--decrypt-passphrase-file".as_ref(),
        pass.as_os_str(),
    ]);
    assert_exit_saying(&output, 0, "users:           3");

    let output = run(&[
        "decrypt".as_ref(),
        fixture.as_os_str(),
        "--out".as_ref(),
        plain.as_os_str(),
        "--decrypt-passphrase-file".as_ref(),
        pass.as_os_str(),
    ]);
    assert_exit(&output, 0);
    assert!(!plain.join("encryption.json").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["formatVersion"], 1);
    let output = run(&["verify".as_ref(), plain.as_os_str()]);
    assert_exit(&output, 0);
    // `--output`, as the other commands name it, works too.
    let again = work.path().join("plain-again");
    let output = run(&[
        "decrypt".as_ref(),
        fixture.as_os_str(),
        "--output".as_ref(),
        again.as_os_str(),
        "--decrypt-passphrase-file".as_ref(),
        pass.as_os_str(),
    ]);
    assert_exit(&output, 0);
    assert!(again.join("manifest.json").is_file());

    // The hybrid fixture opens with the recipient's private key.
    let hybrid = reference_archives().join("encrypted-hybrid");
    let key = reference_archives().join("keys/recipient.key.pem");
    let output = run(&[
        "verify".as_ref(),
        hybrid.as_os_str(),
        "--private-key".as_ref(),
        key.as_os_str(),
    ]);
    assert_exit(&output, 0);

    // A wrong passphrase says so and exits 12 (wrong secret).
    let wrong = work.path().join("wrong");
    std::fs::write(&wrong, "Tr0ub4dor&3").unwrap();
    let output = run(&[
        "verify".as_ref(),
        fixture.as_os_str(),
        "--decrypt-passphrase-file".as_ref(),
        wrong.as_os_str(),
    ]);
    assert_exit(&output, 12);
    assert!(
        text(&output).to_lowercase().contains("passphrase"),
        "{}",
        text(&output)
    );

    // Decrypting a plaintext backup is a clear error.
    let output = run(&[
        "decrypt".as_ref(),
        plain.as_os_str(),
        "--out".as_ref(),
        work.path().join("again").as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("not encrypted"), "{}", text(&output));
}

#[test]
fn demo_reports_identical_and_its_backup_inspects_and_verifies() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("demo");
    let output = run(&["demo".as_ref(), "--dir".as_ref(), dir.as_os_str()]);
    assert_exit(&output, 0);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("identical"),
        "{}",
        text(&output)
    );

    let ours = dir.join("backup");
    let output = run(&["inspect".as_ref(), ours.as_os_str()]);
    assert_exit(&output, 0);
    assert!(
        text(&output).contains("pryv-backup"),
        "the writer is not named: {}",
        text(&output)
    );
    run(&["verify".as_ref(), ours.as_os_str()])
        .status
        .success()
        .then_some(())
        .expect("our backup verifies");

    damage_a_chunk(&ours);
    let output = run(&["verify".as_ref(), ours.as_os_str(), "--json".as_ref()]);
    assert_exit(&output, 1);
    let report = stdout_json(&output);
    assert_eq!(report["ok"], false);
    assert!(!report["problems"].as_array().unwrap().is_empty());
}

#[test]
fn help_documents_the_flags_and_usage_errors_exit_2() {
    let expectations: [(&str, &[&str]); 7] = [
        (
            "backup",
            &[
                "--output",
                "--incremental",
                "--user",
                "--include-ephemeral",
                "--no-compress",
                "--recipient-pubkey",
                "--encrypt-passphrase-file",
                "--config",
                "--core-dir",
                "--max-chunk-size",
            ],
        ),
        (
            "restore",
            &[
                "--restore",
                "--user",
                "--overwrite",
                "--skip-conflicts",
                "--verify-integrity",
                "--as-of",
                "--delete-on-success",
                "--move-on-success",
                "--private-key",
                "--decrypt-passphrase-file",
            ],
        ),
        (
            "inspect",
            &[
                "--private-key",
                "--decrypt-passphrase-file",
                "--json",
                "--as-of",
                "--user",
                "latestState",
                "Example",
            ],
        ),
        (
            "diff",
            &[
                "LOCATION[@GEN]",
                "--items",
                "--exit-code",
                "--private-key",
                "--json",
                "Example",
            ],
        ),
        (
            "verify",
            &["--private-key", "--decrypt-passphrase-file", "--json"],
        ),
        (
            "decrypt",
            &["--out", "--private-key", "--decrypt-passphrase-file"],
        ),
        ("demo", &["--dir"]),
    ];
    for (command, flags) in expectations {
        let output = run(&[command.as_ref(), "--help".as_ref()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command} --help: {}",
            text(&output)
        );
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in flags {
            assert!(
                help.contains(flag),
                "`{command} --help` does not mention {flag}:\n{help}"
            );
        }
    }
    let output = run(&["--help".as_ref()]);
    let help = String::from_utf8_lossy(&output.stdout);
    for word in [
        "backup",
        "restore",
        "inspect",
        "diff",
        "verify",
        "decrypt",
        "demo",
        "EXIT CODES",
        "PRYV_BACKUP_PASSPHRASE",
    ] {
        assert!(
            help.contains(word),
            "--help does not mention {word}:\n{help}"
        );
    }

    for args in [
        &["backup", "--output", "x", "--no-such-flag"][..],
        &["--no-such-flag"],
        &["frobnicate"],
        &["restore"],
    ] {
        let output = cli().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
    }
    // bin/backup.js's spelling reaches the same usage check.
    let output = cli()
        .args(["--output", "x", "--no-such-flag"])
        .output()
        .unwrap();
    assert_exit(&output, 2);
}

/// The samples of a metrics file, read by a Prometheus text-format parser: name → value,
/// with the labels of the first one.
fn metrics(
    path: &Path,
) -> (
    std::collections::HashMap<String, f64>,
    Vec<(String, String)>,
) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let labels = scrape.samples[0]
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let values = scrape
        .samples
        .into_iter()
        .map(|s| match s.value {
            prometheus_parse::Value::Gauge(v) => (s.metric, v),
            other => panic!("{} is not a gauge: {other:?}", s.metric),
        })
        .collect();
    (values, labels)
}

#[test]
fn metrics_file_reports_each_run_and_keeps_the_last_success() {
    let fixture = reference_archives().join("full-gz");
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("backup");
    copy_tree(&fixture, &copy);
    let prom = work.path().join("pryv-backup.prom");

    let output = run(&[
        "--metrics-file".as_ref(),
        prom.as_os_str(),
        "verify".as_ref(),
        copy.as_os_str(),
    ]);
    assert_exit(&output, 0);
    let (good, labels) = metrics(&prom);
    assert_eq!(good["pryv_backup_exit_status"], 0.0);
    assert!(good["pryv_backup_files"] > 0.0 && good["pryv_backup_items"] > 0.0);
    assert_eq!(good["pryv_backup_problems"], 0.0);
    let success = good["pryv_backup_last_success_timestamp_seconds"];
    assert!(success > 1.7e9, "{success}");
    assert!(
        labels.contains(&("command".into(), "verify".into())),
        "{labels:?}"
    );
    assert!(labels.contains(&("location".into(), copy.display().to_string())));

    damage_a_chunk(&copy);
    let output = run(&[
        "verify".as_ref(),
        copy.as_os_str(),
        "--metrics-file".as_ref(),
        prom.as_os_str(),
    ]);
    assert_exit(&output, 1);
    let (bad, _) = metrics(&prom);
    assert_eq!(bad["pryv_backup_exit_status"], 1.0);
    assert!(bad["pryv_backup_problems"] > 0.0);
    assert_eq!(bad["pryv_backup_last_success_timestamp_seconds"], success);
    assert!(bad["pryv_backup_last_run_timestamp_seconds"] >= success);
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn completions_and_man_page_come_from_the_command_line_definition() {
    let output = run(&["completions".as_ref(), "bash".as_ref()]);
    assert_exit(&output, 0);
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(
        script.contains("pryv-backup") && script.contains("--incremental"),
        "{script}"
    );
    let output = run(&["man".as_ref()]);
    assert_exit(&output, 0);
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(
        page.contains(".TH pryv-backup 1") && page.contains("restore"),
        "{page}"
    );
}

/// What bash's own completion offers after `words` (the last one being completed), with the
/// script `pryv-backup completions bash` prints loaded as an operator loads it.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("pryv-backup.bash");
    let output = run(&["completions".as_ref(), "bash".as_ref()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    std::fs::write(&script, &output.stdout).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let current = words.last().unwrap();
    let previous = words[words.len() - 2];
    let probe = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         $(complete -p pryv-backup | sed 's/.*-F \\([^ ]*\\) .*/\\1/') pryv-backup '{current}' '{previous}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_a_subcommands_flags_and_never_a_refused_one() {
    let restore = bash_completes(&["pryv-backup", "restore", "--"]);
    for flag in ["--as-of", "--verify-integrity", "--decrypt-passphrase-file"] {
        assert!(restore.iter().any(|f| f == flag), "{flag}: {restore:?}");
    }
    let backup = bash_completes(&["pryv-backup", "backup", "--incr"]);
    assert_eq!(backup, ["--incremental"]);
    for words in [
        &["pryv-backup", "backup", "--"][..],
        &["pryv-backup", "restore", "--"],
        &["pryv-backup", "verify", "x", "--"],
    ] {
        let offered = bash_completes(words);
        assert!(
            !offered
                .iter()
                .any(|f| f == "--encrypt-passphrase" || f == "--decrypt-passphrase"),
            "{words:?}: {offered:?}"
        );
    }
}

#[test]
fn every_command_has_a_manual_page_with_its_flags_and_the_shared_sections() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("man1");
    let output = run(&["man".as_ref(), "--output-dir".as_ref(), dir.as_os_str()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let page = |name: &str| {
        std::fs::read_to_string(dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"))
    };
    for (command, flags) in [
        (
            "restore",
            &["verify\\-integrity", "as\\-of", "skip\\-conflicts"][..],
        ),
        ("backup", &["incremental", "recipient\\-pubkey"]),
        ("prune", &["keep\\-daily", "yes"]),
        ("drill", &["decrypt\\-passphrase\\-file"]),
    ] {
        let text = page(&format!("pryv-backup-{command}"));
        assert!(
            text.contains(&format!(".TH pryv-backup-{command} 1")),
            "{text}"
        );
        for flag in flags.iter().chain(&["json", "metrics\\-file"]) {
            assert!(
                text.contains(&format!("\\-\\-{flag}")),
                "{command}: --{flag}\n{text}"
            );
        }
        for heading in ["CONFIGURATION", "SECRETS", "EXIT CODES"] {
            assert!(
                text.contains(&format!(".SH \"{heading}\"")),
                "{command}: {heading}"
            );
        }
        assert!(!text.contains("EXTRA"), "{text}");
    }
    // The top page names the per-command pages, which now exist.
    let top = page("pryv-backup");
    assert!(top.contains("pryv\\-backup\\-restore(1)"), "{top}");
}
