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

pub mod archive;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod engines;
pub mod error;
pub mod integrity;
pub mod json;
pub mod model;
pub mod sample;

pub use error::{Error, Result};
