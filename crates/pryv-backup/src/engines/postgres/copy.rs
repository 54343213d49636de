//! Bulk writing with `COPY ... FROM STDIN` (text format), for rows known to be new: COPY
//! cannot replace a row with the same key, so it is used only where none can exist (a user
//! with no rows yet in the table); [`super::table::Inserter`] upserts everywhere else.

use std::io::Write;

use postgres::Transaction;

use super::table::{Cell, Kind, RowWriter};
use super::PgError;

/// Bytes of COPY text sent per COPY statement.
const FLUSH_BYTES: usize = 8 << 20;

pub struct CopyWriter {
    table: &'static str,
    columns: Vec<(&'static str, Kind)>,
    /// The text of each column's DEFAULT that a row may ask for (COPY has no per-row DEFAULT).
    defaults: &'static [(&'static str, &'static str)],
    buf: Vec<u8>,
}

impl CopyWriter {
    pub fn new(
        table: &'static str,
        columns: Vec<(&'static str, Kind)>,
        defaults: &'static [(&'static str, &'static str)],
    ) -> Self {
        CopyWriter {
            table,
            columns,
            defaults,
            buf: Vec::new(),
        }
    }

    fn encode(&mut self, row: Vec<Cell>) -> Result<(), PgError> {
        if row.len() != self.columns.len() {
            return Err(PgError::Schema(format!(
                "{} values for the {} columns of {}",
                row.len(),
                self.columns.len(),
                self.table
            )));
        }
        for (i, (cell, (name, _))) in row.into_iter().zip(&self.columns).enumerate() {
            if i > 0 {
                self.buf.push(b'\t');
            }
            match cell {
                Cell::Null => self.buf.extend_from_slice(b"\\N"),
                Cell::Default => {
                    let default = self
                        .defaults
                        .iter()
                        .find(|(column, _)| column == name)
                        .map(|(_, text)| *text)
                        .ok_or_else(|| {
                            PgError::Schema(format!(
                                "no known default for {}.{name} in a bulk copy",
                                self.table
                            ))
                        })?;
                    escape_into(&mut self.buf, default);
                }
                Cell::Text(s) | Cell::Json(s) => escape_into(&mut self.buf, &s),
                // Rust prints the shortest text that parses back to the same float.
                Cell::Float(x) => write_text(&mut self.buf, format_args!("{x}")),
                Cell::Bool(b) => self.buf.push(if b { b't' } else { b'f' }),
                Cell::Int(n) => write_text(&mut self.buf, format_args!("{n}")),
                Cell::BigInt(n) => write_text(&mut self.buf, format_args!("{n}")),
            }
        }
        self.buf.push(b'\n');
        Ok(())
    }
}

impl RowWriter for CopyWriter {
    fn push(&mut self, tx: &mut Transaction<'_>, row: Vec<Cell>) -> Result<(), PgError> {
        self.encode(row)?;
        if self.buf.len() >= FLUSH_BYTES {
            self.flush(tx)?;
        }
        Ok(())
    }

    fn flush(&mut self, tx: &mut Transaction<'_>) -> Result<(), PgError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let sql = format!("COPY {} ({}) FROM STDIN", self.table, names.join(", "));
        let mut writer = tx.copy_in(sql.as_str())?;
        // A write error is the connection's; finish() then reports the server's reason.
        let written = writer.write_all(&self.buf);
        self.buf.clear();
        let finished = writer.finish();
        written.map_err(|e| PgError::Schema(format!("COPY into {}: {e}", self.table)))?;
        finished?;
        Ok(())
    }
}

/// COPY text escaping: backslash, and the tab, newline and carriage return that would end a
/// field or a row.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

fn write_text(buf: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    // Writing into a Vec cannot fail.
    let _ = buf.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_become_copy_text() {
        let mut w = CopyWriter::new(
            "t",
            vec![
                ("a", Kind::Text),
                ("b", Kind::Float),
                ("c", Kind::Bool),
                ("d", Kind::Json),
                ("e", Kind::Int),
                ("f", Kind::Bool),
            ],
            &[("f", "f")],
        );
        w.encode(vec![
            Cell::Text("x\ty\\z\nw\r".into()),
            Cell::Float(0.1 + 0.2),
            Cell::Bool(true),
            Cell::Json(r#"{"k":"a\nb"}"#.into()),
            Cell::Null,
            Cell::Default,
        ])
        .unwrap();
        assert_eq!(
            String::from_utf8(w.buf.clone()).unwrap(),
            "x\\ty\\\\z\\nw\\r\t0.30000000000000004\tt\t{\"k\":\"a\\\\nb\"}\t\\N\tf\n"
        );
        assert!(w.encode(vec![Cell::Null]).is_err());
    }
}
