//! The `events` table of `local-1.0.0.sqlite` (events) and `audit-1.0.0.sqlite` (audit).

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, Row};
use serde_json::{Map, Value};

use super::layout::EVENT_COLUMNS;
use super::unstorable;
use super::values::{id_of, json_col, object, parse_json, real, text_col, to_json};
use crate::engines::audit_shape::{AuditShape, AUDIT_JSON, AUDIT_KEYS};
use crate::model::Item;
use crate::Result;

/// Ends every stored `streamIds` ("all events"); a tombstone stores just this.
const ALL_EVENTS_TAG: &str = "..";

/// Event fields in the order we write them; each is one column (`id` is `eventid`).
const EVENT_FIELDS: [&str; 17] = [
    "id",
    "headId",
    "streamIds",
    "time",
    "endTime",
    "type",
    "content",
    "description",
    "clientData",
    "attachments",
    "trashed",
    "deleted",
    "created",
    "createdBy",
    "modified",
    "modifiedBy",
    "integrity",
];

pub fn insert_sql() -> String {
    let names: Vec<&str> = EVENT_COLUMNS.iter().map(|(n, _)| *n).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO events ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    )
}

/// Every row, history copies (`headId` set) first, then in storage order: the reference's
/// reader gives an attachment file to the last event of the file listing it, and a history
/// copy lists its head's files, so the head must come after its copies.
pub fn select_sql() -> String {
    let names: Vec<&str> = EVENT_COLUMNS.iter().map(|(n, _)| *n).collect();
    format!(
        "SELECT {} FROM events ORDER BY (headId IS NULL), rowid",
        names.join(", ")
    )
}

fn stream_ids_text(value: Option<&Value>, what: &str) -> Result<String> {
    match value {
        None | Some(Value::Null) => Ok(ALL_EVENTS_TAG.to_string()),
        Some(Value::Array(ids)) => {
            let mut out = String::new();
            for id in ids {
                let id = id
                    .as_str()
                    .filter(|s| !s.is_empty() && !s.contains(' '))
                    .ok_or_else(|| {
                        unstorable(format!(
                            "{what}: streamIds must be non-empty strings without spaces"
                        ))
                    })?;
                out.push_str(id);
                out.push(' ');
            }
            out.push_str(ALL_EVENTS_TAG);
            Ok(out)
        }
        Some(other) => Err(unstorable(format!(
            "{what}: streamIds must be an array, not {other}"
        ))),
    }
}

fn trashed_value(value: Option<&Value>, what: &str) -> Result<SqlValue> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(SqlValue::Integer(0)),
        Some(Value::Bool(true)) => Ok(SqlValue::Integer(1)),
        Some(other) => Err(unstorable(format!(
            "{what}: trashed must be a boolean, not {other}"
        ))),
    }
}

/// One event item → the row values, in [`EVENT_COLUMNS`] order.
pub fn event_to_row(item: &Item) -> Result<Vec<SqlValue>> {
    let obj = object(item, "event")?;
    let id = id_of(obj, "event")?;
    let what = format!("event {id}");
    if let Some(extra) = obj.keys().find(|k| !EVENT_FIELDS.contains(&k.as_str())) {
        return Err(unstorable(format!(
            "{what} has a field {extra:?} that the core's SQLite events table has no column for \
             (the core would drop it); restore this user into a PostgreSQL install instead"
        )));
    }
    let field = |name: &str| obj.get(name);
    let col = |name: &str| format!("{what}: {name}");
    Ok(vec![
        SqlValue::Text(id.to_string()),
        text_col(field("headId"), &col("headId"))?,
        SqlValue::Text(stream_ids_text(field("streamIds"), &what)?),
        real(field("time"), &col("time"))?,
        real(field("deleted"), &col("deleted"))?,
        real(field("endTime"), &col("endTime"))?,
        text_col(field("type"), &col("type"))?,
        json_col(field("content"))?,
        text_col(field("description"), &col("description"))?,
        json_col(field("clientData"))?,
        text_col(field("integrity"), &col("integrity"))?,
        json_col(field("attachments"))?,
        match field("trashed") {
            // A history copy the core emptied on deletion (`keep-authors`: no time, no
            // deletion time, only who changed it when) keeps a NULL `trashed`, as the core
            // leaves it.
            None if field("time").is_none() && field("deleted").is_none() => SqlValue::Null,
            trashed => trashed_value(trashed, &what)?,
        },
        real(field("created"), &col("created"))?,
        text_col(field("createdBy"), &col("createdBy"))?,
        real(field("modified"), &col("modified"))?,
        text_col(field("modifiedBy"), &col("modifiedBy"))?,
    ])
}

/// A row (selected with [`select_sql`]) → the event as the core exports it: NULL fields
/// dropped except a running event's `endTime`, `trashed` only when true.
pub fn row_to_event(row: &Row<'_>) -> Result<Item> {
    let get = |i: usize| row.get_ref(i).map_err(super::db);
    let mut out = Map::new();
    let id = to_json(get(0)?)?;
    let what = format!("event {id}");
    out.insert("id".into(), id);
    put(&mut out, "headId", to_json(get(1)?)?);
    if let Value::String(ids) = to_json(get(2)?)? {
        let mut parts: Vec<&str> = ids.split(' ').collect();
        parts.pop();
        if !parts.is_empty() {
            out.insert("streamIds".into(), Value::from(parts));
        }
    }
    let time = to_json(get(3)?)?;
    let deleted = to_json(get(4)?)?;
    let tombstone = time.is_null() && !deleted.is_null();
    put(&mut out, "time", time);
    let end_time = to_json(get(5)?)?;
    // NULL endTime means "running"; a tombstone has no endTime at all.
    if !tombstone || !end_time.is_null() {
        out.insert("endTime".into(), end_time);
    }
    put(&mut out, "type", to_json(get(6)?)?);
    put(
        &mut out,
        "content",
        parse_json(get(7)?, &format!("{what} content"))?,
    );
    put(&mut out, "description", to_json(get(8)?)?);
    put(
        &mut out,
        "clientData",
        parse_json(get(9)?, &format!("{what} clientData"))?,
    );
    put(
        &mut out,
        "attachments",
        parse_json(get(11)?, &format!("{what} attachments"))?,
    );
    if to_json(get(12)?)?.as_i64() == Some(1) {
        out.insert("trashed".into(), Value::Bool(true));
    }
    put(&mut out, "deleted", deleted);
    put(&mut out, "created", to_json(get(13)?)?);
    put(&mut out, "createdBy", to_json(get(14)?)?);
    put(&mut out, "modified", to_json(get(15)?)?);
    put(&mut out, "modifiedBy", to_json(get(16)?)?);
    put(&mut out, "integrity", to_json(get(10)?)?);
    Ok(Value::Object(out))
}

fn put(out: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        out.insert(key.to_string(), value);
    }
}

/// An audit row in either shape (see [`crate::engines::audit_shape`]) → row values.
pub fn audit_to_row(item: &Item) -> Result<Vec<SqlValue>> {
    let obj = object(item, "audit row")?;
    let id = obj
        .get("eventid")
        .and_then(Value::as_str)
        .ok_or_else(|| unstorable("audit row without a string \"eventid\""))?;
    let what = format!("audit row {id}");
    let shape = AuditShape::of_keys(obj.keys().map(String::as_str))
        .map_err(|reason| unstorable(format!("{what}: {reason}")))?;
    let mut row = Vec::with_capacity(AUDIT_KEYS.len());
    for ((pg_key, column), (_, ty)) in AUDIT_KEYS.iter().zip(EVENT_COLUMNS.iter()) {
        let value = obj.get(match shape {
            AuditShape::Sqlite => *column,
            AuditShape::Postgres => *pg_key,
        });
        let name = format!("{what}: {column}");
        let sql = match (shape, *column) {
            // The SQLite shape holds a JSON column's text as it is stored.
            (AuditShape::Sqlite, _) if AUDIT_JSON.contains(pg_key) => match value {
                Some(Value::String(text)) => SqlValue::Text(text.clone()),
                other => json_col(other)?,
            },
            (_, _) if AUDIT_JSON.contains(pg_key) => json_col(value)?,
            (_, "trashed") => match value {
                Some(Value::Number(n)) if n.as_i64() == Some(1) => SqlValue::Integer(1),
                Some(Value::Number(n)) if n.as_i64() == Some(0) => SqlValue::Integer(0),
                v => trashed_value(v, &what)?,
            },
            _ if ty.starts_with("REAL") => real(value, &name)?,
            _ => text_col(value, &name)?,
        };
        row.push(sql);
    }
    Ok(row)
}

/// A row (selected with [`select_sql`]) → the audit row as the core's SQLite audit export
/// writes it: every column by its name, in column order, values as stored (JSON as text,
/// `trashed` 0/1, NULLs kept).
pub fn row_to_audit(row: &Row<'_>) -> Result<Item> {
    let mut out = Map::new();
    for (index, (column, _)) in EVENT_COLUMNS.iter().enumerate() {
        let raw = row.get_ref(index).map_err(super::db)?;
        out.insert(column.to_string(), to_json(raw)?);
    }
    Ok(Value::Object(out))
}

pub fn insert_rows(
    conn: &Connection,
    rows: impl Iterator<Item = Result<Vec<SqlValue>>>,
) -> Result<usize> {
    let mut stmt = conn.prepare(&insert_sql()).map_err(super::db)?;
    let mut n = 0;
    for row in rows {
        stmt.execute(params_from_iter(row?)).map_err(super::db)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`audit_to_row`] pairs each audit key with the column at the same place.
    #[test]
    fn the_audit_keys_follow_the_events_columns() {
        let sqlite_keys: Vec<&str> = AUDIT_KEYS.iter().map(|(_, sqlite)| *sqlite).collect();
        let columns: Vec<&str> = EVENT_COLUMNS.iter().map(|(name, _)| *name).collect();
        assert_eq!(sqlite_keys, columns);
    }
}
