//! This host's clock, at the bottom of the crate: backups date their snapshots with it and
//! locks date themselves with it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Tests set the clock of a debug build with it (never read by a release build).
pub const TEST_NOW_ENV: &str = "PRYV_BACKUP_TEST_NOW_MS";

/// Milliseconds since the epoch, by this host's clock.
pub fn now_millis() -> u64 {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(TEST_NOW_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return ms;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
