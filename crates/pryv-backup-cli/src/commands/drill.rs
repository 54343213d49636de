//! `drill`: restores a backup into a throwaway platform and checks everything in it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::shared::{default_jobs, locate, open_chain, open_reader};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};
use pryv_backup::drill::{DrillOptions, DrillReport};

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// The backup directory, or `s3://bucket/prefix`; or a folder of backups (one per
    /// sub-folder, as the backup unit writes them): its newest complete backup, by the
    /// backups' own records, is drilled.
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub dir: PathBuf,
    /// Drill the state as it was at this time (see `restore --as-of`).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    /// The folder of PostgreSQL's initdb and postgres, for the drill of a PostgreSQL
    /// install's backup (else found on PATH or under /usr/lib/postgresql/*/bin, highest
    /// version).
    #[arg(long, value_name = "DIR", env = "PRYV_BACKUP_POSTGRES_BIN")]
    pub postgres_bin: Option<PathBuf>,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &DrillArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let location = newest_if_folder_of_backups(&args.dir, &args.secrets)?;
    if location != args.dir && !json {
        info!(
            "drilling {}, the newest complete backup in {}",
            location.display(),
            args.dir.display()
        );
    }
    let (dir, chain) = open_chain(&location, args.as_of, &args.secrets, json)?;
    let bar = UserBar::new("drilling", json);
    let options = DrillOptions {
        jobs: default_jobs(),
        postgres_bin: args.postgres_bin.clone(),
    };
    let report = pryv_backup::drill::run(&chain, &dir, &options, &bar)?;
    drop(bar);
    metrics.set(&metrics::USERS, report.restored as f64);
    metrics.set(&metrics::FAILED_USERS, report.damaged.len() as f64);
    metrics.set(
        &metrics::SOURCE_ENGINE_TRIED,
        f64::from(u8::from(report.source_engine_tried)),
    );
    if let Some(why) = &report.not_tried_because {
        eprintln!(
            "warning: the backup's own engine ({}) was not tried: {why}; restored into {} instead",
            report.source_engine.as_deref().unwrap_or("unknown"),
            report.engine
        );
    }
    if json {
        print_json(
            &serde_json::json!({ "ok": report.is_ok(), "backup": location, "report": report }),
        )?;
    } else {
        print_report(&location, &report);
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn print_report(location: &Path, report: &DrillReport) {
    println!("drill of {} into {}", location.display(), report.target);
    println!(
        "{} of {} user(s) restored with every check passed, {} platform entries",
        report.restored, report.users, report.platform_entries
    );
    for d in &report.damaged {
        println!(
            "DAMAGED {} ({}): {}",
            d.user.username, d.user.user_id, d.reason
        );
    }
    for d in &report.engine_limits {
        println!(
            "NOT STORABLE IN {} {} ({}): {}",
            d.engine_limit.unwrap_or(report.engine).to_uppercase(),
            d.user.username,
            d.user.user_id,
            d.reason
        );
    }
    if let Some(e) = &report.platform_error {
        println!("platform entries NOT restored: {e}");
    }
    let engine = report.engine;
    match (&report.not_tried_because, report.is_ok()) {
        (None, true) => println!("drill OK: this backup restores into the {engine} engine"),
        (Some(why), true) => {
            let limited = match report.engine_limits.len() {
                0 => String::new(),
                n => format!(
                    "; {n} user(s) have fields {engine} cannot store (an engine limit, not \
                     damage), their files check out"
                ),
            };
            println!(
                "drill NOT FULLY TRIED: {why}: restored into {engine} instead; every file and \
                 integrity hash checks out{limited}; a restore into the backup's own engine ({}) \
                 was not tried",
                report.source_engine.as_deref().unwrap_or("unknown")
            );
        }
        (_, false) if report.damaged.is_empty() && report.platform_error.is_none() => println!(
            "drill FAILED: {} user(s) cannot go into the {engine} engine, the backup's own; \
             their files check out",
            report.engine_limits.len()
        ),
        (_, false) => println!("drill FAILED: see above"),
    }
}

/// `location` itself when it is a backup (or holds none); else the newest complete backup
/// among its sub-folders.
fn newest_if_folder_of_backups(location: &Path, secrets: &DecryptArgs) -> Result<PathBuf> {
    let (backend, dir) = locate(location)?;
    if backend.is_file(&dir.join(pryv_backup::archive::layout::MANIFEST))? {
        return Ok(location.to_path_buf());
    }
    let newest = pryv_backup::chain::newest_backup_in(&backend, &dir, &|d| {
        open_reader(&backend, d, secrets).map_err(|e| format!("{e:#}"))
    })?;
    Ok(newest.unwrap_or_else(|| location.to_path_buf()))
}
