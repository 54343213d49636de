//! The SQLite engine of open-pryv.io v2: per-user database files (see docs/storage-layout.md).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SqliteError {
    #[error("SQLite: {0}")]
    Db(#[from] rusqlite::Error),
}
