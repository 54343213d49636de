//! `pryv-backup`: the command-line interface. The logic lives in the `pryv-backup` library;
//! this file parses arguments, reads secrets, draws progress and maps outcomes to exit codes.

mod args;
mod commands;
mod output;
mod secrets;
mod when;

use std::process::ExitCode;

use clap::Parser;

use args::Cli;

/// Exit codes scripts can rely on.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// Bad command line (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// Some users were not restored (conflicts skipped, integrity failures, errors).
    pub const PARTIAL: u8 = 3;
}

fn main() -> ExitCode {
    let (argv, overrides) = args::split_config_overrides(std::env::args_os());
    let cli = Cli::parse_from(args::with_compat_subcommand(argv));
    output::init_logging(cli.verbose);
    match commands::run(cli, overrides) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
