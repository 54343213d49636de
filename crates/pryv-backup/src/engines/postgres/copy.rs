//! Bulk writing with `COPY ... FROM STDIN` (text format), for rows known to be new: COPY
//! cannot replace a row with the same key, so it is used only where none can exist (a user
//! with no rows yet in the table); [`super::table::Inserter`] upserts everywhere else.

use std::io::Write;

use postgres::{CopyInWriter, Transaction};

use super::table::{Cell, Kind};
use super::PgError;

/// COPY text gathered before it goes to the connection: the server parses the rows already
/// sent while the next ones are read from the backup.
const SEND_BYTES: usize = 64 << 10;

/// One `COPY table (columns) FROM STDIN`: rows go out as they are pushed, in a single
/// statement, so memory holds one small buffer whatever the number of rows. The statement
/// starts with the first rows sent: a table a user has no rows in costs no round trip (most
/// users of a platform have no series points, many no audit).
pub struct CopyIn<'a, 't> {
    encoder: Encoder,
    /// Until the statement starts.
    tx: Option<&'a mut Transaction<'t>>,
    sql: String,
    writer: Option<CopyInWriter<'a>>,
    buf: Vec<u8>,
}

impl<'a, 't> CopyIn<'a, 't> {
    /// `defaults`: the text of each column's DEFAULT that a row may ask for with
    /// [`Cell::Default`] (COPY has no per-row DEFAULT).
    pub fn start(
        tx: &'a mut Transaction<'t>,
        table: &str,
        columns: Vec<(&'static str, Kind)>,
        defaults: &'static [(&'static str, &'static str)],
    ) -> Result<Self, PgError> {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let sql = format!("COPY {table} ({}) FROM STDIN", names.join(", "));
        Ok(CopyIn {
            encoder: Encoder {
                table: table.to_string(),
                columns,
                defaults,
            },
            tx: Some(tx),
            sql,
            writer: None,
            buf: Vec::with_capacity(SEND_BYTES * 2),
        })
    }

    pub fn push(&mut self, row: Vec<Cell<'_>>) -> Result<(), PgError> {
        self.encoder.encode(&mut self.buf, row)?;
        if self.buf.len() >= SEND_BYTES {
            self.send()?;
        }
        Ok(())
    }

    /// Rows already in COPY text (see [`text_row`]).
    pub fn push_text(&mut self, text: &[u8]) -> Result<(), PgError> {
        for piece in text.chunks(SEND_BYTES) {
            self.buf.extend_from_slice(piece);
            if self.buf.len() >= SEND_BYTES {
                self.send()?;
            }
        }
        Ok(())
    }

    /// Sends what is left and ends the statement; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, PgError> {
        if self.buf.is_empty() && self.tx.is_some() {
            return Ok(0);
        }
        self.send()?;
        match self.writer.take() {
            Some(writer) => Ok(writer.finish()?),
            None => Err(self.encoder.failed("the statement already ended")),
        }
    }

    fn send(&mut self) -> Result<(), PgError> {
        if let Some(tx) = self.tx.take() {
            self.writer = Some(tx.copy_in(self.sql.as_str())?);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(self.encoder.failed("the statement already ended"));
        };
        let written = writer.write_all(&self.buf);
        self.buf.clear();
        if let Err(e) = written {
            // A write error is the connection's; ending the statement gives the server's reason.
            let finished = self.writer.take().map(CopyInWriter::finish);
            return Err(match finished {
                Some(Err(db)) => PgError::from(db),
                _ => self.encoder.failed(&e.to_string()),
            });
        }
        Ok(())
    }
}

/// Rows of one table held as COPY text, for rows of several users written by one statement
/// (see `new_users`): [`CopyText::send`] runs the COPY and empties the text.
pub struct CopyText {
    encoder: Encoder,
    text: Vec<u8>,
}

impl CopyText {
    /// See [`CopyIn::start`] for `defaults`.
    pub fn new(
        table: &str,
        columns: Vec<(&'static str, Kind)>,
        defaults: &'static [(&'static str, &'static str)],
    ) -> Self {
        CopyText {
            encoder: Encoder {
                table: table.to_string(),
                columns,
                defaults,
            },
            text: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell<'_>>) -> Result<(), PgError> {
        self.encoder.encode(&mut self.text, row)
    }

    /// A row of text fields.
    pub fn push_fields(&mut self, fields: &[&str]) {
        text_row(&mut self.text, fields);
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Writes the rows held, in one COPY (none when there are none).
    pub fn send(&mut self, tx: &mut Transaction<'_>) -> Result<(), PgError> {
        if self.text.is_empty() {
            return Ok(());
        }
        let encoder = &self.encoder;
        let mut copy = CopyIn::start(
            tx,
            &encoder.table,
            encoder.columns.clone(),
            encoder.defaults,
        )?;
        copy.push_text(&self.text)?;
        copy.finish()?;
        self.text.clear();
        Ok(())
    }
}

/// Rows as COPY text lines.
struct Encoder {
    table: String,
    columns: Vec<(&'static str, Kind)>,
    defaults: &'static [(&'static str, &'static str)],
}

impl Encoder {
    fn encode(&self, buf: &mut Vec<u8>, row: Vec<Cell<'_>>) -> Result<(), PgError> {
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
                buf.push(b'\t');
            }
            match cell {
                Cell::Null => buf.extend_from_slice(b"\\N"),
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
                    escape_into(buf, default);
                }
                Cell::Text(s) | Cell::Json(s) => escape_into(buf, &s),
                // The shortest text that parses back to the same float.
                Cell::Float(x) if x.is_finite() => {
                    buf.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes())
                }
                // NaN, inf and -inf, which PostgreSQL reads too.
                Cell::Float(x) => write_text(buf, format_args!("{x}")),
                Cell::Bool(b) => buf.push(if b { b't' } else { b'f' }),
                Cell::Int(n) => write_text(buf, format_args!("{n}")),
                Cell::BigInt(n) => write_text(buf, format_args!("{n}")),
            }
        }
        buf.push(b'\n');
        Ok(())
    }

    fn failed(&self, reason: &str) -> PgError {
        PgError::Schema(format!("COPY into {}: {reason}", self.table))
    }
}

/// Appends one row of text fields as a COPY text line.
pub fn text_row(buf: &mut Vec<u8>, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        escape_into(buf, field);
    }
    buf.push(b'\n');
}

/// COPY text escaping: backslash, and the tab, newline and carriage return that would end a
/// field or a row.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Runs of bytes that need no escape are copied whole (most texts have none).
    let mut start = 0;
    while let Some(found) = find_special(&bytes[start..]) {
        let i = start + found;
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(match bytes[i] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

fn is_special(b: u8) -> bool {
    matches!(b, b'\\' | b'\t' | b'\n' | b'\r')
}

/// The first byte [`escape_into`] must escape. Blocks of 32 bytes are checked whole, without
/// an early exit, which the compiler turns into vector instructions.
fn find_special(bytes: &[u8]) -> Option<usize> {
    let mut blocks = bytes.chunks_exact(32);
    let mut offset = 0;
    for block in blocks.by_ref() {
        if block.iter().fold(false, |any, &b| any | is_special(b)) {
            return block
                .iter()
                .position(|&b| is_special(b))
                .map(|i| offset + i);
        }
        offset += 32;
    }
    blocks
        .remainder()
        .iter()
        .position(|&b| is_special(b))
        .map(|i| offset + i)
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
        let encoder = Encoder {
            table: "t".into(),
            columns: vec![
                ("a", Kind::Text),
                ("b", Kind::Float),
                ("c", Kind::Bool),
                ("d", Kind::Json),
                ("e", Kind::Int),
                ("f", Kind::Bool),
            ],
            defaults: &[("f", "f")],
        };
        let mut buf = Vec::new();
        encoder
            .encode(
                &mut buf,
                vec![
                    Cell::Text("x\ty\\z\nw\r".into()),
                    Cell::Float(0.1 + 0.2),
                    Cell::Bool(true),
                    Cell::Json(r#"{"k":"a\nb"}"#.into()),
                    Cell::Null,
                    Cell::Default,
                ],
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(buf.clone()).unwrap(),
            "x\\ty\\\\z\\nw\\r\t0.30000000000000004\tt\t{\"k\":\"a\\\\nb\"}\t\\N\tf\n"
        );
        assert!(encoder.encode(&mut buf, vec![Cell::Null]).is_err());
    }

    proptest::proptest! {
        /// Whatever the text, and wherever its special bytes fall (inside or across blocks
        /// of 32), escaping gives the backslash form, which reads back as the text.
        #[test]
        fn escaping_reads_back(s in "[a\\\\\t\n\r\u{e9}]{0,100}") {
            let mut buf = Vec::new();
            escape_into(&mut buf, &s);
            let mut back = Vec::new();
            let mut bytes = buf.iter();
            while let Some(&b) = bytes.next() {
                if b != b'\\' {
                    back.push(b);
                    continue;
                }
                back.push(match bytes.next() {
                    Some(b't') => b'\t',
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b'\\') => b'\\',
                    other => panic!("unexpected escape {other:?}"),
                });
            }
            proptest::prop_assert!(!buf.iter().any(|&b| b == b'\t' || b == b'\n' || b == b'\r'));
            proptest::prop_assert_eq!(String::from_utf8(back).unwrap(), s);
        }
    }
}
