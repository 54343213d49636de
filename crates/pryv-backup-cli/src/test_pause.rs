//! A test-only pause, so that tests change the install at a chosen point of a run instead
//! of racing it: with `PRYV_BACKUP_TEST_PAUSE_AT=before-user:<username>`, a backup creates
//! the file named by `PRYV_BACKUP_TEST_PAUSE_FILE` just before that user's snapshot, and
//! waits until the file is removed. Neither is set in a real run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pryv_backup::backup::{BackupHook, BackupStep};

pub const PAUSE_AT_ENV: &str = "PRYV_BACKUP_TEST_PAUSE_AT";
pub const PAUSE_FILE_ENV: &str = "PRYV_BACKUP_TEST_PAUSE_FILE";

/// The backup's hook when a pause is asked for.
pub fn backup_hook() -> Option<BackupHook> {
    let at = std::env::var(PAUSE_AT_ENV).ok()?;
    let (Some(username), Some(marker)) = (
        at.strip_prefix("before-user:").map(str::to_string),
        std::env::var_os(PAUSE_FILE_ENV).map(PathBuf::from),
    ) else {
        eprintln!(
            "warning: {PAUSE_AT_ENV}={at:?} ignored: it takes before-user:<username>, with \
             {PAUSE_FILE_ENV} naming the file to wait on"
        );
        return None;
    };
    Some(BackupHook(Arc::new(move |step: &BackupStep<'_>| {
        let BackupStep::BeforeUser(user) = step else {
            return;
        };
        if user.username != username {
            return;
        }
        if let Err(e) = std::fs::write(&marker, b"") {
            eprintln!("warning: no test pause: {}: {e}", marker.display());
            return;
        }
        while marker.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    })))
}
