//! The PostgreSQL engine of open-pryv.io v2 (see docs/storage-layout.md, sections 2, 3, 6.2).
//!
//! One file per concern; each table's file holds both directions (row → item for backups,
//! item → row for restores). [`PgEngine`] ties them together behind [`crate::engine::Engine`].

mod accesses;
mod account;
mod activity;
mod attachments;
mod audit;
mod connection;
mod copy;
mod ephemeral;
mod events;
mod export;
mod import;
mod integrity_check;
mod key_guard;
mod platform;
mod pool;
mod profile;
mod series;
mod streams;
mod table;
mod users_index;
mod values;
mod webhooks;

pub mod schema;

use thiserror::Error;

pub use activity::{other_clients, OtherClient};
pub use connection::PgEngine;

/// How pryv-backup's sessions are named in `pg_stat_activity`: another run's sessions are
/// not taken for the core's (two restores are kept apart by their lock).
pub const APPLICATION_NAME: &str = "pryv-backup";

/// A session of this run, named [`APPLICATION_NAME`] (without TLS).
fn connect(conn_str: &str) -> Result<postgres::Client, PgError> {
    let mut config: postgres::Config = conn_str.parse()?;
    config.application_name(APPLICATION_NAME);
    Ok(config.connect(postgres::NoTls)?)
}

#[derive(Debug, Error)]
pub enum PgError {
    #[error("PostgreSQL: {}", describe_db_error(.0))]
    Db(#[from] postgres::Error),
    /// The database's schema is not one pryv-backup can read or write.
    #[error("PostgreSQL schema: {0}")]
    Schema(String),
    /// A backup item that cannot become a row (says which item and why).
    #[error("PostgreSQL cannot take {collection} item {id}: {reason}")]
    Item {
        collection: &'static str,
        id: String,
        reason: String,
    },
    /// A row that cannot become a backup item.
    #[error("cannot back up a row of {table}: {reason}")]
    Row { table: &'static str, reason: String },
    /// Two rows of one user with the same primary key, found while their table is loaded
    /// without it (see `key_guard`).
    #[error(
        "the backup holds two {table} rows of this user with the key {key}: it is corrupt or \
         was edited, so nothing of this user was written"
    )]
    DuplicateKey { table: String, key: String },
}

/// The server's own message (the client library's Display says only "db error").
fn describe_db_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}
