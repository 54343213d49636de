//! Where a backup's time goes, measured without the CLI: the library's PostgreSQL engine
//! exports every user into a sink that serializes items to JSON lines and gzips them (as a
//! backup writer does), timing each stage. Output is counted, not written to disk.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, UserSink};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::model::{Collection, Item};

use crate::BenchError;

/// Time per stage, and bytes.
#[derive(Debug, Default)]
pub struct ExportProfile {
    pub users: usize,
    pub items: u64,
    pub total: Duration,
    /// Items → JSON text.
    pub json: Duration,
    /// JSON text → gzip.
    pub gzip: Duration,
    /// Pulling attachment bytes from the engine (their chunks are read lazily).
    pub attachments: Duration,
    pub json_bytes: u64,
    pub gzip_bytes: u64,
    pub attachment_bytes: u64,
}

impl ExportProfile {
    /// What is left: reading rows from PostgreSQL and turning them into items.
    pub fn engine(&self) -> Duration {
        self.total
            .saturating_sub(self.json + self.gzip + self.attachments)
    }
}

/// Counts what it is given.
#[derive(Default)]
struct CountingWriter(u64);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct TimingSink<'a> {
    profile: &'a mut ExportProfile,
    line: Vec<u8>,
    gzip: GzEncoder<CountingWriter>,
}

impl TimingSink<'_> {
    fn push(&mut self, item: &Item) -> pryv_backup::Result<()> {
        let t0 = Instant::now();
        self.line.clear();
        serde_json::to_writer(&mut self.line, item)
            .map_err(|e| pryv_backup::Error::Other(format!("JSON: {e}")))?;
        self.line.push(b'\n');
        let t1 = Instant::now();
        self.gzip
            .write_all(&self.line)
            .map_err(|e| pryv_backup::Error::io("(in-memory gzip)", e))?;
        self.profile.json += t1 - t0;
        self.profile.gzip += t1.elapsed();
        self.profile.json_bytes += self.line.len() as u64;
        self.profile.items += 1;
        Ok(())
    }
}

impl UserSink for TimingSink<'_> {
    fn item(&mut self, _collection: Collection, item: &Item) -> pryv_backup::Result<()> {
        self.push(item)
    }

    fn account(&mut self, account: &Item) -> pryv_backup::Result<()> {
        self.push(account)
    }

    fn attachment(
        &mut self,
        _event_id: &str,
        _file_id: &str,
        data: &mut dyn Read,
    ) -> pryv_backup::Result<()> {
        let t0 = Instant::now();
        let bytes = io::copy(data, &mut io::sink())
            .map_err(|e| pryv_backup::Error::io("(attachment)", e))?;
        self.profile.attachments += t0.elapsed();
        self.profile.attachment_bytes += bytes;
        Ok(())
    }
}

/// Exports every user of the database at `conn_str` (its attachments in `attachment_files`).
pub fn profile_export(conn_str: &str) -> Result<ExportProfile, BenchError> {
    let start = Instant::now();
    let engine = PgEngine::connect(conn_str, None).map_err(library)?;
    let users = engine.users().map_err(library)?;
    let options = ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: false,
    };
    let mut profile = ExportProfile {
        users: users.len(),
        ..ExportProfile::default()
    };
    let mut gzip_bytes = 0;
    for user in &users {
        let mut sink = TimingSink {
            profile: &mut profile,
            line: Vec::with_capacity(4096),
            gzip: GzEncoder::new(CountingWriter::default(), Compression::default()),
        };
        engine
            .export_user(user, &options, &mut sink)
            .map_err(library)?;
        let t0 = Instant::now();
        let counted = sink.gzip.finish()?;
        sink.profile.gzip += t0.elapsed();
        gzip_bytes += counted.0;
    }
    profile.gzip_bytes = gzip_bytes;
    profile.total = start.elapsed();
    Ok(profile)
}

fn library(e: impl std::fmt::Display) -> BenchError {
    BenchError::Invalid(format!("pryv-backup: {e}"))
}
