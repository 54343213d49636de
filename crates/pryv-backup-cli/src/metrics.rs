//! `--metrics-file`: the outcome of a run in the Prometheus text format, for node_exporter's
//! textfile collector. Written atomically (a temporary file renamed over the old one), so
//! the collector never reads half a file. Labels name the command and the backup location,
//! never a secret.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

const PREFIX: &str = "pryv_backup_";
const LAST_SUCCESS: &str = "last_success_timestamp_seconds";

/// What a command measured, by metric name (without the prefix) and help text.
#[derive(Default)]
pub struct Metrics {
    values: Vec<(&'static str, &'static str, f64)>,
}

impl Metrics {
    pub fn set(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.values.push((name, help, value));
    }
}

/// One run: which command, on which backup location, since when.
pub struct Run {
    pub command: &'static str,
    pub location: String,
    pub started: Instant,
}

/// Writes the metrics of a run that ended with `exit_code`. The last success time is kept
/// from the previous file when this run failed, so an alert can say how long ago the last
/// good backup was.
pub fn write(path: &Path, run: &Run, exit_code: u8, metrics: &Metrics) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let last_success = if exit_code == 0 {
        Some(now)
    } else {
        previous_success(path)
    };
    let labels = format!(
        "command=\"{}\",location=\"{}\"",
        escape(run.command),
        escape(&run.location)
    );
    let mut all: Vec<(&str, &str, f64)> = vec![
        (
            "last_run_timestamp_seconds",
            "When the last run ended (Unix time).",
            now,
        ),
        (
            "duration_seconds",
            "How long the last run took.",
            run.started.elapsed().as_secs_f64(),
        ),
        (
            "exit_status",
            "The last run's exit code: 0 success, 1 error, 2 bad usage, 3 partial.",
            f64::from(exit_code),
        ),
    ];
    if let Some(t) = last_success {
        all.push((LAST_SUCCESS, "When a run last succeeded (Unix time).", t));
    }
    all.extend(metrics.values.iter().copied());

    let mut text = String::new();
    for (name, help, value) in all {
        let _ = writeln!(text, "# HELP {PREFIX}{name} {help}");
        let _ = writeln!(text, "# TYPE {PREFIX}{name} gauge");
        let _ = writeln!(text, "{PREFIX}{name}{{{labels}}} {value}");
    }
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The last success time the previous file holds, if any.
fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{PREFIX}{LAST_SUCCESS}{{")))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
