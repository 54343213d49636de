//! The PostgreSQL engine of open-pryv.io v2 (see docs/storage-layout.md).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PgError {
    #[error("PostgreSQL: {0}")]
    Db(#[from] postgres::Error),
}
