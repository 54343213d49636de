//! PRYVBKE1: the per-file encryption of bin/backup.js backups (see docs/archive-format.md).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("{0}")]
    Invalid(String),
}
