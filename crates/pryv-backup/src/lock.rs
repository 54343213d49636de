//! Exclusive locks that keep two runs apart: two backups writing one output, two restores
//! writing one install. A second run fails at once, saying who holds the lock; nothing
//! waits. Locks are released by the kernel or the server when the holder ends, even on
//! kill -9, so none is ever left stale.

use std::fs::{OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Held for as long as the value lives.
pub trait Held: Send {}

impl<T: Send> Held for T {}

/// An exclusive lock on a file (created when missing), for one process at a time.
pub fn lock_file(path: &Path, what: &str) -> Result<Box<dyn Held>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Box::new(file)),
        Err(TryLockError::WouldBlock) => Err(Error::Other(format!(
            "another pryv-backup run is writing {what} (it holds {}): wait for it to end, then run again",
            path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// The lock of a local backup output: a file beside the output folder, so the backup
/// itself holds nothing but backup files.
pub fn backup_output_lock_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "backup".into());
    output.with_file_name(format!(".{name}.pryv-backup.lock"))
}

/// Locks a local backup output for the run.
pub fn lock_backup_output(output: &Path) -> Result<Box<dyn Held>> {
    lock_file(
        &backup_output_lock_path(output),
        &format!("a backup into {}", output.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("full");
        let first = lock_backup_output(&out).unwrap();
        let err = lock_backup_output(&out).err().unwrap().to_string();
        assert!(err.contains("another pryv-backup run"), "{err}");
        drop(first);
        lock_backup_output(&out).unwrap();
        assert!(!out.exists(), "the lock lives beside the output, not in it");
    }
}
