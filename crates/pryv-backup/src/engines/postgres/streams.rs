//! `streams`: the user's stream tree, exported flat.

use std::collections::{HashMap, HashSet};

use postgres::Transaction;
use serde_json::Value;

use super::table::{col, Cell, Inserter, Kind::*, RowValues, RowWriter, Table};
use super::PgError;
use crate::model::Item;
use crate::stream_tree;

pub const TABLE: Table = Table {
    name: "streams",
    what: "streams",
    columns: &[
        col("id", "id", Text),
        col("name", "name", Text),
        col("parent_id", "parentId", Text),
        col("path", "path", Text),
        col("client_data", "clientData", Json),
        col("single_activity", "singleActivity", Bool),
        col("trashed", "trashed", Bool),
        col("created", "created", Float),
        col("created_by", "createdBy", Text),
        col("modified", "modified", Float),
        col("modified_by", "modifiedBy", Text),
        col("deleted", "deleted", Float),
    ],
    key: &["id"],
};

/// A row as the core exports it: no path, false flags dropped, root parent kept as null,
/// deletions reduced to `{id, deleted}`, plus (our addition) the deletion's `path`: the
/// core clears a deleted stream's parent, so its path is the only record of where it was
/// (see docs/archive-format.md).
pub fn to_item(values: RowValues) -> Item {
    let mut item = TABLE.to_item(values, &["parent_id"]);
    let path = item.shift_remove("path");
    for flag in ["trashed", "singleActivity"] {
        if item.get(flag) == Some(&Value::Bool(false)) {
            item.shift_remove(flag);
        }
    }
    if let Some(deleted) = item.get("deleted").cloned() {
        let mut tombstone = serde_json::Map::new();
        if let Some(id) = item.get("id") {
            tombstone.insert("id".into(), id.clone());
        }
        tombstone.insert("deleted".into(), deleted);
        if let Some(path) = path.filter(|p| !p.is_null()) {
            tombstone.insert("path".into(), path);
        }
        return Value::Object(tombstone);
    }
    Value::Object(item)
}

/// Writes the user's streams, in any order, computing each one's path from its ancestors (in
/// the backup, else already in the database: `existing`, stream id → path), or keeping the
/// path an item carries (as the core's reader does). Returns the path written for each
/// stream (id → path): an upsert replaces a row's path, so `existing` overlaid with them is
/// what the table now holds for the user.
pub fn import(
    tx: &mut Transaction<'_>,
    user_id: &str,
    items: &[Item],
    existing: &HashMap<String, String>,
) -> Result<HashMap<String, String>, PgError> {
    let mut inserter = Inserter::for_table(&TABLE);
    let written = rows(user_id, items, existing, &mut |row| inserter.push(tx, row))?;
    inserter.flush(tx)?;
    Ok(written)
}

/// The rows [`import`] writes (`user_id` first), given to `push`; returns the same paths.
pub fn rows(
    user_id: &str,
    items: &[Item],
    existing: &HashMap<String, String>,
    push: &mut dyn FnMut(Vec<Cell<'static>>) -> Result<(), PgError>,
) -> Result<HashMap<String, String>, PgError> {
    let mut seen: HashSet<&str> = HashSet::new();
    for item in items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| TABLE.item_error(item, "no string id".into()))?;
        if item.get("path").is_some_and(|p| !p.is_string()) {
            return Err(TABLE.item_error(item, "field \"path\" is not a string".into()));
        }
        if !seen.insert(id) {
            return Err(TABLE.item_error(item, "the backup holds this stream twice".into()));
        }
    }
    let paths = stream_tree::paths(items, existing).map_err(|e| PgError::Item {
        collection: "streams",
        id: e.id.clone(),
        reason: "its parentId chain loops".into(),
    })?;
    let path_col = TABLE.column("path").unwrap_or(3);
    let mut written = HashMap::with_capacity(items.len());
    for item in items {
        let deleted = item.get("deleted").is_some_and(|d| !d.is_null());
        let mut row = TABLE.row_from_item(item, &|c| absent(c.name, deleted))?;
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let path = paths.get(id).cloned().unwrap_or_else(|| format!("{id}/"));
        row[path_col] = Cell::Text(path.clone().into());
        row.insert(0, Cell::Text(user_id.to_string().into()));
        push(row)?;
        written.insert(id.to_string(), path);
    }
    Ok(written)
}

/// What an absent field becomes: the core's defaults for live streams; a deletion
/// leaves `trashed` NULL, as the core's delete does.
/// What [`Cell::Default`] stands for in a bulk copy (the schema's defaults).
pub const COPY_DEFAULTS: &[(&str, &str)] = &[("single_activity", "f"), ("trashed", "f")];

fn absent(column: &str, deleted: bool) -> Cell<'static> {
    match column {
        "single_activity" => Cell::Default,
        "trashed" if !deleted => Cell::Default,
        _ => Cell::Null,
    }
}
