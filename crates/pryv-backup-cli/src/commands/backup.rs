//! `backup`: reads the install's storage and writes a backup (full, or an increment beside
//! the previous generations).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use pryv_backup::archive::{ArchiveWriter, WriterOptions};
use pryv_backup::{backup, chain};

use super::restore::NAMED_UP_TO;
use super::shared::{install, jobs, locate, new_sealer, open_reader, tell_if_replaced};
use crate::exit;
use crate::flags::{ConfigArgs, DecryptArgs, SealArgs};
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};
use crate::secrets;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The backup directory to write, or `s3://bucket/prefix` for an S3-compatible object
    /// store (credentials, region and endpoint from the usual AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT_URL variables),
    /// given as the other commands take theirs: `backup DIR`.
    // Not `conflicts_with = "output"`: clap would count a value from the environment as
    // given, and refuse `--output DIR` whenever PRYV_BACKUP_REPOSITORY is set (see `dir`).
    #[arg(
        value_name = "DIR",
        env = crate::flags::REPOSITORY_ENV,
        required_unless_present = "output"
    )]
    pub location: Option<PathBuf>,
    /// The same, as bin/backup.js takes it: `--output DIR` (or `pryv-backup --output DIR`).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Back up only this user (userId or username; repeatable).
    #[arg(short, long, value_name = "USER")]
    pub user: Vec<String>,
    /// Export only what changed since each user's previous backup in --output (a new
    /// generation beside the previous ones); a full backup when there is none. The increment
    /// is sealed as the chain is: its passphrase (either passphrase flag), or
    /// --recipient-pubkey with its public key (no private key needed). Key rotation is
    /// refused. A host clock found stepped back makes every user go whole, with a warning.
    /// A user with nothing new gets no folder in it (only its line in the generation
    /// record); its account and profile go in when they changed; a series of 1,000 points or
    /// more as the points it gained (every point is still read to find them). Restore such a
    /// folder (never one of its increments alone) with pryv-backup: open-pryv.io's
    /// `bin/backup.js --restore` reads only its base and silently leaves every increment out
    /// (`pryv-backup consolidate` makes one full backup of it that bin/backup.js restores
    /// whole).
    #[arg(long)]
    pub incremental: bool,
    /// With --incremental: how far (seconds) the clocks of the cores and of this host may
    /// disagree. Changes dated up to this much before a user's previous snapshot are taken
    /// again, so none is missed.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0, value_parser = non_negative_seconds)]
    pub clock_skew: f64,
    /// Chunk size of events and audit files, in MB of raw (uncompressed) JSON.
    #[arg(
        long,
        alias = "target-file-size",
        value_name = "MB",
        default_value_t = 50
    )]
    pub max_chunk_size: u64,
    /// Write plain .jsonl files instead of .jsonl.gz.
    #[arg(long)]
    pub no_compress: bool,
    /// Also back up sessions and password-reset requests.
    #[arg(long)]
    pub include_ephemeral: bool,
    /// Say what the backup would do and write nothing (no folder, no lock, no marker): the
    /// install it reads, the users it would back up, the folder it would write (for
    /// --incremental, the generation and the one it follows) and the encryption. Connects
    /// to the install and reads the previous generations' records as a backup does.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub seal: SealArgs,
    #[command(flatten)]
    pub decrypt: DecryptArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl BackupArgs {
    /// The backup to write, however it was given (see [`crate::flags::one_location`]).
    pub fn dir(&self) -> Result<&std::path::Path, String> {
        crate::flags::one_location(self.location.as_deref(), self.output.as_deref(), "--output")
    }
}

pub fn run(
    args: BackupArgs,
    overrides: Vec<(String, String)>,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let started = std::time::Instant::now();
    let location = match args.dir() {
        Ok(dir) => dir.to_path_buf(),
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(exit::USAGE);
        }
    };
    if args.max_chunk_size == 0 {
        bail!("--max-chunk-size must be at least 1 (MB)");
    }
    let install = install(&args.config, overrides)?;
    // The key and the destination are checked before any store is asked anything (the
    // platform's rqlite node included): a mistake in either is then told at once, and costs
    // no connection.
    let fresh_sealer = new_sealer(&args.seal, &args.decrypt)?;
    let (backend, output) = locate(&location)?;
    let install = install.reading_stopped_platform()?;
    let target = install.target();
    if !json {
        info!("reading {target}");
    }
    // Two backups into one output would mix their files: the second stops here.
    if backend.is_local() {
        install.check_output(&output)?;
    }
    let _lock = if args.dry_run {
        None
    } else {
        Some(
            backend
                .lock_output(&output)
                .with_context(|| format!("locking the backup output {}", output.display()))?,
        )
    };
    let engine = install.engine()?;

    // An incremental backup adds a generation beside the previous ones; it never rewrites them.
    // The previous generations open with the passphrase this one is encrypted with, unless
    // told otherwise.
    let mut previous_secrets = args.decrypt.clone();
    if previous_secrets.decrypt_passphrase_file.is_none() {
        previous_secrets.decrypt_passphrase_file = args.seal.encrypt_passphrase_file.clone();
    }
    let unreadable = || {
        format!(
            "an incremental backup starts from the previous generations in {}, which could \
             not be read (nothing was written)",
            output.display()
        )
    };
    let mut follows = None;
    let (output_dir, previous, sealer) = if args.incremental {
        match chain::ChainIndex::open(&backend, &output).with_context(unreadable)? {
            Some(index) => {
                follows = index.generations.last().map(|g| g.label());
                // Sealed as the chain is, with its key, or refused.
                let sealer = secrets::increment_sealer(
                    &backend,
                    &index,
                    fresh_sealer,
                    args.seal.encrypt_passphrase_file.as_deref(),
                    &args.decrypt,
                )?;
                chain::check_increment_sealing(&index, sealer.as_deref())?;
                // The clear records suffice (no key needed); older chains need the manifests.
                let state = match index.state_from_records() {
                    Some(state) => state,
                    None => chain::Chain::open(&backend, &output, &|dir| {
                        open_reader(&backend, dir, &previous_secrets).map_err(|e| format!("{e:#}"))
                    })
                    .with_context(unreadable)?
                    .with_context(unreadable)?
                    .previous_state()
                    .with_context(unreadable)?,
                };
                let next = chain::next_generation_dir(&backend, &output)?;
                (next, Some(state), sealer)
            }
            None => {
                info!(
                    "no previous backup in {}: running a full backup",
                    output.display()
                );
                (output.clone(), None, fresh_sealer)
            }
        }
    } else {
        (output.clone(), None, fresh_sealer)
    };

    let increment_of = previous.is_some().then(|| output.clone());
    let options = backup::BackupOptions {
        users: args.user.clone(),
        previous,
        include_ephemeral: args.include_ephemeral,
        jobs: jobs(&args.config),
        engine_name: install.engine_name(),
        domain: install.domain(),
        core_version: install.core_version(),
        pii_key: install.config.pii_key.clone(),
        clock_skew: args.clock_skew,
        hook: None,
    };
    if args.dry_run {
        if backend.is_file(&output_dir.join(pryv_backup::archive::layout::MANIFEST))? {
            // As the writer would refuse it.
            bail!(
                "{} already holds a backup (it has a manifest.json): choose an empty directory, \
                 or add --incremental",
                output_dir.display()
            );
        }
        let plan = backup::plan(engine.as_ref(), &options)?;
        let dry_run = DryRun {
            output: &output_dir,
            increment_of: increment_of.as_deref(),
            follows: follows.as_deref(),
            encryption: chain::EncryptionRecord::of(sealer.as_deref()).mode,
            install: &target,
            plan: &plan,
        };
        if json {
            print_json(&dry_run)?;
        } else {
            dry_run.print();
        }
        return Ok(exit::OK);
    }
    let writer = ArchiveWriter::create(
        &output_dir,
        WriterOptions {
            compress: !args.no_compress,
            max_chunk_size: args.max_chunk_size * 1024 * 1024,
            sealer,
            backend: backend.clone(),
            empty_files: increment_of.is_none(),
        },
    )?;
    tell_if_replaced(&writer, &output_dir);
    let bar = UserBar::new("backing up", json);
    let report = backup::run(engine.as_ref(), writer, &options, &bar)?;
    drop(bar);
    metrics.set(&metrics::USERS, report.users.len() as f64);
    metrics.set(&metrics::FAILED_USERS, report.failed_users.len() as f64);
    metrics.set(&metrics::ITEMS, report.items as f64);
    metrics.set(&metrics::ATTACHMENTS, report.attachments as f64);
    metrics.set(&metrics::BYTES, report.bytes as f64);
    metrics.set(&metrics::LEFT_OUT_USERS, report.left_out.len() as f64);
    metrics.set(
        &metrics::MISSING_ATTACHMENTS,
        report.missing_attachments.len() as f64,
    );
    if let Some(chain) = &increment_of {
        // Operators who keep bin/backup.js as their restore tool must hear it here.
        eprintln!(
            "warning: {} is an increment of the backup in {}. open-pryv.io's bin/backup.js \
             --restore restores only that base and leaves every increment out without saying \
             so: restore the folder with pryv-backup, or run `pryv-backup consolidate {} \
             --output <new folder>` for one full backup bin/backup.js restores whole.",
            output_dir.display(),
            chain.display(),
            chain.display()
        );
    }
    // Users deleted from the install that older generations still hold (from the clear
    // records: no key needed); `forget` erases them.
    let deleted_held = match &increment_of {
        Some(chain) => chain::ChainIndex::open(&backend, chain)
            .ok()
            .flatten()
            .map_or(0, |index| index.deleted_users().len()),
        None => 0,
    };
    if json {
        print_json(&serde_json::json!({
            "output": output_dir,
            "install": target,
            "report": report,
            "deletedUsersHeld": deleted_held,
        }))?;
    } else {
        if deleted_held > 0 {
            println!(
                "{deleted_held} user(s) deleted from the install are still in older generations \
                 of this backup: `pryv-backup inspect` names them, `pryv-backup forget` removes \
                 them"
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{} backup of {} user(s) written to {} ({} items, {} attachments, {} platform \
             entries, {} written) in {:.1} s ({:.0} items/s)",
            report.backup_type,
            report.users.len(),
            output_dir.display(),
            report.items,
            report.attachments,
            report.platform_entries,
            indicatif::HumanBytes(report.bytes),
            seconds,
            report.items as f64 / seconds.max(0.001)
        );
        if report.unchanged_users > 0 {
            println!(
                "{} of them with nothing new since the previous generation: recorded, no folder \
                 written (the generations before hold their data)",
                report.unchanged_users
            );
        }
        if let Some(step) = &report.clock_stepped_back {
            println!(
                "warning: this host's clock ({:.3} s) read earlier than the previous backup's \
                 snapshot ({:.3} s): the clock was stepped back, so every user was exported \
                 whole in this increment (nothing is missed); check the host's time synchronisation",
                step.snapshot, step.previous_snapshot
            );
        }
        if !report.missing_attachments.is_empty() {
            println!(
                "warning: {} attachment file(s) listed by events were not in the store (deleted \
                 while the backup ran, or lost); the events are backed up, these files are not:",
                report.missing_attachments.len()
            );
            print!("{}", missing_lines(&report.missing_attachments));
        }
        for left in &report.left_out {
            println!(
                "left out: {} ({}): {}",
                left.user.username, left.user.user_id, left.reason
            );
        }
    }
    if report.failed_users.is_empty() {
        return Ok(exit::OK);
    }
    // On stderr in both modes: --json's stdout already carries them in the report.
    eprintln!(
        "error: {} user(s) could not be backed up and are not in this backup (the others are; \
         fix the access named and run again):",
        report.failed_users.len()
    );
    for f in &report.failed_users {
        eprintln!("  - user {} ({}): {}", f.username, f.user_id, f.error);
    }
    Ok(exit::PARTIAL)
}

/// What `backup --dry-run` found: what the backup would read, write and how.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DryRun<'a> {
    /// The folder the backup would write (for an increment, its generation's).
    output: &'a Path,
    /// For an increment, the chain's folder and the generation it would follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    increment_of: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    follows: Option<&'a str>,
    /// none, symmetric (passphrase) or hybrid (recipient key).
    encryption: String,
    install: &'a pryv_backup::install::InstallTarget,
    plan: &'a backup::BackupPlan,
}

impl DryRun<'_> {
    fn print(&self) {
        let what = match (self.increment_of, self.follows) {
            (Some(chain), Some(follows)) => format!(
                "an increment of the backup in {} would be written to {}, after {follows}",
                chain.display(),
                self.output.display()
            ),
            _ => format!(
                "a full backup would be written to {}",
                self.output.display()
            ),
        };
        let encryption = match self.encryption.as_str() {
            chain::EncryptionRecord::NONE => "not encrypted".to_string(),
            "symmetric" => "encrypted with a passphrase".to_string(),
            "hybrid" => "encrypted for a recipient key".to_string(),
            other => format!("encrypted ({other})"),
        };
        println!("dry run, nothing was written: {what} ({encryption})");
        println!("  install: {}", self.install);
        let users = &self.plan.users;
        let how = if self.increment_of.is_some() {
            format!(
                ": {} with their changes since their previous backup, {} whole",
                self.plan.incremental_users,
                users.len() - self.plan.incremental_users
            )
        } else {
            String::new()
        };
        println!("  {} user(s) would be backed up{how}", users.len());
        print!("{}", super::restore::restored_names(users));
        if self.plan.clock_stepped_back.is_some() {
            println!(
                "  warning: this host's clock reads earlier than the previous backup's snapshot: \
                 every user would be exported whole"
            );
        }
    }
}

/// One line per missing attachment, up to [`NAMED_UP_TO`]: a store that lost many would
/// bury the rest of the report (`--json` names each).
fn missing_lines(missing: &[backup::MissingAttachment]) -> String {
    let mut lines: String = missing
        .iter()
        .take(NAMED_UP_TO)
        .map(|m| {
            format!(
                "  - user {} ({}): event {}, file {}\n",
                m.username, m.user_id, m.event_id, m.file_id
            )
        })
        .collect();
    if missing.len() > NAMED_UP_TO {
        lines.push_str(&format!(
            "  (and {} more: each is named in the --json report)\n",
            missing.len() - NAMED_UP_TO
        ));
    }
    lines
}

fn non_negative_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds (0 or more)")),
    }
}

#[cfg(test)]
mod tests {
    use pryv_backup::backup::MissingAttachment;

    use super::{missing_lines, NAMED_UP_TO};

    fn missing(n: usize) -> Vec<MissingAttachment> {
        (0..n)
            .map(|i| MissingAttachment {
                user_id: format!("id{i}"),
                username: format!("user{i}"),
                event_id: format!("ev{i}"),
                file_id: format!("file{i}"),
            })
            .collect()
    }

    #[test]
    fn a_few_missing_attachments_are_named_many_are_counted() {
        assert_eq!(
            missing_lines(&missing(1)),
            "  - user user0 (id0): event ev0, file file0\n"
        );
        let many = missing_lines(&missing(NAMED_UP_TO + 170));
        assert_eq!(many.lines().count(), NAMED_UP_TO + 1, "{many}");
        assert!(many.ends_with("(and 170 more: each is named in the --json report)\n"));
    }
}
