//! Ephemeral per-user rows of global tables, backed up only on request: `sessions` (owned via
//! `data->>'username'`) and `password_resets` (`username`). Items: `{id, data, expires}` and
//! `{id, username, expires}`, `expires` in float seconds.

use postgres::Transaction;
use serde_json::{Map, Value};

use super::values::{as_f64, float, json_from_text};
use super::PgError;
use crate::model::{Collection, Item};

pub fn export(
    tx: &mut Transaction<'_>,
    username: &str,
    emit: &mut dyn FnMut(Collection, &Item) -> crate::Result<()>,
) -> crate::Result<()> {
    let rows = tx
        .query(
            "SELECT id, data::text, extract(epoch FROM expires)::float8 FROM sessions \
             WHERE data->>'username' = $1 ORDER BY id",
            &[&username],
        )
        .map_err(PgError::from)?;
    for row in &rows {
        let data: Option<String> = row.try_get(1).map_err(PgError::from)?;
        let data = match data {
            Some(t) => json_from_text(&t).map_err(|reason| PgError::Row {
                table: "sessions",
                reason,
            })?,
            None => Value::Null,
        };
        emit(Collection::Sessions, &item(row, "data", data)?)?;
    }
    let rows = tx
        .query(
            "SELECT id, username, extract(epoch FROM expires)::float8 FROM password_resets \
             WHERE username = $1 ORDER BY id",
            &[&username],
        )
        .map_err(PgError::from)?;
    for row in &rows {
        let name: Option<String> = row.try_get(1).map_err(PgError::from)?;
        let name = name.map(Value::String).unwrap_or(Value::Null);
        emit(Collection::PasswordResets, &item(row, "username", name)?)?;
    }
    Ok(())
}

/// `{id, <owner key>: owner, expires}` from a row `(id, <owner>, expires seconds)`: both
/// tables share that shape but for how they name their user.
fn item(row: &postgres::Row, owner_key: &str, owner: Value) -> Result<Item, PgError> {
    let mut item = Map::new();
    item.insert("id".into(), Value::String(row.try_get(0)?));
    item.insert(owner_key.into(), owner);
    let expires: Option<f64> = row.try_get(2)?;
    item.insert("expires".into(), expires.map(float).unwrap_or(Value::Null));
    Ok(Value::Object(item))
}

/// Removes the user's ephemeral rows (for overwrite).
pub fn clear(tx: &mut Transaction<'_>, username: &str) -> Result<(), PgError> {
    tx.execute(
        "DELETE FROM sessions WHERE data->>'username' = $1",
        &[&username],
    )?;
    tx.execute(
        "DELETE FROM password_resets WHERE username = $1",
        &[&username],
    )?;
    Ok(())
}

pub fn import_session(tx: &mut Transaction<'_>, item: &Item) -> Result<(), PgError> {
    let bad = |reason: &str| PgError::Item {
        collection: "sessions",
        id: super::table::item_id(item),
        reason: reason.to_string(),
    };
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no string id"))?;
    let data = item
        .get("data")
        .filter(|d| !d.is_null())
        .map(Value::to_string);
    let expires = expires(item).map_err(|r| bad(&r))?;
    tx.execute(
        "INSERT INTO sessions (id, data, expires) VALUES ($1, $2::text::jsonb, to_timestamp($3)) \
         ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expires = EXCLUDED.expires",
        &[&id, &data, &expires],
    )?;
    Ok(())
}

pub fn import_password_reset(tx: &mut Transaction<'_>, item: &Item) -> Result<(), PgError> {
    let bad = |reason: &str| PgError::Item {
        collection: "passwordResets",
        id: super::table::item_id(item),
        reason: reason.to_string(),
    };
    let id = item
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no string id"))?;
    let username = item.get("username").and_then(Value::as_str);
    let expires = expires(item).map_err(|r| bad(&r))?;
    tx.execute(
        "INSERT INTO password_resets (id, username, expires) VALUES ($1, $2, to_timestamp($3)) \
         ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, expires = EXCLUDED.expires",
        &[&id, &username, &expires],
    )?;
    Ok(())
}

fn expires(item: &Item) -> Result<Option<f64>, String> {
    match item.get("expires") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_f64(v)
            .map(Some)
            .ok_or_else(|| format!("expires is not a number: {v}")),
    }
}
