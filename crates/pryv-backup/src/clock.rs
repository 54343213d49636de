//! This host's clock, at the bottom of the crate: backups date their snapshots with it and
//! locks date themselves with it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch, by this host's clock.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
