//! `baseStorage-1.0.0.sqlite`: streams, accesses, profile, webhooks, each row being a few
//! indexed columns plus the rest of the object as JSON text in `data`.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection};
use serde_json::{Map, Value};

use super::values::{id_of, object, parse_json, real, text_col, to_json, to_text};
use super::{db, layout, unstorable};
use crate::model::{Collection, Item};
use crate::stream_tree;
use crate::Result;

/// How one collection maps to its table.
#[derive(Clone, Copy)]
pub struct Table {
    pub collection: Collection,
    pub name: &'static str,
    has_head_id: bool,
    has_deleted: bool,
}

pub const TABLES: [Table; 4] = [
    Table {
        collection: Collection::Streams,
        name: "streams",
        has_head_id: false,
        has_deleted: true,
    },
    Table {
        collection: Collection::Accesses,
        name: "accesses",
        has_head_id: true,
        has_deleted: true,
    },
    Table {
        collection: Collection::Profile,
        name: "profile",
        has_head_id: false,
        has_deleted: false,
    },
    Table {
        collection: Collection::Webhooks,
        name: "webhooks",
        has_head_id: false,
        has_deleted: true,
    },
];

impl Table {
    fn columns(&self) -> Vec<&'static str> {
        let mut cols = vec!["id"];
        if self.has_head_id {
            cols.push("head_id");
        }
        if self.has_deleted {
            cols.push("deleted");
        }
        cols.push("data");
        cols
    }

    pub fn read_all(&self, conn: &Connection) -> Result<Vec<Item>> {
        if !layout::has_table(conn, self.name).map_err(db)? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM {} ORDER BY rowid",
            self.columns().join(", "),
            self.name
        );
        let mut stmt = conn.prepare(&sql).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let mut items = Vec::new();
        while let Some(row) = rows.next().map_err(db)? {
            let id = to_json(row.get_ref(0).map_err(db)?)?;
            let mut i = 1;
            let head_id = if self.has_head_id {
                i += 1;
                to_json(row.get_ref(i - 1).map_err(db)?)?
            } else {
                Value::Null
            };
            let deleted = if self.has_deleted {
                i += 1;
                to_json(row.get_ref(i - 1).map_err(db)?)?
            } else {
                Value::Null
            };
            let data = parse_json(
                row.get_ref(i).map_err(db)?,
                &format!("{} {id} data", self.name),
            )?;
            items.push(self.item_from_row(id, head_id, deleted, data));
        }
        Ok(items)
    }

    /// The core's row → object, with its stream normalisations (docs §4).
    fn item_from_row(self, id: Value, head_id: Value, deleted: Value, data: Value) -> Item {
        let mut out = Map::new();
        out.insert("id".into(), id.clone());
        if !head_id.is_null() {
            out.insert("headId".into(), head_id);
        }
        if let Value::Object(fields) = data {
            for (k, v) in fields {
                out.insert(k, v);
            }
        }
        if self.collection == Collection::Streams {
            if !deleted.is_null() {
                // A deleted stream is only its tombstone (with the path its data may keep,
                // as our PostgreSQL export gives it).
                let mut tomb = Map::new();
                tomb.insert("id".into(), id);
                tomb.insert("deleted".into(), deleted);
                if let Some(path) = out.shift_remove("path") {
                    tomb.insert("path".into(), path);
                }
                return Value::Object(tomb);
            }
            // `path` stays when the data has it: the core keeps it only for streams never
            // updated since their creation, and a restore gives back exactly that.
            for flag in ["trashed", "singleActivity"] {
                if out.get(flag) == Some(&Value::Bool(false)) {
                    out.shift_remove(flag);
                }
            }
        }
        if !deleted.is_null() {
            out.insert("deleted".into(), deleted);
        }
        Value::Object(out)
    }

    /// Writes every item of the collection (the file is new: plain inserts).
    pub fn write_all(
        &self,
        conn: &Connection,
        items: impl Iterator<Item = Result<Item>>,
    ) -> Result<usize> {
        let cols = self.columns();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.name,
            cols.join(", "),
            marks.join(", ")
        );
        let mut stmt = conn.prepare(&sql).map_err(db)?;
        let items: Box<dyn Iterator<Item = Result<Item>>> =
            if self.collection == Collection::Streams {
                // The data is stored as the backup gives it (no path added: the core keeps
                // one only for streams never updated); a parent loop, which the core could
                // not read, is still refused.
                let all: Vec<Item> = items.collect::<Result<_>>()?;
                stream_tree::paths(&all, &HashMap::new()).map_err(|e| unstorable(e.to_string()))?;
                Box::new(all.into_iter().map(Ok))
            } else {
                Box::new(items)
            };
        let mut n = 0;
        for item in items {
            let item = item?;
            let obj = object(&item, self.name)?;
            let id = id_of(obj, self.name)?.to_string();
            let what = format!("{} {id}", self.name);
            let mut data = obj.clone();
            data.shift_remove("id");
            let mut row = vec![SqlValue::Text(id.clone())];
            if self.has_head_id {
                row.push(text_col(
                    data.shift_remove("headId").as_ref(),
                    &format!("{what}: headId"),
                )?);
            }
            if self.has_deleted {
                row.push(real(
                    data.shift_remove("deleted").as_ref(),
                    &format!("{what}: deleted"),
                )?);
            }
            if self.collection == Collection::Streams && data.contains_key("children") {
                return Err(unstorable(format!(
                    "{what}: nested stream trees (\"children\") are not a backup shape; expected flat streams"
                )));
            }
            row.push(SqlValue::Text(to_text(&Value::Object(data))?));
            stmt.execute(params_from_iter(row)).map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    unstorable(format!("{what} appears twice in the backup"))
                }
                e => db(e),
            })?;
            n += 1;
        }
        Ok(n)
    }
}
