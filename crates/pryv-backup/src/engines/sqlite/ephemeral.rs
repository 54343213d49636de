//! Sessions and password-reset requests: not per-user files but two tables of the shared
//! `<base>/_shared/baseStorage.sqlite`, owned by username (`data.username` for sessions).
//!
//! Items use the PostgreSQL engine's shapes so archives move between engines:
//! `{id, data, expires}` and `{id, username, expires}`, `expires` in float seconds (the
//! SQLite tables store integer milliseconds).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde_json::{Map, Value};

use super::values::{object, parse_json, to_text};
use super::{db, layout, unstorable};
use crate::engine::{UserSink, UserSource};
use crate::json::number_from_f64;
use crate::model::{Collection, Item};
use crate::Result;

const SHARED_FILE: [&str; 2] = ["_shared", "baseStorage.sqlite"];

pub const SHARED_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS password_resets (id TEXT PRIMARY KEY, username TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);
CREATE INDEX IF NOT EXISTS password_resets_username ON password_resets(username);
";

pub fn shared_path(base: &Path) -> PathBuf {
    SHARED_FILE
        .iter()
        .fold(base.to_path_buf(), |p, part| p.join(part))
}

/// The user's sessions and password resets, in one read transaction.
pub fn export(base: &Path, username: &str, sink: &mut dyn UserSink) -> Result<()> {
    let path = shared_path(base);
    if !path.exists() {
        return Ok(());
    }
    let conn = layout::open_read_only(&path)?;
    let tx = conn.unchecked_transaction().map_err(db)?;
    if layout::has_table(&tx, "sessions").map_err(db)? {
        let mut stmt = tx
            .prepare("SELECT id, data, expires FROM sessions WHERE json_extract(data, '$.username') = ?1 ORDER BY id")
            .map_err(db)?;
        let mut rows = stmt.query([username]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let mut item = Map::new();
            item.insert("id".into(), Value::String(row.get(0).map_err(db)?));
            item.insert(
                "data".into(),
                parse_json(row.get_ref(1).map_err(db)?, "session data")?,
            );
            item.insert("expires".into(), seconds(row.get(2).map_err(db)?));
            sink.item(Collection::Sessions, &Value::Object(item))?;
        }
    }
    if layout::has_table(&tx, "password_resets").map_err(db)? {
        let mut stmt = tx
            .prepare(
                "SELECT id, username, expires FROM password_resets WHERE username = ?1 ORDER BY id",
            )
            .map_err(db)?;
        let mut rows = stmt.query([username]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let mut item = Map::new();
            item.insert("id".into(), Value::String(row.get(0).map_err(db)?));
            item.insert("username".into(), Value::String(row.get(1).map_err(db)?));
            item.insert("expires".into(), seconds(row.get(2).map_err(db)?));
            sink.item(Collection::PasswordResets, &Value::Object(item))?;
        }
    }
    drop(tx);
    Ok(())
}

fn seconds(ms: f64) -> Value {
    number_from_f64(ms / 1000.0)
}

/// Rows ready to insert: (id, data or username, expires in ms).
#[derive(Default)]
pub struct Staged {
    sessions: Vec<(String, String, i64)>,
    resets: Vec<(String, String, i64)>,
}

impl Staged {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.resets.is_empty()
    }
}

/// Reads and checks the backup's ephemeral items before anything is written.
pub fn collect(source: &dyn UserSource) -> Result<Staged> {
    let mut staged = Staged::default();
    for item in source.items(Collection::Sessions)? {
        let item = item?;
        let (id, expires) = id_and_expires(&item, "session")?;
        let data = to_text(item.get("data").unwrap_or(&Value::Null))?;
        staged.sessions.push((id, data, expires));
    }
    for item in source.items(Collection::PasswordResets)? {
        let item = item?;
        let (id, expires) = id_and_expires(&item, "password reset")?;
        let username = item
            .get("username")
            .and_then(Value::as_str)
            .ok_or_else(|| unstorable(format!("password reset {id} without a username")))?;
        staged.resets.push((id, username.to_string(), expires));
    }
    Ok(staged)
}

fn id_and_expires(item: &Item, what: &str) -> Result<(String, i64)> {
    let obj = object(item, what)?;
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| unstorable(format!("{what} without a string id")))?;
    let expires = obj
        .get("expires")
        .and_then(Value::as_f64)
        .ok_or_else(|| unstorable(format!("{what} {id}: expires must be a number of seconds")))?;
    Ok((id.to_string(), (expires * 1000.0).round() as i64))
}

/// Opens the shared file for the restore's commit (created with the core's schema if absent).
pub fn open_for_update(base: &Path) -> Result<Connection> {
    let path = shared_path(base);
    let dir = path.parent().unwrap_or(base);
    crate::install_fs::DataFolder::of(base)
        .and_then(|folder| folder.create_dir_all(dir))
        .map_err(|e| crate::Error::io(dir, e))?;
    layout::create_with_schema(&path, SHARED_SCHEMA, dir)
}

/// Inside the caller's transaction: with overwrite, drops the user's rows; then inserts.
pub fn apply(conn: &Connection, username: &str, staged: &Staged, overwrite: bool) -> Result<()> {
    if overwrite {
        conn.execute(
            "DELETE FROM sessions WHERE json_extract(data, '$.username') = ?1",
            [username],
        )
        .map_err(db)?;
        conn.execute(
            "DELETE FROM password_resets WHERE username = ?1",
            [username],
        )
        .map_err(db)?;
    }
    for (id, data, expires) in &staged.sessions {
        conn.execute(
            "INSERT INTO sessions (id, data, expires) VALUES (?1, ?2, ?3) \
             ON CONFLICT(id) DO UPDATE SET data = excluded.data, expires = excluded.expires",
            params![id, data, expires],
        )
        .map_err(db)?;
    }
    for (id, name, expires) in &staged.resets {
        conn.execute(
            "INSERT INTO password_resets (id, username, expires) VALUES (?1, ?2, ?3) \
             ON CONFLICT(id) DO UPDATE SET username = excluded.username, expires = excluded.expires",
            params![id, name, expires],
        )
        .map_err(db)?;
    }
    Ok(())
}
