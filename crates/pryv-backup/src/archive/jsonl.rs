//! Reading JSONL: one JSON value per line, blank lines skipped (as format v1 readers do),
//! each line capped in size, errors naming the file and line.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use super::ArchiveError;
use crate::model::{Item, ItemText};

/// No single line (item) may exceed this many bytes.
pub const MAX_LINE_BYTES: usize = 256 * 1024 * 1024;

/// The lines of one file. After an I/O or gzip error it yields nothing more; after a bad
/// JSON line it goes on with the next line (callers that stop at the first error simply
/// stop pulling).
pub struct JsonlLines {
    reader: BufReader<Box<dyn Read + Send>>,
    path: Arc<Path>,
    line_no: u64,
    max_line: usize,
    buf: Vec<u8>,
    finished: bool,
}

impl JsonlLines {
    pub fn new(input: Box<dyn Read + Send>, path: &Path) -> Self {
        Self::with_max_line(input, path, MAX_LINE_BYTES)
    }

    pub fn with_max_line(input: Box<dyn Read + Send>, path: &Path, max_line: usize) -> Self {
        JsonlLines {
            reader: BufReader::with_capacity(64 * 1024, input),
            path: Arc::from(path),
            line_no: 0,
            max_line,
            buf: Vec::new(),
            finished: false,
        }
    }

    /// Reads the next line into `self.buf` (without `\n`); false at end of file.
    fn read_line(&mut self) -> Result<bool, ArchiveError> {
        self.buf.clear();
        loop {
            let available = self
                .reader
                .fill_buf()
                .map_err(|e| ArchiveError::reading(&self.path, e))?;
            if available.is_empty() {
                return Ok(!self.buf.is_empty());
            }
            let (take, end) = match memchr::memchr(b'\n', available) {
                Some(i) => (i, true),
                None => (available.len(), false),
            };
            if self.buf.len() + take > self.max_line {
                return Err(ArchiveError::corrupt(
                    &self.path,
                    format!(
                        "line {} is longer than {} bytes",
                        self.line_no + 1,
                        self.max_line
                    ),
                ));
            }
            self.buf.extend_from_slice(&available[..take]);
            self.reader.consume(if end { take + 1 } else { take });
            if end {
                return Ok(true);
            }
        }
    }
}

impl JsonlLines {
    /// The next line's text (UTF-8 checked, not parsed), blank lines skipped.
    pub fn next_text(&mut self) -> Option<Result<ItemText, ArchiveError>> {
        while !self.finished {
            match self.read_line() {
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                Ok(false) => self.finished = true,
                Ok(true) => {
                    self.line_no += 1;
                    let line = self.buf.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    return Some(match std::str::from_utf8(line) {
                        Ok(text) => Ok(ItemText::read_at(
                            text.to_string(),
                            Arc::clone(&self.path),
                            self.line_no,
                        )),
                        Err(e) => Err(ArchiveError::corrupt(
                            &self.path,
                            format!("line {}: invalid JSON (not UTF-8: {e})", self.line_no),
                        )),
                    });
                }
            }
        }
        None
    }
}

impl Iterator for JsonlLines {
    type Item = Result<Item, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_text()
            .map(|text| text.and_then(|t| Ok(t.item()?)))
    }
}
