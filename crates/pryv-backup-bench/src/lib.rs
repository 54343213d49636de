//! Benchmark support for pryv-backup.
//!
//! [`generate`] fills an empty PostgreSQL database with a realistic, deterministic Pryv.io v2
//! platform (rows shaped as docs/storage-layout.md, section 2, describes the core's own);
//! [`digest`] fingerprints every table so two databases (an original and its restore) can be
//! compared. `scripts/bench.sh` drives both around the `pryv-backup` binary and `pg_dump`.

pub mod copy_text;
pub mod digest;
pub mod generate;
pub mod profile;
pub mod schema;
pub mod touch;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("PostgreSQL: {0}")]
    Db(#[from] postgres::Error),
    #[error("while streaming rows to PostgreSQL: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}
