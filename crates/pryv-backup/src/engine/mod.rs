//! The traits every storage engine implements. Backup and restore talk only to these.
//!
//! An engine reads and writes one Pryv.io install's storage directly (the same tables and
//! files the core uses) and speaks in [`Item`]s: API objects exactly as the core's own
//! `exportAll` gives them (camelCase keys, nulls dropped as the core drops them, float seconds
//! as JavaScript writes them). That shared shape is what lets an archive made from one engine
//! restore into another.

mod composite;
mod memory;

use std::io::Read;

pub use composite::Composite;
pub use memory::MemoryUser;

use crate::model::{Collection, Item, ItemText, UserRef};
use crate::Result;

/// Which items of a user an export includes. An item's change time is the first present of
/// `deleted`, `modified`, `created`, `time` (seconds); an item without any is always included.
/// `deleted` comes first (unlike the core's own incremental rule) because the core may keep
/// an item's old `modified` when it deletes it: an incremental backup must carry deletions.
/// The fields that date an item's last change, most telling first (see [`ExportWindow`]).
pub const CHANGE_TIME_FIELDS: [&str; 4] = ["deleted", "modified", "created", "time"];

/// Which items an export holds. A full backup holds every item of the user's snapshot, with
/// no time filter: an item changed while the backup runs (or stamped ahead by a core whose
/// clock runs fast) is in it as the snapshot holds it.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ExportWindow {
    /// Incremental backups: only items changed strictly after this time (the previous
    /// snapshot's time minus the clock-skew margin).
    pub since: Option<f64>,
}

impl ExportWindow {
    /// Every item.
    pub fn everything() -> Self {
        ExportWindow { since: None }
    }

    /// Whether an item with this timestamp belongs to the window.
    pub fn includes_time(&self, ts: Option<f64>) -> bool {
        match (ts, self.since) {
            (Some(ts), Some(since)) => ts > since,
            _ => true,
        }
    }

    /// Whether an exported item belongs to the window (see the type's doc for the rule).
    pub fn includes(&self, item: &Item) -> bool {
        let ts = CHANGE_TIME_FIELDS
            .iter()
            .filter_map(|k| item.get(*k))
            .find_map(|v| v.as_f64().filter(|t| *t != 0.0));
        self.includes_time(ts)
    }
}

#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub window: ExportWindow,
    /// Sessions and password-reset requests are exported only when asked for.
    pub include_ephemeral: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Remove the user's existing data first, in the same all-or-nothing unit as the import.
    pub overwrite: bool,
    /// After writing, re-read the user's events and accesses and check their integrity
    /// hashes before committing; any mismatch aborts the whole user.
    pub verify_integrity: bool,
}

/// Where [`Engine::export_users`] sends several users, one after the other.
pub trait BatchSink {
    /// Called right before the engine opens the snapshot that `users` will be read from
    /// (one call per snapshot: a batch's users at once, or each user alone): what happens
    /// before it is in their backup. A backup dates the users' snapshot here and runs its
    /// test hooks and pause points.
    fn before_snapshot(&mut self, _users: &[UserRef]) -> Result<()> {
        Ok(())
    }
    /// The sink of `user`, whose data comes next.
    fn begin(&mut self, user: &UserRef) -> Result<&mut dyn UserSink>;
    /// `user` ended: exported, left out (`Error::UserDeleted`), or failed. An error returned
    /// stops the batch (the backup cannot go on) and is what the engine returns.
    fn end(&mut self, user: &UserRef, exported: Result<()>) -> Result<()>;
}

/// Where an engine pushes one user's data during a backup.
///
/// Items of one collection arrive contiguously, each collection at most once, in any order.
pub trait UserSink {
    fn item(&mut self, collection: Collection, item: &Item) -> Result<()>;
    /// The account data object (`passwords`, `storeKeyValues`, `accountFields`).
    fn account(&mut self, account: &Item) -> Result<()>;
    /// One attachment blob, streamed.
    fn attachment(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()>;
    /// An attachment the snapshot's event lists but the store no longer has (deleted after
    /// the snapshot was taken, or lost): the event is kept, and the backup says so.
    fn attachment_missing(&mut self, _event_id: &str, _file_id: &str) {}
}

/// Items of one collection, read lazily.
pub type ItemIter<'a> = Box<dyn Iterator<Item = Result<Item>> + 'a>;

/// Items of one collection as their JSON text, read lazily.
pub type TextIter<'a> = Box<dyn Iterator<Item = Result<ItemText>> + 'a>;

/// Items written out as their text.
pub fn as_texts(items: ItemIter<'_>) -> TextIter<'_> {
    Box::new(items.map(|item| item.map(|item| ItemText::of(&item))))
}

/// Where an engine pulls one user's data from during a restore.
pub trait UserSource {
    /// The user's items of a collection (empty when the backup has none).
    fn items(&self, collection: Collection) -> Result<ItemIter<'_>>;
    /// The same items as their JSON text, for an engine that parses them itself. A source
    /// that reads text (a backup) gives it as read; the others write their items out.
    fn texts(&self, collection: Collection) -> Result<TextIter<'_>> {
        Ok(as_texts(self.items(collection)?))
    }
    /// The account data object, when the backup has one.
    fn account(&self) -> Result<Option<Item>>;
    /// An attachment blob by file id, when the backup has it.
    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn Read + '_>>>;
}

/// One Pryv.io install's storage, as configured.
pub trait Engine: Send + Sync {
    /// What this engine reads and writes, for logs and reports (never a secret).
    fn describe(&self) -> String;

    /// Every user of the users index.
    fn users(&self) -> Result<Vec<UserRef>>;

    /// Exports one user's data, all of it read in one consistent snapshot.
    fn export_user(
        &self,
        user: &UserRef,
        options: &ExportOptions,
        sink: &mut dyn UserSink,
    ) -> Result<()>;

    /// Exports several users in turn, each whole in one consistent snapshot (an engine may
    /// take one snapshot for all of them, saving a round of queries per user), telling `out`
    /// where each user begins and ends. Exports a prefix of `users`, at least one, and returns
    /// how many: the rest are the caller's to export later. An error returned is the batch's
    /// (no snapshot): the users it did not end are not exported.
    fn export_users(
        &self,
        users: &[UserRef],
        options: &dyn Fn(&UserRef) -> ExportOptions,
        out: &mut dyn BatchSink,
    ) -> Result<usize> {
        export_each(self, users, options, out)
    }

    /// Why restoring this user would clash with what the install holds (the username
    /// registered under another userId, or the reverse), or `None`.
    fn find_conflict(&self, user: &UserRef) -> Result<Option<String>>;

    /// Whether the install holds any data for this userId.
    fn user_exists(&self, user_id: &str) -> Result<bool>;

    /// Restores one user, all or nothing: on any error the user is left as it was.
    fn import_user(
        &self,
        user: &UserRef,
        source: &dyn UserSource,
        options: &ImportOptions,
    ) -> Result<()>;

    /// Restores several users together, all of them or none, where the engine can do that
    /// for less than one by one (PostgreSQL: users new to a schema this restore created, in
    /// one transaction). `Ok(None)`: the engine does not take these users together; restore
    /// each with [`Engine::import_user`]. An error: nothing of them was written (restoring
    /// each alone finds whose data is at fault). `Ok(Some(results))`: every user is
    /// committed; a user's result is an error only for what comes after its commit
    /// ([`crate::Error::AfterCommit`]), in `users`' order.
    fn import_users_together(
        &self,
        _users: &[(&UserRef, &dyn UserSource)],
        _options: &ImportOptions,
    ) -> Result<Option<Vec<Result<()>>>> {
        Ok(None)
    }

    /// Platform-wide entries (unique and indexed account fields, ...), one item each.
    fn export_platform(&self, out: &mut dyn FnMut(&Item) -> Result<()>) -> Result<()>;

    fn import_platform(&self, items: &mut dyn Iterator<Item = Result<Item>>) -> Result<()>;

    /// The platform rows (`key` → `value`) held under these keys; keys without a row are
    /// left out. A restore asks before writing, to find unique values another user owns.
    fn platform_values(&self, keys: &[String]) -> Result<Vec<(String, String)>>;

    /// Ends a restore, whatever became of its users: work an engine put off until every
    /// row is in (PostgreSQL: the flush of the users' commits, then the secondary indexes
    /// of a schema it created). A restore reports nothing as done before this returns. Each
    /// step that takes time is told to `progress` as a phase.
    fn finish_restore(
        &self,
        _jobs: usize,
        _progress: &dyn crate::progress::Progress,
    ) -> Result<()> {
        Ok(())
    }

    /// Takes the install's restore lock, held while the value lives: a second restore into
    /// the same install fails at once instead of racing this one.
    fn lock_for_restore(&self) -> Result<Box<dyn crate::lock::Held>>;
}

/// Where attachment blobs live when they are not in the base engine's own transaction
/// (filesystem, S3): the file engine is configured apart from the base engine.
pub trait AttachmentStore: Send + Sync {
    fn describe(&self) -> String;

    /// One attachment's bytes, streamed.
    fn read(
        &self,
        user_id: &str,
        event_id: &str,
        file_id: &str,
    ) -> Result<Box<dyn Read + Send + '_>>;

    /// Starts an all-or-nothing restore of a user's attachments: blobs are staged, and reach
    /// their place only on [`AttachmentImport::commit`]. With `overwrite`, the commit also
    /// replaces every attachment the user had.
    fn begin_user_import(
        &self,
        user_id: &str,
        overwrite: bool,
    ) -> Result<Box<dyn AttachmentImport + '_>>;
}

/// A staged attachments restore; dropping it without commit discards what was staged.
pub trait AttachmentImport {
    fn write(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()>;
    fn commit(self: Box<Self>) -> Result<()>;
}

/// One per-user collection kept outside the base engine: audit in per-user SQLite files,
/// series in InfluxDB. Items are the archive's items of that collection (series:
/// `{"measurement": <event id>, "timeUnit": "ms", "points": [{"time": ms, <field>: value, ...}, ...]}`,
/// see [`crate::series_time`]).
pub trait CollectionStore: Send + Sync {
    fn describe(&self) -> String;
    fn export_user(
        &self,
        user: &UserRef,
        window: &ExportWindow,
        out: &mut dyn FnMut(&Item) -> Result<()>,
    ) -> Result<()>;
    /// With `overwrite`, the user's existing items are dropped first.
    fn import_user(
        &self,
        user: &UserRef,
        items: &mut dyn Iterator<Item = Result<Item>>,
        overwrite: bool,
    ) -> Result<()>;
    /// Finishes or undoes what a restore killed outright left half done; called once, under
    /// the install's restore lock, before a restore writes anything.
    fn recover(&self) -> Result<()> {
        Ok(())
    }
}

/// The platform DB kept outside the base engine (rqlite). Items are the archive's platform
/// entries (`{"username", "field", "value", "isUnique"}`, or raw `{"key", "value"}`).
pub trait PlatformStore: Send + Sync {
    fn describe(&self) -> String;
    fn export(&self, out: &mut dyn FnMut(&Item) -> Result<()>) -> Result<()>;
    fn import(&self, items: &mut dyn Iterator<Item = Result<Item>>) -> Result<()>;
    /// See [`Engine::platform_values`].
    fn values(&self, keys: &[String]) -> Result<Vec<(String, String)>>;
}

/// [`Engine::export_users`] for an engine that reads each user in a snapshot of its own: the
/// users one after another, all of them.
pub fn export_each<E: Engine + ?Sized>(
    engine: &E,
    users: &[UserRef],
    options: &dyn Fn(&UserRef) -> ExportOptions,
    out: &mut dyn BatchSink,
) -> Result<usize> {
    for user in users {
        out.before_snapshot(std::slice::from_ref(user))?;
        let sink = out.begin(user)?;
        let exported = engine.export_user(user, &options(user), sink);
        out.end(user, exported)?;
    }
    Ok(users.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn window_follows_the_core_rule() {
        let w = ExportWindow { since: Some(10.0) };
        assert!(w.includes(&json!({"id": "a", "modified": 15})));
        assert!(!w.includes(&json!({"id": "a", "modified": 10})));
        assert!(w.includes(&json!({"id": "a", "modified": 21, "created": 5})));
        assert!(w.includes(&json!({"id": "a", "created": 11})));
        assert!(!w.includes(&json!({"id": "gone", "deleted": 5})));
        assert!(w.includes(&json!({"id": "gone", "deleted": 15, "modified": 5})));
        assert!(w.includes(&json!({"id": "no-dates"})));
        // No cutoff: an item stamped in the future (a core whose clock runs ahead) is kept.
        assert!(ExportWindow::everything().includes(&json!({"time": 1, "modified": 4e12})));
    }
}
