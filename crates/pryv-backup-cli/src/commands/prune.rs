//! `prune`: removes old backups from a folder of dated backups, by retention rules.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pryv_backup::prune;

use super::shared::{locate, open_reader};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::print_json;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("rules").required(true).multiple(true))]
pub struct PruneArgs {
    /// The folder holding one backup per sub-folder, or `s3://bucket/prefix`.
    pub dir: PathBuf,
    /// Keep the n newest backups (generations).
    #[arg(long, value_name = "N", group = "rules")]
    pub keep_last: Option<usize>,
    /// Keep the newest backup of each of the n newest hours that have one.
    #[arg(long, value_name = "N", group = "rules")]
    pub keep_hourly: Option<usize>,
    /// The same per day.
    #[arg(long, value_name = "N", group = "rules")]
    pub keep_daily: Option<usize>,
    /// The same per ISO week (Monday to Sunday).
    #[arg(long, value_name = "N", group = "rules")]
    pub keep_weekly: Option<usize>,
    /// The same per month.
    #[arg(long, value_name = "N", group = "rules")]
    pub keep_monthly: Option<usize>,
    /// The same per year.
    #[arg(long, value_name = "N", group = "rules")]
    pub keep_yearly: Option<usize>,
    /// Keep every backup made less than this long before the newest one: a number and a
    /// unit, summed (`36h`, `7d`, `2w`, `1y` = 365 d).
    #[arg(long, value_name = "DURATION", value_parser = crate::when::parse_duration_ms, group = "rules")]
    pub keep_within: Option<u64>,
    /// Remove what the rules do not keep (without it: only print it).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &PruneArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let policy = prune::Policy {
        keep_last: args.keep_last,
        keep_hourly: args.keep_hourly,
        keep_daily: args.keep_daily,
        keep_weekly: args.keep_weekly,
        keep_monthly: args.keep_monthly,
        keep_yearly: args.keep_yearly,
        keep_within_ms: args.keep_within,
    };
    let apply = args.yes;
    let (backend, dir) = locate(&args.dir)?;
    let report = prune::run(&backend, &dir, &policy, apply, &|d| {
        open_reader(&backend, d, &args.secrets).map_err(|e| format!("{e:#}"))
    })?;
    metrics.set(&metrics::KEPT, report.kept.len() as f64);
    metrics.set(&metrics::REMOVED, report.removed.len() as f64);
    // A backup left alone for a broken chain, unreadable files or a lock it could not take:
    // the run did not do all it should.
    let code = if report.damaged.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    };
    if json {
        print_json(&report)?;
        return Ok(code);
    }
    for g in &report.kept {
        println!(
            "keep   {} ({}): {}",
            g.dir.display(),
            crate::when::for_people(g.backup_timestamp),
            g.kept_by.join(", ")
        );
    }
    for g in &report.removed {
        let verb = if apply { "removed" } else { "remove" };
        println!(
            "{verb} {} ({})",
            g.dir.display(),
            crate::when::for_people(g.backup_timestamp)
        );
    }
    for dir in &report.finished {
        let verb = if apply {
            "finished removing"
        } else {
            "would finish removing"
        };
        println!(
            "{verb} {} (an earlier prune was stopped while removing it)",
            dir.display()
        );
    }
    for (dir, why) in &report.skipped {
        println!("left alone {}: {why}", dir.display());
    }
    for (dir, why) in &report.damaged {
        // A broken chain, a backup this user cannot read, or a lock it cannot take.
        println!("error, left alone {}: {why}", dir.display());
    }
    if apply {
        println!(
            "{} generation(s) kept, {} removed ({} files)",
            report.kept.len(),
            report.removed.len(),
            report.files_removed
        );
    } else {
        println!(
            "dry run: {} generation(s) would be removed, nothing was; run again with --yes to remove them",
            report.removed.len()
        );
    }
    Ok(code)
}
