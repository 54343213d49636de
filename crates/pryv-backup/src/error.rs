//! The crate-wide error: each module has its own error type, wrapped here.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Integrity(#[from] crate::integrity::IntegrityError),
    /// A user's files do not match what the backup's manifests record: nothing of it is
    /// restored. Lists each damaged file with what is wrong.
    #[error("the backup's files for this user are damaged, so nothing of it was restored: {0} (check with `pryv-backup verify`)")]
    Damaged(String),
    #[error(transparent)]
    Postgres(#[from] crate::engines::postgres::PgError),
    #[error(transparent)]
    Sqlite(#[from] crate::engines::sqlite::SqliteError),
    #[error(transparent)]
    Influx(#[from] crate::engines::influxdb::InfluxError),
    #[error(transparent)]
    S3(#[from] crate::s3::S3Error),
    #[error(transparent)]
    Rqlite(#[from] crate::engines::rqlite::RqliteError),
    /// A user's data could not be restored because of what the target already holds.
    #[error("conflict for user {username} ({user_id}): {reason}")]
    Conflict {
        user_id: String,
        username: String,
        reason: String,
    },
    /// A user's base data is committed but a store written after it (attachments, audit or
    /// series kept apart from the base engine) failed: the user is in place, incomplete.
    #[error("the user's data is committed but its {what} could not be written ({source}); restore this user again with --overwrite to complete it")]
    AfterCommit {
        what: &'static str,
        #[source]
        source: Box<Error>,
    },
    /// A user listed when the backup started was no longer in the users index when its
    /// snapshot was taken: deleted while the backup ran. The core removes the index entry
    /// before the user's data, so a user still indexed in its snapshot is whole.
    #[error("user {username} ({user_id}) was deleted during the backup")]
    UserDeleted { user_id: String, username: String },
    /// The backup holds no account data (passwords, account fields, store key-values) for
    /// this user: restoring it would make a user who cannot log in and owns nothing.
    #[error("the backup holds no account data for this user (no password, no account field): it was most likely deleted while that backup was taken, so it is not restored; check with `pryv-backup inspect` and restore it from another backup if it should exist")]
    NoAccount,
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Another run holds the lock of what this run would write: nothing was done to it.
    #[error("{0}")]
    Locked(String),
    /// A signal asked the run to stop; it stopped at a safe point.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
    /// Anything else, with a message that says what to do.
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::model::InvalidItem> for Error {
    fn from(e: crate::model::InvalidItem) -> Self {
        Error::Archive(e.into())
    }
}

impl Error {
    /// The store (or local folder) holding the backup cannot be reached: the run stops
    /// rather than go on user by user, and no user is called damaged for it.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Archive(e) => e.is_unreachable(),
            Error::S3(e) => e.is_unreachable(),
            Error::AfterCommit { source, .. } => source.is_unreachable(),
            _ => false,
        }
    }

    pub(crate) fn after_commit(what: &'static str) -> impl FnOnce(Error) -> Error {
        move |source| Error::AfterCommit {
            what,
            source: Box::new(source),
        }
    }

    /// The engine whose limits this error is about, when it is an engine refusing an item
    /// it cannot hold (the backup itself may be sound: another engine may take it).
    pub fn engine_limit(&self) -> Option<&'static str> {
        match self {
            Error::Sqlite(crate::engines::sqlite::SqliteError::Unstorable(_)) => Some("SQLite"),
            Error::Postgres(crate::engines::postgres::PgError::Item { .. }) => Some("PostgreSQL"),
            Error::Influx(crate::engines::influxdb::InfluxError::Item { .. }) => Some("InfluxDB"),
            Error::AfterCommit { source, .. } => source.engine_limit(),
            _ => None,
        }
    }

    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        if let Some(down) = crate::s3::S3Error::in_io(&source) {
            return Error::S3(down);
        }
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
