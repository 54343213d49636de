//! Audit rows between the two shapes the core's audit engines export.

use serde_json::{json, Map, Value};

/// A row in the PostgreSQL audit's shape (snake_case, JSON parsed, `trashed` boolean) as
/// the SQLite audit stores and exports it (camelCase columns, JSON as text, `trashed` 0/1).
pub fn sqlite_shape(row: &Value) -> Value {
    let fields = row
        .as_object()
        .unwrap_or_else(|| panic!("an audit row is an object: {row}"));
    let mut out = Map::new();
    for (key, value) in fields {
        let sqlite_key = match key.as_str() {
            "head_id" => "headId",
            "stream_ids" => "streamIds",
            "end_time" => "endTime",
            "client_data" => "clientData",
            "created_by" => "createdBy",
            "modified_by" => "modifiedBy",
            other => other,
        };
        let value = match key.as_str() {
            "content" | "client_data" | "attachments" if !value.is_null() => {
                json!(value.to_string())
            }
            "trashed" => json!(i64::from(value.as_bool() == Some(true))),
            _ => value.clone(),
        };
        out.insert(sqlite_key.to_string(), value);
    }
    Value::Object(out)
}

/// A row in the SQLite audit's shape as the PostgreSQL audit stores and exports it (the
/// inverse of [`sqlite_shape`]); a row already in PostgreSQL's shape is returned as it is.
pub fn postgres_shape(row: &Value) -> Value {
    let fields = row
        .as_object()
        .unwrap_or_else(|| panic!("an audit row is an object: {row}"));
    if !fields.contains_key("headId") {
        return row.clone();
    }
    let mut out = Map::new();
    for (key, value) in fields {
        let postgres_key = match key.as_str() {
            "headId" => "head_id",
            "streamIds" => "stream_ids",
            "endTime" => "end_time",
            "clientData" => "client_data",
            "createdBy" => "created_by",
            "modifiedBy" => "modified_by",
            other => other,
        };
        let value = match (key.as_str(), value) {
            ("content" | "clientData" | "attachments", Value::String(text)) => {
                serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("{key} of {row} is not JSON text: {e}"))
            }
            ("trashed", _) => json!(value.as_i64() == Some(1)),
            _ => value.clone(),
        };
        out.insert(postgres_key.to_string(), value);
    }
    Value::Object(out)
}
