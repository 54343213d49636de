//! rqlite's SQLite database read (and, for fresh files, written) directly with rusqlite.
//!
//! rqlite 8/9 keeps the database it serves at `<data dir>/db.sqlite` (next to its Raft log
//! `raft.db` and snapshots `rsnapshots/`). rqlite allows reading that file, never writing
//! it: on start it rebuilds it from its snapshot and log, so direct changes would be lost
//! or make the node refuse to start. Writes therefore go only to a file outside a data
//! directory, to be loaded into a node with rqlite's own restore (`/db/load`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{RqliteError, TABLE_DDL};

/// The SQLite file inside an rqlite data directory.
pub const DATA_DIR_DB: &str = "db.sqlite";

/// What marks a directory as a live rqlite data directory.
const RAFT_LOG: &str = "raft.db";

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> RqliteError + '_ {
    move |source| RqliteError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// Every `(key, value)` row whose key starts with `prefix`, in key order.
pub fn rows_with_prefix(
    path: &Path,
    prefix: &str,
    on_row: &mut dyn FnMut(&str, &str) -> crate::Result<()>,
) -> crate::Result<()> {
    if !path.is_file() {
        return Err(RqliteError::Layout {
            path: path.to_path_buf(),
            reason: "no such file (with rqlite, give its data directory's db.sqlite)".into(),
        }
        .into());
    }
    let err = db_error(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keyValue'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(&err)?;
    if has_table.is_none() {
        return Err(RqliteError::Layout {
            path: path.to_path_buf(),
            reason: "no keyValue table: not a Pryv.io platform database".into(),
        }
        .into());
    }
    let mut statement = conn
        .prepare("SELECT key, value FROM keyValue WHERE substr(key, 1, ?1) = ?2 ORDER BY key")
        .map_err(&err)?;
    let mut rows = statement
        .query(rusqlite::params![prefix.chars().count() as i64, prefix])
        .map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        let key: String = row.get(0).map_err(&err)?;
        let value: String = row.get(1).map_err(&err)?;
        on_row(&key, &value)?;
    }
    Ok(())
}

/// Writes rows into a SQLite file in rqlite's layout (created when missing), all in one
/// transaction. Refuses a file inside a live rqlite data directory.
pub fn put_rows(
    path: &Path,
    rows: &mut dyn Iterator<Item = crate::Result<(String, String)>>,
) -> crate::Result<()> {
    if let Some(dir) = live_data_dir(path) {
        return Err(RqliteError::Layout {
            path: path.to_path_buf(),
            reason: format!(
                "{} is a live rqlite data directory, whose database rqlite rebuilds on start: \
                 restore through the HTTP API instead, or write a separate file and load it \
                 with rqlite's /db/load",
                dir.display()
            ),
        }
        .into());
    }
    let err = db_error(path);
    let mut conn = Connection::open(path).map_err(&err)?;
    let tx = conn.transaction().map_err(&err)?;
    tx.execute(TABLE_DDL, []).map_err(&err)?;
    {
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO keyValue (key, value) VALUES (?1, ?2)")
            .map_err(&err)?;
        for row in rows {
            let (key, value) = row?;
            insert.execute([key, value]).map_err(&err)?;
        }
    }
    tx.commit().map_err(&err)?;
    Ok(())
}

fn live_data_dir(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.join(RAFT_LOG).exists().then(|| dir.to_path_buf())
}
