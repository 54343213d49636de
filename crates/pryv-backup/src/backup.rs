//! Backup: every user exported by the engine into the archive, users in parallel, then
//! platform data, then the manifest (the completion marker).

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use serde::Serialize;

use crate::archive::{
    ArchiveWriter, Manifest, ManifestInfo, UserManifest, UserWriter, MISSING_ATTACHMENTS,
};
// Re-exported where callers (the CLI's tests among them) have always found it.
pub use crate::clock::now_millis;
use crate::engine::{Engine, ExportOptions, ExportWindow, UserSink};
use crate::model::{Collection, Item, UserRef};
use crate::platform::PlatformOwners;
use crate::progress::Progress;
use crate::workers::per_user;
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct BackupOptions {
    /// Only these users (userId or username); all users when empty.
    pub users: Vec<String>,
    /// The manifest of the previous backup: each user present there is exported only for
    /// what changed since its `backupTimestamp`.
    pub previous: Option<Manifest>,
    pub include_ephemeral: bool,
    /// Users exported at once.
    pub jobs: usize,
    /// Recorded in the manifest (`config`): engine name and the platform's public URL.
    pub engine_name: String,
    pub domain: String,
    pub core_version: String,
    /// Seconds taken off the previous snapshot time of each user in an incremental backup,
    /// for clocks of cores and backup host that disagree: items changed in that margin are
    /// taken again (harmless: a chain restore keeps the latest version).
    pub clock_skew: f64,
    /// The install's hashed-PII pepper, when it uses that mode (see [`crate::config::InstallConfig`]).
    pub pii_key: Option<crate::config::PiiKey>,
    /// For tests of a backup of a live platform: called before each user's snapshot is
    /// taken and whenever the export moves from one collection to the next, so a test can
    /// write to the install at those points. `None` in every real run.
    pub hook: Option<BackupHook>,
}

/// Where a backup is when its [`BackupHook`] runs.
#[derive(Debug)]
pub enum BackupStep<'a> {
    /// The user's snapshot is not taken yet.
    BeforeUser(&'a UserRef),
    /// Inside the user's snapshot: `done` is exported, `next` comes now.
    BetweenCollections {
        user: &'a UserRef,
        done: Collection,
        next: Collection,
    },
}

type HookFn = dyn Fn(&BackupStep<'_>) + Send + Sync;

#[derive(Clone)]
pub struct BackupHook(pub Arc<HookFn>);

impl std::fmt::Debug for BackupHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupHook")
    }
}

/// Passes a user's data on to the archive, telling the progress how much is written.
struct CountingSink<'a> {
    inner: &'a mut UserWriter,
    progress: &'a dyn Progress,
    /// Bytes already reported.
    reported: u64,
}

impl CountingSink<'_> {
    fn report(&mut self, items: u64) {
        let bytes = self.inner.bytes_written();
        self.progress.items_done(items, bytes - self.reported);
        self.reported = bytes;
    }
}

impl UserSink for CountingSink<'_> {
    fn item(&mut self, collection: Collection, item: &Item) -> Result<()> {
        UserSink::item(self.inner, collection, item)?;
        self.report(1);
        Ok(())
    }

    fn account(&mut self, account: &Item) -> Result<()> {
        UserSink::account(self.inner, account)
    }

    fn attachment(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        UserSink::attachment(self.inner, event_id, file_id, data)?;
        self.report(0);
        Ok(())
    }

    fn attachment_missing(&mut self, event_id: &str, file_id: &str) {
        UserSink::attachment_missing(self.inner, event_id, file_id)
    }
}

/// Passes a user's data on to the archive, running the hook between collections.
struct HookedSink<'a> {
    inner: &'a mut dyn UserSink,
    hook: &'a HookFn,
    user: &'a UserRef,
    current: Option<Collection>,
}

impl UserSink for HookedSink<'_> {
    fn item(&mut self, collection: Collection, item: &Item) -> Result<()> {
        if let Some(done) = self.current.filter(|c| *c != collection) {
            (self.hook)(&BackupStep::BetweenCollections {
                user: self.user,
                done,
                next: collection,
            });
        }
        self.current = Some(collection);
        self.inner.item(collection, item)
    }

    fn account(&mut self, account: &Item) -> Result<()> {
        self.inner.account(account)
    }

    fn attachment(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        self.inner.attachment(event_id, file_id, data)
    }

    fn attachment_missing(&mut self, event_id: &str, file_id: &str) {
        self.inner.attachment_missing(event_id, file_id)
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    pub backup_type: String,
    /// The users backed up (not those in `failed_users`).
    pub users: Vec<UserRef>,
    /// Users for which only changes were exported.
    pub incremental_users: usize,
    pub platform_entries: u64,
    pub items: u64,
    pub attachments: u64,
    /// Bytes of the users' files as written (compressed, sealed).
    pub bytes: u64,
    /// Attachments listed by an event of the snapshot that the store no longer had (deleted
    /// while the backup ran, or lost): the events are in the backup, these files are not.
    pub missing_attachments: Vec<MissingAttachment>,
    /// Users whose data could not be read: left out of the backup (its manifest does not
    /// list them), the others backed up.
    pub failed_users: Vec<FailedUser>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FailedUser {
    pub user_id: String,
    pub username: String,
    pub error: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MissingAttachment {
    pub user_id: String,
    pub username: String,
    pub event_id: String,
    pub file_id: String,
}

/// Runs a backup into `writer`; on any error no manifest is written, so the directory
/// stays detectably incomplete.
pub fn run(
    engine: &dyn Engine,
    writer: ArchiveWriter,
    options: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupReport> {
    let snapshot_before = now_seconds();
    let users = select_users(engine.users()?, &options.users)?;
    let since = previous_timestamps(options.previous.as_ref(), options.clock_skew);
    if options.previous.is_some() && since.is_empty() {
        progress.note("the previous backup lists no users: running a full backup");
    }

    progress.start(users.len());
    let (manifests, failed_users) = export_users(
        engine,
        &writer,
        &users,
        options,
        &since,
        options.clock_skew,
        progress,
    )?;

    let users: Vec<UserRef> = users
        .into_iter()
        .filter(|u| !failed_users.iter().any(|f| f.user_id == u.user_id))
        .collect();

    // A backup of some users carries their platform entries only (named by plaintext
    // username, or by token in hashed PII mode); entries naming no user come with all.
    let all_users = options.users.is_empty();
    let owners = PlatformOwners::new(&users, options.pii_key.as_ref(), all_users, all_users)?;
    let mut platform = writer.platform_writer()?;
    engine.export_platform(&mut |item: &Item| {
        if owners.keeps(item) {
            platform.item(item)?;
        }
        Ok(())
    })?;
    let platform_entries = platform.finish()?;

    let incremental_users = users
        .iter()
        .filter(|u| since.contains_key(&u.user_id))
        .count();
    let backup_type = if incremental_users > 0 {
        "incremental"
    } else {
        "full"
    };
    let items = manifests
        .iter()
        .flat_map(|m| m.stats.iter())
        .filter(|(name, _)| name.as_str() != "attachments")
        .map(|(_, n)| n)
        .sum();
    let attachments = manifests
        .iter()
        .filter_map(|m| m.stats.get("attachments"))
        .sum();
    let missing_attachments = manifests.iter().flat_map(missing_in).collect();
    let bytes = manifests
        .iter()
        .flat_map(|m| &m.files)
        .map(|f| f.size)
        .sum();
    writer.finish(ManifestInfo {
        core_version: options.core_version.clone(),
        config: serde_json::json!({ "engine": options.engine_name, "domain": options.domain }),
        backup_type: backup_type.to_string(),
        backup_timestamp: now_millis(),
        snapshot_before: Some(snapshot_before),
        users: manifests,
    })?;
    Ok(BackupReport {
        backup_type: backup_type.to_string(),
        users,
        incremental_users,
        platform_entries,
        items,
        attachments,
        bytes,
        missing_attachments,
        failed_users,
    })
}

fn missing_in(user: &UserManifest) -> Vec<MissingAttachment> {
    let listed = user
        .extra
        .get(MISSING_ATTACHMENTS)
        .and_then(serde_json::Value::as_array);
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string()
    };
    listed
        .into_iter()
        .flatten()
        .map(|m| MissingAttachment {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            event_id: text(m, "eventId"),
            file_id: text(m, "fileId"),
        })
        .collect()
}

/// Keeps the users asked for, in the index's order; an unknown name is an error, not an
/// empty backup.
pub(crate) fn select_users(all: Vec<UserRef>, wanted: &[String]) -> Result<Vec<UserRef>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    for w in wanted {
        if !all.iter().any(|u| &u.user_id == w || &u.username == w) {
            return Err(Error::Other(format!(
                "user {w:?} is not in the users index (give a userId or a username)"
            )));
        }
    }
    Ok(all
        .into_iter()
        .filter(|u| wanted.iter().any(|w| w == &u.user_id || w == &u.username))
        .collect())
}

/// userId → seconds after which that user's changes are exported: the time of the user's
/// snapshot in the previous backup (`snapshotTime`, ours), else its `backupTimestamp`
/// (bin/backup.js's), less the clock-skew margin.
fn previous_timestamps(previous: Option<&Manifest>, clock_skew: f64) -> HashMap<String, f64> {
    previous
        .map(|m| {
            m.users
                .iter()
                .filter(|u| u.backup_timestamp > 0)
                .map(|u| {
                    let taken = snapshot_time(u).unwrap_or(u.backup_timestamp as f64 / 1000.0);
                    (u.user_id.clone(), taken - clock_skew)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Our addition to a user's manifest entry: when its snapshot was taken (seconds).
pub const SNAPSHOT_TIME: &str = "snapshotTime";

fn snapshot_time(user: &UserManifest) -> Option<f64> {
    user.extra
        .get(SNAPSHOT_TIME)
        .and_then(serde_json::Value::as_f64)
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// The earlier of a user's backup time and its backup's cutoff, in milliseconds.
pub(crate) fn changes_since_ms(user_backup_ms: u64, snapshot_before: Option<f64>) -> u64 {
    match snapshot_before {
        Some(s) if s.is_finite() && s >= 0.0 => user_backup_ms.min((s * 1000.0).floor() as u64),
        _ => user_backup_ms,
    }
}

fn export_users(
    engine: &dyn Engine,
    writer: &ArchiveWriter,
    users: &[UserRef],
    options: &BackupOptions,
    since: &HashMap<String, f64>,
    clock_skew: f64,
    progress: &dyn Progress,
) -> Result<(Vec<UserManifest>, Vec<FailedUser>)> {
    // A user whose data cannot be read is left out and the others go on; a failure to write
    // the backup (Err outside) would fail every user: it stops taking new ones.
    let slots = per_user(users, options.jobs, true, progress, |user| {
        let export = ExportOptions {
            window: ExportWindow {
                since: since.get(&user.user_id).copied(),
            },
            include_ephemeral: options.include_ephemeral,
        };
        match export_user(
            engine,
            writer,
            user,
            &export,
            clock_skew,
            options.hook.as_ref(),
            progress,
        ) {
            Ok(manifest) => Ok(Ok(manifest)),
            Err(e @ Error::Archive(_)) => Err(e),
            Err(e) => {
                // Its partial files would otherwise be read as the user's data.
                writer.discard_user(user)?;
                Ok(Err(e))
            }
        }
    })?;
    let mut manifests = Vec::with_capacity(users.len());
    let mut failed = Vec::new();
    for (user, slot) in users.iter().zip(slots) {
        match slot {
            Some(Ok(Ok(m))) => manifests.push(m),
            Some(Ok(Err(e))) => failed.push(FailedUser {
                user_id: user.user_id.clone(),
                username: user.username.clone(),
                error: e.to_string(),
            }),
            Some(Err(e)) => {
                return Err(Error::Other(format!(
                    "backup of user {} ({}) failed: {e}",
                    user.username, user.user_id
                )))
            }
            // Not started because writing failed for another user first: that is reported.
            None => continue,
        }
    }
    Ok((manifests, failed))
}

fn export_user(
    engine: &dyn Engine,
    writer: &ArchiveWriter,
    user: &UserRef,
    options: &ExportOptions,
    clock_skew: f64,
    hook: Option<&BackupHook>,
    progress: &dyn Progress,
) -> Result<UserManifest> {
    let mut user_writer = writer.open_user(user)?;
    if let Some(hook) = hook {
        (hook.0)(&BackupStep::BeforeUser(user));
    }
    // Taken just before the engine opens the user's snapshot: nothing the snapshot misses
    // was changed before this time.
    let taken_ms = now_millis();
    let mut counted = CountingSink {
        inner: &mut user_writer,
        progress,
        reported: 0,
    };
    match hook {
        Some(hook) => engine.export_user(
            user,
            options,
            &mut HookedSink {
                inner: &mut counted,
                hook: hook.0.as_ref(),
                user,
                current: None,
            },
        )?,
        None => engine.export_user(user, options, &mut counted)?,
    }
    let mut manifest = user_writer.finish()?;
    manifest.extra.insert(
        SNAPSHOT_TIME.into(),
        crate::json::number_from_f64(taken_ms as f64 / 1000.0),
    );
    // bin/backup.js's --incremental takes changes after a user's backupTimestamp: dated
    // before the snapshot (less the margin), a later run of it misses nothing either.
    manifest.backup_timestamp = taken_ms.saturating_sub((clock_skew * 1000.0) as u64);
    Ok(manifest)
}

fn now_seconds() -> f64 {
    now_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::changes_since_ms;

    #[test]
    fn changes_are_taken_from_the_cutoff_not_the_end_of_the_user_export() {
        assert_eq!(
            changes_since_ms(1_763_990_005_000, Some(1_763_990_000.25)),
            1_763_990_000_250
        );
        assert_eq!(changes_since_ms(1_763_990_005_000, None), 1_763_990_005_000);
        // A cutoff after the user's time (never written so, but harmless) changes nothing.
        assert_eq!(changes_since_ms(1_000, Some(5.0)), 1_000);
        assert_eq!(changes_since_ms(1_000, Some(f64::NAN)), 1_000);
    }
}
