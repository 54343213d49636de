//! What a restore creates in an install's data folders (SQLite files, user folders,
//! attachments, its lock and swap journal) belongs to the core as if the core had made it:
//! the owner and group of the data folder it is in, and that folder's mode (files without
//! the execute bits), whatever this run's umask and user. A root restore into a folder the
//! core's user owns thus leaves nothing the core cannot write; a drill's scratch install,
//! 0700, stays private.
//!
//! Why the folder's mode: the core (Node.js, better-sqlite3) creates folders 0777 and files
//! 0666 less its umask, 0755/0644 under the usual 022, and its data folder, which it creates
//! the same way, shows which umask it runs with. Our own umask says nothing of the core's.
//!
//! Ownership is given only when running as root (a user cannot give files away); the mode
//! is set by `fchmod`/`chmod` right after creation, so a wide mode is never cut by the
//! umask, and a creation that the umask narrowed only widens afterwards.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The owner, group and mode of a data folder, for what is created in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataFolder {
    uid: u32,
    gid: u32,
    mode: u32,
}

impl DataFolder {
    /// The folder `dir`, or its nearest existing ancestor when it does not exist yet.
    pub fn of(dir: &Path) -> io::Result<DataFolder> {
        let mut last_error = None;
        for folder in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            match std::fs::metadata(folder) {
                Ok(meta) => return Ok(DataFolder::from_meta(&meta)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        // A relative path none of whose ancestors exists: the current folder holds it.
        match std::fs::metadata(".") {
            Ok(meta) => Ok(DataFolder::from_meta(&meta)),
            Err(e) => Err(last_error.unwrap_or(e)),
        }
    }

    fn from_meta(meta: &std::fs::Metadata) -> DataFolder {
        DataFolder {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o777,
        }
    }

    /// The mode of a new folder.
    pub fn dir_mode(&self) -> u32 {
        self.mode
    }

    /// The mode of a new file: the folder's without its execute bits.
    pub fn file_mode(&self) -> u32 {
        self.mode & 0o666
    }

    /// Creates `dir` and its missing parents; each one created here gets the folder's mode
    /// and owner (one another worker creates at the same time is that worker's to finish).
    pub fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let missing: Vec<&Path> = dir
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .take_while(|a| !a.exists())
            .collect();
        for folder in missing.into_iter().rev() {
            match DirBuilder::new().mode(self.dir_mode()).create(folder) {
                Ok(()) => self.adopt(folder, self.dir_mode())?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && folder.is_dir() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates the file when missing, with the folder's file mode and owner; an existing
    /// file is left as it is.
    pub fn create_file(&self, path: &Path) -> io::Result<()> {
        match self.create_new(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates a new file for writing (fails if it exists), mode and owner set before
    /// anything is written to it.
    pub fn create_new(&self, path: &Path) -> io::Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(self.file_mode())
            .open(path)?;
        file.set_permissions(Permissions::from_mode(self.file_mode()))?;
        if as_root() {
            std::os::unix::fs::fchown(&file, Some(self.uid), Some(self.gid))?;
        }
        Ok(file)
    }

    /// Gives an entry this run created the folder's owner, and `mode`.
    pub fn adopt(&self, path: &Path, mode: u32) -> io::Result<()> {
        std::fs::set_permissions(path, Permissions::from_mode(mode))?;
        self.own(path)
    }

    /// Gives an entry this run created the folder's owner, its mode untouched (private
    /// staging stays 0700, and a killed run's leftovers can be removed by the core's user).
    pub fn own(&self, path: &Path) -> io::Result<()> {
        if as_root() {
            std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))?;
        }
        Ok(())
    }
}

/// Only root can give files to another user.
fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0777 is what no usual umask leaves: the modes are set, not left to the umask.
    #[test]
    fn new_entries_take_the_folder_mode() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), Permissions::from_mode(0o777)).unwrap();
        let folder = DataFolder::of(&tmp.path().join("missing/too")).unwrap();
        let dir = tmp.path().join("a/b");
        folder.create_dir_all(&dir).unwrap();
        folder.create_file(&dir.join("f")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&tmp.path().join("a")), 0o777);
        assert_eq!(mode(&dir), 0o777);
        assert_eq!(mode(&dir.join("f")), 0o666);
    }
}
