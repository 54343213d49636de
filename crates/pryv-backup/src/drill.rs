//! A restore drill: the backup restored into a throwaway SQLite-engine platform (with its
//! platform entries in a throwaway rqlite file), then removed. It proves the backup can be
//! restored, without any server:
//! - every file is checked against the manifests before its user is written (sizes,
//!   SHA-256, item counts, attachments present), as every restore does;
//! - every event and access integrity hash is checked as the core computes it, before each
//!   user is committed (`--verify-integrity`).
//!
//! A user that fails either check is named in the report, with the file or item at fault.
//! A user whose files check out but whose items the SQLite engine cannot hold is reported
//! apart, naming the engine: that is the drill's target's limit, not damage, and says
//! nothing of a restore into PostgreSQL (which the drill does not try).
//!
//! The scratch platform holds decrypted user data: it lives in a 0700 folder
//! `$TMPDIR/pryv-backup-drill-<pid>-<random>`, removed when the drill ends, fails or is
//! stopped by SIGINT/SIGTERM. A drill killed outright leaves it: the next drill removes the
//! scratch folders of drills whose process is gone.

use serde::Serialize;

use crate::chain::Chain;
use crate::engine::Composite;
use crate::engines::rqlite::RqlitePlatform;
use crate::engines::sqlite::SqliteEngine;
use crate::progress::Progress;
use crate::restore::{self, RestoreOptions, UserIssue};
use crate::{Error, Result};

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillReport {
    /// What the backup was restored into: the only engines the drill proves.
    pub target: String,
    /// Users of the backup (or of the state `--as-of` chose).
    pub users: usize,
    /// Users restored with every check passed.
    pub restored: usize,
    /// Users whose files or integrity hashes did not check out, with why.
    pub damaged: Vec<UserIssue>,
    /// Users whose files check out but whose items an engine of the drill's target cannot
    /// hold (each names the engine).
    pub engine_limits: Vec<UserIssue>,
    pub platform_entries: u64,
    /// Why the platform entries could not be restored, if they could not.
    pub platform_error: Option<String>,
}

impl DrillReport {
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
            && self.engine_limits.is_empty()
            && self.platform_error.is_none()
            && self.restored == self.users
    }
}

/// What a drill restores into, said in its report.
pub const TARGET: &str = "a scratch SQLite-engine platform (per-user SQLite files for base, \
     audit and series, attachments on disk, platform entries in an rqlite file); a restore \
     into PostgreSQL or InfluxDB is not tried";

/// Restores `chain` into a temporary platform with every check on, then removes it.
pub fn run(
    chain: &Chain,
    backup_dir: &std::path::Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<DrillReport> {
    let temp = std::env::temp_dir();
    remove_dead_drills_scratch(&temp);
    let scratch =
        crate::private_fs::temp_dir_in(&temp, &format!("{SCRATCH_PREFIX}{}-", std::process::id()))
            .map_err(|e| Error::io(&temp, e))?;
    let users_dir = scratch.path().join("users");
    crate::private_fs::create_dir(&users_dir).map_err(|e| Error::io(&users_dir, e))?;
    let platform = RqlitePlatform::sqlite_file(&scratch.path().join("platform.sqlite"));
    let engine = Composite {
        base: Box::new(SqliteEngine::open_with_fs_attachments(&users_dir)?),
        audit: None,
        series: None,
        platform: Some(Box::new(platform)),
    };
    let report = restore::run(
        &engine,
        chain,
        backup_dir,
        &RestoreOptions {
            verify_integrity: true,
            jobs,
            ..Default::default()
        },
        progress,
    )?;
    // Tests stop the drill here, its platform restored, to see it removed on the way out.
    crate::interrupt::pause_point("drill-restored");
    crate::interrupt::check()?;
    let (engine_limits, damaged) = report
        .failed
        .into_iter()
        .chain(report.rolled_back)
        .chain(report.incomplete)
        .partition(|issue| issue.engine_limit.is_some());
    Ok(DrillReport {
        target: TARGET.to_string(),
        users: chain.users().len(),
        restored: report.restored.len(),
        damaged,
        engine_limits,
        platform_entries: report.platform_entries,
        platform_error: report.platform_error,
    })
    // `scratch` is removed here, with everything restored into it.
}

const SCRATCH_PREFIX: &str = "pryv-backup-drill-";

/// Removes the scratch folders (in `temp`) of drills whose process no longer runs: a drill
/// killed outright could not remove its own. Only this account's folders are looked at.
fn remove_dead_drills_scratch(temp: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me || process_runs(pid) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!(
                "removed {}, left by a drill that was killed",
                entry.path().display()
            ),
            Err(e) => tracing::warn!("could not remove {}: {e}", entry.path().display()),
        }
    }
}

/// Whether a process with this id exists (a signal 0 probes without sending anything).
fn process_runs(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
