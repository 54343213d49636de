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
use crate::engines::rqlite::RqlitePlatform;
use crate::engines::s3::S3Attachments;
use crate::engines::sqlite::{SqliteAudit, SqliteEngine};
use crate::{Error, Result};

/// Where to find the install's configuration (the same files the core reads).
#[derive(Clone, Debug, Default)]
pub struct InstallSources {
    /// The core's install directory, holding `config/`.
    pub core_dir: PathBuf,
    pub node_env: Option<String>,
    pub files: Vec<PathBuf>,
    pub overrides: Vec<(String, String)>,
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
}

impl Install {
    pub fn load(sources: &InstallSources) -> Result<Install> {
        let layered = LayeredConfig::load(&ConfigSources {
            base_dir: Some(sources.core_dir.clone()),
            node_env: sources.node_env.clone(),
            files: sources.files.clone(),
            overrides: sources.overrides.clone(),
        })?;
        Ok(Install {
            config: config::resolve(&layered)?,
        })
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
            (PlatformEngine::Rqlite(settings), _) => Some(Box::new(RqlitePlatform::new(settings))),
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
