//! Rows streamed into a table with `COPY ... FROM STDIN` in PostgreSQL's text format.
//!
//! Text format: fields separated by a tab, rows ended by a newline, `\N` for NULL, and a
//! backslash escape for backslash, tab, newline and carriage return inside values.

use std::io::Write;

use postgres::{CopyInWriter, GenericClient};
use serde_json::Value;

use crate::BenchError;

/// An open COPY into one table; fields are appended in column order, then `end_row`.
pub struct TableCopy<'a> {
    writer: CopyInWriter<'a>,
    line: String,
    row_started: bool,
    rows: u64,
}

impl<'a> TableCopy<'a> {
    pub fn start(
        client: &'a mut impl GenericClient,
        table: &str,
        columns: &[&str],
    ) -> Result<Self, BenchError> {
        let sql = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
        Ok(TableCopy {
            writer: client.copy_in(&sql)?,
            line: String::with_capacity(4096),
            row_started: false,
            rows: 0,
        })
    }

    fn separator(&mut self) {
        if self.row_started {
            self.line.push('\t');
        }
        self.row_started = true;
    }

    pub fn null(&mut self) -> &mut Self {
        self.separator();
        self.line.push_str("\\N");
        self
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        push_escaped(&mut self.line, value);
        self
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// A DOUBLE PRECISION; Rust's shortest round-trip form reads back as the same double.
    pub fn float(&mut self, value: f64) -> &mut Self {
        self.separator();
        self.line.push_str(&value.to_string());
        self
    }

    pub fn opt_float(&mut self, value: Option<f64>) -> &mut Self {
        match value {
            Some(v) => self.float(v),
            None => self.null(),
        }
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        self.separator();
        self.line.push_str(&value.to_string());
        self
    }

    pub fn boolean(&mut self, value: bool) -> &mut Self {
        self.separator();
        self.line.push(if value { 't' } else { 'f' });
        self
    }

    pub fn opt_boolean(&mut self, value: Option<bool>) -> &mut Self {
        match value {
            Some(v) => self.boolean(v),
            None => self.null(),
        }
    }

    pub fn json(&mut self, value: &Value) -> &mut Self {
        self.separator();
        push_escaped(&mut self.line, &value.to_string());
        self
    }

    pub fn opt_json(&mut self, value: Option<&Value>) -> &mut Self {
        match value {
            Some(v) => self.json(v),
            None => self.null(),
        }
    }

    /// A BYTEA in hex form (`\x…`), its backslash doubled for the COPY layer.
    pub fn bytea(&mut self, bytes: &[u8]) -> &mut Self {
        self.separator();
        self.line.reserve(3 + 2 * bytes.len());
        self.line.push_str("\\\\x");
        self.line.push_str(&hex::encode(bytes));
        self
    }

    pub fn end_row(&mut self) -> Result<(), BenchError> {
        self.line.push('\n');
        self.writer.write_all(self.line.as_bytes())?;
        self.line.clear();
        self.row_started = false;
        self.rows += 1;
        Ok(())
    }

    /// Ends the COPY; returns the number of rows written.
    pub fn finish(self) -> Result<u64, BenchError> {
        self.writer.finish()?;
        Ok(self.rows)
    }
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::push_escaped;

    #[test]
    fn escapes_copy_specials() {
        let mut out = String::new();
        push_escaped(&mut out, "a\\b\tc\nd\re ✓");
        assert_eq!(out, "a\\\\b\\tc\\nd\\re ✓");
    }
}
