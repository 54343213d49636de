//! The subcommands, one file each: its flags (a `#[derive(Args)]` struct), its run function
//! and its printing, over one library call. This file names them and sends each to its file.

mod backup;
mod completions;
mod consolidate;
mod decrypt;
mod demo;
mod diff;
mod drill;
mod forget;
mod inspect;
mod list;
mod man;
mod prune;
mod restore;
mod shared;
mod verify;

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;

use crate::cli::Cli;
use crate::exit;
use crate::metrics::{self, Metrics};
use crate::secrets;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Back up a Pryv.io install into a directory (also: `pryv-backup --output DIR`).
    ///
    /// Example: NODE_ENV=production pryv-backup backup --core-dir /opt/pryv --output /backups/2026-11-24
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Backup(backup::BackupArgs),
    /// Restore a backup directory into a Pryv.io install (also: `pryv-backup --restore DIR`).
    ///
    /// Users are restored one by one, each all-or-nothing. Conflicting users abort the
    /// restore before anything is written, unless --skip-conflicts.
    ///
    /// With --stream and/or --from/--to (and one --user), only that part of the user is put
    /// back, into an install that holds the user; the rest stays as the install has it.
    ///
    /// Example: pryv-backup restore /backups/full --core-dir /opt/pryv --user alice --stream weight --dry-run
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Restore(restore::RestoreArgs),
    /// List the backups of a folder of backups (or S3 prefix): one row per backup and
    /// increment with its type, UTC date and age, users, items, size, encryption and whether
    /// it is complete (and why not). Needs no key, except to count an encrypted backup's items.
    ///
    /// Example: pryv-backup list /var/backups/pryv
    #[command(visible_alias = "snapshots", after_long_help = crate::cli::SEE_CONFIG_HELP)]
    List(list::ListArgs),
    /// Print a backup's summary: type, users, item counts, sizes; its increments; and what
    /// its latest state (or its state --as-of a time) holds per user.
    ///
    /// The state per user is what a restore of the backup and its increments writes: the
    /// items of each collection (deletion records and event history versions are items
    /// too), their bytes as the JSON text a restore reads (one line each, newline left
    /// out), the attachments its live events own that the backup holds with the sizes those
    /// events record (the files are listed, not read), and when its newest snapshot was
    /// taken. It reads every item of the users shown. Above 30 users the text shows the
    /// totals and the 20 largest users by bytes; --user narrows it, --json holds every user.
    /// An encrypted backup read without its key shows what its clear records say: the state
    /// per user needs the key. A state that cannot be read (a damaged file) is said after
    /// the rest, with exit 1.
    ///
    /// --json adds `latestState`: {asOf, newestGeneration, newestGenerationTimestamp,
    /// userCount, items, itemBytes, attachments, attachmentBytes, users: [{userId, username,
    /// snapshotTime, collections: {NAME: {items, bytes}}, items, itemBytes, attachments,
    /// attachmentBytes, attachmentsMissing, hasAccount}]} (times in ms since the epoch), or
    /// {needsKey: true} without the key.
    ///
    /// Example: pryv-backup inspect /backups/2026-11 --as-of 2026-11-20 --user alice
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Inspect(inspect::InspectArgs),
    /// Say what changed between two states of backups: two backups, or two generations of
    /// one, user by user.
    ///
    /// Each side is LOCATION[@GEN]: LOCATION a backup folder or s3://bucket/prefix; GEN
    /// `base`, an increment (`0001` or `increments/0001`: the state once it was written), or
    /// a time as `restore --as-of` takes it (2026-11-24, 2026-11-24T23:00:00Z, 2d, 13-digit
    /// ms: the state as of then). Without @GEN, the latest state (a location holding `@` is
    /// given with a trailing `@`). Both sides open with the same key flags.
    ///
    /// Per user both sides hold: items added, changed and deleted per collection, the
    /// account changed or not, attachments added and removed; then the users added and
    /// gone (by userId). An item is known by its id (series: measurement; audit: eventid);
    /// changed is the same id with JSON that differs other than in key order. A deletion
    /// record (`deleted` set, as the core keeps deleted events, streams and accesses) counts
    /// as absent: an item that becomes one is deleted. Event history versions are items of
    /// their own. Attachments are the file ids the live events list. Users without
    /// differences are not shown.
    ///
    /// --json: {a, b: {location, asOf, generation, generationTimestamp}, users: [{userId,
    /// username, collections: {NAME: {added, changed, deleted, ids: {added, changed,
    /// deleted}}}, accountChanged, attachmentsAdded, attachmentsRemoved}], usersAdded,
    /// usersGone: [{userId, username}], usersCompared, usersChanged, totals: {NAME: {added,
    /// changed, deleted}}, accountsChanged, attachmentsAdded, attachmentsRemoved, differ}.
    ///
    /// Exit 0 when compared, whether or not the states differ (with --exit-code: 1 when
    /// they differ).
    ///
    /// Example: pryv-backup diff /backups/2026-11@base /backups/2026-11 --items
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Diff(diff::DiffArgs),
    /// Check a backup without restoring it: every file present, of the recorded size and
    /// SHA-256, decompresses, parses, and item counts match the manifest.
    ///
    /// No engine is tried: whether an engine can hold every item is for `drill` or
    /// a restore to say.
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Verify(verify::VerifyArgs),
    /// Prove a backup restores: restore it into a throwaway platform, check it all, remove it.
    ///
    /// The platform is of the backup's own engine (its manifest says which): a PostgreSQL
    /// install's backup goes into a private PostgreSQL server started for the drill with this
    /// host's initdb and postgres (on PATH or under /usr/lib/postgresql/*/bin), listening on a
    /// Unix socket of a 0700 temporary folder only, stopped and removed after; run as root, the
    /// server runs as the `postgres` account. A SQLite install's backup goes into per-user
    /// SQLite files. Every file is checked against the manifests and every event and access
    /// integrity hash as the core computes it.
    ///
    /// Exit 0 when every user restores and checks out ("drill OK"). Exit 0 too, with a
    /// warning and "drill NOT FULLY TRIED" (--json: sourceEngineTried false, notTriedBecause),
    /// when the backup's own engine could not be had (no PostgreSQL binaries, say): it is then
    /// restored into SQLite instead, every file and hash checked; users whose items SQLite
    /// cannot hold (PostgreSQL's event tags) are listed as an engine limit, not damage.
    /// Exit 1 naming each damaged user and file, or each user the backup's own engine cannot
    /// hold. A store it cannot reach or read is an error (exit 1, saying so). InfluxDB is
    /// not tried (series go into the drill's engine).
    ///
    /// Example: pryv-backup drill /backups/full --private-key backup.key.pem
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Drill(drill::DrillArgs),
    /// Merge a backup and its increments into one new full backup, without the install.
    ///
    /// The latest state (or the state --as-of a time) is written. Restoring it gives what
    /// restoring the chain gives; incremental backups can follow it; the chain can then be
    /// pruned. An encrypted chain gives an encrypted backup with the same key, unless
    /// --recipient-pubkey or --encrypt-passphrase-file ask for another.
    ///
    /// Example: pryv-backup consolidate /backups/2026-11 --output /backups/2026-11-full
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Consolidate(consolidate::ConsolidateArgs),
    /// Remove old backups from a folder of dated backups, by retention rules.
    ///
    /// The folder (or S3 prefix) holds one backup per sub-folder. The rules are restic's
    /// (periods in UTC). Prints what it would remove; removes only
    /// with --yes. An increment's base and earlier increments are kept with it; a backup
    /// being written (its lock held) or without a manifest is never touched.
    ///
    /// Example: pryv-backup prune /backups --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --yes
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Prune(prune::PruneArgs),
    /// Remove users from backups (erasure): their folders, platform entries and manifest
    /// entries, in every generation.
    ///
    /// The location is one backup, a folder of backups or an S3 prefix. Prints what it
    /// would change; changes only with --yes. Each rewritten backup stays whole: verify and
    /// drill pass, encrypted ones stay encrypted with their own key. A backup being written
    /// (its lock held) is left alone (exit 3: run again later). A forget stopped half-way is
    /// finished by the next one.
    ///
    /// Example: pryv-backup forget /backups --user alice --decrypt-passphrase-file pass --yes
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Forget(forget::ForgetArgs),
    /// Write a plaintext copy of an encrypted backup.
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Decrypt(decrypt::DecryptCommandArgs),
    /// Create a sample SQLite-engine platform, back it up, restore it into a second empty
    /// platform, compare both and print a summary. Needs no server.
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Demo(demo::DemoArgs),
    /// Print a shell completion script.
    ///
    /// Example: pryv-backup completions bash > /etc/bash_completion.d/pryv-backup
    #[command(after_long_help = crate::cli::SEE_CONFIG_HELP)]
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a folder.
    ///
    /// Each page holds its command's flags, the configuration layering, where secrets come
    /// from and the exit codes.
    ///
    /// Example: pryv-backup man --output-dir /usr/local/share/man/man1
    Man(man::ManArgs),
}

/// `inline_secret`: a secret flag given with its value on the command line (taken out of
/// the arguments before parsing, see [`crate::cli::take_inline_secrets`]): refused.
pub fn run(
    cli: Cli,
    overrides: Vec<(String, String)>,
    inline_secret: Option<&'static str>,
) -> Result<u8> {
    let Some(path) = cli.metrics_file.clone() else {
        return dispatch(cli, overrides, inline_secret, &mut Metrics::default());
    };
    let (command, location) = what(&cli.command);
    let run = metrics::Run {
        command: command.to_string(),
        location,
        started: Instant::now(),
    };
    let mut measured = Metrics::default();
    let result = dispatch(cli, overrides, inline_secret, &mut measured);
    let code = exit::stopped().unwrap_or_else(|| match &result {
        Ok(code) => *code,
        Err(e) => exit::of_error(e),
    });
    match metrics::write(&path, &run, code, &measured) {
        Ok(()) => result,
        // The command's own error says more; the metrics one is printed beside it.
        Err(e) if result.is_err() || code != exit::OK => {
            crate::errors::print(&e);
            result
        }
        Err(e) => Err(e),
    }
}

/// The command's name and the backup location it works on, for metric labels.
fn what(command: &Command) -> (&'static str, String) {
    let shown = |p: &Path| p.display().to_string();
    match command {
        Command::Backup(args) => ("backup", args.dir().map(shown).unwrap_or_default()),
        Command::Restore(args) => ("restore", args.dir().map(shown).unwrap_or_default()),
        Command::Inspect(args) => ("inspect", shown(&args.dir)),
        Command::Diff(args) => ("diff", args.a.clone()),
        Command::List(args) => ("list", shown(&args.location)),
        Command::Verify(args) => ("verify", shown(&args.dir)),
        Command::Decrypt(args) => ("decrypt", shown(&args.dir)),
        Command::Drill(args) => ("drill", shown(&args.dir)),
        Command::Prune(args) => ("prune", shown(&args.dir)),
        Command::Forget(args) => ("forget", shown(&args.dir)),
        Command::Consolidate(args) => ("consolidate", shown(&args.output)),
        Command::Demo(_) => ("demo", String::new()),
        Command::Completions(_) => ("completions", String::new()),
        Command::Man(_) => ("man", String::new()),
    }
}

fn dispatch(
    cli: Cli,
    overrides: Vec<(String, String)>,
    inline_secret: Option<&'static str>,
    metrics: &mut Metrics,
) -> Result<u8> {
    let refused = inline_secret
        .map_or(Ok(()), secrets::refuse_inline)
        .and(secrets::refuse_secret_overrides(&overrides));
    if let Err(e) = refused {
        eprintln!("error: {e:#}");
        return Ok(exit::USAGE);
    }
    let json = cli.json;
    match cli.command {
        Command::Backup(args) => backup::run(args, overrides, json, metrics),
        Command::Restore(args) => restore::run(args, overrides, json, metrics),
        Command::Inspect(args) => inspect::run(&args, json),
        Command::Diff(args) => diff::run(&args, json),
        Command::List(args) => list::run(&args, json),
        Command::Verify(args) => verify::run(&args, json, metrics),
        Command::Drill(args) => drill::run(&args, json, metrics),
        Command::Consolidate(args) => consolidate::run(&args, json, metrics),
        Command::Prune(args) => prune::run(&args, json, metrics),
        Command::Forget(args) => forget::run(&args, json, metrics),
        Command::Decrypt(args) => decrypt::run(&args, json),
        Command::Demo(args) => demo::run(&args, json),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    }
}
