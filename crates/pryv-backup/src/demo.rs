//! `pryv-backup demo`: a sample SQLite-engine platform backed up, restored into a second
//! empty platform and compared, with no server needed. What a newcomer runs first.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::archive::{self, ArchiveReader, ArchiveWriter, Backend, WriterOptions};
use crate::chain::Chain;
use crate::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use crate::engines::filesystem::FsAttachments;
use crate::engines::sqlite::SqliteEngine;
use crate::model::Item;
use crate::progress::Silent;
use crate::{backup, restore, sample, Error, Result};

const SEED: u64 = 2026;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoReport {
    pub dir: PathBuf,
    pub users: usize,
    pub items: u64,
    pub attachments: u64,
    pub backup_files: usize,
    pub backup_bytes: u64,
    pub backup_ms: u128,
    pub restore_ms: u128,
    /// The restored platform exports exactly what the source platform exports.
    pub identical: bool,
    pub differences: Vec<String>,
}

/// Runs the demo in `dir` (a new temp directory when `None`; kept for inspection).
pub fn run(dir: Option<&Path>) -> Result<DemoReport> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => tempfile::Builder::new()
            .prefix("pryv-backup-demo-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?
            .keep(),
    };
    let (source_dir, backup_dir, restored_dir) = (
        dir.join("source-platform"),
        dir.join("backup"),
        dir.join("restored-platform"),
    );
    for d in [&source_dir, &restored_dir] {
        if d.exists()
            && std::fs::read_dir(d)
                .map_err(|e| Error::io(d, e))?
                .next()
                .is_some()
        {
            return Err(Error::Other(format!(
                "{} is not empty: give the demo a new directory",
                d.display()
            )));
        }
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }

    let source = sqlite_platform(&source_dir)?;
    let users = sample::sample_platform(SEED);
    for (user, data) in &users {
        source.import_user(user, data, &ImportOptions::default())?;
    }

    let started = Instant::now();
    let report = backup::run(
        &source,
        ArchiveWriter::create(&backup_dir, WriterOptions::default())?,
        &backup::BackupOptions {
            users: Vec::new(),
            previous: None,
            include_ephemeral: true,
            jobs: 2,
            engine_name: "sqlite".into(),
            domain: "https://demo.pryv.local".into(),
            core_version: "demo".into(),
            pii_key: None,
            clock_skew: 300.0,
            hook: None,
        },
        &Silent,
    )?;
    let backup_ms = started.elapsed().as_millis();

    let verified = archive::verify(&backup_dir, None)?;
    let mut differences: Vec<String> = if verified.is_ok() {
        Vec::new()
    } else {
        verified
            .problems
            .iter()
            .map(|p| format!("backup file {}: {}", p.path, p.problems.join("; ")))
            .collect()
    };

    let started = Instant::now();
    let restored = sqlite_platform(&restored_dir)?;
    let chain = Chain::open(&Backend::Local, &backup_dir, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })?
    .ok_or_else(|| Error::Other("the demo backup has no manifest".into()))?;
    let outcome = restore::run(
        &restored,
        &chain,
        &backup_dir,
        &restore::RestoreOptions {
            jobs: 2,
            ..Default::default()
        },
        &Silent,
    )?;
    let restore_ms = started.elapsed().as_millis();
    if !outcome.is_complete() {
        differences.push(format!(
            "restore incomplete: {}",
            serde_json::to_string(&outcome).unwrap_or_default()
        ));
    }

    differences.extend(compare(&source, &restored)?);
    let (backup_files, backup_bytes) = dir_size(&backup_dir)?;
    Ok(DemoReport {
        dir,
        users: report.users.len(),
        items: report.items,
        attachments: report.attachments,
        backup_files,
        backup_bytes,
        backup_ms,
        restore_ms,
        identical: differences.is_empty(),
        differences,
    })
}

fn sqlite_platform(dir: &Path) -> Result<SqliteEngine> {
    SqliteEngine::open(dir, Arc::new(FsAttachments::new(dir)))
}

/// Every user's export and the platform entries of both platforms, item by item.
fn compare(a: &dyn Engine, b: &dyn Engine) -> Result<Vec<String>> {
    let mut differences = Vec::new();
    let everything = ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: true,
    };
    let (users_a, users_b) = (a.users()?, b.users()?);
    if users_a.len() != users_b.len() {
        differences.push(format!(
            "{} users in the source, {} restored",
            users_a.len(),
            users_b.len()
        ));
    }
    for user in &users_a {
        let (mut left, mut right) = (MemoryUser::default(), MemoryUser::default());
        a.export_user(user, &everything, &mut left)?;
        if !users_b.contains(user) {
            differences.push(format!("user {} was not restored", user.username));
            continue;
        }
        b.export_user(user, &everything, &mut right)?;
        if left != right {
            differences.push(format!("user {} differs after restore", user.username));
        }
    }
    let platform = |e: &dyn Engine| -> Result<Vec<Item>> {
        let mut items = Vec::new();
        e.export_platform(&mut |i: &Item| {
            items.push(i.clone());
            Ok(())
        })?;
        Ok(items)
    };
    if platform(a)? != platform(b)? {
        differences.push("platform entries differ after restore".into());
    }
    Ok(differences)
}

fn dir_size(dir: &Path) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes))
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pryv-backup demo in {}", self.dir.display())?;
        writeln!(
            f,
            "  source platform (SQLite engine): {} users, {} items, {} attachments",
            self.users, self.items, self.attachments
        )?;
        writeln!(
            f,
            "  backup:   {} files, {} bytes, {} ms  ({})",
            self.backup_files,
            self.backup_bytes,
            self.backup_ms,
            self.dir.join("backup").display()
        )?;
        writeln!(
            f,
            "  restore into an empty platform: {} ms",
            self.restore_ms
        )?;
        if self.identical {
            writeln!(
                f,
                "  compared: identical (every user's items, account and attachments)"
            )?;
        } else {
            writeln!(f, "  compared: DIFFERENT")?;
            for d in &self.differences {
                writeln!(f, "    - {d}")?;
            }
        }
        writeln!(
            f,
            "Next: pryv-backup inspect {}",
            self.dir.join("backup").display()
        )
    }
}
