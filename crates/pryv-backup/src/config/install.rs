//! Where an install keeps its data, resolved from its layered configuration.

use std::path::{Path, PathBuf};

use serde_json::Value;
use zeroize::Zeroizing;

use super::layers::LayeredConfig;
use super::settings::{InfluxSettings, PgSettings, PiiKey, RqliteSettings, S3Settings};
use super::yaml::kind_of;
use super::ConfigError;
use super::ServiceUrl;

/// `storages:base:engine`: users, accesses, streams, events, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseEngine {
    Postgresql,
    Sqlite,
}

/// `storages:file:engine`: event attachments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEngine {
    /// Attachments live inside each user's local directory, under this root (the user
    /// root directory: `<root>/<shard>/<userId>/attachments/...`).
    Filesystem {
        root: PathBuf,
    },
    Postgresql,
    S3(S3Settings),
}

/// `storages:series:engine`: high-frequency series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeriesEngine {
    Postgresql,
    /// Per-user files in the user local directory.
    Sqlite,
    Influxdb(InfluxSettings),
}

/// `storages:audit:engine`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditEngine {
    /// Per-user `audit.sqlite` in the user local directory.
    Sqlite,
    Postgresql,
}

/// `storages:platform:engine`: the platform-wide user registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformEngine {
    Rqlite(RqliteSettings),
    /// The `platform_kv` table in the base PostgreSQL database.
    Postgresql,
}

/// Everything pryv-backup needs to find an install's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallConfig {
    pub base_engine: BaseEngine,
    /// Present when any storage uses PostgreSQL.
    pub postgres: Option<PgSettings>,
    /// `storages:engines:sqlite:path`: the root of every user's local directory (SQLite
    /// files, attachments, audit), whatever the base engine.
    pub user_root_dir: PathBuf,
    pub attachments: FileEngine,
    pub series: SeriesEngine,
    pub audit: AuditEngine,
    pub platform: PlatformEngine,
    /// What the core records as the backup's domain: `dnsLess:publicUrl`, else
    /// `service:domain`, else `unknown`.
    pub domain: String,
    /// The core's storage component version, read from the install when known.
    pub core_version: Option<String>,
    /// `platform:piiHmacKey` (decoded) when `platform:piiMode` is `hashed`: platform entries
    /// then name users by token, and a restore recognises its users' entries by it.
    pub pii_key: Option<PiiKey>,
    /// `core:id`, when set: the core that holds the install's users.
    pub core_id: Option<String>,
}

const PG_KEY: &str = "storages:engines:postgresql";

/// Resolves the install's storages from its configuration.
pub fn resolve(cfg: &LayeredConfig) -> Result<InstallConfig, ConfigError> {
    let read = Reader { cfg };

    let base_engine = match read.engine("storages:base:engine", &["postgresql", "sqlite"])? {
        "sqlite" => BaseEngine::Sqlite,
        _ => BaseEngine::Postgresql,
    };
    let user_root_dir = read.user_root_dir()?;
    let attachments =
        match read.engine("storages:file:engine", &["filesystem", "postgresql", "s3"])? {
            "postgresql" => FileEngine::Postgresql,
            "s3" => FileEngine::S3(read.s3()?),
            _ => FileEngine::Filesystem {
                root: user_root_dir.clone(),
            },
        };
    let series = match read.engine(
        "storages:series:engine",
        &["postgresql", "sqlite", "influxdb"],
    )? {
        "sqlite" => SeriesEngine::Sqlite,
        "influxdb" => SeriesEngine::Influxdb(InfluxSettings {
            host: read.text_or("storages:engines:influxdb:host", "127.0.0.1")?,
            port: read.port("storages:engines:influxdb:port", 8086)?,
        }),
        _ => SeriesEngine::Postgresql,
    };
    let audit = match read.engine("storages:audit:engine", &["sqlite", "postgresql"])? {
        "postgresql" => AuditEngine::Postgresql,
        _ => AuditEngine::Sqlite,
    };
    let platform = match read.engine("storages:platform:engine", &["rqlite", "postgresql"])? {
        "postgresql" => PlatformEngine::Postgresql,
        _ => PlatformEngine::Rqlite(RqliteSettings {
            url: ServiceUrl::new(
                read.text_or("storages:engines:rqlite:url", "http://localhost:4001")?,
            ),
            data_dir: read.path_in_install(
                &read.text_or("storages:engines:rqlite:dataDir", "var-pryv/rqlite-data")?,
            ),
        }),
    };

    let uses_postgres = base_engine == BaseEngine::Postgresql
        || attachments == FileEngine::Postgresql
        || series == SeriesEngine::Postgresql
        || audit == AuditEngine::Postgresql
        || platform == PlatformEngine::Postgresql;
    let postgres = if uses_postgres {
        Some(read.postgres()?)
    } else {
        None
    };

    Ok(InstallConfig {
        base_engine,
        postgres,
        user_root_dir,
        attachments,
        series,
        audit,
        platform,
        domain: read.domain(),
        pii_key: read.pii_key()?,
        core_id: read.text("core:id")?,
        core_version: cfg.base_dir().and_then(core_version),
    })
}

/// Typed access to configuration values, with errors naming the key and its origin.
struct Reader<'a> {
    cfg: &'a LayeredConfig,
}

impl<'a> Reader<'a> {
    fn origin(&self, key: &str) -> String {
        self.cfg
            .source_of(key)
            .map(ToString::to_string)
            .unwrap_or_else(|| "nowhere".to_string())
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> ConfigError {
        ConfigError::WrongType {
            key: key.to_string(),
            origin: self.origin(key),
            expected: expected.to_string(),
            found: kind_of(found).to_string(),
        }
    }

    /// The value, with `null` meaning "not set" as in the core's `x || default` reads.
    fn value(&self, key: &str) -> Option<&'a Value> {
        self.cfg.get(key).filter(|v| !v.is_null())
    }

    fn engine(&self, key: &str, allowed: &[&'static str]) -> Result<&'static str, ConfigError> {
        let value = self.value(key).ok_or_else(|| ConfigError::Missing {
            key: key.to_string(),
            hint: format!("set it to one of: {}", allowed.join(", ")),
        })?;
        let name = value
            .as_str()
            .ok_or_else(|| self.wrong_type(key, "an engine name", value))?;
        allowed
            .iter()
            .find(|candidate| **candidate == name)
            .copied()
            .ok_or_else(|| ConfigError::UnknownEngine {
                key: key.to_string(),
                value: name.to_string(),
                origin: self.origin(key),
                allowed: allowed.join(", "),
            })
    }

    /// A text setting; numbers are accepted as their text.
    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.wrong_type(key, "text", other)),
        }
    }

    /// A text setting where an empty value means the default, as in the core.
    fn text_or(&self, key: &str, default: &str) -> Result<String, ConfigError> {
        Ok(self
            .text(key)?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default.to_string()))
    }

    fn required_text(&self, key: &str, hint: &str) -> Result<String, ConfigError> {
        self.text(key)?
            .filter(|s| !s.is_empty() && s != "REPLACE ME")
            .ok_or_else(|| ConfigError::Missing {
                key: key.to_string(),
                hint: hint.to_string(),
            })
    }

    fn port(&self, key: &str, default: u16) -> Result<u16, ConfigError> {
        let Some(value) = self.value(key) else {
            return Ok(default);
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        parsed
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| self.wrong_type(key, "a port number (1-65535)", value))
    }

    fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        match self.value(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong_type(key, "true or false", other)),
        }
    }

    /// Relative paths are taken from the install directory, where the core runs.
    fn path_in_install(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        match self.cfg.base_dir() {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        }
    }

    fn user_root_dir(&self) -> Result<PathBuf, ConfigError> {
        let dir = self.required_text(
            "storages:engines:sqlite:path",
            "give the core's install directory, or set this key to the users data directory \
             (by default <install>/var-pryv/users)",
        )?;
        Ok(self.path_in_install(&dir))
    }

    fn postgres(&self) -> Result<PgSettings, ConfigError> {
        let key = |field: &str| format!("{PG_KEY}:{field}");
        let password = self.text(&key("password"))?.filter(|p| !p.is_empty());
        Ok(PgSettings {
            host: self.text_or(&key("host"), "127.0.0.1")?,
            port: self.port(&key("port"), 5432)?,
            database: self.required_text(&key("database"), "the PostgreSQL database name")?,
            user: self.required_text(&key("user"), "the PostgreSQL user name")?,
            password: password.map(Zeroizing::new),
        })
    }

    fn s3(&self) -> Result<S3Settings, ConfigError> {
        let key = |field: &str| format!("storages:engines:s3:{field}");
        let access_key_id = self.text(&key("accessKeyId"))?.filter(|s| !s.is_empty());
        let secret = self
            .text(&key("secretAccessKey"))?
            .filter(|s| !s.is_empty())
            .map(Zeroizing::new);
        // The core passes explicit credentials only when both are set.
        let (access_key_id, secret_access_key) = match (access_key_id, secret) {
            (Some(id), Some(secret)) => (Some(id), Some(secret)),
            _ => (None, None),
        };
        Ok(S3Settings {
            endpoint: self
                .text(&key("endpoint"))?
                .filter(|s| !s.is_empty())
                .map(ServiceUrl::new),
            region: self.text_or(&key("region"), "us-east-1")?,
            bucket: self.required_text(
                &key("bucket"),
                "the bucket holding attachments (storages:file:engine is s3)",
            )?,
            access_key_id,
            secret_access_key,
            force_path_style: self.flag(&key("forcePathStyle"))?,
            key_prefix: self.text(&key("keyPrefix"))?.unwrap_or_default(),
        })
    }

    fn pii_key(&self) -> Result<Option<PiiKey>, ConfigError> {
        if self.text("platform:piiMode")?.as_deref() != Some("hashed") {
            return Ok(None);
        }
        const KEY: &str = "platform:piiHmacKey";
        let Some(key) = self.text(KEY)?.filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        use base64::Engine as _;
        match base64::engine::general_purpose::STANDARD.decode(key.trim()) {
            Ok(k) => Ok(Some(PiiKey(Zeroizing::new(k)))),
            // The key itself is a secret: the error names the setting, not its value.
            Err(_) => {
                Err(self.wrong_type(KEY, "base64 text", &Value::String("(not shown)".into())))
            }
        }
    }

    fn domain(&self) -> String {
        ["dnsLess:publicUrl", "service:domain"]
            .iter()
            .find_map(|key| self.value(key)?.as_str().filter(|s| !s.is_empty()))
            .unwrap_or("unknown")
            .to_string()
    }
}

/// The core records the version of its storage component in backups.
fn core_version(base_dir: &Path) -> Option<String> {
    let path = base_dir.join("components/storage/package.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let manifest: Value = serde_json::from_str(&text)
        .map_err(|e| tracing::warn!("cannot read the core version from {}: {e}", path.display()))
        .ok()?;
    manifest.get("version")?.as_str().map(str::to_string)
}
