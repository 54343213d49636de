//! `man`: the manual page (roff) made from the command line's definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit;

pub fn run() -> Result<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    print!("{}", String::from_utf8_lossy(&out));
    Ok(exit::OK)
}
