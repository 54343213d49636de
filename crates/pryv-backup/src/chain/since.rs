//! From when a user's next increment takes changes: what each generation's manifest says of
//! the time its users' snapshots were taken.

use crate::archive::UserManifest;

/// Seconds after which a user's changes are not in its generation: the time of the user's
/// snapshot (`snapshotTime`, ours), else its `backupTimestamp` (bin/backup.js's) capped by
/// the backup's cutoff. `None` for a user with neither (exported whole next time).
pub(crate) fn user_since(user: &UserManifest, snapshot_before: Option<f64>) -> Option<f64> {
    if let Some(t) = snapshot_time(user) {
        return Some(t);
    }
    (user.backup_timestamp > 0)
        .then(|| changes_since_ms(user.backup_timestamp, snapshot_before) as f64 / 1000.0)
}

/// Our addition to a user's manifest entry: when its snapshot was taken (seconds).
pub const SNAPSHOT_TIME: &str = "snapshotTime";

fn snapshot_time(user: &UserManifest) -> Option<f64> {
    user.extra
        .get(SNAPSHOT_TIME)
        .and_then(serde_json::Value::as_f64)
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// The earlier of a user's backup time and its backup's cutoff, in milliseconds.
pub(crate) fn changes_since_ms(user_backup_ms: u64, snapshot_before: Option<f64>) -> u64 {
    match snapshot_before {
        Some(s) if s.is_finite() && s >= 0.0 => user_backup_ms.min((s * 1000.0).floor() as u64),
        _ => user_backup_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::changes_since_ms;

    #[test]
    fn changes_are_taken_from_the_cutoff_not_the_end_of_the_user_export() {
        assert_eq!(
            changes_since_ms(1_763_990_005_000, Some(1_763_990_000.25)),
            1_763_990_000_250
        );
        assert_eq!(changes_since_ms(1_763_990_005_000, None), 1_763_990_005_000);
        // A cutoff after the user's time (never written so, but harmless) changes nothing.
        assert_eq!(changes_since_ms(1_000, Some(5.0)), 1_000);
        assert_eq!(changes_since_ms(1_000, Some(f64::NAN)), 1_000);
    }
}
