//! `<base>/user-index.db`: username ↔ userId (table `id4name`).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::layout::{self, USER_INDEX_SCHEMA};
use super::SqliteError;
use crate::model::UserRef;
use crate::Result;

pub fn all_users(path: &Path) -> Result<Vec<UserRef>> {
    let Some(conn) = open_existing(path)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare("SELECT username, userId FROM id4name ORDER BY rowid")
        .map_err(|e| SqliteError::file(path, e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(UserRef {
                username: r.get(0)?,
                user_id: r.get(1)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| SqliteError::file(path, e))?;
    Ok(rows)
}

pub fn has_user_id(path: &Path, user_id: &str) -> Result<bool> {
    Ok(username_of(path, user_id)?.is_some())
}

/// Whether the index lists this user (its userId under its username).
pub fn lists(path: &Path, user: &UserRef) -> Result<bool> {
    Ok(username_of(path, &user.user_id)?.as_deref() == Some(user.username.as_str()))
}

fn username_of(path: &Path, user_id: &str) -> Result<Option<String>> {
    let Some(conn) = open_existing(path)? else {
        return Ok(None);
    };
    lookup(
        &conn,
        "SELECT username FROM id4name WHERE userId = ?1",
        user_id,
    )
    .map_err(|e| SqliteError::file(path, e))
}

pub fn find_conflict(path: &Path, user: &UserRef) -> Result<Option<String>> {
    let Some(conn) = open_existing(path)? else {
        return Ok(None);
    };
    conflict_in(&conn, user).map_err(|e| SqliteError::file(path, e))
}

pub fn conflict_in(conn: &Connection, user: &UserRef) -> rusqlite::Result<Option<String>> {
    if let Some(other) = lookup(
        conn,
        "SELECT userId FROM id4name WHERE username = ?1",
        &user.username,
    )? {
        if other != user.user_id {
            return Ok(Some(format!(
                "username {:?} is registered under another userId ({other})",
                user.username
            )));
        }
    }
    if let Some(other) = lookup(
        conn,
        "SELECT username FROM id4name WHERE userId = ?1",
        &user.user_id,
    )? {
        if other != user.username {
            return Ok(Some(format!(
                "userId {} is registered under another username ({other:?})",
                user.user_id
            )));
        }
    }
    Ok(None)
}

fn lookup(conn: &Connection, sql: &str, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(sql, [key], |r| r.get(0)).optional()
}

fn open_existing(path: &Path) -> Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = layout::open_read_only(path)?;
    if !layout::has_table(&conn, "id4name").map_err(|e| SqliteError::file(path, e))? {
        return Ok(None);
    }
    Ok(Some(conn))
}

/// Opens (creating if needed, with the core's schema) the index for the final update of a restore.
pub fn open_for_update(path: &Path) -> Result<Connection> {
    let base = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    layout::create_with_schema(path, USER_INDEX_SCHEMA, base)
}
