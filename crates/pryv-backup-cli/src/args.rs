//! The command line. Compatible with `node bin/backup.js` (`--output DIR` backs up,
//! `--restore DIR` restores) and with subcommands for everything else.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const CONFIG_HELP: &str = "\
CONFIGURATION
  pryv-backup reads the install's storage settings as the core (@pryv/boiler) does,
  lowest priority first: built-in defaults, <core-dir>/config/default-config.yml,
  then the --config FILE(s) if given, else <core-dir>/config/${NODE_ENV}-config.yml
  (none when NODE_ENV is unset: set NODE_ENV=production as the core's service does),
  then environment variables such as storages__base__engine=sqlite, then
  <core-dir>/config/override-config.yml (skipped when NODE_ENV=test), then
  --key:path=value overrides (e.g. --storages:base:engine=sqlite).
  Relative paths are taken from the current directory.

SECRETS
  Secrets are never taken on the command line (it shows in `ps` and shell history):
  passphrases come from a file (--*-passphrase-file) or from PRYV_BACKUP_PASSPHRASE /
  PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE.

EXIT CODES
  0 success   1 error (nothing or not everything done; see message)   2 bad usage
  3 partial: some users were skipped, rolled back or failed (see the report)";

/// Fast, safe backup and restore for Pryv.io v2 platforms.
///
/// Reads the install's storage directly with the same configuration as the core, and
/// writes (or restores) a backup directory compatible with open-pryv.io's bin/backup.js
/// (format version 1, PRYVBKE1 encryption).
#[derive(Parser, Debug)]
#[command(name = "pryv-backup", version, propagate_version = true, after_long_help = CONFIG_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log lines on stderr (-v info, -vv debug). RUST_LOG works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print a machine-readable JSON report on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the run's outcome (last success, duration, users, items, bytes, exit
    /// status) to this file in the Prometheus text format, for node_exporter's textfile
    /// collector. Written atomically; the last success time survives a failed run.
    #[arg(long, global = true, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Back up a Pryv.io install into a directory (also: `pryv-backup --output DIR`).
    ///
    /// Example: NODE_ENV=production pryv-backup backup --core-dir /opt/pryv --output /backups/2026-11-24
    Backup(BackupArgs),
    /// Restore a backup directory into a Pryv.io install (also: `pryv-backup --restore DIR`).
    ///
    /// Users are restored one by one, each all-or-nothing. Conflicting users abort the
    /// restore before anything is written, unless --skip-conflicts.
    Restore(RestoreArgs),
    /// Print a backup's summary: type, users, item counts, sizes.
    Inspect {
        dir: PathBuf,
        #[command(flatten)]
        secrets: DecryptArgs,
    },
    /// Check a backup without restoring it: every file present, of the recorded size and
    /// SHA-256, decompresses, parses, and item counts match the manifest.
    ///
    /// No engine is tried: whether an engine can hold every item is for `drill` (SQLite) or
    /// a restore to say.
    Verify {
        dir: PathBuf,
        #[command(flatten)]
        secrets: DecryptArgs,
    },
    /// Prove a backup restores: restore it into a throwaway platform, check it all, remove it.
    ///
    /// The platform is a SQLite-engine one in a temporary folder (no server needed). Every
    /// file is checked against the manifests and every event and access integrity hash as
    /// the core computes it. Exit 0 when every user restores and checks out; 1 otherwise,
    /// naming each damaged user and file, and apart from them each user whose items the
    /// SQLite engine cannot hold (a limit of that engine, not damage). A restore into
    /// PostgreSQL or InfluxDB is not tried.
    ///
    /// Example: pryv-backup drill /backups/full --private-key backup.key.pem
    Drill {
        /// The backup directory, or `s3://bucket/prefix`.
        dir: PathBuf,
        /// Drill the state as it was at this time (see `restore --as-of`).
        #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
        as_of: Option<u64>,
        #[command(flatten)]
        secrets: DecryptArgs,
    },
    /// Merge a backup and its increments into one new full backup, without the install.
    ///
    /// The latest state (or the state --as-of a time) is written. Restoring it gives what
    /// restoring the chain gives; incremental backups can follow it; the chain can then be
    /// pruned. It is encrypted as a backup is: for --recipient-pubkey, or with the
    /// passphrase of --encrypt-passphrase-file or PRYV_BACKUP_PASSPHRASE.
    ///
    /// Example: pryv-backup consolidate /backups/2026-11 --output /backups/2026-11-full
    Consolidate {
        /// The backup to merge (a folder or `s3://bucket/prefix`).
        dir: PathBuf,
        /// Where to write the new full backup (a new or empty folder, or `s3://...`).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Merge the state as it was at this time (see `restore --as-of`).
        #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
        as_of: Option<u64>,
        #[command(flatten)]
        secrets: DecryptArgs,
        #[command(flatten)]
        seal: SealArgs,
    },
    /// Remove old backups from a folder of dated backups, by retention rules.
    ///
    /// The folder (or S3 prefix) holds one backup per sub-folder. The rules are restic's
    /// (periods in UTC). Prints what it would remove; removes only
    /// with --yes. An increment's base and earlier increments are kept with it; a backup
    /// being written (its lock held) or without a manifest is never touched.
    ///
    /// Example: pryv-backup prune /backups --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --yes
    #[command(group = clap::ArgGroup::new("rules").required(true).multiple(true))]
    Prune {
        /// The folder holding one backup per sub-folder, or `s3://bucket/prefix`.
        dir: PathBuf,
        /// Keep the n newest backups (generations).
        #[arg(long, value_name = "N", group = "rules")]
        keep_last: Option<usize>,
        /// Keep the newest backup of each of the n newest hours that have one.
        #[arg(long, value_name = "N", group = "rules")]
        keep_hourly: Option<usize>,
        /// The same per day.
        #[arg(long, value_name = "N", group = "rules")]
        keep_daily: Option<usize>,
        /// The same per ISO week (Monday to Sunday).
        #[arg(long, value_name = "N", group = "rules")]
        keep_weekly: Option<usize>,
        /// The same per month.
        #[arg(long, value_name = "N", group = "rules")]
        keep_monthly: Option<usize>,
        /// The same per year.
        #[arg(long, value_name = "N", group = "rules")]
        keep_yearly: Option<usize>,
        /// Keep every backup made less than this long before the newest one: a number and a
        /// unit, summed (`36h`, `7d`, `2w`, `1y` = 365 d).
        #[arg(long, value_name = "DURATION", value_parser = crate::when::parse_duration_ms, group = "rules")]
        keep_within: Option<u64>,
        /// Remove what the rules do not keep (without it: only print it).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        secrets: DecryptArgs,
    },
    /// Write a plaintext copy of an encrypted backup.
    Decrypt {
        dir: PathBuf,
        /// Where to write the plaintext copy (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        secrets: DecryptArgs,
    },
    /// Create a sample SQLite-engine platform, back it up, restore it into a second empty
    /// platform, compare both and print a summary. Needs no server.
    Demo {
        /// Where to create the demo platforms and backup (default: a new temp directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script.
    ///
    /// Example: pryv-backup completions bash > /etc/bash_completion.d/pryv-backup
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), made from this --help.
    ///
    /// Example: pryv-backup man > /usr/local/share/man/man1/pryv-backup.1
    Man,
}

/// Where the install and its configuration are.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// The core's install directory (the one holding config/).
    #[arg(long, env = "PRYV_CORE_DIR", default_value = ".")]
    pub core_dir: PathBuf,
    /// The core's configuration file, read instead of config/${NODE_ENV}-config.yml, as the
    /// core's own --config (repeatable: later files win).
    #[arg(long = "config", value_name = "FILE")]
    pub config_files: Vec<PathBuf>,
    /// Users processed at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The backup directory to write, or `s3://bucket/prefix` for an S3-compatible object
    /// store (credentials, region and endpoint from the usual AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT_URL variables).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Back up only this user (userId or username; repeatable).
    #[arg(short, long, value_name = "USER")]
    pub user: Vec<String>,
    /// Export only what changed since each user's previous backup in --output (a new
    /// generation beside the previous ones); a full backup when there is none.
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
    #[command(flatten)]
    pub seal: SealArgs,
    #[command(flatten)]
    pub decrypt: DecryptArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// How a new backup is encrypted (not at all when none is given).
#[derive(Args, Debug)]
pub struct SealArgs {
    /// Encrypt for the holder of this RSA private key (recommended: this host cannot
    /// decrypt its own backups).
    #[arg(long, value_name = "PEM", conflicts_with = "encrypt_passphrase_file")]
    pub recipient_pubkey: Option<PathBuf>,
    /// Encrypt with the passphrase in this file (or PRYV_BACKUP_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub encrypt_passphrase_file: Option<PathBuf>,
    /// Refused: give the passphrase in a file or PRYV_BACKUP_PASSPHRASE instead.
    #[arg(long, hide = true, value_name = "SECRET")]
    pub encrypt_passphrase: Option<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup directory to restore, or `s3://bucket/prefix` (see `backup --output`).
    #[arg(short = 'r', long = "restore", value_name = "DIR")]
    pub dir: PathBuf,
    /// Restore only this user (userId or username; repeatable).
    #[arg(short, long, value_name = "USER")]
    pub user: Vec<String>,
    /// Replace the data of users that already exist in the target.
    #[arg(long)]
    pub overwrite: bool,
    /// Restore the state as it was at this time: only the generations (the base backup and
    /// its increments) written at or before it. RFC 3339 (2026-11-24T23:00:00Z) or
    /// milliseconds since the epoch (as in manifest.json's backupTimestamp).
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    /// Restore the other users when some conflict (needs --delete-on-success or
    /// --move-on-success, as with bin/backup.js).
    #[arg(long)]
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
    #[command(flatten)]
    pub decrypt: DecryptArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// How to open an encrypted backup.
#[derive(Args, Debug, Clone, Default)]
pub struct DecryptArgs {
    /// The backup's passphrase, in this file (or PRYV_BACKUP_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub decrypt_passphrase_file: Option<PathBuf>,
    /// The recipient's RSA private key (PEM, PKCS#8 or PKCS#1).
    #[arg(long, value_name = "PEM")]
    pub private_key: Option<PathBuf>,
    /// The private key's passphrase, in this file (or PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub private_key_passphrase_file: Option<PathBuf>,
    /// Refused: give the passphrase in a file or PRYV_BACKUP_PASSPHRASE instead.
    #[arg(long, hide = true, value_name = "SECRET")]
    pub decrypt_passphrase: Option<String>,
}

/// Takes `--a:b:c=value` configuration overrides out of the arguments (clap cannot
/// declare them: their names are config paths).
pub fn split_config_overrides(
    args: impl Iterator<Item = OsString>,
) -> (Vec<OsString>, Vec<(String, String)>) {
    let mut rest = Vec::new();
    let mut overrides = Vec::new();
    for arg in args {
        let parsed = arg.to_str().and_then(|s| {
            let body = s.strip_prefix("--")?;
            let (key, value) = body.split_once('=')?;
            key.contains(':')
                .then(|| (key.to_string(), value.to_string()))
        });
        match parsed {
            Some(pair) => overrides.push(pair),
            None => rest.push(arg),
        }
    }
    (rest, overrides)
}

/// `pryv-backup --output DIR ...` and `pryv-backup --restore DIR ...`, as with
/// bin/backup.js, mean the backup and restore subcommands.
pub fn with_compat_subcommand(mut args: Vec<OsString>) -> Vec<OsString> {
    // Global flags may come before a subcommand (`-vv restore -r DIR`): a subcommand already
    // named after them must not get a second one inserted.
    let mut rest = args.iter().skip(1).filter_map(|a| a.to_str());
    let first_after_globals = loop {
        let Some(a) = rest.next() else { break None };
        if a == "--metrics-file" {
            rest.next(); // its value
            continue;
        }
        let global = a == "--json"
            || a == "--verbose"
            || a.starts_with("--metrics-file=")
            || (a.len() > 1
                && a.strip_prefix('-')
                    .is_some_and(|v| v.chars().all(|c| c == 'v')));
        if !global {
            break Some(a);
        }
    };
    let names_subcommand = first_after_globals.is_some_and(|a| {
        a == "help"
            || <Cli as clap::CommandFactory>::command()
                .get_subcommands()
                .any(|c| c.get_name() == a)
    });
    let first_is_flag = !names_subcommand
        && args
            .get(1)
            .and_then(|a| a.to_str())
            .is_some_and(|a| a.starts_with('-'));
    let has = |names: &[&str]| {
        args.iter().skip(1).any(|a| {
            a.to_str().is_some_and(|a| {
                names.contains(&a) || names.iter().any(|n| a.starts_with(&format!("{n}=")))
            })
        })
    };
    let asks_help = has(&["--help", "-h", "--version", "-V"]);
    if first_is_flag && !asks_help {
        if has(&["--restore", "-r"]) {
            args.insert(1, "restore".into());
        } else if has(&["--output", "-o"]) {
            args.insert(1, "backup".into());
        }
    }
    args
}

fn non_negative_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds (0 or more)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn bin_backup_js_command_lines_map_to_subcommands() {
        assert_eq!(
            with_compat_subcommand(os(&["p", "--output", "x"]))[1],
            "backup"
        );
        assert_eq!(
            with_compat_subcommand(os(&["p", "-r", "x", "--overwrite"]))[1],
            "restore"
        );
        assert_eq!(
            with_compat_subcommand(os(&["p", "inspect", "x"]))[1],
            "inspect"
        );
        // Global flags before a subcommand leave it alone (issue #15, row 15).
        assert_eq!(
            with_compat_subcommand(os(&["p", "-vv", "restore", "-r", "x"])),
            os(&["p", "-vv", "restore", "-r", "x"])
        );
        assert_eq!(
            with_compat_subcommand(os(&["p", "--json", "-v", "backup", "--output", "x"])),
            os(&["p", "--json", "-v", "backup", "--output", "x"])
        );
    }

    #[test]
    fn config_overrides_are_taken_out() {
        let (rest, overrides) = split_config_overrides(
            os(&["p", "backup", "--storages:base:engine=sqlite", "--output=x"]).into_iter(),
        );
        assert_eq!(rest, os(&["p", "backup", "--output=x"]));
        assert_eq!(
            overrides,
            vec![("storages:base:engine".to_string(), "sqlite".to_string())]
        );
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
