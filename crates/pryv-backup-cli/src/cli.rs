//! The command line. Compatible with `node bin/backup.js` (`--output DIR` backs up,
//! `--restore DIR` restores) and with subcommands for everything else.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use crate::commands::Command;

pub const CONFIG_HELP: &str = "\
CONFIGURATION
  pryv-backup reads the install's storage settings as the core (@pryv/boiler) does,
  lowest priority first: built-in defaults, <core-dir>/config/default-config.yml,
  then the --config FILE(s) if given, else <core-dir>/config/${NODE_ENV}-config.yml
  (none when NODE_ENV is unset: set NODE_ENV=production as the core's service does;
  a warning names the file when it is left unread or missing),
  then environment variables such as storages__base__engine=sqlite, then
  <core-dir>/config/override-config.yml (skipped when NODE_ENV=test), then
  --key:path=value overrides (e.g. --storages:base:engine=sqlite).
  Relative paths are taken from the current directory.

SECRETS
  Secrets are never taken on the command line (it shows in `ps` and shell history):
  passphrases come from a file (--*-passphrase-file), else from what --passphrase-command
  CMD (or PRYV_BACKUP_PASSPHRASE_COMMAND) prints (run with `sh -c`, once, its output never
  shown), else from PRYV_BACKUP_PASSPHRASE; a private key's from its file or
  PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE. A --key:path=value override naming a secret
  (password, secret, key, token, ...) or holding a URL with credentials is refused (exit
  2): put it in the configuration file or its a__b__c environment variable. A secret
  file readable by group or others draws a warning (chmod 600 it). URLs are shown with
  their credentials replaced by ***.

SCRIPTS
  PRYV_BACKUP_REPOSITORY is the backup location of every command when none is given
  (backup's --output, the DIR of the others); an argument wins over it. -q/--quiet leaves
  out the progress and informational lines on stderr: warnings, errors and the report stay.

EXIT CODES
  0 success   1 error (nothing or not everything done; see message)   2 bad usage
  3 partial: some users were not backed up (their data could not be read), or were skipped,
    rolled back or failed in a restore (see the report)
  4 nothing to do: no backup holds the users `forget` was asked to remove (a forget run
    again, or a mistyped user). Scheduled runs never exit 4: a backup with no change, a
    prune with nothing to remove, a drill or a consolidate exit 0
  10 no backup there: the location does not exist, or holds no complete backup where one
    is read (inspect, verify, restore, drill, consolidate, decrypt); an existing folder
    without backups is empty to list and prune (exit 0) and to forget (exit 4)
  11 locked: another run is writing there (nothing done; run again once it ended)
  12 wrong secret: the passphrase or key does not open the backup (or its manifest is damaged)
  130 / 143 stopped by SIGINT / SIGTERM at a safe point: temporary files removed, locks
    released, what was finished whole (an interrupted backup has no manifest and is never
    used; the next run into its folder replaces it)";

/// Where each command's long help sends the reader for what all commands share.
pub const SEE_CONFIG_HELP: &str = "The configuration layering, where secrets come from and the \
exit codes: `pryv-backup --help`, or `man pryv-backup-<command>` (pages from `pryv-backup man \
--output-dir DIR`).";

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
    /// No progress bar, phase or informational line ("reading …", "restoring into …") on
    /// stderr: only warnings and errors there, and the command's report on stdout (as
    /// restic's --quiet). For cron jobs and scripts.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print a machine-readable JSON report on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the run's outcome (last success, duration, users, items, bytes, exit
    /// status) to this file in the Prometheus text format, for node_exporter's textfile
    /// collector. Written on every exit (bad usage too), atomically, mode 0644; the last
    /// success time survives a failed run. A file that cannot be written fails the run.
    #[arg(long, global = true, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
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

/// Secret flags refused on the command line, where `ps` and shell history show them.
const INLINE_SECRET_FLAGS: [&str; 2] = ["--encrypt-passphrase", "--decrypt-passphrase"];

/// Takes the refused secret flags and their values out of the arguments, so that clap
/// neither parses nor offers them (help, completions, man page) and the value is dropped
/// at once; the run then refuses the flag it names (exit 2).
pub fn take_inline_secrets(args: Vec<OsString>) -> (Vec<OsString>, Option<&'static str>) {
    let mut kept = Vec::with_capacity(args.len());
    let mut found = None;
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_str().unwrap_or_default();
        let named = INLINE_SECRET_FLAGS.into_iter().find(|flag| {
            text == *flag || text.strip_prefix(flag).is_some_and(|v| v.starts_with('='))
        });
        match named {
            Some(flag) => {
                if text == flag {
                    rest.next(); // its value
                }
                found = found.or(Some(flag));
            }
            None => kept.push(arg),
        }
    }
    (kept, found)
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
            || a == "--quiet"
            || a == "-q"
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

/// `--metrics-file`'s value in a command line clap refused, so that the refusal is reported.
pub fn metrics_file_in(args: &[OsString]) -> Option<PathBuf> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let value = if arg == "--metrics-file" {
            rest.next().cloned()
        } else {
            arg.to_str()
                .and_then(|a| a.strip_prefix("--metrics-file="))
                .map(OsString::from)
        };
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(value));
        }
    }
    None
}

/// The subcommand a command line clap refused names, for the metrics' `command` label.
pub fn command_in(args: &[OsString]) -> String {
    let command = <Cli as clap::CommandFactory>::command();
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| command.get_subcommands().any(|c| c.get_name() == *a))
        .unwrap_or("unknown")
        .to_string()
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
