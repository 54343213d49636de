//! SQLite values ↔ JSON, with numbers written back as JavaScript writes them.

use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Map, Value};

use super::unstorable;
use crate::json::number_from_f64;
use crate::model::Item;
use crate::{Error, Result};

/// A column value as the core's JavaScript would see it (REAL → JS number text).
pub fn to_json(value: ValueRef<'_>) -> Result<Value> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => number_from_f64(f),
        ValueRef::Text(t) => Value::String(text(t)?),
        ValueRef::Blob(_) => {
            return Err(Error::Other(
                "unexpected BLOB in a SQLite column".to_string(),
            ))
        }
    })
}

/// A JSON-text column, parsed (NULL stays `Null`).
pub fn parse_json(value: ValueRef<'_>, what: &str) -> Result<Value> {
    match value {
        ValueRef::Null => Ok(Value::Null),
        ValueRef::Text(t) => serde_json::from_slice(t).map_err(|e| {
            Error::Other(format!(
                "{what} holds invalid JSON text ({e}); the file is damaged"
            ))
        }),
        other => to_json(other),
    }
}

fn text(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::Other("invalid UTF-8 text in a SQLite column".to_string()))
}

/// A JSON number for a REAL column; `null`/absent → NULL.
pub fn real(value: Option<&Value>, what: &str) -> Result<SqlValue> {
    match value {
        None | Some(Value::Null) => Ok(SqlValue::Null),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(SqlValue::Real)
            .ok_or_else(|| unstorable(format!("{what}: number {n} is out of range"))),
        Some(other) => Err(unstorable(format!("{what} must be a number, not {other}"))),
    }
}

/// A JSON string for a TEXT column; `null`/absent → NULL.
pub fn text_col(value: Option<&Value>, what: &str) -> Result<SqlValue> {
    match value {
        None | Some(Value::Null) => Ok(SqlValue::Null),
        Some(Value::String(s)) => Ok(SqlValue::Text(s.clone())),
        Some(other) => Err(unstorable(format!("{what} must be a string, not {other}"))),
    }
}

/// Any JSON for a JSON-text column; `null`/absent → NULL (as the core does).
pub fn json_col(value: Option<&Value>) -> Result<SqlValue> {
    match value {
        None | Some(Value::Null) => Ok(SqlValue::Null),
        Some(v) => Ok(SqlValue::Text(to_text(v)?)),
    }
}

pub fn to_text(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Other(format!("cannot serialise JSON: {e}")))
}

/// The item as an object, or an error naming the collection.
pub fn object<'a>(item: &'a Item, what: &str) -> Result<&'a Map<String, Value>> {
    item.as_object()
        .ok_or_else(|| unstorable(format!("{what}: expected a JSON object, got {item}")))
}

/// The item's string `id`.
pub fn id_of<'a>(obj: &'a Map<String, Value>, what: &str) -> Result<&'a str> {
    obj.get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| unstorable(format!("{what} without a string \"id\"")))
}
