//! `pryv-backup`: the command-line interface. The logic lives in the `pryv-backup` library;
//! each subcommand is a file of `commands/`. This file parses the command line, hands it to
//! its command and turns the outcome into the exit code.

// Reports reach stdout through these instead of std's macros, which panic once the reader
// has gone (`pryv-backup inspect … | head`). Defined before the modules so they see them.
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}
macro_rules! println {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
/// An informational line on stderr, left out with --quiet.
macro_rules! info {
    ($($arg:tt)*) => { $crate::output::info(format_args!($($arg)*)) };
}

mod cli;
mod commands;
mod errors;
mod flags;
mod metrics;
mod output;
mod secrets;
mod when;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use cli::Cli;

/// Exit codes scripts can rely on (and 130 / 143: stopped by SIGINT / SIGTERM).
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// Bad command line (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// Some users were not backed up (their data could not be read) or not restored
    /// (conflicts skipped, integrity failures, errors).
    pub const PARTIAL: u8 = 3;
    /// Another run holds the lock of what this one would write: nothing was done (restic
    /// uses 11 too). Run again once it ended.
    pub const LOCKED: u8 = 11;
    /// Nothing to do: the users `forget` was asked to remove are in no backup (restic has
    /// no such code). Only where the operator named what to act on: scheduled runs (a
    /// backup with no change, a prune with nothing to remove) exit 0.
    pub const NOTHING_TO_DO: u8 = 4;
    /// No backup at the location given: it does not exist, or holds no complete backup
    /// where one is read (restic's "repository does not exist" is 10 too).
    pub const NO_BACKUP: u8 = 10;
    /// The passphrase or key does not open the backup (restic uses 12 too).
    pub const WRONG_SECRET: u8 = 12;

    /// The exit code of a run that failed with `error`.
    pub fn of_error(error: &anyhow::Error) -> u8 {
        use pryv_backup::archive::ArchiveError;
        use pryv_backup::crypto::CryptoError;
        // Anyhow finds it among the contexts too (`with_context(|| no_backup_at(..))`).
        if error
            .downcast_ref::<crate::errors::NoBackup>()
            .is_some_and(|n| !n.folder_of_backups)
        {
            return NO_BACKUP;
        }
        for cause in error.chain() {
            let archive = cause.downcast_ref::<ArchiveError>().or_else(|| match cause
                .downcast_ref::<pryv_backup::Error>(
            ) {
                Some(pryv_backup::Error::Archive(e)) => Some(e),
                _ => None,
            });
            let crypto = cause.downcast_ref::<CryptoError>().or_else(|| {
                match cause.downcast_ref::<pryv_backup::Error>() {
                    Some(pryv_backup::Error::Crypto(e)) => Some(e),
                    _ => None,
                }
            });
            if matches!(
                cause.downcast_ref::<pryv_backup::Error>(),
                Some(pryv_backup::Error::Locked(_))
            ) {
                return LOCKED;
            }
            if matches!(archive, Some(ArchiveError::WrongSecret { .. }))
                || matches!(
                    crypto,
                    Some(CryptoError::WrongPrivateKey | CryptoError::WrongKeyModel(_))
                )
            {
                return WRONG_SECRET;
            }
        }
        ERROR
    }

    /// 128 + n when signal n stopped the run (130 SIGINT, 143 SIGTERM), as shells report a
    /// process a signal ended.
    pub fn stopped() -> Option<u8> {
        pryv_backup::interrupt::requested()
            .map(|signal| 128u8.saturating_add(u8::try_from(signal).unwrap_or(0)))
    }
}

fn main() -> ExitCode {
    bound_allocator_memory();
    let (argv, overrides) = cli::split_config_overrides(std::env::args_os());
    let (argv, inline_secret) = cli::take_inline_secrets(argv);
    let argv = cli::with_compat_subcommand(argv);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return refused_command_line(&e, &argv),
    };
    output::init_logging(cli.verbose);
    output::set_quiet(cli.quiet);
    if let Err(e) = stop_on_signals() {
        eprintln!("error: cannot handle SIGINT and SIGTERM ({e}); nothing was done");
        return ExitCode::from(exit::ERROR);
    }
    let outcome = commands::run(cli, overrides, inline_secret);
    // Stopped by a signal: whatever the command returned, the exit code says so (128 + n, as
    // a shell reports a process killed by signal n), once everything was cleaned up.
    if let (Some(code), Some(signal)) = (exit::stopped(), pryv_backup::interrupt::requested()) {
        eprintln!(
            "stopped by {}: temporary files were removed and locks released; what was \
             finished is whole. An interrupted backup has no manifest and is never used: the \
             next backup into the same folder replaces it. Users an interrupted restore \
             committed are in place: restore again with --overwrite to complete the run. \
             Other commands can simply be run again.",
            pryv_backup::interrupt::signal_name(signal)
        );
        return ExitCode::from(code);
    }
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            errors::print(&e);
            ExitCode::from(exit::of_error(&e))
        }
    }
}

/// A command line clap refused, or a request for help or the version, printed as clap
/// prints it. A refused one is a failed run, which the metrics file reports like any other
/// (help and version run nothing, so they leave the file alone).
fn refused_command_line(e: &clap::Error, argv: &[OsString]) -> ExitCode {
    let _ = e.print();
    if e.exit_code() == 0 {
        return ExitCode::SUCCESS;
    }
    if let Some(path) = cli::metrics_file_in(argv) {
        let run = metrics::Run {
            command: cli::command_in(argv),
            location: String::new(),
            started: Instant::now(),
        };
        if let Err(e) = metrics::write(&path, &run, exit::USAGE, &metrics::Metrics::default()) {
            errors::print(&e);
        }
    }
    ExitCode::from(exit::USAGE)
}

/// SIGINT and SIGTERM only raise the library's stop flag: each command stops at its next
/// safe point, removes its scratch files and releases its locks on the way out.
fn stop_on_signals() -> std::io::Result<()> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_usize(
            signal,
            pryv_backup::interrupt::flag(),
            usize::try_from(signal).unwrap_or(1),
        )?;
    }
    Ok(())
}

/// Every archive file gets its own deflate state (a few hundred KiB, allocated and freed
/// thousands of times per backup). glibc raises its mmap threshold after such frees and then
/// keeps them in its heaps, so resident memory grew with the number of files (measured: 364 MB
/// for 1M events); a fixed threshold returns them at once (32 MB on the same backup).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_allocator_memory() {
    // SAFETY: mallopt only tunes the allocator; called first, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_allocator_memory() {}
