//! `forget`: removes users from every backup of a location (erasure), with their platform
//! entries, keeping each backup whole and checkable.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use pryv_backup::config::PiiKey;
use pryv_backup::forget;

use super::shared::{locate, open_reader, require_folder};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::print_json;
use crate::secrets;

/// Where the PII key is read from when no --pii-key-file is given.
const PII_KEY_ENV: &str = "PRYV_BACKUP_PII_HMAC_KEY";

/// The install's `platform:piiHmacKey`, from `file` or PRYV_BACKUP_PII_HMAC_KEY, if given
/// (hashed PII mode: platform entries name users by its tokens). Prune's forgetting uses it too.
pub fn read_pii_key(file: Option<&std::path::Path>) -> Result<Option<PiiKey>> {
    match secrets::read_secret(file, PII_KEY_ENV)? {
        Some(text) => Ok(Some(PiiKey::from_base64(&text).with_context(|| {
            format!("the PII key (--pii-key-file or {PII_KEY_ENV}) is not base64 text")
        })?)),
        None => Ok(None),
    }
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// One backup, a folder holding one backup per sub-folder, or `s3://bucket/prefix`.
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub dir: PathBuf,
    /// The user to forget, by userId or username (repeatable).
    #[arg(long = "user", value_name = "USER", required = true)]
    pub users: Vec<String>,
    /// Hashed PII mode: a file holding the install's platform:piiHmacKey (base64), or
    /// PRYV_BACKUP_PII_HMAC_KEY; platform entries name users by its tokens.
    #[arg(long, value_name = "FILE")]
    pub pii_key_file: Option<PathBuf>,
    /// Change the backups (without it: only print what would change).
    #[arg(long)]
    pub yes: bool,
    /// Encrypted backups: forget reads their sealed manifests, so it needs the passphrase
    /// or the private key (a recipient's public key is not enough); rewritten files are
    /// sealed again with each backup's own key.
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &ForgetArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let apply = args.yes;
    let pii_key = read_pii_key(args.pii_key_file.as_deref())?;
    let (backend, dir) = locate(&args.dir)?;
    require_folder(&backend, &dir)?;
    let report = forget::run(&backend, &dir, &args.users, pii_key.as_ref(), apply, &|d| {
        open_reader(&backend, d, &args.secrets).map_err(|e| format!("{e:#}"))
    })?;
    metrics.set(&metrics::FORGOTTEN_BACKUPS, report.backups.len() as f64);
    metrics.set(&metrics::PROBLEMS, report.damaged.len() as f64);
    let code = forget_exit_code(&report);
    if json {
        print_json(&report)?;
        return Ok(code);
    }
    print_report(&report, apply);
    if code == exit::NOTHING_TO_DO {
        println!("nothing to do: no backup holds the user(s) named (exit code 4)");
    }
    Ok(code)
}

/// A backup that could not be read: error. One left alone while being written: partial,
/// run again once it is written.
pub fn exit_code(report: &forget::ForgetReport) -> u8 {
    if !report.damaged.is_empty() {
        exit::ERROR
    } else if !report.skipped.is_empty() {
        exit::PARTIAL
    } else {
        exit::OK
    }
}

/// Forget's own runs: nothing to do (exit 4) when no backup holds any user named, so that
/// a mistyped user is told from an erased one; a run again after a forget says so too.
/// Prune's forgetting (scheduled) keeps [`exit_code`].
fn forget_exit_code(report: &forget::ForgetReport) -> u8 {
    match exit_code(report) {
        exit::OK if report.backups.is_empty() => exit::NOTHING_TO_DO,
        code => code,
    }
}

/// Every backup and file changed (or that would be), and what was left alone.
pub fn print_report(report: &forget::ForgetReport, apply: bool) {
    let (removed, rewritten) = if apply {
        ("removed", "rewrote")
    } else {
        ("would remove", "would rewrite")
    };
    // Every file, so the operator sees (and can keep) the list of what changed.
    for b in &report.backups {
        let users: Vec<String> = b
            .users
            .iter()
            .map(|u| format!("{} ({})", u.username, u.user_id))
            .collect();
        println!("backup {}: {}", b.dir.display(), users.join(", "));
        match (b.finishes_interrupted, apply) {
            (true, true) => println!("  finishing what an earlier forget began (it was stopped)"),
            (true, false) => {
                println!("  an earlier forget was stopped in this backup: --yes finishes it")
            }
            _ => {}
        }
        for g in &b.generations {
            println!(
                "  {}: {} file(s) to remove, {} platform entr(ies), {} file(s) to rewrite",
                g.dir.display(),
                g.files_removed.len(),
                g.platform_entries,
                g.files_rewritten.len()
            );
            for f in &g.files_removed {
                println!("    {removed} {}", f.display());
            }
            for f in &g.files_rewritten {
                println!("    {rewritten} {}", f.display());
            }
        }
    }
    for user in &report.not_found {
        println!("{user}: in no backup read");
    }
    for (dir, why) in &report.skipped {
        println!("left alone {}: {why}", dir.display());
    }
    for dir in &report.incomplete {
        println!(
            "not a complete backup, not read: {} (no manifest.json)",
            dir.display()
        );
    }
    for (dir, why) in &report.damaged {
        println!("NOT DONE {}: {why}", dir.display());
    }
    if apply {
        println!(
            "{} backup(s) changed: {} file(s) removed, {} rewritten",
            report.backups.len(),
            report.files_removed,
            report.files_rewritten
        );
    } else {
        println!(
            "dry run: {} backup(s) would change ({} file(s) removed, {} rewritten), nothing \
             was; run again with --yes",
            report.backups.len(),
            report.files_removed,
            report.files_rewritten
        );
    }
    if !report.skipped.is_empty() {
        println!("some backups were left alone: run forget again once they are written");
    }
}
