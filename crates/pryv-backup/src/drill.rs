//! A restore drill: the backup restored into a throwaway platform of its source's engine,
//! then removed. It proves the backup can be restored:
//! - every file is checked against the manifests before its user is written (sizes,
//!   SHA-256, item counts, attachments present), as every restore does;
//! - every event and access integrity hash is checked as the core computes it, before each
//!   user is committed (`--verify-integrity`);
//! - every item goes into the engine the backup came from (its manifest's `config.engine`):
//!   a PostgreSQL install's backup into a private PostgreSQL server made for the drill
//!   ([`crate::scratch_postgres`]; base, audit, series, attachments and platform entries all
//!   in it), a SQLite install's into per-user SQLite files (attachments on disk, platform
//!   entries in an rqlite file).
//!
//! A user that fails either check is named in the report, with the file or item at fault.
//! When the source's engine cannot be had (no PostgreSQL binaries on this host, say), the
//! drill restores into SQLite instead and says why in `not_tried_because`: the files and
//! hashes are still checked, and a user whose items SQLite cannot hold (PostgreSQL keeps
//! event `tags`, SQLite has no column for them) is an engine limit, reported apart, never
//! damage. An engine limit of the source's own engine is a failure: the backup would not
//! restore where it came from.
//!
//! The scratch platform holds decrypted user data: it lives in a 0700 folder
//! `$TMPDIR/pryv-backup-drill-<pid>-<random>`, removed (its server stopped first) when the
//! drill ends, fails or is stopped by SIGINT/SIGTERM. A drill killed outright leaves the
//! folder (its server stops with it): the next drill removes the scratch folders of drills
//! whose process is gone.

use serde::Serialize;

use crate::chain::Chain;
use crate::engine::Composite;
use crate::engines::postgres::PgEngine;
use crate::engines::rqlite::RqlitePlatform;
use crate::engines::sqlite::SqliteEngine;
use crate::progress::Progress;
use crate::restore::{self, RestoreOptions, UserIssue};
use crate::scratch_postgres::ScratchPostgres;
use crate::{Error, Result};

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillReport {
    /// The engine the backup's manifest says it came from (`config.engine`), if it says.
    pub source_engine: Option<String>,
    /// The engine the backup was restored into: `PostgreSQL` or `SQLite`.
    pub engine: &'static str,
    /// What the backup was restored into, in words.
    pub target: String,
    /// Whether that is the source's engine.
    pub source_engine_tried: bool,
    /// Why the source's engine was not tried, when it was not.
    pub not_tried_because: Option<String>,
    /// Users of the backup (or of the state `--as-of` chose).
    pub users: usize,
    /// Users restored with every check passed.
    pub restored: usize,
    /// Users whose files or integrity hashes did not check out, with why.
    pub damaged: Vec<UserIssue>,
    /// Users whose files check out but whose items the drill's engine cannot hold (each
    /// names the engine).
    pub engine_limits: Vec<UserIssue>,
    pub platform_entries: u64,
    /// Why the platform entries could not be restored, if they could not.
    pub platform_error: Option<String>,
}

impl DrillReport {
    /// No damage found: every user restored, or (the source's engine not tried) met only
    /// the limits of the engine tried instead; the platform entries restored.
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
            && self.platform_error.is_none()
            && (self.engine_limits.is_empty() || !self.source_engine_tried)
            && self.restored + self.engine_limits.len() == self.users
    }
}

/// What a drill into PostgreSQL restores into, said in its report.
pub const POSTGRES_TARGET: &str = "a scratch PostgreSQL server of this host's own binaries \
     (base, audit, series, attachments and platform entries in one database), reached on a \
     Unix socket of the drill's private folder only";
/// What a drill into SQLite restores into.
pub const SQLITE_TARGET: &str = "a scratch SQLite-engine platform (per-user SQLite files for \
     base, audit and series, attachments on disk, platform entries in an rqlite file)";

/// How a drill runs.
#[derive(Clone, Debug, Default)]
pub struct DrillOptions {
    pub jobs: usize,
    /// The folder of PostgreSQL's `initdb` and `postgres` (found on PATH or under
    /// `/usr/lib/postgresql/*/bin` when `None`).
    pub postgres_bin: Option<std::path::PathBuf>,
}

/// Restores `chain` into a temporary platform of its source's engine with every check on,
/// then removes it.
pub fn run(
    chain: &Chain,
    backup_dir: &std::path::Path,
    options: &DrillOptions,
    progress: &dyn Progress,
) -> Result<DrillReport> {
    let temp = std::env::temp_dir();
    // A drill killed outright could not remove its own scratch (for root, also those it
    // handed to the account its scratch PostgreSQL servers run as).
    let also_mine = crate::private_fs::is_root()
        .then(crate::scratch_postgres::root_scratch_owner)
        .flatten();
    crate::private_fs::remove_dead_scratch(&temp, SCRATCH_PREFIX, also_mine, "a drill");
    // Dropped last: the server (below) stops before its folder is removed.
    let scratch =
        crate::private_fs::temp_dir_in(&temp, &format!("{SCRATCH_PREFIX}{}-", std::process::id()))
            .map_err(|e| Error::io(&temp, e))?;
    let source_engine = source_engine(chain);
    let mut not_tried_because = None;
    let mut server = None;
    match source_engine.as_deref() {
        Some("postgresql") => {
            match ScratchPostgres::start(scratch.path(), options.postgres_bin.as_deref()) {
                Ok(s) => server = Some(s),
                Err(why) => {
                    crate::interrupt::check()?;
                    not_tried_because = Some(why);
                }
            }
        }
        Some("sqlite") => {}
        Some(other) => {
            not_tried_because = Some(format!(
                "the backup comes from a `{other}` engine, which the drill cannot run"
            ))
        }
        None => {
            not_tried_because =
                Some("the backup does not say which engine it came from (config.engine)".into())
        }
    }
    let (engine, name, target): (Composite, _, _) = match &server {
        Some(server) => (
            Composite {
                base: Box::new(PgEngine::connect(&server.conn_str(), None)?),
                audit: None,
                series: None,
                platform: None,
            },
            "PostgreSQL",
            POSTGRES_TARGET,
        ),
        None => {
            let users_dir = scratch.path().join("users");
            crate::private_fs::create_dir(&users_dir).map_err(|e| Error::io(&users_dir, e))?;
            let platform = RqlitePlatform::sqlite_file(&scratch.path().join("platform.sqlite"));
            (
                Composite {
                    base: Box::new(SqliteEngine::open_with_fs_attachments(&users_dir)?),
                    audit: None,
                    series: None,
                    platform: Some(Box::new(platform)),
                },
                "SQLite",
                SQLITE_TARGET,
            )
        }
    };
    let report = restore::run(
        &engine,
        chain,
        backup_dir,
        &RestoreOptions {
            verify_integrity: true,
            jobs: options.jobs,
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
        source_engine,
        engine: name,
        target: target.to_string(),
        source_engine_tried: not_tried_because.is_none(),
        not_tried_because,
        users: chain.users().len(),
        restored: report.restored.len(),
        damaged,
        engine_limits,
        platform_entries: report.platform_entries,
        platform_error: report.platform_error,
    })
    // The engine's connections close, the server stops, then `scratch` is removed.
}

/// The engine the newest generation's manifest names (`config.engine`).
fn source_engine(chain: &Chain) -> Option<String> {
    let newest = chain.generation_count().checked_sub(1)?;
    chain
        .generation_manifest(newest)?
        .config
        .get("engine")?
        .as_str()
        .map(str::to_string)
}

const SCRATCH_PREFIX: &str = "pryv-backup-drill-";
