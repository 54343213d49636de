//! What `inspect` shows of a backup, from its manifest alone.

use indexmap::IndexMap;
use serde_json::{json, Value};

use super::manifest::Manifest;
use super::ArchiveError;

/// A backup described for people (`text`) and for scripts (`json`).
#[derive(Clone, Debug)]
pub struct Summary {
    pub text: String,
    pub json: Value,
}

pub fn summary(manifest: &Manifest) -> Result<Summary, ArchiveError> {
    let mut totals: IndexMap<String, u64> = IndexMap::new();
    let mut users = Vec::new();
    let mut user_lines = Vec::new();
    for user in manifest.users.iter() {
        let user = user?;
        for (name, n) in user.stats.iter() {
            *totals.entry(name.to_string()).or_insert(0) += n;
        }
        let chunk_files: usize = user.chunks.values().map(Vec::len).sum();
        let counts: Vec<String> = user.stats.iter().map(|(k, v)| format!("{k} {v}")).collect();
        user_lines.push(format!(
            "  {} ({}): {}; {chunk_files} chunk file(s)",
            user.username,
            user.user_id,
            counts.join(", ")
        ));
        users.push(json!({
            "userId": user.user_id,
            "username": user.username,
            "stats": user.stats,
            "chunkFiles": chunk_files,
        }));
    }
    let writer = manifest
        .writer
        .as_ref()
        .map(|w| format!("{} {}", w.name, w.version))
        .unwrap_or_else(|| "open-pryv.io bin/backup.js (or unknown)".to_string());
    let snapshot = manifest
        .snapshot_before
        .map(|s| format!("{s} ({})", iso_utc((s * 1000.0) as i64)))
        .unwrap_or_else(|| "none".to_string());
    let mut text = String::new();
    text.push_str(&format!("format version:  {}\n", manifest.format_version));
    text.push_str(&format!("backup type:     {}\n", manifest.backup_type));
    text.push_str(&format!(
        "made at:         {} ({})\n",
        iso_utc(manifest.backup_timestamp as i64),
        manifest.backup_timestamp
    ));
    text.push_str(&format!("snapshot before: {snapshot}\n"));
    text.push_str(&format!("core version:    {}\n", manifest.core_version));
    text.push_str(&format!("written by:      {writer}\n"));
    text.push_str(&format!("compressed:      {}\n", manifest.compressed));
    text.push_str(&format!("users:           {}\n", manifest.users.len()));
    let totals_text: Vec<String> = totals.iter().map(|(k, v)| format!("{k} {v}")).collect();
    text.push_str(&format!("totals:          {}\n", totals_text.join(", ")));
    for line in user_lines {
        text.push_str(&line);
        text.push('\n');
    }
    let json = json!({
        "formatVersion": manifest.format_version,
        "backupType": manifest.backup_type,
        "backupTimestamp": manifest.backup_timestamp,
        "snapshotBefore": manifest.snapshot_before.map(crate::json::number_from_f64),
        "coreVersion": manifest.core_version,
        "writer": manifest.writer,
        "compressed": manifest.compressed,
        "config": manifest.config,
        "userCount": manifest.users.len(),
        "totals": totals,
        "users": users,
    });
    Ok(Summary { text, json })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch.
fn iso_utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (year, month, day) = crate::dates::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::iso_utc;

    #[test]
    fn dates_are_utc_iso() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1763990000123), "2025-11-24T13:13:20.123Z");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
