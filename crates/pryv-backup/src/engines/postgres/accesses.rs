//! `accesses` (with their history versions) and the derived `alias_index`.

use serde_json::Value;

use super::table::{col, Cell, Kind::*, RowValues, Table};
use super::PgError;
use crate::model::Item;

pub const TABLE: Table = Table {
    name: "accesses",
    what: "accesses",
    columns: &[
        col("id", "id", Text),
        col("serial", "serial", Int),
        col("head_id", "headId", Text),
        col("token", "token", Text),
        col("name", "name", Text),
        col("type", "type", Text),
        col("device_name", "deviceName", Text),
        col("permissions", "permissions", Json),
        col("client_data", "clientData", Json),
        col("expires", "expires", Float),
        col("last_used", "lastUsed", Float),
        col("calls", "calls", Json),
        col("integrity", "integrity", Text),
        col("integrity_batch_code", "integrityBatchCode", Float),
        col("created", "created", Float),
        col("created_by", "createdBy", Text),
        col("created_by_serial", "createdBySerial", Int),
        col("modified", "modified", Float),
        col("modified_by", "modifiedBy", Text),
        col("modified_by_serial", "modifiedBySerial", Int),
        col("deleted", "deleted", Float),
        col("alias", "alias", Text),
    ],
    key: &["id"],
};

/// A row as the core exports it: NULLs dropped except `headId` (kept as null); a shared
/// access without device name gets `deviceName: null`.
pub fn to_item(values: RowValues) -> Item {
    let mut item = TABLE.to_item(values, &["head_id"]);
    if item.get("type").and_then(Value::as_str) == Some("shared")
        && !item.contains_key("deviceName")
    {
        item.insert("deviceName".into(), Value::Null);
    }
    Value::Object(item)
}

pub fn to_row(item: &Item) -> Result<Vec<Cell<'static>>, PgError> {
    TABLE.row_from_item(item, &|_| Cell::Null)
}

/// The alias a live head access registers in `alias_index`.
pub fn live_alias(item: &Item) -> Option<&str> {
    let is_set = |k: &str| item.get(k).is_some_and(|v| !v.is_null());
    if is_set("headId") || is_set("deleted") {
        return None;
    }
    item.get("alias").and_then(Value::as_str)
}
