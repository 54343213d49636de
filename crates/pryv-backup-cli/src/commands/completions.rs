//! `completions`: a shell completion script made from the command line's definition.

use anyhow::Result;
use clap::{Args, CommandFactory};

use crate::cli::Cli;
use crate::exit;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

pub fn run(args: &CompletionsArgs) -> Result<u8> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut out);
    let mut script = String::from_utf8_lossy(&out).into_owned();
    if args.shell == clap_complete::Shell::Bash {
        script = mend_bash_arms(&script);
    }
    print!("{script}");
    Ok(exit::OK)
}

const BIN: &str = "pryv-backup";

/// clap_complete's bash script names each subcommand's arm with the separator inside the
/// binary's own name (`pryv__subcmd__backup__subcmd__restore`) while its dispatch loop
/// looks for `pryv__backup__subcmd__restore`, so no subcommand flag ever completes for a
/// binary with a hyphen (clap-rs/clap#6421, open): the arms are renamed to what the loop
/// looks for.
fn mend_bash_arms(script: &str) -> String {
    let escaped = BIN.replace('-', "__");
    let wrong = BIN.replace('-', "__subcmd__");
    script.replace(
        &format!("{wrong}__subcmd__"),
        &format!("{escaped}__subcmd__"),
    )
}
