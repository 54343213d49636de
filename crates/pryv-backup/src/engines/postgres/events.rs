//! `events` and the derived `event_streams`.

use std::collections::HashMap;

use serde_json::Value;

use super::table::{col, Cell, Kind, Kind::*, RowValues, Table};
use super::PgError;
use crate::model::Item;

pub const TABLE: Table = Table {
    name: "events",
    what: "events",
    columns: &[
        col("id", "id", Text),
        col("head_id", "headId", Text),
        col("stream_ids", "streamIds", Json),
        col("time", "time", Float),
        col("end_time", "endTime", Float),
        col("type", "type", Text),
        col("tags", "tags", Json),
        col("content", "content", Json),
        col("description", "description", Text),
        col("client_data", "clientData", Json),
        col("attachments", "attachments", Json),
        col("integrity", "integrity", Text),
        col("trashed", "trashed", Bool),
        col("created", "created", Float),
        col("created_by", "createdBy", Text),
        col("modified", "modified", Float),
        col("modified_by", "modifiedBy", Text),
        col("deleted", "deleted", Float),
    ],
    key: &["id"],
};

/// A row as the core exports it: NULLs dropped, but a live event keeps `endTime: null`
/// (a running period); `trashed: false` dropped.
pub fn to_item(values: RowValues) -> Item {
    let deleted_col = TABLE.column("deleted").unwrap_or(17);
    let live = values.get(deleted_col).is_none_or(Option::is_none);
    let keep: &[&str] = if live { &["end_time"] } else { &[] };
    let mut item = TABLE.to_item(values, keep);
    if item.get("trashed") == Some(&Value::Bool(false)) {
        item.shift_remove("trashed");
    }
    Value::Object(item)
}

/// The row of an event item (without user_id).
pub fn to_row(item: &Item) -> Result<Vec<Cell>, PgError> {
    TABLE.row_from_item(item, &|c| {
        if c.name == "trashed" {
            Cell::Default
        } else {
            Cell::Null
        }
    })
}

/// `event_streams` rows for an event: only live head events are indexed, one row per stream,
/// with that stream's path (or `id/` for a stream the user does not have).
pub fn stream_rows(item: &Item, paths: &HashMap<String, String>) -> Vec<(String, String, String)> {
    let is_set = |k: &str| item.get(k).is_some_and(|v| !v.is_null());
    if is_set("headId") || is_set("deleted") {
        return Vec::new();
    }
    let Some(event_id) = item.get("id").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for stream_id in item
        .get("streamIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if rows.iter().any(|(_, s, _)| s == stream_id) {
            continue;
        }
        let path = paths
            .get(stream_id)
            .cloned()
            .unwrap_or_else(|| format!("{stream_id}/"));
        rows.push((event_id.to_string(), stream_id.to_string(), path));
    }
    rows
}

pub const EVENT_STREAMS_COLUMNS: [(&str, Kind); 4] = [
    ("user_id", Text),
    ("event_id", Text),
    ("stream_id", Text),
    ("stream_path", Text),
];

/// (event id, file id) of each attachment the event lists.
pub fn attachment_ids(item: &Item) -> Vec<(String, String)> {
    let Some(event_id) = item.get("id").and_then(Value::as_str) else {
        return Vec::new();
    };
    item.get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("id").and_then(Value::as_str))
        .map(|file_id| (event_id.to_string(), file_id.to_string()))
        .collect()
}
