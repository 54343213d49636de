//! `list` (alias `snapshots`): the backups of a folder of backups (or S3 prefix), one row
//! per generation, with what each holds; no key needed but for item counts of encrypted ones.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use comfy_table::{presets, CellAlignment, Table};
use indicatif::HumanBytes;
use pryv_backup::listing::{self, Row};

use super::shared::{locate, open_reader, require_folder};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::output::print_json;
use crate::when;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// A folder of backups (one per sub-folder), one backup, or `s3://bucket/prefix`.
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub location: PathBuf,
    /// Opens encrypted manifests to count their items (dates, users, sizes and
    /// completeness need no key).
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &ListArgs, json: bool) -> Result<u8> {
    let (backend, dir) = locate(&args.location)?;
    require_folder(&backend, &dir)?;
    let rows = listing::list(&backend, &dir, &|d| {
        open_reader(&backend, d, &args.secrets).map_err(|e| format!("{e:#}"))
    })?;
    // Unfinished or damaged backups are shown, not failed on: listing them is the point.
    if json {
        print_json(&serde_json::json!({ "location": args.location, "backups": rows }))?;
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("{} holds no backup", args.location.display());
        return Ok(exit::OK);
    }
    println!("{}", table(&rows, &dir));
    for row in rows.iter().filter(|r| r.note.is_some()) {
        println!(
            "{}: {}",
            name(row, &dir),
            row.note.as_deref().unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

fn table(rows: &[Row], root: &std::path::Path) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED).set_header([
        "backup",
        "type",
        "date (UTC)",
        "age",
        "users",
        "items",
        "size",
        "encrypted",
        "complete",
    ]);
    for row in rows {
        let unknown = || "-".to_string();
        table.add_row([
            name(row, root),
            row.kind.to_string(),
            row.backup_timestamp.map_or_else(unknown, when::utc),
            row.backup_timestamp.map_or_else(unknown, when::age),
            row.users.map_or_else(unknown, |n| n.to_string()),
            row.items.map_or_else(|| "?".into(), |n| n.to_string()),
            HumanBytes(row.bytes).to_string(),
            match row.encryption.as_str() {
                "" => unknown(),
                "none" => "no".into(),
                mode => format!("yes ({mode})"),
            },
            if row.complete { "yes" } else { "NO" }.into(),
        ]);
    }
    for column in [4, 5, 6] {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// The row's backup relative to the listed folder, with its increment.
fn name(row: &Row, root: &std::path::Path) -> String {
    let backup = row
        .backup
        .strip_prefix(root)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(&row.backup)
        .display()
        .to_string();
    if row.generation == pryv_backup::chain::BASE_NAME {
        backup
    } else {
        format!("{backup}/{}", row.generation)
    }
}
