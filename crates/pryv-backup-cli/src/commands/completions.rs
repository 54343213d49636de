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
    clap_complete::generate(args.shell, &mut Cli::command(), "pryv-backup", &mut out);
    print!("{}", String::from_utf8_lossy(&out));
    Ok(exit::OK)
}
