//! `profile`: one JSON document per profile id (`public`, `private`, app ids).

use serde_json::Value;

use super::table::{col, Cell, Kind::*, RowValues, Table};
use super::PgError;
use crate::model::Item;

pub const TABLE: Table = Table {
    name: "profile",
    what: "profile",
    columns: &[col("id", "id", Text), col("data", "data", Json)],
    key: &["id"],
};

pub fn to_item(values: RowValues) -> Item {
    Value::Object(TABLE.to_item(values, &[]))
}

pub fn to_row(item: &Item) -> Result<Vec<Cell<'static>>, PgError> {
    TABLE.row_from_item(item, &|_| Cell::Null)
}
