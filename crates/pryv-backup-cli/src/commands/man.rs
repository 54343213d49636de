//! `man`: manual pages (roff) made from the command line's definition: the top page on
//! stdout, or one page per command written into a folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};

use crate::cli::{Cli, CONFIG_HELP};
use crate::exit;

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write pryv-backup.1 and one pryv-backup-<command>.1 per command into this folder
    /// (instead of printing the top page).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

pub fn run(args: &ManArgs) -> Result<u8> {
    let top = Cli::command();
    let Some(dir) = &args.output_dir else {
        print!("{}", String::from_utf8_lossy(&page(top)?));
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_page(dir, "pryv-backup", page(top.clone())?)?;
    let mut written = 1;
    for sub in top.get_subcommands() {
        let name = format!("pryv-backup-{}", sub.get_name());
        // Its name in the page is the one `man` looks it up by; its usage line keeps the
        // command line an operator types.
        let globals = top.get_arguments().filter(|a| a.is_global_set()).cloned();
        let command = sub
            .clone()
            .args(globals)
            .name(name.clone())
            .bin_name(format!("pryv-backup {}", sub.get_name()))
            .version(env!("CARGO_PKG_VERSION"));
        write_page(dir, &name, page(command)?)?;
        written += 1;
    }
    println!("{written} manual pages written to {}", dir.display());
    Ok(exit::OK)
}

/// A page with clap_mangen's sections, then the configuration, secrets and exit codes, each
/// under its own heading.
fn page(command: clap::Command) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    for section in CONFIG_HELP.split("\n\n") {
        let Some((heading, body)) = section.split_once('\n') else {
            continue;
        };
        out.extend_from_slice(format!(".SH \"{heading}\"\n.nf\n").as_bytes());
        for line in body.lines() {
            out.extend_from_slice(roff_line(line.trim_start()).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b".fi\n");
    }
    if command.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

/// A line of text as roff reads it literally: backslashes escaped, and a leading `.` or
/// `'` (a request) or nothing kept as text.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

fn write_page(dir: &Path, name: &str, bytes: Vec<u8>) -> Result<()> {
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}
