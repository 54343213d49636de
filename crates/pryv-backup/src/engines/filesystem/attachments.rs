//! Attachments at `<user dir>/attachments/<eventId>/<fileId>`, restored through a staging
//! directory on the same filesystem so that a failed restore leaves nothing behind.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::user_dir::{check_path_component, user_local_dir};
use crate::engine::{AttachmentImport, AttachmentStore};
use crate::install_fs::DataFolder;
use crate::{Error, Result};

const ATTACHMENTS_DIR: &str = "attachments";
const STAGING_PREFIX: &str = ".pryv-backup-attachments-";

/// The filesystem file engine, rooted at `storages:engines:sqlite:path` (the core keeps
/// attachments inside each user's local directory).
#[derive(Clone, Debug)]
pub struct FsAttachments {
    root: PathBuf,
}

impl FsAttachments {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsAttachments { root: root.into() }
    }

    /// `<user dir>/attachments`.
    pub fn user_attachments_dir(&self, user_id: &str) -> Result<PathBuf> {
        Ok(user_local_dir(&self.root, user_id)?.join(ATTACHMENTS_DIR))
    }

    fn file_path(&self, user_id: &str, event_id: &str, file_id: &str) -> Result<PathBuf> {
        check_path_component("eventId", event_id)?;
        check_path_component("attachment fileId", file_id)?;
        Ok(self
            .user_attachments_dir(user_id)?
            .join(event_id)
            .join(file_id))
    }
}

impl AttachmentStore for FsAttachments {
    fn describe(&self) -> String {
        format!("filesystem attachments under {}", self.root.display())
    }

    fn read(
        &self,
        user_id: &str,
        event_id: &str,
        file_id: &str,
    ) -> Result<Box<dyn Read + Send + '_>> {
        let path = self.file_path(user_id, event_id, file_id)?;
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Box::new(file))
    }

    fn begin_user_import(
        &self,
        user_id: &str,
        overwrite: bool,
    ) -> Result<Box<dyn AttachmentImport + '_>> {
        let user_dir = user_local_dir(&self.root, user_id)?;
        // Folders and files take the owner and mode of the install's folder; only the
        // staging folder is private until it is renamed into place.
        let folder = DataFolder::of(&self.root).map_err(|e| Error::io(&self.root, e))?;
        folder
            .create_dir_all(&user_dir)
            .map_err(|e| Error::io(&user_dir, e))?;
        let staging = private_temp_dir_in(&user_dir, folder)?;
        Ok(Box::new(FsAttachmentImport {
            target: user_dir.join(ATTACHMENTS_DIR),
            user_dir,
            staging,
            overwrite,
            staged_any: false,
            folder,
        }))
    }
}

/// A staged restore; the staging directory (a [`TempDir`]) disappears if never committed.
struct FsAttachmentImport {
    user_dir: PathBuf,
    target: PathBuf,
    staging: TempDir,
    overwrite: bool,
    staged_any: bool,
    /// The install's folder, whose owner and mode what is created takes.
    folder: DataFolder,
}

impl AttachmentImport for FsAttachmentImport {
    fn write(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        check_path_component("eventId", event_id)?;
        check_path_component("attachment fileId", file_id)?;
        let dir = self.staging.path().join(event_id);
        self.folder
            .create_dir_all(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(file_id);
        let mut file = self
            .folder
            .create_new(&path)
            .map_err(|e| Error::io(&path, e))?;
        io::copy(data, &mut file).map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        self.staged_any = true;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let this = *self;
        sync_tree(this.staging.path())?;
        if this.overwrite || !this.target.exists() {
            replace_dir(this.staging, &this.target, this.staged_any, this.folder)?;
            // The private staging folder became `attachments/`: it takes the install's mode.
            if this.staged_any {
                fs::set_permissions(
                    &this.target,
                    fs::Permissions::from_mode(this.folder.dir_mode()),
                )
                .map_err(|e| Error::io(&this.target, e))?;
            }
        } else {
            merge_into(this.staging.path(), &this.target, this.folder)?;
        }
        sync_dir(&this.user_dir)
    }
}

/// Swaps `staging` in as `target`: the old directory is renamed aside first, put back if the
/// second rename fails, and deleted only once the new one is in place.
fn replace_dir(staging: TempDir, target: &Path, has_files: bool, folder: DataFolder) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    let aside = if target.exists() {
        let aside = private_temp_dir_in(parent, folder)?.keep().join("old");
        fs::rename(target, &aside).map_err(|e| Error::io(target, e))?;
        Some(aside)
    } else {
        None
    };
    if has_files {
        if let Err(e) = fs::rename(staging.path(), target) {
            if let Some(aside) = &aside {
                // Best effort: bring the user's previous attachments back.
                let _ = fs::rename(aside, target);
            }
            return Err(Error::io(target, e));
        }
        // The staging path no longer exists: do not let TempDir's drop look for it.
        let _ = staging.keep();
    }
    if let Some(aside) = aside {
        let holder = aside.parent().map(Path::to_path_buf).unwrap_or(aside);
        fs::remove_dir_all(&holder).map_err(|e| Error::io(&holder, e))?;
    }
    Ok(())
}

/// Moves staged files next to the existing ones, refusing (before moving anything) to replace any.
fn merge_into(staging: &Path, target: &Path, folder: DataFolder) -> Result<()> {
    let mut moves = Vec::new();
    for event_dir in read_dir(staging)? {
        let event_name = event_dir
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        for file in read_dir(&event_dir)? {
            let to = target
                .join(&event_name)
                .join(file.file_name().unwrap_or_default());
            if to.exists() {
                return Err(Error::Other(format!(
                    "attachment {} already exists; restore with overwrite to replace the user's attachments",
                    to.display()
                )));
            }
            moves.push((file, to));
        }
    }
    for (from, to) in moves {
        if let Some(dir) = to.parent() {
            folder.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
    }
    Ok(())
}

/// A staging folder, 0700, owned as the install's folder (so that the core's user can
/// remove what a killed run leaves).
fn private_temp_dir_in(dir: &Path, folder: DataFolder) -> Result<TempDir> {
    let temp =
        crate::private_fs::temp_dir_in(dir, STAGING_PREFIX).map_err(|e| Error::io(dir, e))?;
    folder
        .own(temp.path())
        .map_err(|e| Error::io(temp.path(), e))?;
    Ok(temp)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        out.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

/// fsyncs the staged event directories and the staging directory itself (files were synced when written).
fn sync_tree(staging: &Path) -> Result<()> {
    for event_dir in read_dir(staging)? {
        sync_dir(&event_dir)?;
    }
    sync_dir(staging)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(
        store: &FsAttachments,
        user: &str,
        files: &[(&str, &str, &[u8])],
        overwrite: bool,
    ) -> Result<()> {
        let mut import = store.begin_user_import(user, overwrite)?;
        for (ev, id, bytes) in files {
            import.write(ev, id, &mut &bytes[..])?;
        }
        import.commit()
    }

    fn read(store: &FsAttachments, user: &str, ev: &str, id: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        store.read(user, ev, id)?.read_to_end(&mut out).unwrap();
        Ok(out)
    }

    #[test]
    fn sqlite_fs_attachments_land_at_the_core_path() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsAttachments::new(tmp.path());
        write(
            &store,
            "cjx1bobxyzab0002",
            &[("ev1", "f1", b"hello")],
            false,
        )
        .unwrap();
        let path = tmp.path().join("2/0/0/cjx1bobxyzab0002/attachments/ev1/f1");
        assert_eq!(fs::read(path).unwrap(), b"hello");
        assert_eq!(
            read(&store, "cjx1bobxyzab0002", "ev1", "f1").unwrap(),
            b"hello"
        );
    }

    #[test]
    fn sqlite_fs_attachments_overwrite_replaces_and_drop_discards() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsAttachments::new(tmp.path());
        let user = "cjx1userxyz0009";
        write(&store, user, &[("ev1", "old", b"old")], false).unwrap();
        // Without overwrite, an existing file is never replaced.
        assert!(write(&store, user, &[("ev1", "old", b"new")], false).is_err());
        // Dropped without commit: nothing changes, no staging left behind.
        {
            let mut import = store.begin_user_import(user, true).unwrap();
            import.write("ev2", "new", &mut &b"x"[..]).unwrap();
        }
        assert_eq!(read(&store, user, "ev1", "old").unwrap(), b"old");
        let user_dir = user_local_dir(tmp.path(), user).unwrap();
        assert_eq!(fs::read_dir(&user_dir).unwrap().count(), 1);
        write(&store, user, &[("ev2", "new", b"new")], true).unwrap();
        assert!(read(&store, user, "ev1", "old").is_err());
        assert_eq!(read(&store, user, "ev2", "new").unwrap(), b"new");
        assert_eq!(fs::read_dir(&user_dir).unwrap().count(), 1);
    }

    #[test]
    fn sqlite_fs_attachments_refuse_path_tricks() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsAttachments::new(tmp.path());
        assert!(store.read("cjx1userxyz0009", "..", "x").is_err());
        let mut import = store.begin_user_import("cjx1userxyz0009", false).unwrap();
        assert!(import.write("ev", "../x", &mut &b""[..]).is_err());
    }
}
