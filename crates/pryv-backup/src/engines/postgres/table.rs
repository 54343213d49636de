//! What every per-user table shares: column descriptions, reading rows into JSON values in
//! batches (portals), and writing items back with multi-row upserts.

use std::borrow::Cow;

use postgres::types::{ToSql, Type};
use postgres::{Row, Transaction};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::pool::Session;
use super::values::{as_f64, float, json_from_text, json_text};
use super::PgError;
use crate::engine::{ExportWindow, CHANGE_TIME_FIELDS};
use crate::integrity::{JsValue, Text};
use crate::json::BorrowedStr;
use crate::model::ItemText;

/// How a column's value travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Float,
    Bool,
    Int,
    BigInt,
    Json,
}

impl Kind {
    fn sql_type(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Float => "float8",
            Kind::Bool => "boolean",
            Kind::Int => "int4",
            Kind::BigInt => "int8",
            Kind::Json => "jsonb",
        }
    }

    /// The type a value of this kind is sent as (JSON as text, cast by the statement).
    fn param_type(self) -> Type {
        match self {
            Kind::Text | Kind::Json => Type::TEXT,
            Kind::Float => Type::FLOAT8,
            Kind::Bool => Type::BOOL,
            Kind::Int => Type::INT4,
            Kind::BigInt => Type::INT8,
        }
    }
}

pub struct Column {
    pub name: &'static str,
    /// The API field it maps to.
    pub field: &'static str,
    pub kind: Kind,
}

pub const fn col(name: &'static str, field: &'static str, kind: Kind) -> Column {
    Column { name, field, kind }
}

/// A per-user table: `user_id` first (implicit here), then `columns` in table order.
pub struct Table {
    pub name: &'static str,
    /// Collection name for messages.
    pub what: &'static str,
    pub columns: &'static [Column],
    /// Primary key columns after `user_id`.
    pub key: &'static [&'static str],
}

/// One row's values, aligned with `Table::columns`.
pub type RowValues = Vec<Option<Value>>;

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// SELECT list: JSONB comes as text so numbers can be rewritten JavaScript's way.
    fn select_list<'c>(columns: impl Iterator<Item = &'c Column>) -> String {
        columns
            .map(|c| match c.kind {
                Kind::Json => format!("{}::text", c.name),
                _ => c.name.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The values of a row of [`Table::export_query`] whose columns start at `first`.
    pub fn read_row_from(&self, row: &Row, first: usize) -> Result<RowValues, PgError> {
        let mut out = Vec::with_capacity(self.columns.len());
        for (i, c) in (first..).zip(self.columns.iter()) {
            let value = match c.kind {
                Kind::Text => row.try_get::<_, Option<String>>(i)?.map(Value::String),
                Kind::Float => row.try_get::<_, Option<f64>>(i)?.map(float),
                Kind::Bool => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
                Kind::Int => row.try_get::<_, Option<i32>>(i)?.map(Value::from),
                Kind::BigInt => row.try_get::<_, Option<i64>>(i)?.map(Value::from),
                Kind::Json => match row.try_get::<_, Option<String>>(i)? {
                    Some(text) => Some(json_from_text(&text).map_err(|reason| PgError::Row {
                        table: self.name,
                        reason: format!("column {}: {reason}", c.name),
                    })?),
                    None => None,
                },
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Streams the user's rows (ordered by key) to `each` in the JavaScript form an integrity
    /// check hashes, read straight from the row: the fields `to_item` gives, NULL columns
    /// left out (the canonical text leaves out null properties anyway), and the columns of
    /// the fields in `unread` not read at all.
    pub(crate) fn for_each_js_item(
        &self,
        tx: &mut Session<'_>,
        user_id: &str,
        unread: &[&str],
        each: &mut dyn FnMut(JsValue<'_>) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let columns: Vec<&Column> = self
            .columns
            .iter()
            .filter(|c| !unread.contains(&c.field))
            .collect();
        let select = Table::select_list(columns.iter().copied());
        let order_by = self.key.join(", ");
        self.for_each_pg_row(tx, user_id, None, &select, &order_by, &mut |row| {
            each(self.read_js_item(&columns, row)?)
        })
    }

    fn read_js_item<'r>(&self, columns: &[&Column], row: &'r Row) -> Result<JsValue<'r>, PgError> {
        let mut fields = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let value = match c.kind {
                Kind::Text => row
                    .try_get::<_, Option<&str>>(i)?
                    .map(|s| JsValue::String(Text::Borrowed(s))),
                Kind::Float => row.try_get::<_, Option<f64>>(i)?.map(js_float),
                Kind::Bool => row.try_get::<_, Option<bool>>(i)?.map(JsValue::Bool),
                Kind::Int => row
                    .try_get::<_, Option<i32>>(i)?
                    .map(|x| JsValue::Number(f64::from(x))),
                Kind::BigInt => row
                    .try_get::<_, Option<i64>>(i)?
                    .map(|x| JsValue::Number(x as f64)),
                Kind::Json => match row.try_get::<_, Option<&str>>(i)? {
                    Some(text) => {
                        Some(JsValue::from_json_text(text).map_err(|e| PgError::Row {
                            table: self.name,
                            reason: format!("column {}: invalid JSON in the database: {e}", c.name),
                        })?)
                    }
                    None => None,
                },
            };
            if let Some(value) = value {
                fields.push((Text::Borrowed(c.field), value));
            }
        }
        Ok(JsValue::Object(fields))
    }

    /// The rows of the user whose id is the SQL expression `user`, in `order_by` (SQL, `None`:
    /// by key); with `since` (an SQL expression, NULL for everything), only those changed
    /// after it, by the timestamp rule of [`ExportWindow`].
    pub fn export_query(&self, user: &str, since: Option<&str>, order_by: Option<&str>) -> String {
        let select = Table::select_list(self.columns.iter());
        let filter = since.and_then(|since| self.window_filter(since));
        let key_order = self.key.join(", ");
        self.query(
            user,
            &select,
            filter.as_deref(),
            order_by.unwrap_or(&key_order),
        )
    }

    fn query(&self, user: &str, select: &str, filter: Option<&str>, order_by: &str) -> String {
        let filter = filter.map(|f| format!(" AND {f}")).unwrap_or_default();
        format!(
            "SELECT {select} FROM {} WHERE user_id = {user}{filter} ORDER BY {order_by}",
            self.name
        )
    }

    /// The condition keeping rows changed after `since` (an SQL float8, NULL for all); `None`
    /// for a table without change times.
    fn window_filter(&self, since: &str) -> Option<String> {
        let ts: Vec<String> = CHANGE_TIME_FIELDS
            .iter()
            .filter(|c| {
                self.column(c)
                    .is_some_and(|i| self.columns[i].kind == Kind::Float)
            })
            .map(|c| format!("NULLIF({c}, 0)"))
            .collect();
        if ts.is_empty() {
            return None;
        }
        let ts = format!("COALESCE({})", ts.join(", "));
        Some(format!(
            "({ts} IS NULL OR {since} IS NULL OR {ts} > {since})"
        ))
    }

    /// The user's rows as they come, a batch per round trip.
    fn for_each_pg_row(
        &self,
        tx: &mut Session<'_>,
        user_id: &str,
        window: Option<&ExportWindow>,
        select: &str,
        order_by: &str,
        each: &mut dyn FnMut(&Row) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let mut params: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(user_id.to_string())];
        let filter = window.and_then(|w| {
            let filter = self.window_filter("$2::float8")?;
            params.push(Box::new(w.since));
            Some(filter)
        });
        let sql = self.query("$1", select, filter.as_deref(), order_by);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let statement = tx.prepared(&sql)?;
        let portal = tx.bind(&statement, &refs).map_err(PgError::from)?;
        loop {
            let rows = tx
                .query_portal(&portal, BATCH_ROWS)
                .map_err(PgError::from)?;
            for row in &rows {
                each(row)?;
            }
            // Fewer rows than asked for: the portal is done, no need to ask again.
            if rows.len() < BATCH_ROWS as usize {
                return Ok(());
            }
        }
    }

    /// The item of a row: fields in column order, NULL columns left out except `keep_null`.
    pub fn to_item(&self, values: RowValues, keep_null: &[&str]) -> Map<String, Value> {
        let mut item = Map::new();
        for (c, v) in self.columns.iter().zip(values) {
            match v {
                Some(v) => {
                    item.insert(c.field.to_string(), v);
                }
                None if keep_null.contains(&c.name) => {
                    item.insert(c.field.to_string(), Value::Null);
                }
                None => {}
            }
        }
        item
    }

    /// The item of a row with every column present, NULLs as `null`.
    pub fn to_item_keeping_nulls(&self, values: RowValues) -> Map<String, Value> {
        self.columns
            .iter()
            .zip(values)
            .map(|(c, v)| (c.field.to_string(), v.unwrap_or(Value::Null)))
            .collect()
    }

    /// The row of an item. A field without a column is an error; an absent field takes what
    /// `absent` says for its column.
    pub fn row_from_item(
        &self,
        item: &Value,
        absent: &dyn Fn(&Column) -> Cell<'static>,
    ) -> Result<Vec<Cell<'static>>, PgError> {
        let obj = item
            .as_object()
            .ok_or_else(|| self.item_error(item, "not a JSON object".into()))?;
        if let Some(unknown) = obj
            .keys()
            .find(|k| !self.columns.iter().any(|c| c.field == k.as_str()))
        {
            return Err(self.item_error(
                item,
                format!("field \"{unknown}\" has no column in table {}", self.name),
            ));
        }
        self.columns
            .iter()
            .map(|c| match obj.get(c.field) {
                None => Ok(absent(c)),
                Some(v) => Cell::from_json(c, v).map_err(|reason| self.item_error(item, reason)),
            })
            .collect()
    }

    pub fn item_error(&self, item: &Value, reason: String) -> PgError {
        PgError::Item {
            collection: self.what,
            id: item_id(item),
            reason,
        }
    }

    /// An item's text split into its fields by column, each left as its JSON text: a bulk
    /// load parses nothing it does not need. Fields named in `ignored` are skipped. A text
    /// that is not a JSON object is refused as [`Table::row_from_item`] refuses the item.
    pub fn raw_fields<'a>(
        &self,
        text: &'a ItemText,
        ignored: &[&str],
    ) -> crate::Result<RawFields<'a>> {
        if !text.as_str().trim_start().starts_with('{') {
            let item = text.item()?;
            return Err(self.item_error(&item, "not a JSON object".into()).into());
        }
        Ok(text.parse_with(FieldsSeed {
            table: self,
            ignored,
        })?)
    }

    /// [`Table::row_from_item`] on raw fields: the same row and the same refusals, with
    /// texts borrowed from the item's text where they hold no escape.
    pub fn row_from_fields<'a>(
        &self,
        fields: &RawFields<'a>,
        absent: &dyn Fn(&Column) -> Cell<'static>,
    ) -> Result<Vec<Cell<'a>>, PgError> {
        let refuse = |reason: String| PgError::Item {
            collection: self.what,
            id: fields.id(self),
            reason,
        };
        if let Some(unknown) = &fields.unknown {
            return Err(refuse(format!(
                "field \"{unknown}\" has no column in table {}",
                self.name
            )));
        }
        self.columns
            .iter()
            .zip(&fields.values)
            .map(|(c, raw)| match raw {
                None => Ok(absent(c)),
                Some(raw) => Cell::from_raw(c, raw).map_err(refuse),
            })
            .collect()
    }
}

/// An item's fields by column (aligned with `Table::columns`), as their JSON text.
pub struct RawFields<'a> {
    pub values: Vec<Option<&'a RawValue>>,
    /// The first field that has no column.
    unknown: Option<String>,
}

impl<'a> RawFields<'a> {
    /// The first field that has no column, if any.
    pub fn unknown(&self) -> Option<&str> {
        self.unknown.as_deref()
    }

    /// A field's text when it is a JSON string (None when absent, null or another type).
    pub fn string(&self, table: &Table, column: &str) -> Option<Cow<'a, str>> {
        self.values[table.column(column)?].and_then(|raw| json_string(raw.get()))
    }

    /// Whether a field is there and not null.
    pub fn is_set(&self, table: &Table, column: &str) -> bool {
        table
            .column(column)
            .and_then(|i| self.values[i])
            .is_some_and(|raw| raw.get() != "null")
    }

    /// The id to name in messages, as [`item_id`] gives it for the parsed item.
    fn id(&self, table: &Table) -> String {
        let field = ["id", "eventid"]
            .iter()
            .find_map(|f| table.columns.iter().position(|c| c.field == *f))
            .and_then(|i| self.values[i]);
        match field {
            Some(raw) => json_string(raw.get())
                .map(Cow::into_owned)
                .unwrap_or_else(|| raw.get().to_string()),
            None => "(without id)".to_string(),
        }
    }
}

/// Parses an object into [`RawFields`] for one table.
struct FieldsSeed<'t> {
    table: &'t Table,
    ignored: &'t [&'t str],
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = RawFields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = RawFields<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let columns = self.table.columns;
        let mut values = vec![None; columns.len()];
        let mut unknown = None;
        // Items mostly list their fields in one order: the search starts after the column
        // of the previous field.
        let mut next = 0;
        while let Some(BorrowedStr(key)) = map.next_key()? {
            let found = (next..columns.len())
                .chain(0..next)
                .find(|&i| columns[i].field == key);
            if let Some(i) = found {
                next = i + 1;
            }
            match found {
                // A field given twice keeps its last value, as a parsed item does.
                Some(i) => values[i] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                    if !self.ignored.contains(&key.as_ref()) {
                        unknown.get_or_insert_with(|| key.into_owned());
                    }
                }
            }
        }
        Ok(RawFields { values, unknown })
    }
}

/// The content of a JSON string's text, borrowed when it holds no escape; None when the
/// text is not a string.
pub fn json_string(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// A float column's value as JavaScript reads it from the core's export ([`float`]): no
/// negative zero, and `null` for what JSON cannot carry.
fn js_float(x: f64) -> JsValue<'static> {
    if !x.is_finite() {
        JsValue::Null
    } else if x == 0.0 {
        JsValue::Number(0.0)
    } else {
        JsValue::Number(x)
    }
}

/// Rows read per round trip.
const BATCH_ROWS: i32 = 500;

/// Rows written per INSERT statement.
pub const INSERT_ROWS: usize = 500;

pub fn item_id(item: &Value) -> String {
    item.get("id")
        .or_else(|| item.get("eventid"))
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_else(|| "(without id)".to_string())
}

/// A value about to be written. Texts may borrow from the item they come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    /// The column's DEFAULT.
    Default,
    Text(Cow<'a, str>),
    Float(f64),
    Bool(bool),
    Int(i32),
    BigInt(i64),
    Json(Cow<'a, str>),
}

impl Cell<'_> {
    pub fn from_json(c: &Column, v: &Value) -> Result<Cell<'static>, String> {
        if v.is_null() {
            return Ok(Cell::Null);
        }
        let wrong = || {
            format!(
                "field \"{}\" should be {} but is {v}",
                c.field,
                kind_name(c.kind)
            )
        };
        Ok(match c.kind {
            Kind::Text => Cell::Text(v.as_str().ok_or_else(wrong)?.to_string().into()),
            Kind::Float => Cell::Float(as_f64(v).ok_or_else(wrong)?),
            Kind::Bool => Cell::Bool(v.as_bool().ok_or_else(wrong)?),
            Kind::Int => Cell::Int(
                integer(v)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(wrong)?,
            ),
            Kind::BigInt => Cell::BigInt(integer(v).ok_or_else(wrong)?),
            Kind::Json => Cell::Json(json_text(v).into()),
        })
    }
}

impl<'a> Cell<'a> {
    /// [`Cell::from_json`] on a field's JSON text: the same cell, or the same refusal.
    pub fn from_raw(c: &Column, raw: &'a RawValue) -> Result<Cell<'a>, String> {
        let text = raw.get();
        if text == "null" {
            return Ok(Cell::Null);
        }
        let wrong = || {
            format!(
                "field \"{}\" should be {} but is {text}",
                c.field,
                kind_name(c.kind)
            )
        };
        let number = text.starts_with(|ch: char| ch == '-' || ch.is_ascii_digit());
        Ok(match c.kind {
            Kind::Text => Cell::Text(json_string(text).ok_or_else(wrong)?),
            Kind::Float if number => Cell::Float(text.parse().map_err(|_| wrong())?),
            Kind::Bool if text == "true" => Cell::Bool(true),
            Kind::Bool if text == "false" => Cell::Bool(false),
            Kind::Int if number => Cell::Int(
                integer_text(text)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(wrong)?,
            ),
            Kind::BigInt if number => Cell::BigInt(integer_text(text).ok_or_else(wrong)?),
            Kind::Json => Cell::Json(Cow::Borrowed(text)),
            _ => return Err(wrong()),
        })
    }
}

/// [`integer`] on a JSON number's text.
fn integer_text(text: &str) -> Option<i64> {
    text.parse().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
            .map(|x| x as i64)
    })
}

/// An integer, also when written with a fraction of zero (`3.0`), as JavaScript sees it.
fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        as_f64(v)
            .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
            .map(|x| x as i64)
    })
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Float => "a number",
        Kind::Bool => "a boolean",
        Kind::Int | Kind::BigInt => "an integer",
        Kind::Json => "JSON",
    }
}

/// Where an import sends rows (after `push`, `flush` writes what is still buffered).
pub trait RowWriter {
    fn push(&mut self, tx: &mut Transaction<'_>, row: Vec<Cell<'_>>) -> Result<(), PgError>;
    fn flush(&mut self, tx: &mut Transaction<'_>) -> Result<(), PgError>;
}

/// Collects rows and writes them with multi-row `INSERT ... ON CONFLICT (key) DO UPDATE`:
/// a row already there with the same key is replaced. Without a key, a plain `INSERT`.
pub struct Inserter<'t> {
    table: &'t str,
    columns: Vec<(&'static str, Kind)>,
    key: Vec<&'static str>,
    rows: Vec<Vec<Cell<'static>>>,
}

impl<'t> Inserter<'t> {
    pub fn new(table: &'t str, columns: Vec<(&'static str, Kind)>, key: Vec<&'static str>) -> Self {
        Inserter {
            table,
            columns,
            key,
            rows: Vec::new(),
        }
    }

    /// For a per-user table: `user_id` then the table's columns.
    pub fn for_table(table: &'t Table) -> Self {
        let mut columns = vec![("user_id", Kind::Text)];
        columns.extend(table.columns.iter().map(|c| (c.name, c.kind)));
        let mut key = vec!["user_id"];
        key.extend(table.key.iter().copied());
        Inserter::new(table.name, columns, key)
    }

    pub fn table(&self) -> &str {
        self.table
    }

    /// The table's columns with their kinds, `user_id` first.
    pub fn columns(&self) -> Vec<(&'static str, Kind)> {
        self.columns.clone()
    }

    /// The columns of the table's primary key.
    pub fn key(&self) -> &[&'static str] {
        &self.key
    }
}

impl RowWriter for Inserter<'_> {
    fn push(&mut self, tx: &mut Transaction<'_>, row: Vec<Cell<'_>>) -> Result<(), PgError> {
        self.rows
            .push(row.into_iter().map(Cell::into_owned).collect());
        if self.rows.len() >= INSERT_ROWS {
            self.flush(tx)?;
        }
        Ok(())
    }

    fn flush(&mut self, tx: &mut Transaction<'_>) -> Result<(), PgError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut params: Vec<(Box<dyn ToSql + Sync>, Type)> = Vec::new();
        let mut tuples = Vec::with_capacity(self.rows.len());
        for row in self.rows.drain(..) {
            let mut cells = Vec::with_capacity(row.len());
            for (cell, (_, kind)) in row.into_iter().zip(&self.columns) {
                let param: Box<dyn ToSql + Sync> = match cell {
                    Cell::Null => {
                        cells.push("NULL".to_string());
                        continue;
                    }
                    Cell::Default => {
                        cells.push("DEFAULT".to_string());
                        continue;
                    }
                    Cell::Text(s) | Cell::Json(s) => Box::new(s.into_owned()),
                    Cell::Float(x) => Box::new(x),
                    Cell::Bool(b) => Box::new(b),
                    Cell::Int(i) => Box::new(i),
                    Cell::BigInt(i) => Box::new(i),
                };
                params.push((param, kind.param_type()));
                // JSON travels as text, then PostgreSQL parses it.
                cells.push(match kind {
                    Kind::Json => format!("${}::text::jsonb", params.len()),
                    other => format!("${}::{}", params.len(), other.sql_type()),
                });
            }
            tuples.push(format!("({})", cells.join(", ")));
        }
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let updates: Vec<String> = names
            .iter()
            .filter(|n| !self.key.contains(n))
            .map(|n| format!("{n} = EXCLUDED.{n}"))
            .collect();
        let on_conflict = if self.key.is_empty() {
            String::new()
        } else if updates.is_empty() {
            format!(" ON CONFLICT ({}) DO NOTHING", self.key.join(", "))
        } else {
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                self.key.join(", "),
                updates.join(", ")
            )
        };
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}{}",
            self.table,
            names.join(", "),
            tuples.join(", "),
            on_conflict
        );
        let refs: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|(p, t)| (p.as_ref(), t.clone()))
            .collect();
        // Typed parameters: one round trip, where a statement the server must describe first
        // takes two (the text differs with the number of rows, so it is never prepared once).
        tx.execute_typed(sql.as_str(), &refs)?;
        Ok(())
    }
}

impl Cell<'_> {
    /// The same value, owning its text.
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Null => Cell::Null,
            Cell::Default => Cell::Default,
            Cell::Text(s) => Cell::Text(Cow::Owned(s.into_owned())),
            Cell::Float(x) => Cell::Float(x),
            Cell::Bool(b) => Cell::Bool(b),
            Cell::Int(i) => Cell::Int(i),
            Cell::BigInt(i) => Cell::BigInt(i),
            Cell::Json(s) => Cell::Json(Cow::Owned(s.into_owned())),
        }
    }
}
