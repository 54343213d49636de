//! Platform-wide user fields in `platform_kv`: `user-unique/<field>/<value>` → username and
//! `user-indexed/<field>/<username>` → value, exported as `{username, field, value, isUnique}`.

use postgres::Transaction;
use serde_json::{Map, Value};

use super::PgError;
use crate::model::Item;

const UNIQUE: &str = "user-unique/";
const INDEXED: &str = "user-indexed/";

pub fn export(
    tx: &mut Transaction<'_>,
    out: &mut dyn FnMut(&Item) -> crate::Result<()>,
) -> crate::Result<()> {
    for prefix in [UNIQUE, INDEXED] {
        let rows = tx
            .query(
                "SELECT key, value FROM platform_kv WHERE starts_with(key, $1) ORDER BY key",
                &[&prefix],
            )
            .map_err(PgError::from)?;
        for row in &rows {
            let key: String = row.try_get(0).map_err(PgError::from)?;
            let value: String = row.try_get(1).map_err(PgError::from)?;
            if let Some(item) = to_item(&key, value) {
                out(&item)?;
            } else {
                tracing::warn!(
                    "platform_kv key {key:?} is not <type>/<field>/<name>: not backed up"
                );
            }
        }
    }
    Ok(())
}

/// The key's last part keeps any further `/` (the core would cut it; we keep it whole so
/// the key is rebuilt exactly).
fn to_item(key: &str, value: String) -> Option<Item> {
    let mut parts = key.splitn(3, '/');
    let kind = parts.next()?;
    let field = parts.next()?;
    let last = parts.next()?.to_string();
    let unique = kind == "user-unique";
    let (username, value) = if unique { (value, last) } else { (last, value) };
    let mut item = Map::new();
    item.insert("username".into(), Value::String(username));
    item.insert("field".into(), Value::String(field.to_string()));
    item.insert("value".into(), Value::String(value));
    item.insert("isUnique".into(), Value::Bool(unique));
    Some(Value::Object(item))
}

pub fn import(tx: &mut Transaction<'_>, item: &Item) -> Result<(), PgError> {
    let bad = |reason: String| PgError::Item {
        collection: "platform",
        id: item.to_string(),
        reason,
    };
    let text = |name: &str| -> Result<String, PgError> {
        match item.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
            _ => Err(bad(format!("no string \"{name}\""))),
        }
    };
    let (username, field, value) = (text("username")?, text("field")?, text("value")?);
    let unique = item
        .get("isUnique")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (key, stored) = if unique {
        (format!("{UNIQUE}{field}/{value}"), username)
    } else {
        (format!("{INDEXED}{field}/{username}"), value)
    };
    tx.execute(
        "INSERT INTO platform_kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&key, &stored],
    )?;
    Ok(())
}
