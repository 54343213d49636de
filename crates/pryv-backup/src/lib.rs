//! pryv-backup: backup and restore of Pryv.io v2 platforms.
//!
//! The modules in layers, bottom to top. A module uses only modules listed before it (its
//! unit tests may use more: the archive's seal with [`crypto`]).
//! 1. [`json`] (JSON helpers, notably JavaScript number formatting), [`dates`] (UTC calendar
//!    dates), `paths` (path comparisons), [`clock`] (this host's time), [`url_credentials`]
//!    (credentials in URLs, redacted where shown), [`s3`] (the object store client),
//!    [`interrupt`] (SIGINT/SIGTERM as a stop flag, and the test-only pause points),
//!    `private_fs` (folders 0700 and files 0600 whatever the umask), [`install_fs`] (what a
//!    restore creates in an install's data folders: the folder's owner and mode),
//!    [`open_files`] (the processes holding files open under a folder).
//! 2. [`model`]: the vocabulary shared by everything (items, collections, users), and
//!    [`series_time`] (the unit of HF series points in an archive), [`series_append`] (an
//!    increment's series: only the points added since the chain's last generation).
//! 3. [`lock`]: the locks that keep two runs apart.
//! 4. [`progress`], `workers` (users in parallel), [`stream_tree`] (stream paths and
//!    parents-first order), [`integrity`] (event/access integrity hashes), [`config`]
//!    (open-pryv.io's layered YAML configuration), [`platform`] (the platform-wide registry).
//! 5. [`engine`]: the traits every storage engine implements.
//! 6. [`archive`]: the on-disk backup format (bin/backup.js format v1); knows nothing of
//!    databases (it reads and writes items, and serves them through the engine traits).
//! 7. [`crypto`]: the PRYVBKE1 per-file encryption layer the archive seals files with.
//! 8. [`engines`]: the storage engines (PostgreSQL, SQLite, ...); [`sample`]: a small
//!    deterministic platform for demos and round-trip tests.
//! 9. [`chain`] (a backup and its increments, and the records that link them), then
//!    [`listing`] (what a folder of backups holds), [`state`] (what a state of a backup
//!    holds per user) and [`diff`] (what changed between two states), then [`backup`],
//!    then `platform_plan` (the platform rows a restore writes: unique values checked,
//!    rows re-derived under the target's PII key), then [`restore`], then
//!    [`partial_restore`] (part of a user put back: a stream subtree, a time range),
//!    [`consolidate`], [`prune`], [`forget`] (erasure of users from backups): the
//!    orchestration, over the traits only.
//! 10. [`scratch_postgres`] (a private throwaway PostgreSQL server), then [`drill`] and
//!     [`install`] (the engines an install's configuration asks for), then
//!     [`demo`] (the self-contained demo the README starts with).
//!
//! One exception: [`error`]'s crate-wide [`Error`] wraps each module's own error type, so it
//! names modules of every layer while every layer returns it.

pub mod archive;
pub mod backup;
pub mod chain;
pub mod clock;
pub mod config;
pub mod consolidate;
pub mod crypto;
pub mod dates;
pub mod demo;
pub mod diff;
pub mod drill;
pub mod engine;
pub mod engines;
pub mod error;
pub mod forget;
pub mod install;
pub mod install_fs;
pub mod integrity;
pub mod interrupt;
pub mod json;
pub mod listing;
pub mod lock;
pub mod model;
pub mod open_files;
pub mod partial_restore;
pub(crate) mod paths;
pub mod platform;
pub(crate) mod platform_plan;
pub mod private_fs;
pub mod progress;
pub mod prune;
pub mod restore;
pub mod s3;
pub mod sample;
pub mod scratch_postgres;
pub mod series_append;
pub mod series_time;
pub mod state;
pub mod stream_tree;
pub mod url_credentials;
mod workers;

pub use error::{Error, Result};
