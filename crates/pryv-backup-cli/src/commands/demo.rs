//! `demo`: a sample platform backed up, restored into a second one and compared.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pryv_backup::demo;

use crate::exit;
use crate::output::print_json;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to create the demo platforms and backup (default: a new temp directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(args: &DemoArgs, json: bool) -> Result<u8> {
    let report = demo::run(args.dir.as_deref())?;
    if json {
        print_json(&report)?;
    } else {
        print!("{report}");
    }
    Ok(if report.identical {
        exit::OK
    } else {
        exit::ERROR
    })
}
