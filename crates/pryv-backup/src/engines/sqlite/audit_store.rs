//! [`SqliteAudit`]: the per-user `audit-1.0.0.sqlite` files on their own, for installs whose
//! base engine is another (the core's default: base PostgreSQL, audit SQLite). The files
//! are the SQLite engine's: same schema, same row ↔ item code, same staged restore.

use std::path::{Path, PathBuf};

use super::events;
use super::export::{for_each_row, with_snapshot};
use super::import::{swap_in_all, write_file, SwapOf, Target};
use super::layout::{self, UserFile};
use crate::engine::{CollectionStore, ExportWindow};
use crate::engines::filesystem::user_local_dir;
use crate::model::{Item, UserRef};
use crate::Result;

pub struct SqliteAudit {
    /// The core's user-local root (`userFiles:path`), holding each user's sharded directory.
    users_root: PathBuf,
}

impl SqliteAudit {
    pub fn new(users_root: &Path) -> SqliteAudit {
        SqliteAudit {
            users_root: users_root.to_path_buf(),
        }
    }

    fn user_dir(&self, user: &UserRef) -> Result<PathBuf> {
        let dir = user_local_dir(&self.users_root, &user.user_id)?;
        layout::refuse_unmigrated(&dir)?;
        Ok(dir)
    }
}

impl CollectionStore for SqliteAudit {
    fn describe(&self) -> String {
        format!(
            "per-user SQLite audit files under {}",
            self.users_root.display()
        )
    }

    /// Read in one snapshot of the user's audit file; a user without one has no audit.
    fn export_user(
        &self,
        user: &UserRef,
        window: &ExportWindow,
        out: &mut dyn FnMut(&Item) -> Result<()>,
    ) -> Result<()> {
        let dir = self.user_dir(user)?;
        with_snapshot(&dir, UserFile::Audit, |conn| {
            for_each_row(conn, |row| {
                let audit = events::row_to_audit(row)?;
                if window.includes(&audit) {
                    out(&audit)?;
                }
                Ok(())
            })
        })
    }

    /// All or nothing: the new file is built in a staging directory beside the user's, then
    /// renamed into place. Without `overwrite` a user who already has an audit file is
    /// refused (there is no merging into a live file); with it, the file is replaced (and
    /// removed when the backup has no audit for the user).
    /// Swaps of audit files a killed restore left half done (see `swap_journal`).
    fn recover(&self) -> Result<()> {
        if self.users_root.is_dir() {
            super::swap_journal::recover(&self.users_root)?;
        }
        Ok(())
    }

    fn import_user(
        &self,
        user: &UserRef,
        items: &mut dyn Iterator<Item = Result<Item>>,
        overwrite: bool,
    ) -> Result<()> {
        let dir = self.user_dir(user)?;
        let mut target = Target::prepare(dir, vec![UserFile::Audit], &self.users_root)?;
        let of = SwapOf {
            user_id: &user.user_id,
            base: &self.users_root,
            index: None,
        };
        let result = stage_and_swap(&mut target, items, overwrite, &of);
        // A user without audit gets no directory from us (nor keeps a failed one).
        if result.is_err() || target.files.is_empty() {
            target.discard();
        }
        result
    }
}

fn stage_and_swap(
    target: &mut Target,
    items: &mut dyn Iterator<Item = Result<Item>>,
    overwrite: bool,
    of: &SwapOf<'_>,
) -> Result<()> {
    let written = write_file(target.staging()?, UserFile::Audit, |conn| {
        events::insert_rows(conn, items.map(|i| events::audit_to_row(&i?)))
    })?;
    target.files.extend(written);
    swap_in_all(&[&*target], overwrite, of, || Ok(()))
}
