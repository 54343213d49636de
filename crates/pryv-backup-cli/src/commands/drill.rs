//! `drill`: restores a backup into a throwaway platform and checks everything in it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::shared::{default_jobs, open_chain};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// The backup directory, or `s3://bucket/prefix`.
    pub dir: PathBuf,
    /// Drill the state as it was at this time (see `restore --as-of`).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &DrillArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let (dir, chain) = open_chain(&args.dir, args.as_of, &args.secrets, json)?;
    let bar = UserBar::new("drilling", json);
    let report = pryv_backup::drill::run(&chain, &dir, default_jobs(), &bar)?;
    drop(bar);
    metrics.set(&metrics::USERS, report.restored as f64);
    metrics.set(&metrics::FAILED_USERS, report.damaged.len() as f64);
    if json {
        print_json(&serde_json::json!({ "ok": report.is_ok(), "report": report }))?;
    } else {
        println!("drill of {} into {}", args.dir.display(), report.target);
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
