//! Stopping cleanly on SIGINT and SIGTERM. The binary turns those signals into a flag
//! ([`flag`]); the library checks it at safe points ([`check`]: between users, every few
//! thousand items, between files) and returns [`Interrupted`], so every scratch file, staging
//! folder and lock is released by the code that owns it, on the way out, as on any error.
//! Steps that must not be cut in two (the SQLite swap) never check it.
//!
//! Tests stop a run at a chosen point with [`pause_point`]: with
//! `PRYV_BACKUP_TEST_PAUSE_AT=<point>`, the first thread reaching that point creates the file
//! `PRYV_BACKUP_TEST_PAUSE_FILE` (when set), says so on stderr, and waits until a signal
//! arrives or the test removes that file (to change the install at that point, then let the
//! run go on). Points: `before-user:<username>` (a backup, before that user's snapshot), and
//! the names given to [`pause_point`] across the library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

/// The signal received (its number), 0 while none was.
static SIGNAL: LazyLock<Arc<AtomicUsize>> = LazyLock::new(|| Arc::new(AtomicUsize::new(0)));

/// The flag a signal handler stores the signal's number into (signal-hook's
/// `flag::register_usize`): the store is all the handler does, which is async-signal-safe.
pub fn flag() -> Arc<AtomicUsize> {
    Arc::clone(&SIGNAL)
}

/// The signal that asked this run to stop, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => i32::try_from(n).ok(),
    }
}

/// A run stopped by a signal, at a point where everything it had written was whole.
#[derive(Debug, thiserror::Error)]
#[error("stopped by {}: what was being written was removed", signal_name(*.signal))]
pub struct Interrupted {
    pub signal: i32,
}

/// A safe point: fails with [`Interrupted`] once a signal asked the run to stop.
pub fn check() -> Result<(), Interrupted> {
    match requested() {
        Some(signal) => Err(Interrupted { signal }),
        None => Ok(()),
    }
}

pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// Where a test asked the run to pause, and the file that says it has.
struct PauseAt {
    point: String,
    file: Option<PathBuf>,
    reached: AtomicBool,
}

static PAUSE_AT: OnceLock<Option<PauseAt>> = OnceLock::new();

/// The pause a test asked for, read from the environment once.
fn asked_pause() -> Option<&'static PauseAt> {
    PAUSE_AT
        .get_or_init(|| {
            let point = std::env::var("PRYV_BACKUP_TEST_PAUSE_AT").ok()?;
            Some(PauseAt {
                point,
                file: std::env::var_os("PRYV_BACKUP_TEST_PAUSE_FILE").map(PathBuf::from),
                reached: AtomicBool::new(false),
            })
        })
        .as_ref()
}

/// A named point where a test can stop the run (see the module doc); a no-op otherwise.
/// The run goes on once a signal arrived, so what follows the point sees the stop request.
pub fn pause_point(point: &str) {
    let Some(pause) = asked_pause() else { return };
    if pause.point != point || pause.reached.swap(true, Ordering::SeqCst) {
        return;
    }
    eprintln!("pryv-backup: paused at {point} (test hook), waiting for a signal");
    let mut file = pause.file.as_deref();
    if let Some(path) = file {
        if let Err(e) = std::fs::write(path, point) {
            eprintln!("pryv-backup: could not write {}: {e}", path.display());
            file = None;
        }
    }
    while requested().is_none() && file.is_none_or(Path::exists) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The pause point just before a backup takes `username`'s snapshot.
pub fn pause_before_user(username: &str) {
    if asked_pause().is_some_and(|p| p.point.strip_prefix("before-user:") == Some(username)) {
        pause_point(&format!("before-user:{username}"));
    }
}
