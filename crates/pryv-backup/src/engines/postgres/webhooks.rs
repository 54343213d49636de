//! `webhooks`.

use serde_json::Value;

use super::table::{col, Cell, Kind::*, RowValues, Table};
use super::PgError;
use crate::model::Item;

pub const TABLE: Table = Table {
    name: "webhooks",
    what: "webhooks",
    columns: &[
        col("id", "id", Text),
        col("access_id", "accessId", Text),
        col("url", "url", Text),
        col("state", "state", Text),
        col("run_count", "runCount", Int),
        col("fail_count", "failCount", Int),
        col("last_run", "lastRun", Json),
        col("runs", "runs", Json),
        col("current_retries", "currentRetries", Int),
        col("max_retries", "maxRetries", Int),
        col("min_interval_ms", "minIntervalMs", Int),
        col("created", "created", Float),
        col("created_by", "createdBy", Text),
        col("modified", "modified", Float),
        col("modified_by", "modifiedBy", Text),
        col("deleted", "deleted", Float),
        col("scopes", "scopes", Json),
    ],
    key: &["id"],
};

pub fn to_item(values: RowValues) -> Item {
    Value::Object(TABLE.to_item(values, &[]))
}

/// What [`Cell::Default`] stands for in a bulk copy (the schema's defaults).
pub const COPY_DEFAULTS: &[(&str, &str)] = &[
    ("run_count", "0"),
    ("fail_count", "0"),
    ("current_retries", "0"),
];

/// Counters absent from a live webhook take their default (0); the core's deletion clears
/// them, so a deleted webhook gets NULLs.
pub fn to_row(item: &Item) -> Result<Vec<Cell<'static>>, PgError> {
    let deleted = item.get("deleted").is_some_and(|d| !d.is_null());
    TABLE.row_from_item(item, &|c| match c.name {
        "run_count" | "fail_count" | "current_retries" if !deleted => Cell::Default,
        _ => Cell::Null,
    })
}
