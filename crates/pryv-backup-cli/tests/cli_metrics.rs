//! `--metrics-file` as node_exporter's textfile collector reads it (issue #31, point 3): the
//! files of several commands side by side in one folder form one scrape, so one name must
//! have one HELP text and TYPE in all of them; the files are readable whatever the umask;
//! every exit, a refused command line too, updates them; a path that cannot be written is
//! an error.

mod cli_support;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use cli_support::*;
use prometheus_parse::{LineInfo, Scrape, Value};

/// The samples of a scrape by metric name: each one's labels and value.
type Samples = HashMap<String, Vec<(HashMap<String, String>, f64)>>;

/// What node_exporter keeps of one metric name over all the files of its folder.
#[derive(Default)]
struct Family {
    help: BTreeSet<String>,
    types: BTreeSet<String>,
    label_names: BTreeSet<Vec<String>>,
    series: Vec<Vec<(String, String)>>,
}

/// Reads every `.prom` file of `dir` with a Prometheus text-format parser and merges them
/// as node_exporter's textfile collector does, failing where it rejects the scrape: a name
/// with two HELP texts or TYPEs, samples of one name with different label names, one
/// series in two files. Returns the samples by name, with their labels.
fn scrape_folder(dir: &Path) -> Samples {
    let mut families: HashMap<String, Family> = HashMap::new();
    let mut samples = Samples::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "prom") {
            continue;
        }
        let content = std::fs::read_to_string(&path).unwrap();
        for line in content.lines() {
            match LineInfo::parse(line) {
                LineInfo::Doc { metric_name, doc } => {
                    let family = families.entry(metric_name.to_string()).or_default();
                    family.help.insert(doc.to_string());
                }
                LineInfo::Type {
                    metric_name,
                    sample_type,
                    ..
                } => {
                    let family = families.entry(metric_name).or_default();
                    family.types.insert(format!("{sample_type:?}"));
                }
                _ => {}
            }
        }
        let scrape = Scrape::parse(content.lines().map(|l| Ok(l.to_string())))
            .unwrap_or_else(|e| panic!("{}: not the Prometheus text format: {e}", path.display()));
        for sample in scrape.samples {
            let Value::Gauge(value) = sample.value else {
                panic!("{}: {} is not a gauge", path.display(), sample.metric);
            };
            let mut labels: Vec<(String, String)> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.sort();
            let family = families.entry(sample.metric.clone()).or_default();
            family
                .label_names
                .insert(labels.iter().map(|(k, _)| k.clone()).collect());
            family.series.push(labels.clone());
            samples
                .entry(sample.metric)
                .or_default()
                .push((labels.into_iter().collect(), value));
        }
    }
    for (name, family) in &families {
        assert_eq!(family.help.len(), 1, "{name}: HELP texts {:?}", family.help);
        assert_eq!(family.types.len(), 1, "{name}: TYPEs {:?}", family.types);
        assert_eq!(
            family.label_names.len(),
            1,
            "{name}: label names {:?}",
            family.label_names
        );
        let distinct: BTreeSet<_> = family.series.iter().collect();
        assert_eq!(
            distinct.len(),
            family.series.len(),
            "{name}: one series in two files"
        );
    }
    samples
}

/// The value of `name` in the file written by `command`.
fn value(scrape: &Samples, name: &str, command: &str) -> Option<f64> {
    scrape
        .get(name)?
        .iter()
        .find(|(labels, _)| labels.get("command").map(String::as_str) == Some(command))
        .map(|(_, v)| *v)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The binary run under `umask 077`, as the shipped systemd units run it.
fn cli_under_umask_077(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("pryv-backup"))
        .args(args)
        .env_remove("NODE_ENV")
        .env_remove("PRYV_BACKUP_PASSPHRASE")
        .output()
        .unwrap()
}

/// `pryv-backup --metrics-file PROM COMMAND DIR`, whatever its outcome.
fn run_with_metrics(prom: impl AsRef<OsStr>, command: &str, dir: &Path) -> Output {
    cli()
        .arg("--metrics-file")
        .arg(prom)
        .arg(command)
        .arg(dir)
        .output()
        .unwrap()
}

fn backup_copy(work: &Path) -> PathBuf {
    let copy = work.join("backup");
    copy_tree(&reference_archives().join("full-gz"), &copy);
    copy
}

/// backup, drill and verify write `pryv_backup_users` with their own meaning; in one
/// folder, as node_exporter reads it, they form one consistent scrape.
#[test]
fn metrics_of_backup_drill_and_verify_in_one_folder_form_one_scrape() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let textfile = work.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    let out = work.path().join("backup");
    let prom = |name: &str| textfile.join(format!("pryv-backup-{name}.prom"));

    let backup_prom = prom("backup");
    backup(
        &source,
        &out,
        &["--metrics-file", backup_prom.to_str().unwrap()],
    );
    // The drill's own verdict does not matter here, only what it reports.
    run_with_metrics(prom("drill"), "drill", &out);
    let output = run_with_metrics(prom("verify"), "verify", &out);
    assert_exit(&output, 0);

    let scrape = scrape_folder(&textfile);
    for command in ["backup", "drill", "verify"] {
        assert!(
            value(&scrape, "pryv_backup_users", command).is_some(),
            "no pryv_backup_users from {command}"
        );
        assert!(value(&scrape, "pryv_backup_exit_status", command).is_some());
    }
    assert_eq!(value(&scrape, "pryv_backup_users", "backup"), Some(4.0));
    assert!(value(
        &scrape,
        "pryv_backup_last_success_timestamp_seconds",
        "backup"
    )
    .is_some());
}

/// Under `UMask=0077` node_exporter (another user) must still read the file.
#[test]
fn the_metrics_file_is_readable_by_others_under_umask_077() {
    let work = tempfile::tempdir().unwrap();
    let copy = backup_copy(work.path());
    let prom = work.path().join("pryv-backup.prom");
    for _ in 0..2 {
        // The first run creates the file, the second replaces it.
        let output = cli_under_umask_077(&[
            "--metrics-file".as_ref(),
            prom.as_os_str(),
            "verify".as_ref(),
            copy.as_os_str(),
        ]);
        assert_exit(&output, 0);
        assert_eq!(mode(&prom), 0o644, "mode of {}", prom.display());
    }
    // Nothing else is left beside it (the temporary file was renamed).
    let names: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// A refused command line (exit 2) is a failed run: the file says so, and keeps the last
/// success time.
#[test]
fn a_usage_error_updates_the_metrics_file() {
    let work = tempfile::tempdir().unwrap();
    let copy = backup_copy(work.path());
    let textfile = work.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    let prom = textfile.join("pryv-backup-verify.prom");
    let output = run_with_metrics(&prom, "verify", &copy);
    assert_exit(&output, 0);
    let before = scrape_folder(&textfile);
    let success = value(
        &before,
        "pryv_backup_last_success_timestamp_seconds",
        "verify",
    )
    .unwrap();

    // An unknown flag; a missing argument.
    let copy_arg = copy.to_str().unwrap();
    for bad in [&["verify", copy_arg, "--no-such-flag"][..], &["verify"][..]] {
        let output = cli()
            .arg(format!("--metrics-file={}", prom.display()))
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {}", text(&output));
        let after = scrape_folder(&textfile);
        assert_eq!(
            value(&after, "pryv_backup_exit_status", "verify"),
            Some(2.0),
            "{bad:?}"
        );
        assert_eq!(
            value(
                &after,
                "pryv_backup_last_success_timestamp_seconds",
                "verify"
            ),
            Some(success)
        );
    }
}

/// A metrics file that cannot be written would leave the alerts blind: the run fails,
/// naming the path.
#[test]
fn an_unwritable_metrics_path_is_an_error() {
    let work = tempfile::tempdir().unwrap();
    let copy = backup_copy(work.path());
    let prom = work.path().join("no-such-folder").join("pryv-backup.prom");
    let output = run_with_metrics(&prom, "verify", &copy);
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("metrics file {}", prom.display())),
        "{stderr}"
    );
}
