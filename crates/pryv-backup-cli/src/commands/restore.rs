//! `restore`: writes a backup (and its increments) into an install, user by user.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pryv_backup::partial_restore::{self, PartialOptions, Scope};
use pryv_backup::restore::{self, OnSuccess, RestoreOptions};

use super::shared::{install, jobs, open_chain};
use crate::exit;
use crate::flags::{ConfigArgs, DecryptArgs};
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("after_success").args(["delete_on_success", "move_on_success"]))]
// A partial restore (--stream, --from, --to) puts back part of one user already in the install.
#[command(group = clap::ArgGroup::new("partial")
    .args(["stream", "from", "to"])
    .multiple(true)
    .requires("user")
    .conflicts_with_all(["overwrite", "skip_conflicts", "delete_on_success", "move_on_success"]))]
pub struct RestoreArgs {
    /// The backup directory to restore, or `s3://bucket/prefix` (see `backup --output`),
    /// given as the other commands take it: `restore DIR`.
    // Not `conflicts_with = "restore"`: clap would count a value from the environment as
    // given, and refuse `-r DIR` whenever PRYV_BACKUP_REPOSITORY is set (see `dir`).
    #[arg(
        value_name = "DIR",
        env = crate::flags::REPOSITORY_ENV,
        required_unless_present = "restore"
    )]
    pub location: Option<PathBuf>,
    /// The same, as bin/backup.js takes it: `restore -r DIR` (or `pryv-backup --restore DIR`).
    #[arg(short = 'r', long = "restore", value_name = "DIR")]
    pub restore: Option<PathBuf>,
    /// Restore only this user (userId or username; repeatable).
    #[arg(short, long, value_name = "USER")]
    pub user: Vec<String>,
    /// Replace the data of users that already exist in the target.
    #[arg(long)]
    pub overwrite: bool,
    /// Restore the state as it was at this time: only the generations (the base backup and
    /// its increments) written at or before it: a date (2026-11-24, its first instant in
    /// UTC), a date-time with or without zone (2026-11-24T23:00:00Z, 2026-11-24 23:00 in
    /// UTC), an age (2d: two days ago), or 13-digit milliseconds since the epoch (as in
    /// manifest.json's backupTimestamp). Other numbers are refused (seconds or milliseconds?).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    /// Restore the other users when some conflict (needs --delete-on-success or
    /// --move-on-success, as with bin/backup.js: refused as bad usage without one).
    #[arg(long, requires = "after_success")]
    pub skip_conflicts: bool,
    /// Check every event's and access's integrity hash, in the backup before writing the
    /// user and as written before committing it; a user that fails is rolled back.
    #[arg(long)]
    pub verify_integrity: bool,
    /// Delete the backup directory when every user was restored (it is kept when a user
    /// failed, was rolled back or was skipped: it is their only copy).
    #[arg(long, conflicts_with = "move_on_success")]
    pub delete_on_success: bool,
    /// Move the backup directory here after the restore, unless a user failed or was
    /// rolled back (skipped users' data moves with it).
    #[arg(long, value_name = "PATH")]
    pub move_on_success: Option<PathBuf>,
    /// Restore even though the install's core seems to be running (other connections to
    /// its PostgreSQL database, or processes holding files of its data folders open).
    /// Without it such a restore is refused before anything is written: stop the core first.
    #[arg(long)]
    pub force: bool,
    /// Say what the restore would do (the users it would restore, the conflicts that would
    /// stop or skip users; for a partial restore, what it would add, replace and remove) and
    /// write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Partial restore: put back only this stream and its child streams (repeatable), with
    /// their events (an event also in a stream outside is restored as the backup has it),
    /// the events' history, attachments and series, into an install that holds the user
    /// (give exactly one --user). The rest of the user stays as the install has it: other
    /// streams and events, account, accesses, profile, webhooks, audit, sessions. Events
    /// and streams in scope the backup does not hold are removed. All or nothing; every
    /// integrity hash of the user is checked before the commit. Try it with --dry-run first.
    ///
    /// Example: pryv-backup restore /backups/full --user alice --stream weight --dry-run
    #[arg(long, value_name = "STREAM_ID")]
    pub stream: Vec<String>,
    /// Partial restore of the events whose time is at or after this (same forms as --as-of;
    /// with --stream, the events of those streams only). Needs exactly one --user.
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub from: Option<u64>,
    /// Partial restore of the events whose time is before this (same forms as --as-of).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub to: Option<u64>,
    /// Where a partial restore keeps its copy of the user's current state while it runs (a
    /// private 0700 folder made there and removed at the end; as big as the user's data,
    /// compressed): the system's temporary folder by default.
    #[arg(long, value_name = "DIR", requires = "user")]
    pub scratch_dir: Option<PathBuf>,
    #[command(flatten)]
    pub decrypt: DecryptArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl RestoreArgs {
    /// The backup to restore, however it was given (see [`crate::flags::one_location`]).
    pub fn dir(&self) -> Result<&std::path::Path, String> {
        crate::flags::one_location(self.location.as_deref(), self.restore.as_deref(), "-r")
    }
}

pub fn run(
    args: RestoreArgs,
    overrides: Vec<(String, String)>,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let location = match args.dir() {
        Ok(dir) => dir.to_path_buf(),
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(exit::USAGE);
        }
    };
    let partial = !args.stream.is_empty() || args.from.is_some() || args.to.is_some();
    if partial && args.user.len() != 1 {
        eprintln!(
            "error: --stream, --from and --to restore part of one user: give exactly one --user \
             (given: {})",
            args.user.len()
        );
        return Ok(exit::USAGE);
    }
    if args.scratch_dir.is_some() && !partial {
        eprintln!("error: --scratch-dir is for a partial restore (--stream, --from, --to)");
        return Ok(exit::USAGE);
    }
    let on_success = match (&args.delete_on_success, &args.move_on_success) {
        (true, _) => OnSuccess::Delete,
        (false, Some(path)) => OnSuccess::MoveTo(path.clone()),
        (false, None) => OnSuccess::Keep,
    };
    let (dir, chain) = open_chain(&location, args.as_of, &args.decrypt, json)?;
    // The backup is checked (present, complete, secrets right) before the install is touched.
    let install = install(&args.config, overrides)?;
    let target = install.target();
    if !json {
        info!("restoring into {target}");
    }
    refuse_running_core(&install, args.force, args.dry_run)?;
    let engine = install.engine()?;
    if partial {
        return run_partial(&args, engine.as_ref(), &chain, &target, json, metrics);
    }
    let bar = UserBar::new("restoring", json);
    let report = restore::run(
        engine.as_ref(),
        &chain,
        &dir,
        &RestoreOptions {
            users: args.user.clone(),
            overwrite: args.overwrite,
            skip_conflicts: args.skip_conflicts,
            verify_integrity: args.verify_integrity,
            jobs: jobs(&args.config),
            on_success,
            pii_key: install.config.pii_key.clone(),
            core_id: install.config.core_id.clone(),
            dry_run: args.dry_run,
        },
        &bar,
    )?;
    if !args.dry_run && !report.aborted {
        bar.finish("restored");
    }
    drop(bar);
    metrics.set(&metrics::USERS, report.restored.len() as f64);
    let not_restored = report.failed.len()
        + report.rolled_back.len()
        + report.skipped.len()
        + report.incomplete.len();
    metrics.set(&metrics::FAILED_USERS, not_restored as f64);
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("install".into(), serde_json::to_value(&target)?);
        }
        print_json(&value)?;
    } else if args.dry_run {
        print_dry_run(&report);
    } else {
        print_restore_report(&report);
    }
    // A dry run exits as the restore would: 1 when conflicts would stop it.
    Ok(if report.aborted {
        exit::ERROR
    } else if report.is_complete() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

/// `--stream`/`--from`/`--to`: part of one user, see [`partial_restore`].
fn run_partial(
    args: &RestoreArgs,
    engine: &dyn pryv_backup::engine::Engine,
    chain: &pryv_backup::chain::Chain,
    target: &impl serde::Serialize,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let bar = UserBar::new("restoring", json);
    let report = partial_restore::run(
        engine,
        chain,
        &PartialOptions {
            user: args.user.first().cloned().unwrap_or_default(),
            scope: Scope {
                streams: args.stream.clone(),
                from_ms: args.from,
                to_ms: args.to,
            },
            scratch_dir: args.scratch_dir.clone(),
            dry_run: args.dry_run,
        },
        &bar,
    )?;
    drop(bar);
    metrics.set(&metrics::USERS, f64::from(u8::from(!args.dry_run)));
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("install".into(), serde_json::to_value(target)?);
        }
        print_json(&value)?;
    } else {
        print_partial_report(&report);
    }
    Ok(exit::OK)
}

fn print_partial_report(report: &partial_restore::PartialReport) {
    let user = format!("{} ({})", report.user.username, report.user.user_id);
    if report.dry_run {
        println!("dry run, nothing was written: the partial restore of {user} would put back:");
    } else {
        println!("Partial restore of {user}: put back");
    }
    if !report.streams.is_empty() {
        println!(
            "  streams {} and their child streams ({} in scope: {})",
            report.streams.join(", "),
            report.streams_in_scope.len(),
            report.streams_in_scope.join(", ")
        );
    }
    if let Some(from) = report.from_ms {
        println!("  events from {} (included)", crate::when::for_people(from));
    }
    if let Some(to) = report.to_ms {
        let lead = if report.from_ms.is_some() {
            "        "
        } else {
            "  events"
        };
        println!("{lead} to {} (excluded)", crate::when::for_people(to));
    }
    let (verb_add, verb_replace, verb_remove) = if report.dry_run {
        ("would add", "would replace", "would remove")
    } else {
        ("added", "replaced", "removed")
    };
    println!(
        "  {:<12} {:>9} {:>10} {:>11} {:>13} {:>12}",
        "", "in backup", "in install", verb_add, verb_replace, verb_remove
    );
    for (name, c) in [
        ("streams", &report.stream_counts),
        ("events", &report.event_counts),
        ("attachments", &report.attachment_counts),
        ("series", &report.series_counts),
    ] {
        println!(
            "  {name:<12} {:>9} {:>10} {:>11} {:>13} {:>12}",
            c.in_backup, c.in_install, c.added, c.replaced, c.removed
        );
    }
    if report.integrity_checked {
        println!("  every event and access integrity hash of the user checked before the commit");
    }
    println!(
        "  the rest of the user (other streams and events, account, accesses, profile, \
         webhooks, audit, sessions) is {} as the install holds it",
        if report.dry_run { "left" } else { "kept" }
    );
}

/// A core that runs while its data is replaced under it keeps serving (and writing) what it
/// had cached: refused, before anything is written, unless forced.
fn refuse_running_core(
    install: &pryv_backup::install::Install,
    force: bool,
    dry_run: bool,
) -> Result<()> {
    let found = install.core_activity()?;
    if found.is_empty() {
        return Ok(());
    }
    if dry_run && !force {
        eprintln!(
            "note: the install's core seems to be running ({}): the restore would be refused \
             without --force",
            found.join("; ")
        );
        return Ok(());
    }
    if force {
        tracing::warn!(
            "the install's core seems to be running ({}); restoring anyway (--force)",
            found.join("; ")
        );
        return Ok(());
    }
    anyhow::bail!(
        "the install's core seems to be running: {}. Nothing was written: stop the core \
         before restoring, or pass --force to restore anyway",
        found.join("; ")
    )
}

fn print_dry_run(report: &restore::RestoreReport) {
    if report.aborted {
        println!("dry run, nothing was written: the restore would stop before writing anything:");
        print_restore_report(report);
        return;
    }
    let users = report.would_restore.as_deref().unwrap_or_default();
    println!(
        "dry run, nothing was written: {} user(s) would be restored",
        users.len()
    );
    print!("{}", restored_names(users));
    for c in &report.skipped {
        println!(
            "  would be skipped (conflict): {} ({}): {}",
            c.user.username, c.user.user_id, c.reason
        );
    }
}

/// Up to this many restored users are named one a line; more are counted only (a platform
/// of thousands would bury the problems), and named in `--json`. Users not restored are
/// always named.
pub(super) const NAMED_UP_TO: usize = 30;

pub(super) fn restored_names(restored: &[pryv_backup::model::UserRef]) -> String {
    if restored.len() > NAMED_UP_TO {
        return format!("    (more than {NAMED_UP_TO}: each is named in the --json report)\n");
    }
    restored
        .iter()
        .map(|u| format!("    - {} ({})\n", u.username, u.user_id))
        .collect()
}

fn print_restore_report(report: &restore::RestoreReport) {
    if report.aborted {
        println!(
            "Restore aborted before writing anything: {} conflict(s)",
            report.conflicts.len()
        );
        for c in &report.conflicts {
            println!("  - {} ({}): {}", c.user.username, c.user.user_id, c.reason);
        }
        println!(
            "Use --overwrite to replace existing users (a unique value such as an email that \
             another user holds stays a conflict), or --skip-conflicts to restore the others."
        );
        return;
    }
    println!("Restore report:");
    println!("  restored: {}", report.restored.len());
    print!("{}", restored_names(&report.restored));
    for (title, list) in [
        ("skipped (conflict)", &report.skipped),
        ("rolled back (integrity)", &report.rolled_back),
        ("failed (rolled back)", &report.failed),
        (
            "INCOMPLETE (committed; restore again with --overwrite)",
            &report.incomplete,
        ),
    ] {
        if !list.is_empty() {
            println!("  {title}: {}", list.len());
            for u in list {
                println!(
                    "    - {} ({}): {}",
                    u.user.username, u.user.user_id, u.reason
                );
            }
        }
    }
    match &report.platform_error {
        Some(e) => println!("  platform entries NOT restored: {e}"),
        None => println!("  platform entries: {}", report.platform_entries),
    }
    if let Some(r) = &report.platform_rederived {
        println!(
            "  platform entries RE-DERIVED: {} ({} entries of the backup left out)",
            r.reason, r.backup_entries_left_out
        );
    }
    if let Some(e) = &report.finish_error {
        println!("  the restore did NOT end well: {e}");
    }
    if let Some(d) = &report.backup_disposition {
        println!("  backup {d}");
    }
}

#[cfg(test)]
mod tests {
    use pryv_backup::model::UserRef;

    use super::{restored_names, NAMED_UP_TO};

    fn users(n: usize) -> Vec<UserRef> {
        (0..n)
            .map(|i| UserRef {
                user_id: format!("id{i}"),
                username: format!("user{i}"),
            })
            .collect()
    }

    #[test]
    fn a_few_restored_users_are_named_many_are_counted() {
        assert_eq!(
            restored_names(&users(2)),
            "    - user0 (id0)\n    - user1 (id1)\n"
        );
        assert_eq!(
            restored_names(&users(NAMED_UP_TO)).lines().count(),
            NAMED_UP_TO
        );
        let many = restored_names(&users(200));
        assert_eq!(many.lines().count(), 1, "{many}");
        assert!(many.contains("--json"), "{many}");
    }
}
