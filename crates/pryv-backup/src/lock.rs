//! Exclusive locks that keep two runs apart: two backups writing one output, two restores
//! writing one install. A second run fails at once, saying who holds the lock; nothing
//! waits. File and PostgreSQL locks are released by the kernel or the server when the
//! holder ends, even on kill -9, so none is ever left stale. An S3 output's lock is an
//! object, removed when the run ends; only a run killed outright leaves it, and the next
//! run's message says when it was taken and how to remove it.

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

/// The lock object of a backup output in S3: `<prefix>.pryv-backup.lock`, beside the
/// output prefix, as the local lock file is beside the folder.
pub fn s3_output_lock_key(prefix: &str) -> String {
    format!("{}.pryv-backup.lock", prefix.trim_end_matches('/'))
}

/// Held while a backup writes into an S3 prefix; deleted when dropped.
struct S3Lock {
    bucket: crate::s3::Bucket,
    key: String,
    token: String,
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        // Only our own lock is removed: a lock another run took over is left alone.
        if read_lock(&self.bucket, &self.key).ok().flatten().as_deref() == Some(&self.token) {
            if let Err(e) = self.bucket.delete(&self.key) {
                tracing::warn!(
                    "could not remove the lock {}: {e}",
                    self.bucket.url(&self.key)
                );
            }
        }
    }
}

fn read_lock(bucket: &crate::s3::Bucket, key: &str) -> Result<Option<String>> {
    use std::io::Read;
    let Some(mut body) = bucket.get(key)? else {
        return Ok(None);
    };
    let mut text = String::new();
    body.read_to_string(&mut text)
        .map_err(|e| Error::Other(format!("reading {}: {e}", bucket.url(key))))?;
    Ok(Some(text))
}

/// Locks a backup output in S3: writes the lock object if there is none, then reads it
/// back (a store that ignores `If-None-Match` would let a second run write over it).
pub fn lock_s3_output(bucket: &crate::s3::Bucket, prefix: &str) -> Result<Box<dyn Held>> {
    let key = s3_output_lock_key(prefix);
    let held_by = |text: Option<String>| {
        Error::Other(format!(
            "another pryv-backup run is writing a backup into s3://{}/{prefix} (lock {}: {}): \
             wait for it to end; if no backup runs any more (one was killed), delete that object \
             and run again",
            bucket.name(),
            bucket.url(&key),
            text.unwrap_or_default().trim()
        ))
    };
    let token = format!(
        "pid {} on {}, started at {} ms, token {:016x}",
        std::process::id(),
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this host".into()),
        crate::backup::now_millis(),
        rand::random::<u64>()
    );
    // Looked for first: some stores ignore the condition of the write below.
    if bucket.exists(&key)? || !bucket.put_new(&key, token.clone().into_bytes())? {
        return Err(held_by(read_lock(bucket, &key)?));
    }
    match read_lock(bucket, &key)? {
        Some(text) if text == token => Ok(Box::new(S3Lock {
            bucket: bucket.clone(),
            key,
            token,
        })),
        other => Err(held_by(other)),
    }
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
