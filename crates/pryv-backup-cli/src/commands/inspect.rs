//! `inspect`: a backup's summary, then one line per increment.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use pryv_backup::{archive, chain};

use super::shared::{check_base_opens, locate, no_backup_at, open_reader};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::output::print_json;
use crate::secrets;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The backup directory, or `s3://bucket/prefix` (`pryv-backup list` shows the backups
    /// of a folder of backups).
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

/// The base backup's summary, then one line (or JSON entry) per increment. An encrypted
/// chain without its key is summed up from its clear records.
pub fn run(args: &InspectArgs, json: bool) -> Result<u8> {
    let secrets_args = &args.secrets;
    let (backend, dir) = locate(&args.dir)?;
    if !backend.is_file(&dir.join(pryv_backup::archive::layout::MANIFEST))?
        && backend.holds_backups(&dir)?
    {
        return folder_of_backups(args, &backend, &dir, json);
    }
    let index = chain::ChainIndex::open(&backend, &dir)?
        .with_context(|| no_backup_at(&backend, &dir, &args.dir))?;
    secrets::warn_if_clear(&index, secrets_args);
    let readable =
        index.encryption() == chain::EncryptionRecord::NONE || secrets::key_given(secrets_args);
    if !readable && !index.fully_recorded() {
        bail!(
            "{} is encrypted and was written before generations had clear records \
             (chain.json): inspecting it needs its key (--private-key or \
             --decrypt-passphrase-file)",
            dir.display()
        );
    }
    let opened = if readable {
        check_base_opens(&backend, &dir, secrets_args)?;
        Some(
            chain::Chain::open(&backend, &dir, &|d| {
                open_reader(&backend, d, secrets_args).map_err(|e| format!("{e:#}"))
            })?
            .with_context(|| no_backup_at(&backend, &dir, &args.dir))?,
        )
    } else {
        None
    };
    let base = &index.generations[0];
    let mut summary = match &opened {
        Some(chain) => archive::summary(
            chain
                .generation_manifest(0)
                .context("a chain has its base")?,
        ),
        None => clear_summary(base),
    };
    let mut increments = Vec::new();
    for (g, generation) in index.generations.iter().enumerate().skip(1) {
        let name = &generation.name;
        let sequence = generation.record.as_ref().map(|r| r.sequence);
        let (backup_type, time, users, changed) = match &opened {
            Some(chain) => {
                let m = chain.generation_manifest(g).context("opened above")?;
                let changed: u64 = m.users.iter().flat_map(|u| u.stats.values()).sum();
                (
                    m.backup_type.clone(),
                    m.backup_timestamp,
                    m.users.len(),
                    Some(changed),
                )
            }
            None => {
                let r = generation
                    .record
                    .as_ref()
                    .context("a chain without key has records")?;
                (
                    "incremental".to_string(),
                    r.backup_timestamp,
                    r.users.len(),
                    None,
                )
            }
        };
        let changed_text = changed.map_or(String::new(), |c| {
            format!(", {c} changed item(s) and attachment(s)")
        });
        summary.text.push_str(&format!(
            "{name}: {backup_type} backup made {}, {users} user(s){changed_text}\n",
            crate::when::for_people(time)
        ));
        increments.push(serde_json::json!({
            "dir": name,
            "complete": true,
            "sequence": sequence,
            "backupType": backup_type,
            "backupTimestamp": time,
            "userCount": users,
        }));
    }
    let base_only_for_the_core = !increments.is_empty();
    // What a restore of the chain holds: users deleted from the install are not in it.
    let latest_users = opened.as_ref().map(|chain| chain.users().len());
    if let (Some(count), true) = (latest_users, base_only_for_the_core) {
        summary
            .text
            .push_str(&format!("latest state: {count} user(s)\n"));
    }
    // Users a backup still holds after their deletion from the install: `forget` erases them.
    let deleted = opened.as_ref().map(|chain| chain.deleted_users());
    for (user, last) in deleted.iter().flatten() {
        summary.text.push_str(&format!(
            "deleted from the install: {} ({}), last backed up at {last} ms; `pryv-backup \
             forget` removes it from the backups\n",
            user.username, user.user_id
        ));
    }
    for name in &index.leftovers {
        summary.text.push_str(&format!(
            "{name}: incomplete (no manifest.json), ignored by restores\n"
        ));
        increments.push(serde_json::json!({ "dir": name, "complete": false }));
    }
    if base_only_for_the_core {
        summary.text.push_str(
            "note: open-pryv.io's bin/backup.js --restore restores only the base of this folder \
             and leaves the increments above out without saying so; restore it with pryv-backup, \
             or `pryv-backup consolidate` it into one full backup first\n",
        );
    }
    if let Some(object) = summary.json.as_object_mut() {
        object.insert("increments".into(), serde_json::Value::Array(increments));
        if let Some(count) = latest_users {
            object.insert("latestStateUserCount".into(), count.into());
        }
        if let Some(deleted) = &deleted {
            let users = deleted
                .iter()
                .map(|(u, last)| {
                    serde_json::json!({
                        "userId": u.user_id,
                        "username": u.username,
                        "lastBackupTimestamp": last,
                    })
                })
                .collect();
            object.insert("deletedUsers".into(), serde_json::Value::Array(users));
        }
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

/// What an encrypted base says in the clear (its record), without the key.
fn clear_summary(base: &chain::GenerationInfo) -> archive::Summary {
    let record = base.record.as_ref();
    let users = record.map(|r| r.users.len());
    let time = record.map(|r| r.backup_timestamp);
    let mut text = format!(
        "encrypted backup ({}): the per-user summary needs its key (--private-key or \
         --decrypt-passphrase-file)\n",
        base.encryption
    );
    if let (Some(users), Some(time)) = (users, time) {
        text.push_str(&format!(
            "from its clear record: full backup made {}, {users} user(s)\n",
            crate::when::for_people(time)
        ));
    }
    archive::Summary {
        text,
        json: serde_json::json!({
            "encrypted": base.encryption,
            "backupTimestamp": time,
            "userCount": users,
        }),
    }
}

/// A folder of backups: the users its backups still hold that the install deleted, each
/// with the newest backup that still saw it in the install and the first that no longer
/// did, so an operator can decide when to `forget` them; `list` shows the backups.
fn folder_of_backups(
    args: &InspectArgs,
    backend: &pryv_backup::archive::Backend,
    dir: &std::path::Path,
    json: bool,
) -> Result<u8> {
    let pryv_backup::forget::DeletedUsers {
        users: deleted,
        unreadable,
    } = pryv_backup::forget::deleted_before(
        backend,
        dir,
        &|d| open_reader(backend, d, &args.secrets).map_err(|e| format!("{e:#}")),
        pryv_backup::clock::now_millis(),
        0,
    )
    .with_context(|| format!("reading the backups of {}", dir.display()))?;
    if json {
        print_json(&serde_json::json!({
            "folderOfBackups": args.dir,
            "deletedUsers": deleted,
            "unreadable": unreadable,
        }))?;
        return Ok(exit::OK);
    }
    println!(
        "{} is a folder of backups (`pryv-backup list {}` shows them)",
        dir.display(),
        args.dir.display()
    );
    if deleted.is_empty() {
        println!("its backups hold no user the install has deleted");
    }
    for (generation, why) in &unreadable {
        println!(
            "{}: its users cannot be named without its key ({why})",
            generation.display()
        );
    }
    for d in &deleted {
        println!(
            "deleted from the install: {} ({}), last seen {}, gone by {}: `pryv-backup forget` removes it",
            d.user.username,
            d.user.user_id,
            crate::when::for_people(d.last_seen),
            crate::when::utc(d.gone_by)
        );
    }
    Ok(exit::OK)
}
