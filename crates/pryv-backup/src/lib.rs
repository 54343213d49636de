//! pryv-backup: backup and restore of Pryv.io v2 platforms.
//!
//! Layout of the crate, by concern:
//! - [`model`]: the vocabulary shared by everything (items, collections, users).
//! - [`json`]: JSON helpers, notably JavaScript number formatting.
//! - [`archive`]: the on-disk backup format (bin/backup.js format v1); knows nothing of databases.
//! - [`crypto`]: the PRYVBKE1 per-file encryption layer.
//! - [`integrity`]: Pryv.io event/access integrity hashes.
//! - [`config`]: reading open-pryv.io's layered YAML configuration.
//! - [`engine`]: the traits every storage engine implements.
//! - [`engines`]: the storage engines (PostgreSQL, SQLite, ...).
//! - [`sample`]: a small deterministic platform for demos and round-trip tests.
//! - [`stream_tree`]: stream paths and parents-first order, for both engines.
//! - [`backup`], [`restore`], [`chain`]: the orchestration, over the traits only.
//! - [`install`]: the engines an install's configuration asks for.
//! - [`demo`]: the self-contained demo the README starts with.

pub mod archive;
pub mod backup;
pub mod chain;
pub mod config;
pub mod consolidate;
pub mod crypto;
pub mod dates;
pub mod demo;
pub mod drill;
pub mod engine;
pub mod engines;
pub mod error;
pub mod install;
pub mod integrity;
pub mod json;
pub mod lock;
pub mod model;
pub(crate) mod paths;
pub mod platform;
pub mod progress;
pub mod prune;
pub mod restore;
pub mod s3;
pub mod sample;
pub mod series_time;
pub mod stream_tree;
mod workers;

pub use error::{Error, Result};
