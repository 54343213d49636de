//! Partial restore: part of one user (a stream and its child streams, events of a time range,
//! or both) put back as the backup holds it, into an install that holds the user; the rest of
//! the user stays as the install has it.
//!
//! How: the user's current state is exported from the install (sessions and password resets
//! included, so they survive) into a private scratch folder, as a backup would write it; a
//! merged user is read from that copy and the backup together (the scope from the backup,
//! everything else from the copy); and the engine restores that merged user in place of the
//! current one with `overwrite`, one all-or-nothing unit as any restore: on any error the user
//! is left as it was. Every event and access integrity hash is checked before the commit,
//! always, as most of what is written comes from the install rather than the backup.
//!
//! Scope (the same rule on both sides, install and backup):
//! - streams: each stream given, its descendants in the backup (`parentId`), and the install's
//!   descendants of any of those; a stream deletion (no `parentId`) by the `path` it carries.
//! - events: an event (a head, not a history copy) is in scope when one of its `streamIds` is
//!   a stream in scope (an event also in a stream outside the scope is restored as the backup
//!   has it, all its streams with it), and when its `time` is in `[from, to)`. Whichever side
//!   has it in scope, its id is in scope: the backup's version is written (with its history
//!   copies, attachments and series), the install's is dropped (with its history copies,
//!   attachments and series). An event in scope the backup does not hold is removed; a
//!   deletion the backup holds is restored as that deletion. A deletion in the install that
//!   carries no stream nor time is in scope when the backup's version of the event is.
//! - the account, accesses, profile, webhooks, audit, sessions and password resets are the
//!   install's; platform entries are not touched.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::archive::{
    ArchiveReader, ArchiveWriter, ManifestInfo, UserEntries, UserReader, WriterOptions,
};
use crate::chain::{Chain, ChainUser};
use crate::engine::{
    as_texts, Engine, ExportOptions, ExportWindow, ImportOptions, ItemIter, TextIter, UserSource,
};
use crate::model::{owned_attachment_ids, Collection, Item, UserRef};
use crate::progress::Progress;
use crate::{Error, Result};

/// What to put back.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Stream ids: each with its child streams (none: streams are not restored, events of
    /// every stream are in scope).
    pub streams: Vec<String>,
    /// Events whose `time` is at or after this (ms since the epoch).
    pub from_ms: Option<u64>,
    /// Events whose `time` is before this (ms since the epoch).
    pub to_ms: Option<u64>,
}

impl Scope {
    fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.from_ms.is_none() && self.to_ms.is_none()
    }

    fn in_time(&self, event: &Item) -> bool {
        if self.from_ms.is_none() && self.to_ms.is_none() {
            return true;
        }
        let Some(ms) = event
            .get("time")
            .and_then(Value::as_f64)
            .map(|s| s * 1000.0)
        else {
            return false;
        };
        self.from_ms.is_none_or(|from| ms >= from as f64)
            && self.to_ms.is_none_or(|to| ms < to as f64)
    }
}

#[derive(Clone, Debug, Default)]
pub struct PartialOptions {
    /// The user (userId or username): in the backup and in the install.
    pub user: String,
    pub scope: Scope,
    /// Where the copy of the user's current state goes while the run lasts (the system's
    /// temporary folder when `None`).
    pub scratch_dir: Option<PathBuf>,
    /// Count what would change, write nothing into the install.
    pub dry_run: bool,
}

/// Items of one kind in scope, on each side, and what the restore makes of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// In scope in the backup: written.
    pub in_backup: u64,
    /// In scope in the install: replaced or removed.
    pub in_install: u64,
    /// In the backup's scope only.
    pub added: u64,
    /// In both: the install's version replaced by the backup's.
    pub replaced: u64,
    /// In the install's scope only.
    pub removed: u64,
}

impl Counts {
    fn of(in_backup: u64, in_install: u64, replaced: u64) -> Counts {
        Counts {
            in_backup,
            in_install,
            added: in_backup - replaced,
            replaced,
            removed: in_install - replaced,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialReport {
    pub user: UserRef,
    /// The streams given.
    pub streams: Vec<String>,
    /// Every stream in scope (the given ones and their child streams, both sides).
    pub streams_in_scope: Vec<String>,
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
    pub dry_run: bool,
    pub stream_counts: Counts,
    /// Events, history copies included.
    pub event_counts: Counts,
    /// Attachment files of the events in scope.
    pub attachment_counts: Counts,
    /// Series (one per event) of the events in scope.
    pub series_counts: Counts,
    /// Event and access integrity hashes of the whole user checked before the commit.
    pub integrity_checked: bool,
}

/// Prefix of the scratch folders; the process id follows, so the next run can remove the
/// folder of a run killed outright.
const SCRATCH_PREFIX: &str = "pryv-backup-partial-";

pub fn run(
    engine: &dyn Engine,
    chain: &Chain,
    options: &PartialOptions,
    progress: &dyn Progress,
) -> Result<PartialReport> {
    chain.refuse_lone_increment()?;
    if options.scope.is_empty() {
        return Err(Error::Other(
            "a partial restore needs --stream or --from/--to".into(),
        ));
    }
    if let (Some(from), Some(to)) = (options.scope.from_ms, options.scope.to_ms) {
        if from >= to {
            return Err(Error::Other(format!(
                "--from ({from} ms) must be before --to ({to} ms); nothing was changed"
            )));
        }
    }
    let user = crate::backup::select_users(chain.users(), std::slice::from_ref(&options.user))
        .ok()
        .and_then(|users| users.into_iter().next())
        .ok_or_else(|| {
            Error::Other(format!(
                "user {:?} is not in this backup (give a userId or username `pryv-backup inspect` \
                 lists); nothing was changed",
                options.user
            ))
        })?;
    // Held until the run ends: no other restore changes the user between its export and
    // its import. A dry run writes nothing.
    let _lock = if options.dry_run {
        None
    } else {
        Some(engine.lock_for_restore()?)
    };
    if let Some(reason) = engine.find_conflict(&user)? {
        return Err(Error::Other(format!(
            "{} ({}) cannot be partly restored: {reason}; nothing was changed",
            user.username, user.user_id
        )));
    }
    if !engine.user_exists(&user.user_id)? {
        return Err(Error::Other(format!(
            "user {} ({}) is not in the install: a partial restore replaces part of a user the \
             install holds; restore the whole user instead (`pryv-backup restore DIR --user {}`). \
             Nothing was changed",
            user.username, user.user_id, user.username
        )));
    }
    let backup = chain.user_source(&user.user_id)?;
    // Nothing is read from a backup whose files do not match its manifests.
    backup.check()?;

    let scratch_root = options
        .scratch_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    crate::private_fs::remove_dead_scratch(
        &scratch_root,
        SCRATCH_PREFIX,
        None,
        "a partial restore",
    );
    // Removed when dropped, on every way out (errors and signals included).
    let scratch = crate::private_fs::temp_dir_in(
        &scratch_root,
        &format!("{SCRATCH_PREFIX}{}-", std::process::id()),
    )
    .map_err(|e| Error::io(&scratch_root, e))?;
    progress.note(&format!(
        "reading {}'s current state into {}",
        user.username,
        scratch.path().display()
    ));
    let current = export_current(engine, &user, scratch.path())?;
    // Tests stop the run here, the scratch copy written, to see it removed on the way out.
    crate::interrupt::pause_point("partial-current-read");
    crate::interrupt::check()?;

    let plan = Plan::new(&options.scope, &backup, &current)?;
    let mut report = plan.report(&user, options);
    if options.dry_run {
        return Ok(report);
    }
    let merged = Merged {
        backup: &backup,
        current: &current,
        plan: &plan,
    };
    let import = ImportOptions {
        overwrite: true,
        verify_integrity: true,
    };
    engine
        .import_user(&user, &merged, &import)
        .map_err(|e| match e {
            Error::Interrupted(_) => e,
            // Stores kept apart from the base database are written after its commit.
            Error::AfterCommit { what, source } => Error::Other(format!(
                "the part of {} ({}) the base database holds is restored, but its {what} could \
                 not be written ({source}): run the same partial restore again to complete it",
                user.username, user.user_id
            )),
            e => Error::Other(format!(
                "the partial restore of {} ({}) failed, so nothing of the user was changed: {e}",
                user.username, user.user_id
            )),
        })?;
    // PostgreSQL: the user's commit is made durable here (see `Engine::finish_restore`).
    engine.finish_restore(1, progress)?;
    report.integrity_checked = true;
    Ok(report)
}

/// The user as the install holds it now, written into `scratch` as a one-user backup (so
/// memory stays bounded by the archive's buffers), and opened back.
fn export_current(engine: &dyn Engine, user: &UserRef, scratch: &Path) -> Result<UserReader> {
    let dir = scratch.join("current");
    let writer = ArchiveWriter::create(&dir, WriterOptions::default())?;
    let mut sink = writer.open_user(user)?;
    engine.export_user(
        user,
        &ExportOptions {
            window: ExportWindow::everything(),
            include_ephemeral: true,
        },
        &mut sink,
    )?;
    let user_manifest = sink.finish()?;
    writer.finish(ManifestInfo {
        core_version: String::new(),
        config: Value::Null,
        backup_type: "full".into(),
        backup_timestamp: crate::clock::now_millis(),
        snapshot_before: None,
        users: UserEntries::from_vec(vec![user_manifest])?,
    })?;
    Ok(ArchiveReader::open(&dir, None)?.user(&user.user_id)?)
}

/// Which items are in scope, found by reading both sides, and how many there are.
///
/// The sets hold the ids of the streams, events (heads), attachment files and series in
/// scope only (a few tens of bytes each), never the items: bounded by the scope, which is
/// what the operator chose to put back.
struct Plan {
    streams: HashSet<String>,
    /// Heads in scope on either side: these events (and their history copies) come from
    /// the backup.
    events: HashSet<String>,
    /// Attachment files the backup's events in scope own: read from the backup.
    backup_files: HashSet<String>,
    counts: [Counts; 4],
}

impl Plan {
    fn new(scope: &Scope, backup: &ChainUser, current: &UserReader) -> Result<Plan> {
        let backup_streams: Vec<Item> =
            backup.items(Collection::Streams)?.collect::<Result<_>>()?;
        let current_streams: Vec<Item> = current
            .items(Collection::Streams)?
            .collect::<Result<Vec<_>, _>>()?;
        let missing: Vec<&String> = scope
            .streams
            .iter()
            .filter(|s| !backup_streams.iter().any(|i| id_of(i) == Some(s.as_str())))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Other(format!(
                "stream(s) {missing:?} not in this backup of the user: nothing was changed \
                 (`pryv-backup inspect` does not list streams; check the stream id in the app \
                 or in an export of the user)"
            )));
        }
        let in_backup = subtree(&backup_streams, scope.streams.iter().cloned().collect());
        let streams = subtree(&current_streams, in_backup);
        let ids_in = |items: &[Item]| {
            items
                .iter()
                .filter_map(id_of)
                .filter(|id| streams.contains(*id))
                .map(str::to_string)
                .collect::<HashSet<String>>()
        };
        let (b, c) = (ids_in(&backup_streams), ids_in(&current_streams));
        let stream_counts = Counts::of(
            b.len() as u64,
            c.len() as u64,
            b.intersection(&c).count() as u64,
        );
        drop((backup_streams, current_streams));

        let head_in_scope = |event: &Item| {
            let in_streams = scope.streams.is_empty()
                || event
                    .get("streamIds")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|s| streams.contains(s));
            is_head(event) && in_streams && scope.in_time(event)
        };
        let mut events = HashSet::new();
        for event in backup.items(Collection::Events)? {
            let event = event?;
            if head_in_scope(&event) {
                events.extend(id_of(&event).map(str::to_string));
            }
        }
        for event in current.items(Collection::Events)? {
            let event = event?;
            if head_in_scope(&event) {
                events.extend(id_of(&event).map(str::to_string));
            }
        }

        let mut plan = Plan {
            streams,
            events,
            backup_files: HashSet::new(),
            counts: Default::default(),
        };
        // What each side holds in scope, the backup's ids kept to tell replaced from removed.
        let mut taken = HashSet::new();
        for event in backup.items(Collection::Events)? {
            let event = event?;
            if plan.event_in_scope(&event) {
                plan.backup_files.extend(owned_attachment_ids(&event));
                taken.extend(id_of(&event).map(str::to_string));
            }
        }
        let (mut dropped, mut replaced) = (0u64, 0u64);
        let mut current_files = HashSet::new();
        for event in current.items(Collection::Events)? {
            let event = event?;
            if plan.event_in_scope(&event) {
                dropped += 1;
                replaced += u64::from(id_of(&event).is_some_and(|id| taken.contains(id)));
                current_files.extend(owned_attachment_ids(&event));
            }
        }
        let event_counts = Counts::of(taken.len() as u64, dropped, replaced);
        drop(taken);
        let attachment_counts = Counts::of(
            plan.backup_files.len() as u64,
            current_files.len() as u64,
            plan.backup_files.intersection(&current_files).count() as u64,
        );
        let series_in = |items: ItemIter<'_>| -> Result<HashSet<String>> {
            let mut names = HashSet::new();
            for item in items {
                let item = item?;
                if plan.series_in_scope(&item) {
                    names.extend(measurement_of(&item).map(str::to_string));
                }
            }
            Ok(names)
        };
        let b = series_in(backup.items(Collection::Series)?)?;
        let c = series_in(Box::new(
            current
                .items(Collection::Series)?
                .map(|r| r.map_err(Error::from)),
        ))?;
        let series_counts = Counts::of(
            b.len() as u64,
            c.len() as u64,
            b.intersection(&c).count() as u64,
        );
        plan.counts = [
            stream_counts,
            event_counts,
            attachment_counts,
            series_counts,
        ];
        Ok(plan)
    }

    fn report(&self, user: &UserRef, options: &PartialOptions) -> PartialReport {
        let mut streams_in_scope: Vec<String> = self.streams.iter().cloned().collect();
        streams_in_scope.sort();
        let [streams, events, attachments, series] = self.counts.clone();
        PartialReport {
            user: user.clone(),
            streams: options.scope.streams.clone(),
            streams_in_scope,
            from_ms: options.scope.from_ms,
            to_ms: options.scope.to_ms,
            dry_run: options.dry_run,
            stream_counts: streams,
            event_counts: events,
            attachment_counts: attachments,
            series_counts: series,
            integrity_checked: false,
        }
    }

    fn stream_in_scope(&self, stream: &Item) -> bool {
        id_of(stream).is_some_and(|id| self.streams.contains(id))
    }

    /// A head in scope, or a history copy of one.
    fn event_in_scope(&self, event: &Item) -> bool {
        let head = event
            .get("headId")
            .and_then(Value::as_str)
            .or_else(|| id_of(event));
        head.is_some_and(|id| self.events.contains(id))
    }

    /// A series is its event's (`<event id>`, or `event.<event id>` for the HF server's).
    fn series_in_scope(&self, series: &Item) -> bool {
        measurement_of(series)
            .map(|m| m.strip_prefix("event.").unwrap_or(m))
            .is_some_and(|id| self.events.contains(id))
    }
}

fn id_of(item: &Item) -> Option<&str> {
    item.get("id").and_then(Value::as_str)
}

fn measurement_of(item: &Item) -> Option<&str> {
    item.get("measurement").and_then(Value::as_str)
}

fn is_head(event: &Item) -> bool {
    event.get("headId").is_none_or(Value::is_null)
}

/// `roots` and their descendants among `streams`: by `parentId` for live streams; a deletion
/// (the core clears its `parentId`) by the `path` it carries, when it carries one.
fn subtree(streams: &[Item], roots: HashSet<String>) -> HashSet<String> {
    let mut children: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for stream in streams {
        let deleted = stream.get("deleted").is_some_and(|d| !d.is_null());
        if let (Some(id), Some(parent), false) = (
            id_of(stream),
            stream.get("parentId").and_then(Value::as_str),
            deleted,
        ) {
            children.entry(parent).or_default().push(id);
        }
    }
    let mut found = roots;
    let mut todo: Vec<String> = found.iter().cloned().collect();
    while let Some(id) = todo.pop() {
        for child in children.get(id.as_str()).into_iter().flatten() {
            if found.insert(child.to_string()) {
                todo.push(child.to_string());
            }
        }
    }
    for stream in streams {
        let carried = stream.get("path").and_then(Value::as_str).unwrap_or("");
        let mut ancestors = carried.trim_end_matches('/').split('/').rev().skip(1);
        if let (Some(id), true) = (id_of(stream), ancestors.any(|a| found.contains(a))) {
            found.insert(id.to_string());
        }
    }
    found
}

/// The user the engine writes: the scope from the backup, the rest from the install's copy.
/// Items are streamed from both; only the plan's id sets are held.
struct Merged<'a> {
    backup: &'a ChainUser,
    current: &'a UserReader,
    plan: &'a Plan,
}

impl Merged<'_> {
    /// The install's items out of scope, then the backup's in scope.
    fn merged<'s>(
        &'s self,
        collection: Collection,
        in_scope: fn(&Plan, &Item) -> bool,
    ) -> Result<ItemIter<'s>> {
        let plan = self.plan;
        let kept = UserSource::items(self.current, collection)?
            .filter(move |r| r.as_ref().map_or(true, |item| !in_scope(plan, item)));
        let restored = self
            .backup
            .items(collection)?
            .filter(move |r| r.as_ref().map_or(true, |item| in_scope(plan, item)));
        Ok(Box::new(kept.chain(restored)))
    }
}

impl UserSource for Merged<'_> {
    fn items(&self, collection: Collection) -> Result<ItemIter<'_>> {
        match collection {
            Collection::Streams => self.merged(collection, Plan::stream_in_scope),
            Collection::Events => self.merged(collection, Plan::event_in_scope),
            Collection::Series => self.merged(collection, Plan::series_in_scope),
            _ => UserSource::items(self.current, collection),
        }
    }

    fn texts(&self, collection: Collection) -> Result<TextIter<'_>> {
        match collection {
            Collection::Streams | Collection::Events | Collection::Series => {
                Ok(as_texts(self.items(collection)?))
            }
            _ => UserSource::texts(self.current, collection),
        }
    }

    fn account(&self) -> Result<Option<Item>> {
        UserSource::account(self.current)
    }

    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn std::io::Read + '_>>> {
        if self.plan.backup_files.contains(file_id) {
            self.backup.attachment(file_id)
        } else {
            UserSource::attachment(self.current, file_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_subtree_holds_children_at_any_depth_and_deletions_by_their_path() {
        let streams = vec![
            json!({"id": "health", "parentId": null}),
            json!({"id": "weight", "parentId": "health"}),
            json!({"id": "weight-morning", "parentId": "weight"}),
            json!({"id": "notes", "parentId": null}),
            json!({"id": "gone", "deleted": 5, "path": "health/weight/gone/"}),
            json!({"id": "elsewhere", "deleted": 5, "path": "notes/elsewhere/"}),
        ];
        assert_eq!(
            subtree(&streams, set(&["weight"])),
            set(&["weight", "weight-morning", "gone"])
        );
        assert_eq!(
            subtree(&streams, set(&["notes"])),
            set(&["notes", "elsewhere"])
        );
    }

    #[test]
    fn the_time_range_includes_from_and_excludes_to() {
        let scope = Scope {
            from_ms: Some(1_000),
            to_ms: Some(2_000),
            ..Default::default()
        };
        assert!(scope.in_time(&json!({"time": 1.0})));
        assert!(scope.in_time(&json!({"time": 1.999})));
        assert!(!scope.in_time(&json!({"time": 2.0})));
        assert!(!scope.in_time(&json!({"id": "tombstone", "deleted": 1.5})));
        assert!(Scope::default().in_time(&json!({"id": "no time"})));
    }
}
