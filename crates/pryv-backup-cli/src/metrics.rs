//! `--metrics-file`: the outcome of a run in the Prometheus text format, for node_exporter's
//! textfile collector. Every metric is defined once below, with one HELP text and TYPE for
//! all commands: node_exporter reads every file of its folder as one scrape and rejects it
//! when two files describe a name differently. The `command` label tells the commands
//! apart; labels never hold a secret.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

const PREFIX: &str = "pryv_backup_";
/// Each value is the last run's, so every metric is a gauge.
const TYPE: &str = "gauge";
/// The file holds no secret and node_exporter runs as another user: readable by all,
/// whatever the umask of the run.
const MODE: u32 = 0o644;

/// One metric: its name (without the prefix) and its help text.
pub struct Metric {
    name: &'static str,
    help: &'static str,
}

pub const LAST_RUN: Metric = Metric {
    name: "last_run_timestamp_seconds",
    help: "When the last run ended (Unix time).",
};
pub const DURATION: Metric = Metric {
    name: "duration_seconds",
    help: "How long the last run took.",
};
pub const EXIT_STATUS: Metric = Metric {
    name: "exit_status",
    help: "The last run's exit code: 0 success, 1 error, 2 bad usage, 3 partial, 11 locked, 12 wrong secret, 130/143 stopped by SIGINT/SIGTERM.",
};
pub const LAST_SUCCESS: Metric = Metric {
    name: "last_success_timestamp_seconds",
    help: "When a run last succeeded (Unix time).",
};
pub const USERS: Metric = Metric {
    name: "users",
    help: "Users the last run handled: backed up (backup), restored (restore), restored and \
           checked (drill), checked (verify) or merged (consolidate).",
};
pub const FAILED_USERS: Metric = Metric {
    name: "failed_users",
    help: "Users the last run could not back up (backup: their data could not be read), did \
           not restore (restore: failed, rolled back, skipped or incomplete) or found damaged \
           (drill).",
};
pub const ITEMS: Metric = Metric {
    name: "items",
    help: "Items the last run backed up (backup), checked (verify) or merged (consolidate).",
};
pub const ATTACHMENTS: Metric = Metric {
    name: "attachments",
    help: "Attachment files in the last run's backup.",
};
pub const BYTES: Metric = Metric {
    name: "bytes",
    help: "Bytes of the users' files in the last run's backup.",
};
pub const LEFT_OUT_USERS: Metric = Metric {
    name: "left_out_users",
    help: "Users listed when the last run started and left out of its backup (deleted meanwhile).",
};
pub const MISSING_ATTACHMENTS: Metric = Metric {
    name: "missing_attachments",
    help: "Attachments listed by events but gone from the store during the last run.",
};
pub const FILES: Metric = Metric {
    name: "files",
    help: "Files the last run checked.",
};
pub const PROBLEMS: Metric = Metric {
    name: "problems",
    help: "Files or folders the last run found damaged.",
};
pub const KEPT: Metric = Metric {
    name: "kept",
    help: "Backups (generations) the last prune kept.",
};
pub const REMOVED: Metric = Metric {
    name: "removed",
    help: "Backups (generations) the last prune removed, or would remove in a dry run.",
};

pub const FORGOTTEN_BACKUPS: Metric = Metric {
    name: "forgotten_backups",
    help: "Backups the last forget removed users from, or would in a dry run.",
};

pub const SOURCE_ENGINE_TRIED: Metric = Metric {
    name: "source_engine_tried",
    help: "1 when the last drill restored into the backup's own engine, 0 when it could not \
           (no PostgreSQL binaries, say) and restored into SQLite instead: the files and \
           hashes were checked, the source's engine was not.",
};

/// Every metric, in the order a file lists them.
const ALL: [&Metric; 17] = [
    &LAST_RUN,
    &DURATION,
    &EXIT_STATUS,
    &LAST_SUCCESS,
    &USERS,
    &FAILED_USERS,
    &ITEMS,
    &ATTACHMENTS,
    &BYTES,
    &LEFT_OUT_USERS,
    &MISSING_ATTACHMENTS,
    &FILES,
    &PROBLEMS,
    &KEPT,
    &REMOVED,
    &FORGOTTEN_BACKUPS,
    &SOURCE_ENGINE_TRIED,
];

/// What a command measured.
#[derive(Default)]
pub struct Metrics {
    values: Vec<(&'static str, f64)>,
}

impl Metrics {
    pub fn set(&mut self, metric: &'static Metric, value: f64) {
        self.values.retain(|(name, _)| *name != metric.name);
        self.values.push((metric.name, value));
    }

    fn get(&self, metric: &Metric) -> Option<f64> {
        self.values
            .iter()
            .find(|(name, _)| *name == metric.name)
            .map(|(_, value)| *value)
    }
}

/// One run: which command, on which backup location, since when.
pub struct Run {
    pub command: String,
    pub location: String,
    pub started: Instant,
}

/// Writes the metrics of a run that ended with `exit_code`. The last success time is kept
/// from the previous file when this run failed, so an alert can say how long ago the last
/// good backup was.
pub fn write(path: &Path, run: &Run, exit_code: u8, measured: &Metrics) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut all = Metrics::default();
    all.set(&LAST_RUN, now);
    all.set(&DURATION, run.started.elapsed().as_secs_f64());
    all.set(&EXIT_STATUS, f64::from(exit_code));
    let last_success = if exit_code == 0 {
        Some(now)
    } else {
        previous_success(path)
    };
    if let Some(t) = last_success {
        all.set(&LAST_SUCCESS, t);
    }
    for (name, value) in &measured.values {
        all.values.push((name, *value));
    }

    let labels = format!(
        "command=\"{}\",location=\"{}\"",
        escape(&run.command),
        escape(&run.location)
    );
    let mut text = String::new();
    for metric in ALL {
        if let Some(value) = all.get(metric) {
            let name = metric.name;
            let _ = writeln!(text, "# HELP {PREFIX}{name} {}", metric.help);
            let _ = writeln!(text, "# TYPE {PREFIX}{name} {TYPE}");
            let _ = writeln!(text, "{PREFIX}{name}{{{labels}}} {value}");
        }
    }
    replace_file(path, text.as_bytes())
        .with_context(|| format!("cannot write the metrics file {}", path.display()))
}

/// Writes a temporary file beside `path` and renames it over `path`, so the collector
/// never reads half a file.
fn replace_file(path: &Path, content: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> Result<()> {
        let mut file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        // The umask applies at creation: the mode is set after it.
        file.set_permissions(std::fs::Permissions::from_mode(MODE))
            .with_context(|| format!("setting the mode of {}", tmp.display()))?;
        file.write_all(content)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The last success time the previous file holds, if any.
fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{PREFIX}{}{{", LAST_SUCCESS.name)))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_metric_name_is_defined_once() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a metric name is defined twice");
    }
}
