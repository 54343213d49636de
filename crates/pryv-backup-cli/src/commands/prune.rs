//! `prune`: removes old backups from a folder of dated backups, by retention rules.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pryv_backup::{forget, prune};

use super::shared::{locate, open_reader, require_folder};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::print_json;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("rules").required(true).multiple(true))]
pub struct PruneArgs {
    /// The folder holding one backup per sub-folder, or `s3://bucket/prefix`.
    #[arg(env = crate::flags::REPOSITORY_ENV)]
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
    /// Also forget (see `pryv-backup forget`) the users the install deleted longer ago than
    /// this (`30d`, `1y`, ...) from the backups kept: dated by the backups' records of the
    /// install's users (a deletion happened before the first backup that no longer lists the
    /// user). Reads the backups' manifests, so encrypted ones need their key.
    #[arg(long, value_name = "DURATION", value_parser = crate::when::parse_duration_ms)]
    pub forget_deleted_after: Option<u64>,
    /// With --forget-deleted-after on a hashed PII install: the install's
    /// platform:piiHmacKey in a file (or PRYV_BACKUP_PII_HMAC_KEY), as `forget` takes it.
    #[arg(long, value_name = "FILE", requires = "forget_deleted_after")]
    pub pii_key_file: Option<PathBuf>,
    /// Remove what the rules do not keep, and forget deleted users (without it: only print
    /// what would be done).
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
    require_folder(&backend, &dir)?;
    let report = prune::run(&backend, &dir, &policy, apply, &|d| {
        open_reader(&backend, d, &args.secrets).map_err(|e| format!("{e:#}"))
    })?;
    metrics.set(&metrics::KEPT, report.kept.len() as f64);
    metrics.set(&metrics::REMOVED, report.removed.len() as f64);
    let forgetting = match args.forget_deleted_after {
        Some(after) => Some(forget_deleted(args, &backend, &dir, after)?),
        None => None,
    };
    if let Some((_, forgot)) = &forgetting {
        metrics.set(&metrics::FORGOTTEN_BACKUPS, forgot.backups.len() as f64);
    }
    // A backup left alone for a broken chain, unreadable files or a lock it could not take:
    // the run did not do all it should.
    let mut code = if report.damaged.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    };
    if let Some((_, forgot)) = &forgetting {
        code = code.max(super::forget::exit_code(forgot));
    }
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some((users, forgot)), Some(object)) = (&forgetting, value.as_object_mut()) {
            object.insert(
                "forgetDeletedUsers".into(),
                serde_json::json!({ "users": users, "report": forgot }),
            );
        }
        print_json(&value)?;
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
    if let Some((users, forgot)) = &forgetting {
        for u in users {
            println!(
                "forget {} ({}): deleted from the install before {}",
                u.user.username,
                u.user.user_id,
                crate::when::for_people(u.gone_by)
            );
        }
        if users.is_empty() {
            println!("no user deleted long enough ago to forget");
        } else {
            super::forget::print_report(forgot, apply);
        }
    }
    Ok(code)
}

/// The users the install deleted longer ago than `after_ms`, forgotten from the backups
/// left after the retention (or, in a dry run, what would be).
fn forget_deleted(
    args: &PruneArgs,
    backend: &pryv_backup::archive::Backend,
    dir: &std::path::Path,
    after_ms: u64,
) -> Result<(Vec<forget::DeletedUser>, forget::ForgetReport)> {
    let open =
        |d: &std::path::Path| open_reader(backend, d, &args.secrets).map_err(|e| format!("{e:#}"));
    // Backups whose manifests cannot be opened are reported by the forget that follows.
    let users = forget::deleted_before(
        backend,
        dir,
        &open,
        pryv_backup::clock::now_millis(),
        after_ms,
    )?
    .users;
    if users.is_empty() {
        return Ok((users, forget::ForgetReport::default()));
    }
    let pii_key = super::forget::read_pii_key(args.pii_key_file.as_deref())?;
    let ids: Vec<String> = users.iter().map(|u| u.user.user_id.clone()).collect();
    let report = forget::run(backend, dir, &ids, pii_key.as_ref(), args.yes, &open)?;
    Ok((users, report))
}
