//! Exclusive locks that keep two runs apart: two backups writing one output, two restores
//! writing one install. A second run fails at once, saying who holds the lock; nothing
//! waits. File and PostgreSQL locks are released by the kernel or the server when the
//! holder ends, even on kill -9, so none is ever left stale. An S3 output's lock is an
//! object, removed when the run ends; only a run killed outright leaves it, and the next
//! run's message says when it was taken and how to remove it.

use std::fs::{OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::clock::now_millis;
use crate::{Error, Result};

/// Held for as long as the value lives.
pub trait Held: Send {}

impl<T: Send> Held for T {}

/// An exclusive lock on a file (created when missing), for one process at a time.
pub fn lock_file(path: &Path, what: &str) -> Result<Box<dyn Held>> {
    if let Some(parent) = path.parent() {
        crate::private_fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(crate::private_fs::FILE_MODE)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Box::new(file)),
        Err(TryLockError::WouldBlock) => Err(Error::Locked(format!(
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

/// How often a running backup rewrites its S3 lock, and after how long without a rewrite
/// the lock is taken as left by a run that was killed.
const S3_LOCK_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);
pub const S3_LOCK_STALE_MS: u64 = 5 * 60 * 1000;

/// What the lock object holds: who took it, and when it was last rewritten.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3LockBody {
    pub holder: String,
    pub token: String,
    pub refreshed_ms: u64,
    /// Absent in locks of earlier versions, and of runs on a system without /proc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<LockOwner>,
}

/// The process holding a lock, precisely enough to tell at once that it is gone: the same
/// boot of the same machine, the same pid namespace (a container sharing the hostname may
/// have another), and no process with its pid.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LockOwner {
    pub boot_id: String,
    pub pid_namespace: String,
    pub pid: u32,
}

impl LockOwner {
    pub fn this_process() -> Option<LockOwner> {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let pid_namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
        Some(LockOwner {
            boot_id: boot_id.trim().to_string(),
            pid_namespace: pid_namespace.to_string_lossy().into_owned(),
            pid: std::process::id(),
        })
    }

    /// True only when the owner's process provably no longer exists; a reused pid reads as
    /// alive (the lock then waits to go stale).
    fn is_gone(&self) -> bool {
        let Some(here) = LockOwner::this_process() else {
            return false;
        };
        if here.boot_id != self.boot_id || here.pid_namespace != self.pid_namespace {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: signal 0 is never delivered; the call only asks whether the process exists.
        let answer = unsafe { libc::kill(pid, 0) };
        answer != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

/// Held while a backup writes into an S3 prefix: rewritten every half minute, deleted when
/// dropped.
struct S3Lock {
    bucket: crate::s3::Bucket,
    key: String,
    token: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(refresher) = self.refresher.take() {
            let _ = refresher.join();
        }
        // Only our own lock is removed: a lock another run took over is left alone.
        let holder = read_lock(&self.bucket, &self.key).ok().flatten();
        if holder.is_some_and(|b| b.token == self.token) {
            if let Err(e) = self.bucket.delete(&self.key) {
                tracing::warn!(
                    "could not remove the lock {}: {e}",
                    self.bucket.url(&self.key)
                );
            }
        }
    }
}

fn read_lock(bucket: &crate::s3::Bucket, key: &str) -> Result<Option<S3LockBody>> {
    use std::io::Read;
    let Some(mut body) = bucket.get(key)? else {
        return Ok(None);
    };
    let mut text = String::new();
    body.read_to_string(&mut text)
        .map_err(|e| Error::Other(format!("reading {}: {e}", bucket.url(key))))?;
    // A lock this version cannot read is someone's lock all the same.
    Ok(Some(serde_json::from_str(&text).unwrap_or(S3LockBody {
        holder: text,
        token: String::new(),
        refreshed_ms: u64::MAX,
        owner: None,
    })))
}

fn lock_text(body: &S3LockBody) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// Locks a backup output in S3. A lock rewritten less than five minutes ago belongs to a
/// running backup: refused, unless its owner ran on this machine and is provably gone. An
/// older one was left by a run that was killed: taken over, with a warning. The lock is written only if absent, then read back (a store that
/// ignores `If-None-Match` would let a second run write over it).
pub fn lock_s3_output(bucket: &crate::s3::Bucket, prefix: &str) -> Result<Box<dyn Held>> {
    let key = s3_output_lock_key(prefix);
    let now = now_millis();
    let held_by = |body: Option<S3LockBody>| {
        let (holder, age) = body
            .map(|b| (b.holder, now.saturating_sub(b.refreshed_ms) / 1000))
            .unwrap_or_default();
        Error::Locked(format!(
            "another pryv-backup run is writing a backup into s3://{}/{prefix} (lock {}, held \
             by {holder}, rewritten {age} s ago): wait for it to end; a lock not rewritten for \
             5 minutes, or whose run was on this machine and has ended, is taken as left by a \
             killed run",
            bucket.name(),
            bucket.url(&key),
        ))
    };
    if let Some(found) = read_lock(bucket, &key)? {
        let gone = found.owner.as_ref().is_some_and(LockOwner::is_gone);
        if now.saturating_sub(found.refreshed_ms) < S3_LOCK_STALE_MS && !gone {
            return Err(held_by(Some(found)));
        }
        tracing::warn!(
            "taking over the lock {} of a run that stopped without releasing it ({})",
            bucket.url(&key),
            found.holder
        );
        bucket.delete(&key)?;
    }
    let body = S3LockBody {
        holder: format!(
            "pid {} on {}",
            std::process::id(),
            std::env::var("HOSTNAME").unwrap_or_else(|_| "an unnamed host".into())
        ),
        token: format!("{:016x}", rand::random::<u64>()),
        refreshed_ms: now,
        owner: LockOwner::this_process(),
    };
    if !bucket.put_new(&key, lock_text(&body))? {
        return Err(held_by(read_lock(bucket, &key)?));
    }
    match read_lock(bucket, &key)? {
        Some(found) if found.token == body.token => {}
        other => return Err(held_by(other)),
    }
    let token = body.token.clone();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let refresher = {
        let (bucket, key) = (bucket.clone(), key.clone());
        let mut body = body;
        std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(S3_LOCK_REFRESH)
            {
                body.refreshed_ms = now_millis();
                if let Err(e) = bucket.put(&key, lock_text(&body)) {
                    tracing::warn!("could not rewrite the lock {}: {e}", bucket.url(&key));
                }
            }
        })
    };
    Ok(Box::new(S3Lock {
        bucket: bucket.clone(),
        key,
        token,
        stop: Some(stop),
        refresher: Some(refresher),
    }))
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
