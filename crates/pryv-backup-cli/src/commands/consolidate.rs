//! `consolidate`: merges a backup and its increments into one new full backup.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pryv_backup::archive::{ArchiveReader, ArchiveWriter, WriterOptions};

use super::shared::{locate, new_sealer, open_chain, tell_if_replaced};
use crate::exit;
use crate::flags::{DecryptArgs, SealArgs};
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};
use crate::secrets;

#[derive(Args, Debug)]
pub struct ConsolidateArgs {
    /// The backup to merge (a folder or `s3://bucket/prefix`).
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub dir: PathBuf,
    /// Where to write the new full backup (a new or empty folder, or `s3://...`).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Merge the state as it was at this time (see `restore --as-of`).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    #[command(flatten)]
    pub secrets: DecryptArgs,
    #[command(flatten)]
    pub seal: SealArgs,
}

pub fn run(args: &ConsolidateArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let (dir, chain) = open_chain(&args.dir, args.as_of, &args.secrets, json)?;
    // An encrypted chain stays encrypted: with the key asked for, else with its own.
    let sealer = match new_sealer(&args.seal, &args.secrets)? {
        Some(sealer) => Some(sealer),
        None => match ArchiveReader::envelope_in(chain.backend(), &dir)? {
            Some(envelope) => Some(secrets::opener(&envelope, &args.secrets)?),
            None => None,
        },
    };
    let (backend, out) = locate(&args.output)?;
    let _lock = backend.lock_output(&out)?;
    let writer = ArchiveWriter::create(
        &out,
        WriterOptions {
            sealer,
            backend,
            ..WriterOptions::default()
        },
    )?;
    tell_if_replaced(&writer, &out);
    let bar = UserBar::new("consolidating", json);
    let report = pryv_backup::consolidate::run(&chain, writer, &bar)?;
    drop(bar);
    metrics.set(&metrics::USERS, report.users as f64);
    metrics.set(&metrics::ITEMS, report.items as f64);
    if json {
        print_json(&serde_json::json!({ "output": out, "report": report }))?;
    } else {
        println!(
            "{} generation(s) of {} merged into the full backup {}: {} user(s), {} items, {} attachments, {} platform entries",
            report.generations,
            args.dir.display(),
            out.display(),
            report.users,
            report.items,
            report.attachments,
            report.platform_entries
        );
    }
    Ok(exit::OK)
}
