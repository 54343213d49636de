//! `audit_events`: exported and restored as the raw snake_case rows (the core's audit
//! export does not convert them), every column but `user_id`, NULLs kept.

use serde_json::Value;

use super::table::{col, Cell, Kind::*, RowValues, Table};
use crate::model::{Item, ItemText};
use crate::Result;

pub const TABLE: Table = Table {
    name: "audit_events",
    what: "audit",
    columns: &[
        col("eventid", "eventid", Text),
        col("head_id", "head_id", Text),
        col("stream_ids", "stream_ids", Text),
        col("time", "time", Float),
        col("deleted", "deleted", Float),
        col("end_time", "end_time", Float),
        col("type", "type", Text),
        col("content", "content", Json),
        col("description", "description", Text),
        col("client_data", "client_data", Json),
        col("integrity", "integrity", Text),
        col("attachments", "attachments", Json),
        col("trashed", "trashed", Bool),
        col("created", "created", Float),
        col("created_by", "created_by", Text),
        col("modified", "modified", Float),
        col("modified_by", "modified_by", Text),
    ],
    key: &["eventid"],
};

pub fn to_item(values: RowValues) -> Item {
    Value::Object(TABLE.to_item_keeping_nulls(values))
}

/// A `user_id` field (rows exported by older tools) is accepted and ignored: the row goes
/// to the user being restored.
const IGNORED: &[&str] = &["user_id"];

/// The row of an audit item's text (without user_id), its JSON columns as the backup holds
/// them.
pub fn from_text(text: &ItemText) -> Result<Vec<Cell<'_>>> {
    let fields = TABLE.raw_fields(text, IGNORED)?;
    Ok(TABLE.row_from_fields(&fields, &|_| Cell::Null)?)
}
