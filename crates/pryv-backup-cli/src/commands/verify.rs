//! `verify`: checks every generation of a backup without restoring it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use pryv_backup::archive::{self, ArchiveReader};
use pryv_backup::chain;

use super::shared::{check_base_opens, locate, open_reader, require_backup};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::metrics::{self, Metrics};
use crate::output::print_json;
use crate::secrets;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The backup directory to check, or `s3://bucket/prefix`.
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

/// Verifies the base backup and each of its increments (every generation a restore reads).
pub fn run(args: &VerifyArgs, json: bool, metrics: &mut Metrics) -> Result<u8> {
    let (backend, dir) = locate(&args.dir)?;
    let dir = dir.as_path();
    require_backup(&backend, dir, &args.dir)?;
    let mut generations = vec![(dir.to_path_buf(), String::new())];
    let mut incomplete = Vec::new();
    // The chain first: a lost, planted or mis-sealed generation stops here, by name.
    check_base_opens(&backend, dir, &args.secrets)?;
    let opened = chain::Chain::open(&backend, dir, &|d| {
        open_reader(&backend, d, &args.secrets).map_err(|e| format!("{e:#}"))
    })
    .with_context(|| format!("verifying {}", dir.display()))?;
    if let Some(chain) = &opened {
        secrets::warn_if_clear(chain.index(), &args.secrets);
        for g in chain.index().generations.iter().skip(1) {
            generations.push((g.dir.clone(), format!("{}/", g.name)));
        }
        incomplete.extend(chain.index().leftovers.iter().map(|n| format!("{n}/")));
    }
    // Each generation is opened again below, one at a time: the chain's copy of every
    // manifest is not kept beside it.
    drop(opened);
    let mut total = archive::VerifyReport::default();
    for (generation, prefix) in &generations {
        let sealer = match ArchiveReader::envelope_in(&backend, generation)? {
            Some(envelope) => Some(secrets::opener(&envelope, &args.secrets)?),
            None => None,
        };
        let report = archive::verify_in(&backend, generation, sealer)
            .with_context(|| format!("verifying {}", generation.display()))?;
        total.users_checked += report.users_checked;
        total.files_checked += report.files_checked;
        total.items_checked += report.items_checked;
        total.attachments_checked += report.attachments_checked;
        total
            .problems
            .extend(report.problems.into_iter().map(|mut p| {
                if Path::new(&p.path).is_relative() {
                    p.path = format!("{prefix}{}", p.path);
                }
                p
            }));
    }
    metrics.set(&metrics::USERS, total.users_checked as f64);
    metrics.set(&metrics::ITEMS, total.items_checked as f64);
    metrics.set(&metrics::FILES, total.files_checked as f64);
    metrics.set(&metrics::PROBLEMS, total.problems.len() as f64);
    let problems: Vec<_> = total
        .problems
        .iter()
        .map(|p| serde_json::json!({ "path": p.path, "problems": p.problems }))
        .collect();
    if json {
        print_json(&serde_json::json!({
            "ok": total.is_ok(),
            "generations": generations.len(),
            "users": total.users_checked,
            "files": total.files_checked,
            "items": total.items_checked,
            "attachments": total.attachments_checked,
            "problems": problems,
            "incompleteIncrements": incomplete,
            "enginesTried": [],
        }))?;
    } else {
        println!(
            "checked {} generation(s): {} user backup(s), {} file(s), {} item(s), {} attachment(s)",
            generations.len(),
            total.users_checked,
            total.files_checked,
            total.items_checked,
            total.attachments_checked
        );
        for p in &total.problems {
            println!("PROBLEM {}:", p.path);
            for line in &p.problems {
                println!("  - {line}");
            }
        }
        for prefix in &incomplete {
            println!(
                "note: {prefix} is an incomplete increment (no manifest.json): restores ignore it"
            );
        }
        println!(
            "{}",
            if total.is_ok() {
                "backup OK: its files are intact (no engine was tried: `pryv-backup drill` \
                 restores it into a scratch SQLite platform)"
            } else {
                "backup DAMAGED: see the problems above"
            }
        );
    }
    Ok(if total.is_ok() { exit::OK } else { exit::ERROR })
}
