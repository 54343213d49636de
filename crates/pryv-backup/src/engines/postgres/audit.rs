//! `audit_events`: exported as the raw snake_case rows (the core's PostgreSQL audit export
//! does not convert them), every column but `user_id`, NULLs kept. Restored from that shape
//! or from the SQLite audit's (see [`crate::engines::audit_shape`]).

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::Value;

use super::table::{col, json_string, Cell, Column, Kind::*, RowValues, Table};
use super::PgError;
use crate::engines::audit_shape::AUDIT_JSON;
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

/// The same columns read from the SQLite audit's rows: camelCase fields, `trashed` 0/1
/// (converted by [`sqlite_cell`]).
const SQLITE_SHAPE: Table = Table {
    name: "audit_events",
    what: "audit",
    columns: &[
        col("eventid", "eventid", Text),
        col("head_id", "headId", Text),
        col("stream_ids", "streamIds", Text),
        col("time", "time", Float),
        col("deleted", "deleted", Float),
        col("end_time", "endTime", Float),
        col("type", "type", Text),
        col("content", "content", Json),
        col("description", "description", Text),
        col("client_data", "clientData", Json),
        col("integrity", "integrity", Text),
        col("attachments", "attachments", Json),
        col("trashed", "trashed", Int),
        col("created", "created", Float),
        col("created_by", "createdBy", Text),
        col("modified", "modified", Float),
        col("modified_by", "modifiedBy", Text),
    ],
    key: &["eventid"],
};

pub fn to_item(values: RowValues) -> Item {
    Value::Object(TABLE.to_item_keeping_nulls(values))
}

/// A `user_id` field (rows exported by older tools) is accepted and ignored: the row goes
/// to the user being restored.
const IGNORED: &[&str] = &["user_id"];

/// Reads a user's audit rows, whichever shape each is in. Rows of one archive share one
/// shape: the shape of the last row is tried first, so each row is parsed once.
#[derive(Default)]
pub struct AuditReader {
    sqlite_shape: bool,
}

impl AuditReader {
    /// The row of an audit item's text (without user_id).
    pub fn row<'t>(&mut self, text: &'t ItemText) -> Result<Vec<Cell<'t>>> {
        let table = |sqlite: bool| if sqlite { &SQLITE_SHAPE } else { &TABLE };
        let mut fields = table(self.sqlite_shape).raw_fields(text, IGNORED)?;
        if let Some(unknown) = fields.unknown() {
            let other = table(!self.sqlite_shape);
            if other.columns.iter().any(|c| c.field == unknown) {
                self.sqlite_shape = !self.sqlite_shape;
                fields = other.raw_fields(text, IGNORED)?;
            }
        }
        if !self.sqlite_shape {
            return Ok(TABLE.row_from_fields(&fields, &|_| Cell::Null)?);
        }
        let cells = SQLITE_SHAPE.row_from_fields(&fields, &|_| Cell::Null)?;
        let id = fields.string(&SQLITE_SHAPE, "eventid").unwrap_or_default();
        SQLITE_SHAPE
            .columns
            .iter()
            .zip(cells)
            .map(|(c, cell)| sqlite_cell(c, cell).map_err(|reason| item_error(&id, reason)))
            .collect()
    }
}

fn item_error(id: &str, reason: String) -> crate::Error {
    PgError::Item {
        collection: TABLE.what,
        id: id.to_string(),
        reason,
    }
    .into()
}

/// A cell of a SQLite-shape row as the PostgreSQL column takes it: a JSON column's text
/// (a JSON string holding it) as that JSON, `trashed` 0/1 as a boolean.
fn sqlite_cell<'a>(c: &Column, cell: Cell<'a>) -> Result<Cell<'a>, String> {
    if AUDIT_JSON.contains(&c.name) {
        let Cell::Json(raw) = cell else {
            return Ok(cell);
        };
        let Some(text) = json_string(&raw).map(Cow::into_owned) else {
            // Not a string: JSON already, as the PostgreSQL shape carries it.
            return Ok(Cell::Json(raw));
        };
        serde_json::from_str::<IgnoredAny>(&text).map_err(|e| {
            format!(
                "field \"{}\" of the SQLite audit shape should hold JSON text, which \
                 PostgreSQL's jsonb column needs ({e})",
                c.field
            )
        })?;
        return Ok(Cell::Json(Cow::Owned(text)));
    }
    match cell {
        Cell::Int(0) => Ok(Cell::Bool(false)),
        Cell::Int(1) => Ok(Cell::Bool(true)),
        Cell::Int(other) => Err(format!("field \"trashed\" should be 0 or 1 but is {other}")),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::audit_shape::AUDIT_KEYS;

    #[test]
    fn both_tables_list_the_shared_keys_in_column_order() {
        for ((pg, sqlite), (a, b)) in AUDIT_KEYS
            .iter()
            .zip(TABLE.columns.iter().zip(SQLITE_SHAPE.columns))
        {
            assert_eq!((*pg, *sqlite), (a.field, b.field));
            assert_eq!(a.name, b.name);
        }
    }

    #[test]
    fn a_sqlite_shape_row_becomes_the_postgresql_row() {
        let sqlite = ItemText::of_text(
            r#"{"eventid":"e1","headId":null,"streamIds":"a b ..","time":1.5,"deleted":null,"endTime":1.5,"type":"audit-log/pryv-api","content":"{\"action\":\"auth.login\",\"n\":[1,2]}","description":null,"clientData":null,"integrity":null,"attachments":null,"trashed":1,"created":1.5,"createdBy":"system","modified":1.5,"modifiedBy":"system"}"#,
        );
        let postgres = ItemText::of_text(
            r#"{"eventid":"e1","head_id":null,"stream_ids":"a b ..","time":1.5,"deleted":null,"end_time":1.5,"type":"audit-log/pryv-api","content":{"action":"auth.login","n":[1,2]},"description":null,"client_data":null,"integrity":null,"attachments":null,"trashed":true,"created":1.5,"created_by":"system","modified":1.5,"modified_by":"system"}"#,
        );
        let mut reader = AuditReader::default();
        let from_pg = reader.row(&postgres).unwrap();
        let from_sqlite = reader.row(&sqlite).unwrap();
        assert_eq!(from_sqlite, from_pg);
        // And back: the reader follows each row's shape.
        assert_eq!(reader.row(&postgres).unwrap(), from_pg);
    }

    #[test]
    fn a_row_mixing_shapes_or_with_bad_json_text_is_refused() {
        let mut reader = AuditReader::default();
        let mixed = ItemText::of_text(r#"{"eventid":"e2","headId":null,"end_time":1}"#);
        let err = reader.row(&mixed).unwrap_err().to_string();
        assert!(err.contains("e2") && err.contains("end_time"), "{err}");
        let bad = ItemText::of_text(r#"{"eventid":"e3","headId":null,"content":"{not json"}"#);
        let err = reader.row(&bad).unwrap_err().to_string();
        assert!(err.contains("e3") && err.contains("JSON text"), "{err}");
    }
}
