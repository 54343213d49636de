//! The journal that makes a user's file swap whole even when the process dies inside it.
//!
//! A restore puts a user's new files in place by renames: the old files aside into a
//! `.pryv-backup-replaced-*` folder, the staged files in, then the users index commit. Before
//! the first rename, the planned renames are written to `<base>/.pryv-backup-swap-<userId>.json`
//! and fsynced; once the commits succeeded the journal is marked committed (when the index
//! cannot tell: the user was in it before), the old files are deleted and the journal goes. Signals never cut the swap (they only raise a flag checked
//! outside it); a run killed outright (SIGKILL, power loss) leaves the journal, and the next
//! restore or backup of the install ([`recover`]) finishes the swap (committed) or undoes it
//! (not committed): the user is whole, old or new, never half.
//!
//! [`recover`] also removes what killed runs leave in user folders: `.pryv-backup-restore-*`
//! staging, `.pryv-backup-attachments-*` staging (putting back attachments a killed swap had
//! moved aside), and empty `.pryv-backup-replaced-*` folders.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const JOURNAL_PREFIX: &str = ".pryv-backup-swap-";
const JOURNAL_SUFFIX: &str = ".json";
pub(super) const STAGING_PREFIX: &str = ".pryv-backup-restore-";
pub(super) const REPLACED_PREFIX: &str = ".pryv-backup-replaced-";
const ATTACHMENTS_STAGING_PREFIX: &str = ".pryv-backup-attachments-";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Journal {
    pub user_id: String,
    /// The users index the swap commits into, when it commits into one.
    pub index: Option<PathBuf>,
    /// Whether the index held the user before: if not and it does now, its commit happened.
    pub indexed_before: bool,
    /// Old files moved aside: (where it was, where it went).
    pub aside: Vec<(PathBuf, PathBuf)>,
    /// New files moved in: (staged, final).
    pub placed: Vec<(PathBuf, PathBuf)>,
    /// The `.pryv-backup-replaced-*` folders holding the old files.
    pub aside_dirs: Vec<PathBuf>,
    /// Set once every commit of the swap succeeded.
    pub committed: bool,
}

/// A journal on disk, removed by [`Written::remove`] once the swap is done or undone.
pub(super) struct Written {
    path: PathBuf,
}

impl Journal {
    fn path(base: &Path, user_id: &str) -> PathBuf {
        base.join(format!("{JOURNAL_PREFIX}{user_id}{JOURNAL_SUFFIX}"))
    }

    /// Writes the journal durably (temporary file, fsync, rename, folder fsync).
    pub fn write(&self, base: &Path) -> Result<Written> {
        let path = Self::path(base, &self.user_id);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Other(format!("cannot encode the swap journal: {e}")))?;
        let mut tmp = tempfile::NamedTempFile::new_in(base).map_err(|e| Error::io(base, e))?;
        // Owned as the install is, so that the core's user can finish or undo the swap.
        crate::install_fs::DataFolder::of(base)
            .and_then(|folder| folder.own(tmp.path()))
            .map_err(|e| Error::io(tmp.path(), e))?;
        tmp.write_all(&text).map_err(|e| Error::io(&path, e))?;
        tmp.as_file().sync_all().map_err(|e| Error::io(&path, e))?;
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        sync_dir(base)?;
        Ok(Written { path })
    }
}

impl Written {
    /// Not made durable: a journal that comes back after a crash names a swap that is
    /// finished, which [`recover`] then sees (committed, or its index holds the user).
    pub fn remove(self) -> Result<()> {
        fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))
    }
}

/// Finishes or undoes every swap a killed run left under `base`, then removes the staging
/// leftovers in user folders. The caller holds the install's restore lock.
pub(super) fn recover(base: &Path) -> Result<()> {
    for entry in fs::read_dir(base).map_err(|e| Error::io(base, e))? {
        let path = entry.map_err(|e| Error::io(base, e))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(JOURNAL_PREFIX) && name.ends_with(JOURNAL_SUFFIX) {
            recover_one(&path)?;
        }
    }
    remove_leftovers(base)
}

/// Fails when a swap journal is left (one [`recover`] could not handle): the user it names
/// may be half swapped, and a backup of it would save that.
pub(super) fn refuse_pending(base: &Path) -> Result<()> {
    for entry in fs::read_dir(base).map_err(|e| Error::io(base, e))? {
        let path = entry.map_err(|e| Error::io(base, e))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with(JOURNAL_PREFIX) && name.ends_with(JOURNAL_SUFFIX) {
            return Err(Error::Other(format!(
                "{} shows a restore that was killed while it swapped a user's files, and this \
                 run could not finish it (a restore runs now, or this account cannot write \
                 there): run the backup again once that restore ended, as an account that can \
                 write the install's data folder",
                path.display()
            )));
        }
    }
    Ok(())
}

fn recover_one(path: &Path) -> Result<()> {
    let text = fs::read(path).map_err(|e| Error::io(path, e))?;
    let journal: Journal = serde_json::from_slice(&text).map_err(|e| {
        Error::Other(format!(
            "{} is a swap journal this version cannot read ({e}): a restore was killed while \
             it swapped a user's files; check that user's folder by hand, then remove it",
            path.display()
        ))
    })?;
    let committed = journal.committed
        || match &journal.index {
            // A new user: the index commit is what decides.
            Some(index) if !journal.indexed_before => {
                super::users_index::has_user_id(index, &journal.user_id)?
            }
            Some(_) => false,
            // Nothing to commit but the renames: done once every new file is in.
            None => journal
                .placed
                .iter()
                .all(|(staged, placed)| placed.exists() && !staged.exists()),
        };
    if committed {
        // Done but for the clean-up: any new file not yet in place goes in.
        for (staged, placed) in &journal.placed {
            if staged.exists() && !placed.exists() {
                rename(staged, placed)?;
            }
        }
    } else {
        // Not committed: the new files out, the old ones back.
        for (staged, placed) in &journal.placed {
            if placed.exists() && !staged.exists() {
                fs::remove_file(placed).map_err(|e| Error::io(placed, e))?;
            }
        }
        for (original, aside) in &journal.aside {
            if aside.exists() && !original.exists() {
                rename(aside, original)?;
            }
        }
    }
    let mut dirs: Vec<&Path> = journal
        .aside
        .iter()
        .filter_map(|(o, _)| o.parent())
        .collect();
    dirs.extend(journal.placed.iter().filter_map(|(_, p)| p.parent()));
    dirs.dedup();
    for dir in dirs {
        sync_dir(dir)?;
    }
    for aside_dir in &journal.aside_dirs {
        remove_tree(aside_dir)?;
    }
    tracing::warn!(
        user_id = journal.user_id,
        "a restore killed while swapping this user's files was {}",
        if committed { "finished" } else { "undone" }
    );
    Written {
        path: path.to_path_buf(),
    }
    .remove()
}

/// Every user folder is `<base>/<c>/<c>/<c>/<id>` (the HF series folders too): what killed
/// runs left there is staging, removed; old attachments a killed swap moved aside go back.
fn remove_leftovers(base: &Path) -> Result<()> {
    for user_dir in dirs_at_depth(base, 4)? {
        for entry in fs::read_dir(&user_dir).map_err(|e| Error::io(&user_dir, e))? {
            let entry = entry.map_err(|e| Error::io(&user_dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir();
            if !is_dir {
                continue;
            }
            if name.starts_with(STAGING_PREFIX) {
                remove_tree(&path)?;
            } else if name.starts_with(ATTACHMENTS_STAGING_PREFIX) {
                let old = path.join("old");
                let attachments = user_dir.join("attachments");
                if old.is_dir() && !attachments.exists() {
                    rename(&old, &attachments)?;
                    tracing::warn!(dir = %user_dir.display(), "put back attachments a killed restore had moved aside");
                }
                remove_tree(&path)?;
            } else if name.starts_with(REPLACED_PREFIX) {
                // Without a journal, files there may be a user's only copy: never deleted.
                if fs::remove_dir(&path).is_err() {
                    tracing::warn!(dir = %path.display(), "holds files a killed restore moved aside and no journal names: check them by hand");
                }
            }
        }
    }
    Ok(())
}

/// The folders exactly `depth` levels under `dir` (links are not followed).
fn dirs_at_depth(dir: &Path, depth: usize) -> Result<Vec<PathBuf>> {
    if depth == 0 {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
            out.extend(dirs_at_depth(&path, depth - 1)?);
        }
    }
    Ok(out)
}

fn remove_tree(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::io(from, e))
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user folder with an old audit file moved aside and a new one staged, as a restore
    /// killed inside its swap leaves them, and the journal it wrote.
    fn killed_swap(base: &Path, placed: bool) -> (PathBuf, Journal) {
        let user_dir = base.join("c/b/a/userabc");
        let aside = user_dir.join(format!("{REPLACED_PREFIX}x"));
        let staging = user_dir.join(format!("{STAGING_PREFIX}y"));
        for dir in [&aside, &staging] {
            fs::create_dir_all(dir).unwrap();
        }
        let name = "audit-1.0.0.sqlite";
        fs::write(aside.join(name), b"old").unwrap();
        if placed {
            fs::write(user_dir.join(name), b"new").unwrap();
        } else {
            fs::write(staging.join(name), b"new").unwrap();
        }
        let journal = Journal {
            user_id: "userabc".into(),
            index: None,
            indexed_before: false,
            aside: vec![(user_dir.join(name), aside.join(name))],
            placed: vec![(staging.join(name), user_dir.join(name))],
            aside_dirs: vec![aside],
            committed: false,
        };
        drop(journal.write(base).unwrap());
        (user_dir.join(name), journal)
    }

    #[test]
    fn a_swap_killed_half_way_is_undone_and_a_finished_one_kept() {
        for (placed, expected) in [(false, &b"old"[..]), (true, &b"new"[..])] {
            let base = tempfile::tempdir().unwrap();
            let (file, _) = killed_swap(base.path(), placed);
            recover(base.path()).unwrap();
            assert_eq!(fs::read(&file).unwrap(), expected, "placed: {placed}");
            let user_dir = file.parent().unwrap();
            let left: Vec<_> = fs::read_dir(user_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, vec![file.file_name().unwrap().to_owned()]);
            assert!(refuse_pending(base.path()).is_ok(), "the journal is gone");
        }
    }
}
