//! The SQLite engine of open-pryv.io v2: per-user database files in each user's local
//! directory, plus the user-index file (see docs/storage-layout.md, section 4).
//!
//! - `layout`: file names and the exact schemas the core creates.
//! - `values`: SQLite values ↔ JSON.
//! - `events`, `base_storage`, `account`, `series`: row ↔ item per file.
//! - `users_index`: `user-index.db`; `ephemeral`: sessions and password resets (shared file).
//! - `export` and `import`: one user, read in one snapshot per file / written all or nothing.
//! - `audit_store`: [`SqliteAudit`], the audit files alone, beside another base engine.

mod account;
mod audit_store;
mod base_storage;
mod ephemeral;
mod events;
mod export;
mod import;
mod layout;
mod series;
mod swap_journal;
mod users_index;
mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

pub use audit_store::SqliteAudit;

use crate::engine::{AttachmentStore, Engine, ExportOptions, ImportOptions, UserSink, UserSource};
use crate::engines::filesystem::{user_local_dir, FsAttachments};
use crate::model::{Item, UserRef};
use crate::{Error, Result};

#[derive(Debug, Error)]
pub enum SqliteError {
    #[error("SQLite: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("SQLite file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A file this user cannot read as it is; the message names the access missing.
    #[error("SQLite file {path}: {message}")]
    Access { path: String, message: String },
    /// Data the core's SQLite schema cannot hold as given; the message says which and why.
    #[error("cannot store in SQLite: {0}")]
    Unstorable(String),
}

impl SqliteError {
    fn file(path: &Path, source: rusqlite::Error) -> Error {
        Error::Sqlite(SqliteError::File {
            path: path.display().to_string(),
            source,
        })
    }
}

pub(crate) fn db(e: rusqlite::Error) -> Error {
    Error::Sqlite(SqliteError::Db(e))
}

pub(crate) fn unstorable(message: impl Into<String>) -> Error {
    Error::Sqlite(SqliteError::Unstorable(message.into()))
}

/// One SQLite install: `base` is `storages:engines:sqlite:path` (it holds `user-index.db`
/// and every user's local directory); attachments go through `attachments` (for a default
/// install, [`crate::engines::filesystem::FsAttachments`] on the same `base`).
pub struct SqliteEngine {
    base: PathBuf,
    attachments: Arc<dyn AttachmentStore>,
    /// Whether audit (`storages:audit:engine: sqlite`) and series
    /// (`storages:series:engine: sqlite`) are this engine's; when another store holds them,
    /// this engine neither exports nor restores (nor replaces) them.
    with_audit: bool,
    with_series: bool,
}

impl SqliteEngine {
    /// Opens an install; the base directory must exist (an empty one is an empty install).
    pub fn open(base: &Path, attachments: Arc<dyn AttachmentStore>) -> Result<SqliteEngine> {
        if !base.is_dir() {
            return Err(Error::Other(format!(
                "SQLite base directory {} does not exist; check storages:engines:sqlite:path",
                base.display()
            )));
        }
        Ok(SqliteEngine {
            base: base.to_path_buf(),
            attachments,
            with_audit: true,
            with_series: true,
        })
    }

    /// An install whose attachments use the filesystem file engine under the same base (the default).
    pub fn open_with_fs_attachments(base: &Path) -> Result<SqliteEngine> {
        SqliteEngine::open(base, Arc::new(FsAttachments::new(base)))
    }

    /// For installs whose audit is not in SQLite (`storages:audit:engine`).
    pub fn without_audit(mut self) -> SqliteEngine {
        self.with_audit = false;
        self
    }

    /// For installs whose series are not in SQLite (`storages:series:engine`).
    pub fn without_series(mut self) -> SqliteEngine {
        self.with_series = false;
        self
    }

    /// The per-user files this engine reads and writes, given its configuration.
    fn managed_files(&self) -> Vec<layout::UserFile> {
        layout::UserFile::ALL
            .into_iter()
            .filter(|f| match f {
                layout::UserFile::Audit => self.with_audit,
                layout::UserFile::Series => self.with_series,
                _ => true,
            })
            .collect()
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    fn user_dir(&self, user_id: &str) -> Result<PathBuf> {
        user_local_dir(&self.base, user_id)
    }

    fn index_path(&self) -> PathBuf {
        self.base.join(layout::USER_INDEX_FILE)
    }

    fn restore_lock(&self) -> Result<Box<dyn crate::lock::Held>> {
        let path = self.base.join(".pryv-backup-restore.lock");
        // Created as the core would, so that its user can take it after a root restore.
        crate::install_fs::DataFolder::of(&self.base)
            .and_then(|folder| folder.create_file(&path))
            .map_err(|e| Error::io(&path, e))?;
        crate::lock::lock_file(&path, &format!("a restore into {}", self.base.display()))
    }
}

impl Engine for SqliteEngine {
    fn describe(&self) -> String {
        format!(
            "SQLite install at {} ({})",
            self.base.display(),
            self.attachments.describe()
        )
    }

    /// A backup's first look at the install: a swap a killed restore left half done is
    /// finished or undone first (unless a restore runs now: it did that itself).
    fn users(&self) -> Result<Vec<UserRef>> {
        if swap_journal::refuse_pending(&self.base).is_err() {
            if let Ok(_lock) = self.restore_lock() {
                swap_journal::recover(&self.base)?;
            }
            // Could not recover (a read-only account): a half-swapped user is not backed up.
            swap_journal::refuse_pending(&self.base)?;
        }
        users_index::all_users(&self.index_path())
    }

    /// Also finishes or undoes what a killed restore left (see [`swap_journal`]).
    fn lock_for_restore(&self) -> Result<Box<dyn crate::lock::Held>> {
        let lock = self.restore_lock()?;
        swap_journal::recover(&self.base)?;
        Ok(lock)
    }

    fn export_user(
        &self,
        user: &UserRef,
        options: &ExportOptions,
        sink: &mut dyn UserSink,
    ) -> Result<()> {
        export::export_user(self, user, options, sink)
    }

    fn find_conflict(&self, user: &UserRef) -> Result<Option<String>> {
        users_index::find_conflict(&self.index_path(), user)
    }

    fn user_exists(&self, user_id: &str) -> Result<bool> {
        if users_index::has_user_id(&self.index_path(), user_id)? {
            return Ok(true);
        }
        let dir = self.user_dir(user_id)?;
        Ok(self
            .managed_files()
            .iter()
            .any(|f| dir.join(f.file_name()).exists()))
    }

    fn import_user(
        &self,
        user: &UserRef,
        source: &dyn UserSource,
        options: &ImportOptions,
    ) -> Result<()> {
        import::import_user(self, user, source, options)
    }

    /// The SQLite engine holds no platform-wide data (that is the platform DB's).
    fn export_platform(&self, _out: &mut dyn FnMut(&Item) -> Result<()>) -> Result<()> {
        Ok(())
    }

    fn platform_values(&self, _keys: &[String]) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }

    fn import_platform(&self, items: &mut dyn Iterator<Item = Result<Item>>) -> Result<()> {
        if let Some(first) = items.next() {
            first?;
            return Err(Error::Other(
                "the SQLite engine holds no platform-wide data: restore platform entries into the \
                 platform DB (rqlite or PostgreSQL) instead"
                    .to_string(),
            ));
        }
        Ok(())
    }
}
