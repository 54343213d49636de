//! Backing up one user: a read transaction is opened on each of the user's files, and each
//! one's WAL snapshot taken, all before anything is read, so the files are read as they
//! were at one moment (the core writing meanwhile). Nothing the core holds open is written.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use super::layout::{self, UserFile};
use super::{account, base_storage, db, ephemeral, events, series, users_index, SqliteEngine};
use crate::engine::{ExportOptions, UserSink};
use crate::model::{owned_attachment_ids, Collection, UserRef};
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
    // The user's own series file (what the core's backup reads), then the HF server's.
    let series_dirs = if engine.with_series {
        vec![
            dir.clone(),
            layout::hf_series_dir(engine.base(), &user.username)?,
        ]
    } else {
        Vec::new()
    };
    let mut files = vec![
        (dir.clone(), UserFile::BaseStorage),
        (dir.clone(), UserFile::Events),
        (dir.clone(), UserFile::Account),
    ];
    if engine.with_audit {
        files.push((dir.clone(), UserFile::Audit));
    }
    files.extend(series_dirs.iter().map(|d| (d.clone(), UserFile::Series)));
    let snapshot = Snapshot::take(&files)?;
    // The core removes a user from the index before it deletes the user's folder: still
    // indexed once every file's snapshot is taken, the user was whole in them; gone, it was
    // deleted since it was listed, and nothing of it is exported.
    if !users_index::lists(&engine.index_path(), user)? {
        return Err(Error::UserDeleted {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
        });
    }

    snapshot.read(&dir, UserFile::BaseStorage, |conn| {
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
    snapshot.read(&dir, UserFile::Events, |conn| {
        for_each_row(conn, |row| {
            let event = events::row_to_event(row)?;
            if window.includes(&event) {
                sink.item(Collection::Events, &event)?;
                if let Some(id) = event.get("id").and_then(Value::as_str) {
                    exported_events.push((id.to_string(), owned_attachment_ids(&event)));
                }
            }
            Ok(())
        })
    })?;
    for (event_id, file_ids) in exported_events {
        for file_id in file_ids {
            export_attachment(engine, user, &event_id, &file_id, sink)?;
        }
    }

    snapshot.read(&dir, UserFile::Account, |conn| {
        sink.account(&account::read(conn)?)
    })?;

    if engine.with_audit {
        snapshot.read(&dir, UserFile::Audit, |conn| {
            for_each_row(conn, |row| {
                let audit = events::row_to_audit(row)?;
                if window.includes(&audit) {
                    sink.item(Collection::Audit, &audit)?;
                }
                Ok(())
            })
        })?;
    }

    for series_dir in &series_dirs {
        snapshot.read(series_dir, UserFile::Series, |conn| {
            for item in series::read_all(conn)? {
                sink.item(Collection::Series, &item)?;
            }
            Ok(())
        })?;
    }
    snapshot.finish()?;
    if options.include_ephemeral {
        ephemeral::export(engine.base(), &user.username, sink)?;
    }
    Ok(())
}

/// Read transactions open on a set of per-user files, each with its snapshot taken (a
/// WAL read transaction takes its snapshot at its first read, not at BEGIN).
pub(super) struct Snapshot {
    open: Vec<(PathBuf, UserFile, Connection)>,
}

impl Snapshot {
    /// Opens every file that exists, begins a read transaction on each and makes its first
    /// read, one file after the other, before the caller reads anything.
    pub(super) fn take(files: &[(PathBuf, UserFile)]) -> Result<Snapshot> {
        let mut open = Vec::with_capacity(files.len());
        for (dir, file) in files {
            let path = dir.join(file.file_name());
            if !path.exists() {
                continue;
            }
            let conn = layout::open_read_only(&path)?;
            conn.execute_batch("BEGIN DEFERRED").map_err(db)?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db)?;
            open.push((dir.clone(), *file, conn));
        }
        Ok(Snapshot { open })
    }

    /// Runs `read` on the file's connection, inside its transaction; nothing when the user
    /// has no such file.
    pub(super) fn read(
        &self,
        dir: &Path,
        file: UserFile,
        read: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<()> {
        match self.open.iter().find(|(d, f, _)| d == dir && *f == file) {
            Some((_, _, conn)) => read(conn),
            None => Ok(()),
        }
    }

    /// Ends the read transactions.
    pub(super) fn finish(self) -> Result<()> {
        for (_, _, conn) in &self.open {
            conn.execute_batch("COMMIT").map_err(db)?;
        }
        Ok(())
    }
}

/// Runs `read` inside one read transaction on the file, if the user has it.
pub(super) fn with_snapshot(
    dir: &Path,
    file: UserFile,
    read: impl FnOnce(&Connection) -> Result<()>,
) -> Result<()> {
    let snapshot = Snapshot::take(&[(dir.to_path_buf(), file)])?;
    snapshot.read(dir, file, read)?;
    snapshot.finish()
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
            sink.attachment_missing(event_id, file_id);
            Ok(())
        }
        Err(e) => Err(e),
    }
}
