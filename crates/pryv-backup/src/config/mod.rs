//! open-pryv.io's layered YAML configuration: where an install keeps its data.
//!
//! [`LayeredConfig::load`] merges the configuration the way the core's `@pryv/boiler` does;
//! [`resolve`] turns it into an [`InstallConfig`]. See docs/storage-layout.md, section 1.

mod defaults;
mod install;
mod layers;
mod secret_settings;
mod service_url;
mod settings;
mod yaml;

use std::path::PathBuf;

use thiserror::Error;

pub use install::{
    resolve, AuditEngine, BaseEngine, FileEngine, InstallConfig, PlatformEngine, SeriesEngine,
};
pub use layers::{ConfigSources, LayerSource, LayeredConfig};
pub use secret_settings::{env_name_of, secret_setting};
pub use service_url::ServiceUrl;
pub use settings::{InfluxSettings, PgSettings, PiiKey, RqliteSettings, S3Settings};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid YAML in {path} at line {line}, column {column}: {message}")]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("configuration file {path} must hold one mapping of settings, found {found}")]
    NotAMapping { path: PathBuf, found: String },
    #[error("invalid configuration override key {key:?}: {reason}")]
    BadOverride { key: String, reason: String },
    #[error("unknown engine {value:?} for {key} (set in {origin}); use one of: {allowed}")]
    UnknownEngine {
        key: String,
        value: String,
        origin: String,
        allowed: String,
    },
    #[error("{dir} is not an open-pryv.io install: {reason}")]
    NotAnInstall { dir: PathBuf, reason: String },
    #[error("missing configuration setting {key}: {hint}")]
    Missing { key: String, hint: String },
    #[error("configuration setting {key} (set in {origin}) must be {expected}, found {found}")]
    WrongType {
        key: String,
        origin: String,
        expected: String,
        found: String,
    },
}
