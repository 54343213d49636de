//! The backup directory format written by open-pryv.io's bin/backup.js (format version 1),
//! see docs/archive-format.md. Knows nothing of databases: it reads and writes items.

mod sealer;

pub use sealer::{FileSealer, SealedWrite};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Invalid(String),
}
