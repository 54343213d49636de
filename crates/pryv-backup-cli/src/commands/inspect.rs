//! `inspect`: a backup's summary, then one line per increment.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pryv_backup::{archive, chain};

use super::shared::{locate, open_reader};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::output::print_json;

#[derive(Args, Debug)]
pub struct InspectArgs {
    pub dir: PathBuf,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

/// The base backup's summary, then one line (or JSON entry) per increment.
pub fn run(args: &InspectArgs, json: bool) -> Result<u8> {
    let (backend, dir) = locate(&args.dir)?;
    let dir = dir.as_path();
    let reader = open_reader(&backend, dir, &args.secrets)?;
    let mut summary = archive::summary(reader.manifest());
    let mut increments = Vec::new();
    for increment in chain::increment_dirs(&backend, dir)? {
        let name = increment
            .strip_prefix(dir)
            .unwrap_or(&increment)
            .display()
            .to_string();
        if !backend.is_file(&increment.join("manifest.json"))? {
            summary.text.push_str(&format!(
                "{name}: incomplete (no manifest.json), ignored by restores\n"
            ));
            increments.push(serde_json::json!({ "dir": name, "complete": false }));
            continue;
        }
        let manifest = open_reader(&backend, &increment, &args.secrets)?
            .manifest()
            .clone();
        let changed: u64 = manifest.users.iter().flat_map(|u| u.stats.values()).sum();
        summary.text.push_str(&format!(
            "{name}: {} backup made at {} ms, {} user(s), {changed} changed item(s) and attachment(s)\n",
            manifest.backup_type,
            manifest.backup_timestamp,
            manifest.users.len()
        ));
        increments.push(serde_json::json!({
            "dir": name,
            "complete": true,
            "backupType": manifest.backup_type,
            "backupTimestamp": manifest.backup_timestamp,
            "userCount": manifest.users.len(),
        }));
    }
    let base_only_for_the_core = !increments.is_empty();
    if base_only_for_the_core {
        summary.text.push_str(
            "note: open-pryv.io's bin/backup.js --restore restores only the base of this folder \
             and leaves the increments above out without saying so; restore it with pryv-backup, \
             or `pryv-backup consolidate` it into one full backup first\n",
        );
    }
    if let Some(object) = summary.json.as_object_mut() {
        object.insert("increments".into(), serde_json::Value::Array(increments));
        // Whether bin/backup.js --restore would miss part of this folder (its increments).
        object.insert(
            "coreRestoreReadsBaseOnly".into(),
            serde_json::Value::Bool(base_only_for_the_core),
        );
    }
    if json {
        print_json(&summary.json)?;
    } else {
        print!("{}", summary.text);
    }
    Ok(exit::OK)
}
