//! `drill`: restores a backup into a throwaway platform and checks everything in it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::shared::{default_jobs, locate, open_chain, open_reader};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// The backup directory, or `s3://bucket/prefix`; or a folder of backups (one per
    /// sub-folder, as the backup unit writes them): its newest complete backup, by the
    /// backups' own records, is drilled.
    pub dir: PathBuf,
    /// Drill the state as it was at this time (see `restore --as-of`).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &DrillArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let location = newest_if_folder_of_backups(&args.dir, &args.secrets)?;
    if location != args.dir && !json {
        eprintln!(
            "drilling {}, the newest complete backup in {}",
            location.display(),
            args.dir.display()
        );
    }
    let (dir, chain) = open_chain(&location, args.as_of, &args.secrets, json)?;
    let bar = UserBar::new("drilling", json);
    let report = pryv_backup::drill::run(&chain, &dir, default_jobs(), &bar)?;
    drop(bar);
    metrics.set(&metrics::USERS, report.restored as f64);
    metrics.set(&metrics::FAILED_USERS, report.damaged.len() as f64);
    if json {
        print_json(
            &serde_json::json!({ "ok": report.is_ok(), "backup": location, "report": report }),
        )?;
    } else {
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
                d.engine_limit.unwrap_or("the target").to_uppercase(),
                d.user.username,
                d.user.user_id,
                d.reason
            );
        }
        if let Some(e) = &report.platform_error {
            println!("platform entries NOT restored: {e}");
        }
        let limited: Vec<&str> = report
            .engine_limits
            .iter()
            .filter_map(|d| d.engine_limit)
            .collect();
        if report.is_ok() {
            println!("drill OK: this backup restores into the SQLite engine (PostgreSQL and InfluxDB not tried)");
        } else if report.damaged.is_empty() && report.platform_error.is_none() {
            println!(
                "drill FAILED: {} user(s) cannot go into the {} engine; their files check out (a restore into another engine was not tried)",
                limited.len(),
                limited.first().copied().unwrap_or("SQLite")
            );
        } else {
            println!("drill FAILED: see above");
        }
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::ERROR
    })
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
