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

/// Export order: every history copy (`head_id` set) before the heads, by id within each. The
/// reference's reader gives an attachment file to the last event of the file listing it, and
/// history copies list their head's files: the head must come last. Chunk files are read in
/// order, so this holds across chunks.
pub const EXPORT_ORDER: &str = "(head_id IS NULL), id";

/// What `Cell::Default` stands for in a bulk copy (the schema's `trashed BOOLEAN DEFAULT FALSE`).
pub const COPY_DEFAULTS: &[(&str, &str)] = &[("trashed", "f")];

/// The row of an event item (without user_id). An absent `trashed` is the column default
/// (false), except on what a deletion stripped: the core's deletion modes that clear
/// `trashed` (keep-authors, keep-nothing) clear `type` with it, on the deleted event and on
/// its history copies, and leave the column NULL. An event without `type` is such a stub.
pub fn to_row(item: &Item) -> Result<Vec<Cell>, PgError> {
    refuse_nul(item)?;
    let stripped = item.get("type").is_none_or(Value::is_null);
    TABLE.row_from_item(item, &|c| {
        if c.name == "trashed" && !stripped {
            Cell::Default
        } else {
            Cell::Null
        }
    })
}

/// PostgreSQL text and jsonb cannot hold U+0000 (error 22P05, which names no row): such
/// an event is refused by id, with why. The live core itself refuses to create one.
fn refuse_nul(item: &Item) -> Result<(), PgError> {
    fn has_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(has_nul),
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if !has_nul(item) {
        return Ok(());
    }
    Err(PgError::Item {
        collection: "events",
        id: item
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("(without id)")
            .to_string(),
        reason: "a text in it holds the character U+0000 (\\u0000), which PostgreSQL cannot \
                 store; the core refuses such events too: remove the character from the backup's \
                 event, or restore into SQLite"
            .to_string(),
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

/// (event id, file id) of each attachment a head event lists. A history copy (`headId`
/// set) gets none: it lists its head's files, which the core stores under the head's id only.
pub fn attachment_ids(item: &Item) -> Vec<(String, String)> {
    if item.get("headId").is_some_and(|h| !h.is_null()) {
        return Vec::new();
    }
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
