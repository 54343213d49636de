//! The engines an install's configuration asks for, put together as one [`Engine`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{
    self, AuditEngine, BaseEngine, ConfigSources, FileEngine, InstallConfig, LayeredConfig,
    PlatformEngine, SeriesEngine,
};
use crate::engine::{AttachmentStore, CollectionStore, Composite, Engine, PlatformStore};
use crate::engines::filesystem::FsAttachments;
use crate::engines::influxdb::InfluxSeries;
use crate::engines::postgres::PgEngine;
use crate::engines::rqlite::{RqlitePlatform, DATA_DIR_DB};
use crate::engines::s3::S3Attachments;
use crate::engines::sqlite::{SqliteAudit, SqliteEngine};
use crate::{Error, Result};

/// Where to find the install's configuration (the same files the core reads).
#[derive(Clone, Debug, Default)]
pub struct InstallSources {
    /// The core's install directory, holding `config/`. A relative path is taken from the
    /// current directory, once.
    pub core_dir: PathBuf,
    pub node_env: Option<String>,
    pub files: Vec<PathBuf>,
    /// The process environment (only `a__b__c` names are read, as the core reads them).
    pub env: Vec<(String, String)>,
    pub overrides: Vec<(String, String)>,
}

/// The storages a run touches, as its report names them.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallTarget {
    /// `storages:base:engine`.
    pub engine: String,
    /// `postgresql://user@host:port/name`, when any storage is on PostgreSQL.
    pub database: Option<String>,
    pub data_dirs: Vec<PathBuf>,
    pub attachments: String,
    pub series: String,
    pub audit: String,
    pub platform: String,
}

impl std::fmt::Display for InstallTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} install", self.engine)?;
        if let Some(db) = &self.database {
            write!(f, ", database {db}")?;
        }
        let dirs: Vec<String> = self
            .data_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        write!(
            f,
            ", data dirs {}; attachments: {}, series: {}, audit: {}, platform: {}",
            dirs.join(", "),
            self.attachments,
            self.series,
            self.audit,
            self.platform
        )
    }
}

/// What the root of an unfinished backup folder may hold (one with a `manifest.json` is a
/// backup, and is the writer's and the chain's to judge).
const BACKUP_ROOT_NAMES: [&str; 5] = [
    "encryption.json",
    "users",
    "platform",
    "register",
    "increments",
];

pub struct Install {
    pub config: InstallConfig,
    /// The data directory of the install's rqlite node, read in its place because the node
    /// does not answer (see [`Install::reading_stopped_platform`]).
    stopped_platform: Option<PathBuf>,
}

/// Relative paths resolve against the current directory here, once, so that paths derived
/// from the install directory never get it twice.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

/// A core directory that does not exist, or holds no `config/` while no `--config` file
/// says where the settings are, would silently give the built-in defaults: refused.
fn check_core_dir(dir: &Path, has_config_files: bool) -> Result<()> {
    let reason = if !dir.is_dir() {
        "no such directory (give the core's install directory with --core-dir)"
    } else if !has_config_files && !dir.join("config").is_dir() {
        "it has no config/ folder (give the core's install directory with --core-dir, \
         or its configuration file with --config)"
    } else {
        return Ok(());
    };
    Err(config::ConfigError::NotAnInstall {
        dir: dir.to_path_buf(),
        reason: reason.to_string(),
    }
    .into())
}

impl Install {
    pub fn load(sources: &InstallSources) -> Result<Install> {
        let core_dir = absolute(&sources.core_dir)?;
        check_core_dir(&core_dir, !sources.files.is_empty())?;
        let files = sources
            .files
            .iter()
            .map(|f| absolute(f))
            .collect::<Result<Vec<_>>>()?;
        if let (Some(env), true) = (&sources.node_env, files.is_empty()) {
            let chosen = core_dir.join(format!("config/{env}-config.yml"));
            if !chosen.is_file() {
                tracing::warn!(
                    "NODE_ENV={env}, but there is no {}: only the built-in settings, \
                     default-config.yml, environment variables and override-config.yml are read \
                     (the core does the same): set NODE_ENV to the name the core runs with \
                     (production for production-config.yml), or give the file with --config",
                    chosen.display()
                );
            }
        }
        if sources.node_env.is_none() && files.is_empty() {
            let production = core_dir.join("config/production-config.yml");
            if production.is_file() {
                tracing::warn!(
                    "NODE_ENV is not set, so {} is not read (the core does not read it either \
                     without NODE_ENV): set NODE_ENV=production if the core runs with it",
                    production.display()
                );
            }
        }
        let layered = LayeredConfig::load(&ConfigSources {
            base_dir: Some(core_dir),
            node_env: sources.node_env.clone(),
            files,
            env: sources.env.clone(),
            overrides: sources.overrides.clone(),
        })?;
        Ok(Install {
            config: config::resolve(&layered)?,
            stopped_platform: None,
        })
    }

    /// For a backup: when the platform DB is rqlite and no node answers at its URL (the
    /// core's embedded rqlited stops with the core), the platform rows are read from the
    /// node's data directory instead, read-only. [`Install::target`] then says so.
    pub fn reading_stopped_platform(mut self) -> Result<Install> {
        let PlatformEngine::Rqlite(settings) = &self.config.platform else {
            return Ok(self);
        };
        if RqlitePlatform::node_answers(&settings.url) {
            return Ok(self);
        }
        if !settings.data_dir.join(DATA_DIR_DB).is_file() {
            return Err(Error::Other(format!(
                "cannot reach rqlite at {}, and its data directory {} holds no {DATA_DIR_DB} \
                 to read instead: start the core (or its rqlited), or check \
                 storages:engines:rqlite:url and storages:engines:rqlite:dataDir; nothing was written",
                settings.url,
                settings.data_dir.display()
            )));
        }
        self.stopped_platform = Some(settings.data_dir.clone());
        Ok(self)
    }

    /// The folders of the install's own data, as its configuration names them.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        let c = &self.config;
        let mut dirs = vec![c.user_root_dir.clone()];
        if let FileEngine::Filesystem { root } = &c.attachments {
            dirs.push(root.clone());
        }
        if let PlatformEngine::Rqlite(r) = &c.platform {
            dirs.push(r.data_dir.clone());
        }
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// What shows the install's core running, one finding per line, none when nothing
    /// does: other sessions connected to its PostgreSQL database, and other processes
    /// holding files of its data folders open (those this run can see). The rqlite node's
    /// data folder is left out: a restore into it needs the node running.
    pub fn core_activity(&self) -> Result<Vec<String>> {
        let c = &self.config;
        let mut found = Vec::new();
        if let Some(pg) = &c.postgres {
            let others =
                crate::engines::postgres::other_clients(&pg.connection_string()).map_err(|e| {
                    Error::Other(format!(
                        "cannot use the PostgreSQL database {} at {}:{} as user {} \
                         (storages:engines:postgresql:*): {e}",
                        pg.database, pg.host, pg.port, pg.user
                    ))
                })?;
            if !others.is_empty() {
                let sessions: Vec<String> = others
                    .iter()
                    .map(|o| {
                        let application = if o.application.is_empty() {
                            String::new()
                        } else {
                            format!("application {:?}, ", o.application)
                        };
                        format!(
                            "pid {} ({application}user {}, from {})",
                            o.pid, o.user, o.address
                        )
                    })
                    .collect();
                found.push(format!(
                    "{} other connection{} to the PostgreSQL database {}: {}",
                    others.len(),
                    if others.len() == 1 { "" } else { "s" },
                    pg.database,
                    sessions.join(", ")
                ));
            }
        }
        let rqlite_dir = match &c.platform {
            PlatformEngine::Rqlite(r) => vec![r.data_dir.clone()],
            PlatformEngine::Postgresql => Vec::new(),
        };
        let dirs: Vec<PathBuf> = self
            .data_dirs()
            .into_iter()
            .filter(|d| !rqlite_dir.contains(d))
            .collect();
        for holder in crate::open_files::holders_under(&dirs, &rqlite_dir) {
            let name = if holder.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", holder.name)
            };
            let first = holder.files[0].display();
            found.push(match holder.files.len() {
                1 => format!("process {}{name} holds {first} open", holder.pid),
                n => format!(
                    "process {}{name} holds {n} files of the install's data open, {first} among them",
                    holder.pid
                ),
            });
        }
        Ok(found)
    }

    /// Refuses a local backup output that lies inside the install's data (a restore's
    /// --delete-on-success would then delete live data) or holds it, or that is a folder
    /// with content other than a backup's.
    pub fn check_output(&self, output: &Path) -> Result<()> {
        let resolved = |p: &Path| crate::paths::resolve_missing(p).map_err(|e| Error::io(p, e));
        let out = resolved(output)?;
        for dir in self.data_dirs() {
            let data = resolved(&dir)?;
            if out.starts_with(&data) || data.starts_with(&out) {
                return Err(Error::Other(format!(
                    "--output {} overlaps the install's data folder {} (from its configuration): \
                     write backups outside the install",
                    output.display(),
                    dir.display()
                )));
            }
        }
        if output.join("manifest.json").is_file() {
            return Ok(());
        }
        if let Ok(entries) = std::fs::read_dir(output) {
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(output, e))?;
                let name = entry.file_name().to_string_lossy().to_string();
                if !BACKUP_ROOT_NAMES.contains(&name.as_str()) && !name.starts_with('.') {
                    return Err(Error::Other(format!(
                        "--output {} is a folder with other content ({name}): give an empty \
                         or new folder, or a previous backup with --incremental",
                        output.display()
                    )));
                }
            }
        }
        Ok(())
    }

    /// What a run is about to read or write, for the operator to check before it does: no
    /// secret in it.
    pub fn target(&self) -> InstallTarget {
        let c = &self.config;
        let database = c.postgres.as_ref().map(|pg| {
            format!(
                "postgresql://{}@{}:{}/{}",
                pg.user, pg.host, pg.port, pg.database
            )
        });
        let attachments = match &c.attachments {
            FileEngine::Filesystem { root } => format!("filesystem {}", root.display()),
            FileEngine::Postgresql => "postgresql".to_string(),
            FileEngine::S3(s3) => format!(
                "s3 bucket {} at {}",
                s3.bucket,
                s3.endpoint
                    .as_ref()
                    .map_or_else(|| "AWS".to_string(), ToString::to_string)
            ),
        };
        let series = match &c.series {
            SeriesEngine::Postgresql => "postgresql".to_string(),
            SeriesEngine::Sqlite => "sqlite (per user)".to_string(),
            SeriesEngine::Influxdb(i) => format!("influxdb {}:{}", i.host, i.port),
        };
        let audit = match c.audit {
            AuditEngine::Postgresql => "postgresql",
            AuditEngine::Sqlite => "sqlite (per user)",
        };
        let platform = match &c.platform {
            PlatformEngine::Postgresql => "postgresql".to_string(),
            PlatformEngine::Rqlite(r) => match &self.stopped_platform {
                Some(dir) => format!(
                    "rqlite data directory {} read directly and read-only (no node answers at {})",
                    dir.display(),
                    r.url
                ),
                None => format!("rqlite {}", r.url),
            },
        };
        InstallTarget {
            engine: self.engine_name(),
            database,
            data_dirs: self.data_dirs(),
            attachments,
            series,
            audit: audit.to_string(),
            platform,
        }
    }

    pub fn engine_name(&self) -> String {
        match self.config.base_engine {
            BaseEngine::Postgresql => "postgresql",
            BaseEngine::Sqlite => "sqlite",
        }
        .to_string()
    }

    pub fn domain(&self) -> String {
        self.config.domain.clone()
    }

    pub fn core_version(&self) -> String {
        self.config
            .core_version
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Connects to every storage the configuration names; an engine pryv-backup cannot
    /// reach yet is an error naming its configuration key.
    pub fn engine(&self) -> Result<Box<dyn Engine>> {
        let c = &self.config;
        let unsupported = |key: &str, value: &str| {
            Error::Other(format!(
                "{key} = {value} is not supported by this version of pryv-backup yet; \
                 nothing was read or written"
            ))
        };
        let attachment_store = || -> Result<Arc<dyn AttachmentStore>> {
            match &c.attachments {
                FileEngine::Filesystem { root } => Ok(Arc::new(FsAttachments::new(root.clone()))),
                FileEngine::S3(settings) => Ok(Arc::new(S3Attachments::connect(settings)?)),
                FileEngine::Postgresql => Err(unsupported(
                    "storages:file:engine",
                    "postgresql (with a sqlite base engine)",
                )),
            }
        };
        let platform: Option<Box<dyn PlatformStore>> = match (&c.platform, c.base_engine) {
            (PlatformEngine::Postgresql, BaseEngine::Postgresql) => None,
            (PlatformEngine::Postgresql, BaseEngine::Sqlite) => {
                return Err(Error::Other(
                    "storages:platform:engine = postgresql needs storages:base:engine = postgresql (as the core requires)".into(),
                ))
            }
            (PlatformEngine::Rqlite(settings), _) => Some(Box::new(match &self.stopped_platform {
                Some(dir) => RqlitePlatform::stopped_node(dir),
                None => RqlitePlatform::new(settings),
            })),
        };
        let influx = match &c.series {
            SeriesEngine::Influxdb(settings) => {
                Some(Box::new(InfluxSeries::new(settings)) as Box<dyn CollectionStore>)
            }
            _ => None,
        };
        let base: Box<dyn Engine> = match c.base_engine {
            BaseEngine::Postgresql => {
                let pg = c.postgres.as_ref().ok_or_else(|| {
                    Error::Other(
                        "storages:engines:postgresql is missing from the configuration".into(),
                    )
                })?;
                if c.series == SeriesEngine::Sqlite {
                    return Err(unsupported(
                        "storages:series:engine",
                        "sqlite (with a postgresql base engine)",
                    ));
                }
                let attachments = match c.attachments {
                    FileEngine::Postgresql => None,
                    _ => Some(attachment_store()?),
                };
                let engine =
                    PgEngine::connect(&pg.connection_string(), attachments).map_err(|e| {
                        Error::Other(format!(
                            "cannot use the PostgreSQL database {} at {}:{} as user {} \
                         (storages:engines:postgresql:*): {e}",
                            pg.database, pg.host, pg.port, pg.user
                        ))
                    })?;
                Box::new(engine)
            }
            BaseEngine::Sqlite => {
                // The SQLite engine keeps audit and series in each user's own files.
                if c.audit != AuditEngine::Sqlite {
                    return Err(unsupported(
                        "storages:audit:engine",
                        "postgresql (with a sqlite base engine)",
                    ));
                }
                let engine = SqliteEngine::open(&c.user_root_dir, attachment_store()?)?;
                match c.series {
                    SeriesEngine::Sqlite => Box::new(engine),
                    SeriesEngine::Influxdb(_) => Box::new(engine.without_series()),
                    SeriesEngine::Postgresql => {
                        return Err(unsupported(
                            "storages:series:engine",
                            "postgresql (with a sqlite base engine)",
                        ))
                    }
                }
            }
        };
        // With a PostgreSQL base, audit kept in per-user SQLite files (the core's default)
        // is a side store; the SQLite base engine holds those files itself.
        let audit = (c.base_engine == BaseEngine::Postgresql && c.audit == AuditEngine::Sqlite)
            .then(|| Box::new(SqliteAudit::new(&c.user_root_dir)) as Box<dyn CollectionStore>);
        Ok(Box::new(Composite {
            base,
            audit,
            series: influx,
            platform,
        }))
    }
}
