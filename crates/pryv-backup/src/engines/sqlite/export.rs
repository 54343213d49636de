//! Backing up one user: each per-user file is read inside one read transaction (one WAL
//! snapshot per file), opened read-only so nothing the core holds open is ever written.

use std::io::ErrorKind;
use std::path::Path;

use rusqlite::Connection;
use serde_json::Value;

use super::layout::{self, UserFile};
use super::{account, base_storage, db, ephemeral, events, series, SqliteEngine};
use crate::engine::{ExportOptions, UserSink};
use crate::model::{Collection, Item, UserRef};
use crate::stream_tree;
use crate::{Error, Result};

pub fn export_user(
    engine: &SqliteEngine,
    user: &UserRef,
    options: &ExportOptions,
    sink: &mut dyn UserSink,
) -> Result<()> {
    let dir = engine.user_dir(&user.user_id)?;
    layout::refuse_unmigrated(&dir)?;
    let window = &options.window;

    with_snapshot(&dir, UserFile::BaseStorage, |conn| {
        for table in base_storage::TABLES {
            let mut items = table.read_all(conn)?;
            if table.collection == Collection::Streams {
                // The reference's reader builds stream paths in file order: parents first.
                items = stream_tree::parents_first(items);
            }
            // Profile has no timestamps: always exported whole, as the core does.
            let filter = table.collection != Collection::Profile;
            for item in items.iter().filter(|i| !filter || window.includes(i)) {
                sink.item(table.collection, item)?;
            }
        }
        Ok(())
    })?;

    let mut exported_events = Vec::new();
    with_snapshot(&dir, UserFile::Events, |conn| {
        for_each_row(conn, |row| {
            let event = events::row_to_event(row)?;
            if window.includes(&event) {
                sink.item(Collection::Events, &event)?;
                exported_events.push(attachment_refs(&event));
            }
            Ok(())
        })
    })?;
    for (event_id, file_ids) in exported_events.into_iter().flatten() {
        for file_id in file_ids {
            export_attachment(engine, user, &event_id, &file_id, sink)?;
        }
    }

    with_snapshot(&dir, UserFile::Account, |conn| {
        sink.account(&account::read(conn)?)
    })?;

    if engine.with_audit {
        with_snapshot(&dir, UserFile::Audit, |conn| {
            for_each_row(conn, |row| {
                let audit = events::row_to_audit(row)?;
                if window.includes(&audit) {
                    sink.item(Collection::Audit, &audit)?;
                }
                Ok(())
            })
        })?;
    }

    if engine.with_series {
        // The user's own series file (what the core's backup reads), then the HF server's.
        let hf_dir = layout::hf_series_dir(engine.base(), &user.username)?;
        for series_dir in [&dir, &hf_dir] {
            with_snapshot(series_dir, UserFile::Series, |conn| {
                for item in series::read_all(conn)? {
                    sink.item(Collection::Series, &item)?;
                }
                Ok(())
            })?;
        }
    }
    if options.include_ephemeral {
        ephemeral::export(engine.base(), &user.username, sink)?;
    }
    Ok(())
}

/// Runs `read` inside one read transaction on the file, if the user has it.
pub(super) fn with_snapshot(
    dir: &Path,
    file: UserFile,
    read: impl FnOnce(&Connection) -> Result<()>,
) -> Result<()> {
    let path = dir.join(file.file_name());
    if !path.exists() {
        return Ok(());
    }
    let conn = layout::open_for_reading(&path)?;
    let tx = conn.unchecked_transaction().map_err(db)?;
    read(&tx)?;
    tx.commit().map_err(db)
}

/// Each row of the file's `events` table (events or audit), if it has one.
pub(super) fn for_each_row(
    conn: &Connection,
    mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<()>,
) -> Result<()> {
    if !layout::has_table(conn, "events").map_err(db)? {
        return Ok(());
    }
    let mut stmt = conn.prepare(&events::select_sql()).map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        f(row)?;
    }
    Ok(())
}

/// The attachment files of a current event (history versions and tombstones own no files).
fn attachment_refs(event: &Item) -> Option<(String, Vec<String>)> {
    if event.get("headId").is_some() || event.get("deleted").is_some() {
        return None;
    }
    let id = event.get("id")?.as_str()?.to_string();
    let files: Vec<String> = event
        .get("attachments")?
        .as_array()?
        .iter()
        .filter_map(|a| a.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    Some((id, files))
}

fn export_attachment(
    engine: &SqliteEngine,
    user: &UserRef,
    event_id: &str,
    file_id: &str,
    sink: &mut dyn UserSink,
) -> Result<()> {
    match engine.attachments.read(&user.user_id, event_id, file_id) {
        Ok(mut data) => sink.attachment(event_id, file_id, &mut data),
        // The core's backup only warns about a missing file; so do we, loudly.
        Err(Error::Io { path, source }) if source.kind() == ErrorKind::NotFound => {
            tracing::warn!(user = %user.username, event_id, file_id, %path, "attachment file missing; not in backup");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
