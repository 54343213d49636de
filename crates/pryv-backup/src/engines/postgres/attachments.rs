//! Attachment bytes in `attachment_files` (file engine `postgresql`): 1 MiB chunks by `seq`.

use std::io::Read;

use postgres::{Portal, Transaction};

use super::PgError;

/// Chunk size the core uses; restored files are cut the same way.
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// One file's bytes, read chunk by chunk (one chunk in memory at a time) inside the export
/// transaction. `None` when the file has no rows.
pub fn open_file<'a, 't>(
    tx: &'a mut Transaction<'t>,
    user_id: &str,
    event_id: &str,
    file_id: &str,
) -> Result<Option<ChunkReader<'a, 't>>, PgError> {
    let portal = tx.bind(
        "SELECT data FROM attachment_files WHERE user_id = $1 AND event_id = $2 AND file_id = $3 ORDER BY seq",
        &[&user_id, &event_id, &file_id],
    )?;
    let mut reader = ChunkReader {
        tx,
        portal,
        chunk: Vec::new(),
        pos: 0,
        done: false,
    };
    if !reader.next_chunk()? {
        return Ok(None);
    }
    Ok(Some(reader))
}

pub struct ChunkReader<'a, 't> {
    tx: &'a mut Transaction<'t>,
    portal: Portal,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ChunkReader<'_, '_> {
    /// Loads the next chunk; false at the end.
    fn next_chunk(&mut self) -> Result<bool, PgError> {
        let rows = self.tx.query_portal(&self.portal, 1)?;
        match rows.first() {
            None => {
                self.done = true;
                Ok(false)
            }
            Some(row) => {
                self.chunk = row.try_get(0)?;
                self.pos = 0;
                Ok(true)
            }
        }
    }
}

impl Read for ChunkReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.chunk.len() {
            if self.done || !self.next_chunk().map_err(std::io::Error::other)? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes one file from a reader, chunked as the core does (an empty file is one empty chunk).
pub fn write_file(
    tx: &mut Transaction<'_>,
    user_id: &str,
    event_id: &str,
    file_id: &str,
    data: &mut dyn Read,
) -> crate::Result<()> {
    tx.execute(
        "DELETE FROM attachment_files WHERE user_id = $1 AND event_id = $2 AND file_id = $3",
        &[&user_id, &event_id, &file_id],
    )
    .map_err(PgError::from)?;
    let stmt = tx
        .prepare("INSERT INTO attachment_files (user_id, event_id, file_id, seq, data) VALUES ($1, $2, $3, $4, $5)")
        .map_err(PgError::from)?;
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut seq: i32 = 0;
    loop {
        let n = fill(data, &mut buf).map_err(|e| {
            crate::Error::Other(format!(
                "reading attachment {file_id} of event {event_id} from the backup: {e}"
            ))
        })?;
        if n == 0 && seq > 0 {
            return Ok(());
        }
        tx.execute(&stmt, &[&user_id, &event_id, &file_id, &seq, &&buf[..n]])
            .map_err(PgError::from)?;
        seq += 1;
        if n < CHUNK_SIZE {
            return Ok(());
        }
    }
}

/// Reads until `buf` is full or the reader ends.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
