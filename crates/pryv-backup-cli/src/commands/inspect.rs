//! `inspect`: a backup's summary, one line per increment, then what the latest state (or
//! the state as of a time) holds per user.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::HumanBytes;
use pryv_backup::state::UserState;
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
    /// Show the state as it was at this time (the generations written at or before it)
    /// instead of the latest: a date (2026-11-24, its first instant in UTC), a date-time
    /// (2026-11-24T23:00:00Z, or 2026-11-24 23:00 in UTC), an age (2d: two days ago), or
    /// 13-digit milliseconds since the epoch, as `restore --as-of` takes it.
    #[arg(long, value_name = "TIME", value_parser = crate::when::parse_millis)]
    pub as_of: Option<u64>,
    /// Show the state of this user only (userId or username; repeatable).
    #[arg(short, long, value_name = "USER")]
    pub user: Vec<String>,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

/// Above this many users the text output sums the state up: totals and the largest users.
const LIST_USERS_UP_TO: usize = 30;
/// How many of the largest users (by bytes) a summed-up state shows.
const LARGEST_SHOWN: usize = 20;

/// The base backup's summary, then one line (or JSON entry) per increment. An encrypted
/// chain without its key is summed up from its clear records.
pub fn run(args: &InspectArgs, json: bool) -> Result<u8> {
    let secrets_args = &args.secrets;
    let (backend, dir) = locate(&args.dir)?;
    if !backend.is_file(&dir.join(pryv_backup::archive::layout::MANIFEST))?
        && backend.holds_backups(&dir)?
    {
        if args.as_of.is_some() || !args.user.is_empty() {
            bail!(
                "{} is a folder of backups: --as-of and --user are about one backup's state; \
                 give one of them (`pryv-backup list {}` shows them)",
                dir.display(),
                args.dir.display()
            );
        }
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
        )?,
        None => clear_summary(base),
    };
    let mut increments = Vec::new();
    for (g, generation) in index.generations.iter().enumerate().skip(1) {
        let name = &generation.name;
        let sequence = generation.record.as_ref().map(|r| r.sequence);
        let (backup_type, time, users, changed) = match &opened {
            Some(chain) => {
                let m = chain.generation_manifest(g).context("opened above")?;
                let mut changed: u64 = 0;
                for u in m.users.iter() {
                    changed += u?.stats.values().sum::<u64>();
                }
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
    // What cannot be read of the state (a damaged file, a user it does not hold) is said
    // after the rest, which is printed, and fails the command.
    let (state, failure) = match opened.map(|chain| state_of(chain, args)) {
        Some(Ok(state)) => (state, None),
        Some(Err(e)) => {
            let why = format!("{e:#}");
            let json = serde_json::json!({ "error": why });
            (
                archive::Summary {
                    text: String::new(),
                    json,
                },
                Some(why),
            )
        }
        None => (needs_key(), None),
    };
    summary.text.push_str(&state.text);
    if let Some(object) = summary.json.as_object_mut() {
        object.insert("latestState".into(), state.json);
    }
    if json {
        print_json(&summary.json)?;
    } else {
        print!("{}", summary.text);
    }
    match failure {
        None => Ok(exit::OK),
        Some(why) => {
            eprintln!("error: the state per user cannot be shown: {why}");
            Ok(exit::ERROR)
        }
    }
}

/// What the state of `chain` (as of `--as-of`, else its latest) holds for each user
/// `--user` names (all by default).
fn state_of(chain: chain::Chain, args: &InspectArgs) -> Result<archive::Summary> {
    let increments = chain.generation_count() - 1;
    let chain = match args.as_of {
        Some(time) => chain.as_of(time)?,
        None => chain,
    };
    let users = pryv_backup::state::user_states(&chain, &args.user)?;
    let newest = chain.generation_count() - 1;
    let (_, written) = chain.generation(newest).context("a chain has its base")?;
    let newest_name = chain.index().generations[newest].name.clone();
    let which = match args.as_of {
        Some(time) => format!("state as of {}", crate::when::for_people(time)),
        None => "latest state".into(),
    };
    let made_of = if increments == 0 {
        "the base".to_string()
    } else {
        format!("the base and {newest} of {increments} increment(s)")
    };
    let mut text = format!(
        "{which}, per user, as a restore writes it ({made_of}, the newest made {}):\n",
        crate::when::for_people(written)
    );
    let total = |f: fn(&UserState) -> u64| -> u64 { users.iter().map(f).sum() };
    let (items, item_bytes) = (total(|u| u.items), total(|u| u.item_bytes));
    let (attachments, attachment_bytes) = (total(|u| u.attachments), total(|u| u.attachment_bytes));
    if users.len() <= LIST_USERS_UP_TO || !args.user.is_empty() {
        for user in &users {
            text.push_str(&user_line(user));
        }
    } else {
        let mut largest: Vec<&UserState> = users.iter().collect();
        largest.sort_by_key(|u| std::cmp::Reverse(u.bytes()));
        text.push_str(&format!("  the {LARGEST_SHOWN} largest users:\n"));
        for user in largest.iter().take(LARGEST_SHOWN) {
            text.push_str(&user_line(user));
        }
        text.push_str(&format!(
            "  and {} more user(s): --user USER shows one, --json shows them all\n",
            users.len() - LARGEST_SHOWN
        ));
    }
    text.push_str(&format!(
        "  total: {} user(s), {items} item(s), {}; {attachments} attachment(s), {}\n",
        users.len(),
        HumanBytes(item_bytes),
        HumanBytes(attachment_bytes)
    ));
    let json = serde_json::json!({
        "asOf": args.as_of,
        "newestGeneration": newest_name,
        "newestGenerationTimestamp": written,
        "userCount": users.len(),
        "items": items,
        "itemBytes": item_bytes,
        "attachments": attachments,
        "attachmentBytes": attachment_bytes,
        "users": users,
    });
    Ok(archive::Summary { text, json })
}

/// One user of the state, for people.
fn user_line(user: &UserState) -> String {
    let collections: Vec<String> = user
        .collections
        .iter()
        .map(|(name, c)| format!("{name} {}", c.items))
        .collect();
    let missing = match user.attachments_missing {
        0 => String::new(),
        n => format!(" ({n} listed by its events but not in the backup)"),
    };
    format!(
        "  {} ({}): snapshot {}; {} item(s), {} ({}); {} attachment(s), {}{missing}\n",
        user.username,
        user.user_id,
        crate::when::for_people(user.snapshot_time),
        user.items,
        HumanBytes(user.item_bytes),
        collections.join(", "),
        user.attachments,
        HumanBytes(user.attachment_bytes),
    )
}

/// An encrypted backup read without its key: its records say no more than the above.
fn needs_key() -> archive::Summary {
    archive::Summary {
        text: "latest state per user: needs the backup's key (--private-key or \
               --decrypt-passphrase-file); the lines above are what its clear records show\n"
            .into(),
        json: serde_json::json!({ "needsKey": true }),
    }
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
