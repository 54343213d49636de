//! Backup: every user exported by the engine into the archive, users in parallel, then
//! platform data, then the manifest (the completion marker).

use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::Digest;

use crate::archive::{
    ArchiveWriter, EncodedEntry, ManifestInfo, UserEntriesBuilder, UserManifest, UserWriter,
    MISSING_ATTACHMENTS,
};
use crate::chain::{
    user_digest, user_since, ClockStep, EncryptionRecord, GenerationRecord, PreviousState,
    Sha256Hex, UserRecord, RECORD_VERSION, SNAPSHOT_TIME,
};
// Re-exported where callers (the CLI's tests among them) have always found it.
pub use crate::clock::now_millis;
use crate::engine::{BatchSink, Engine, ExportOptions, ExportWindow, UserSink};
use crate::model::{Collection, Item, UserRef};
use crate::platform::PlatformOwners;
use crate::progress::Progress;
use crate::series_append::{self, SeriesMark, SeriesWrite};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct BackupOptions {
    /// Only these users (userId or username); all users when empty.
    pub users: Vec<String>,
    /// Where the chain stands (see [`crate::chain::ChainIndex::state_from_records`] and
    /// [`crate::chain::Chain::previous_state`]): each user present there is exported only for
    /// what changed since. `None` for a full backup.
    pub previous: Option<PreviousState>,
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

/// Passes a user's data on to the archive, telling the progress how much is written and
/// running the hook (tests only) between collections.
struct UserExport<'a> {
    writer: UserWriter,
    progress: &'a dyn Progress,
    /// Bytes already reported.
    reported: u64,
    hook: Option<&'a HookFn>,
    current: Option<Collection>,
    /// By measurement digest, the chain's marks of the user's measurements, when only its
    /// changes are exported: a measurement that only grew is written as its new points.
    series_before: HashMap<String, SeriesMark>,
    /// The marks the new generation records for the user.
    series_marks: Vec<SeriesMark>,
    /// The account object and profile items, written once the user's export ends: left out
    /// when they are what the chain holds (`account_before`, when only changes are exported).
    account: Option<Item>,
    profile: Vec<Item>,
    account_before: Option<Sha256Hex>,
}

/// SHA-256 of a user's account object and profile items as exported, when the account
/// holds a password hash: with it, the digest cannot be guessed from the few values an
/// account or profile may otherwise hold (the digest is in the clear record).
fn account_mark(account: Option<&Item>, profile: &[Item]) -> Option<Sha256Hex> {
    let account = account?;
    let has_hash = account
        .get("passwords")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|passwords| {
            passwords.iter().any(|p| {
                p.get("hash")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|h| h.len() >= 32)
            })
        });
    if !has_hash {
        return None;
    }
    let mut hasher = sha2::Sha256::new();
    for item in std::iter::once(account).chain(profile) {
        crate::json::digest_line(&mut hasher, item);
    }
    Some(Sha256Hex::finish(hasher))
}

impl UserExport<'_> {
    /// Writes the account object and profile unless they are what the chain holds; returns
    /// their mark for the new generation's record.
    fn write_account_and_profile(&mut self) -> Result<Option<Sha256Hex>> {
        let mark = account_mark(self.account.as_ref(), &self.profile);
        if mark.is_some() && mark == self.account_before {
            return Ok(mark);
        }
        if let Some(account) = self.account.take() {
            UserSink::account(&mut self.writer, &account)?;
        }
        for item in std::mem::take(&mut self.profile) {
            UserSink::item(&mut self.writer, Collection::Profile, &item)?;
        }
        Ok(mark)
    }

    fn report(&mut self, items: u64) {
        let bytes = self.writer.bytes_written();
        self.progress.items_done(items, bytes - self.reported);
        self.reported = bytes;
    }

    /// A measurement: whole, only its new points, or nothing (see [`crate::series_append`]).
    fn series(&mut self, item: &Item) -> Result<()> {
        let before = item
            .get("measurement")
            .and_then(serde_json::Value::as_str)
            .and_then(|id| {
                self.series_before
                    .get(&series_append::measurement_digest(id))
            });
        let (write, mark) = series_append::plan(item, before);
        self.series_marks.extend(mark);
        match write {
            SeriesWrite::Unchanged => {}
            SeriesWrite::Append(append) => {
                UserSink::item(&mut self.writer, Collection::Series, &append)?
            }
            SeriesWrite::Whole => UserSink::item(&mut self.writer, Collection::Series, item)?,
        }
        self.report(1);
        Ok(())
    }
}

impl UserSink for UserExport<'_> {
    fn item(&mut self, collection: Collection, item: &Item) -> Result<()> {
        if let Some(hook) = self.hook {
            if let Some(done) = self.current.filter(|c| *c != collection) {
                hook(&BackupStep::BetweenCollections {
                    user: self.writer.user(),
                    done,
                    next: collection,
                });
            }
            self.current = Some(collection);
        }
        match collection {
            Collection::Series => return self.series(item),
            Collection::Profile => self.profile.push(item.clone()),
            _ => UserSink::item(&mut self.writer, collection, item)?,
        }
        self.report(1);
        Ok(())
    }

    fn account(&mut self, account: &Item) -> Result<()> {
        if self.account.is_some() {
            return Err(Error::Other(format!(
                "account data of user {} given twice",
                self.writer.user().user_id
            )));
        }
        self.account = Some(account.clone());
        Ok(())
    }

    fn attachment(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        UserSink::attachment(&mut self.writer, event_id, file_id, data)?;
        self.report(0);
        Ok(())
    }

    fn attachment_missing(&mut self, event_id: &str, file_id: &str) {
        UserSink::attachment_missing(&mut self.writer, event_id, file_id)
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
    /// Of those, the users with nothing new: the increment records where they stand and
    /// holds no folder of theirs (the generations before hold all of their data).
    pub unchanged_users: usize,
    pub platform_entries: u64,
    pub items: u64,
    pub attachments: u64,
    /// Bytes of the users' files as written (compressed, sealed).
    pub bytes: u64,
    /// Attachments listed by an event of the snapshot that the store no longer had (deleted
    /// while the backup ran, or lost): the events are in the backup, these files are not.
    pub missing_attachments: Vec<MissingAttachment>,
    /// Set when this host's clock read earlier than the previous generation's snapshot:
    /// every user was then exported whole, so that nothing changed meanwhile is missed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_stepped_back: Option<ClockStep>,
    /// Users listed when the backup started but not in it (deleted while it ran).
    pub left_out: Vec<LeftOutUser>,
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

/// A user listed when the backup started and left out of it, and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LeftOutUser {
    #[serde(flatten)]
    pub user: UserRef,
    pub reason: String,
}

/// Why a user deleted while the backup ran is not in it, as reports say.
pub const DELETED_DURING_BACKUP: &str = "deleted during the backup";

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
    progress.phase("listing the users");
    let users = select_users(engine.users()?, &options.users)?;
    let previous = options.previous.as_ref();
    let (since, clock_stepped_back) = since_times(&users, options, snapshot_before);
    if clock_stepped_back.is_none() && previous.is_some() && since.is_empty() {
        progress.note("the previous backup lists no users: running a full backup");
    }

    progress.phase("backing up the users");
    progress.start(users.len());
    let stored_bytes = AtomicU64::new(0);
    let (exported, left_out, failed_users) = export_users(
        engine,
        &writer,
        &users,
        options,
        &since,
        progress,
        &stored_bytes,
    )?;

    let mut manifests = UserEntriesBuilder::new();
    let (mut items, mut attachments, mut missing_attachments) = (0, 0, Vec::new());
    let mut records = Vec::with_capacity(exported.len());
    for e in exported {
        records.push(UserRecord {
            user: user_digest(&e.user_id),
            since: e.since,
            series: e.series,
            account: e.account,
        });
        if let Some(written) = e.written {
            manifests.push_encoded(&written.entry)?;
            items += written.items;
            attachments += written.attachments;
            missing_attachments.extend(written.missing);
        }
    }
    let unchanged_users = records.len() - manifests.len();
    let gone: Vec<UserRef> = left_out.iter().map(|l| l.user.clone()).collect();
    let users: Vec<UserRef> = users
        .into_iter()
        .filter(|u| !gone.contains(u))
        .filter(|u| !failed_users.iter().any(|f| f.user_id == u.user_id))
        .collect();

    // A backup of some users carries their platform entries only (named by plaintext
    // username, or by token in hashed PII mode); entries naming no user come with all. A
    // user left out leaves its entries out too (the core removes them just after).
    let all_users = options.users.is_empty();
    let owners = PlatformOwners::new(&users, options.pii_key.as_ref(), all_users, all_users)?
        .without(&gone, options.pii_key.as_ref())?;
    progress.phase("backing up the platform entries");
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
    let backup_type = if incremental_users > 0 || clock_stepped_back.is_some() {
        "incremental"
    } else {
        "full"
    };
    let bytes = stored_bytes.into_inner();
    let backup_timestamp = now_millis();
    // Encoded at once: the record and its text are not held together.
    let record = serde_json::value::to_raw_value(&GenerationRecord {
        v: RECORD_VERSION,
        sequence: previous.map_or(0, |p| p.sequence),
        previous: previous.and_then(|p| p.previous.clone()),
        backup_timestamp,
        snapshot_before,
        clock_stepped_back: clock_stepped_back.clone(),
        encryption: EncryptionRecord::of(writer.sealer().map(|s| s.as_ref())),
        users: records,
        // A run of every user knows who the install holds: a user absent is deleted.
        install_users: all_users.then(|| users.iter().map(|u| user_digest(&u.user_id)).collect()),
    })
    .map_err(|e| Error::Other(format!("cannot encode the generation record: {e}")))?;
    progress.phase("writing the manifest");
    writer.finish_with_record(
        ManifestInfo {
            core_version: options.core_version.clone(),
            config: serde_json::json!({ "engine": options.engine_name, "domain": options.domain }),
            backup_type: backup_type.to_string(),
            backup_timestamp,
            snapshot_before: Some(snapshot_before),
            users: manifests.finish()?,
        },
        Some(record),
    )?;
    Ok(BackupReport {
        backup_type: backup_type.to_string(),
        users,
        incremental_users,
        unchanged_users,
        platform_entries,
        items,
        attachments,
        bytes,
        missing_attachments,
        clock_stepped_back,
        left_out,
        failed_users,
    })
}

/// A user of a generation as its record names it (see [`crate::chain::UserRecord`]); `None`
/// when its entry says nothing of when it was taken. (A consolidated backup records no
/// marks: the increments after it write whole.)
pub(crate) fn user_record(user: &UserManifest, snapshot_before: Option<f64>) -> Option<UserRecord> {
    Some(UserRecord {
        user: user_digest(&user.user_id),
        since: user_since(user, snapshot_before)?,
        series: Vec::new(),
        account: None,
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

/// Per user with a previous snapshot, the time after which its changes are exported (the
/// others go whole); none when this host's clock reads earlier than the previous snapshot.
fn since_times(
    users: &[UserRef],
    options: &BackupOptions,
    snapshot_before: f64,
) -> (HashMap<String, f64>, Option<ClockStep>) {
    let previous = options.previous.as_ref();
    let mut since: HashMap<String, f64> = users
        .iter()
        .filter_map(|u| {
            let t = previous?.since_of(&u.user_id)?;
            Some((u.user_id.clone(), t - options.clock_skew))
        })
        .collect();
    // Changes are found by their time: with a clock that went back, a window starting at
    // the previous snapshot would skip what was changed in between. Everyone goes whole.
    let clock_stepped_back = previous
        .and_then(|p| p.latest_snapshot)
        .filter(|&latest| snapshot_before < latest)
        .map(|latest| ClockStep {
            previous_snapshot: latest,
            snapshot: snapshot_before,
        });
    if clock_stepped_back.is_some() {
        // Reported (and recorded) by the caller: see [`BackupReport::clock_stepped_back`].
        since.clear();
    }
    (since, clock_stepped_back)
}

/// What a backup with `options` would export, found without writing anything (`backup
/// --dry-run`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupPlan {
    /// The users it would back up, in the index's order.
    pub users: Vec<UserRef>,
    /// How many of them would have only their changes exported (the others go whole).
    pub incremental_users: usize,
    /// Set when this host's clock reads earlier than the previous generation's snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_stepped_back: Option<ClockStep>,
}

/// The users [`run`] would back up and how: reads the users index, writes nothing.
pub fn plan(engine: &dyn Engine, options: &BackupOptions) -> Result<BackupPlan> {
    let users = select_users(engine.users()?, &options.users)?;
    let (since, clock_stepped_back) = since_times(&users, options, now_seconds());
    Ok(BackupPlan {
        incremental_users: since.len(),
        users,
        clock_stepped_back,
    })
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

/// Users a worker takes at once, at most: one snapshot and one query per table for all of
/// them (see [`Engine::export_users`]).
const BATCH_USERS: usize = 200;

/// What became of one user: what was backed up of it, `None` when deleted during the backup,
/// or why its data could not be read.
type Outcome = std::result::Result<Option<Exported>, Error>;

/// What a user written adds to the backup's manifest and report. Held for every user until
/// the manifest is written: the entry encoded, not parsed (~880 bytes a user so).
struct Written {
    entry: EncodedEntry,
    items: u64,
    attachments: u64,
    missing: Vec<MissingAttachment>,
}

/// A user backed up: written, or (in an increment, with nothing new) recorded only.
struct Exported {
    user_id: String,
    /// `None` for a user of an increment with nothing new: its record says where it stands,
    /// and the generations before hold all of it.
    written: Option<Written>,
    /// When its snapshot was taken (s): its next increment starts from there.
    since: f64,
    /// Its measurements' and account's marks for the generation record.
    series: Vec<SeriesMark>,
    account: Option<Sha256Hex>,
}

fn export_users(
    engine: &dyn Engine,
    writer: &ArchiveWriter,
    users: &[UserRef],
    options: &BackupOptions,
    since: &HashMap<String, f64>,
    progress: &dyn Progress,
    stored_bytes: &AtomicU64,
) -> Result<(Vec<Exported>, Vec<LeftOutUser>, Vec<FailedUser>)> {
    let batches = Batches::new(users.len(), options.jobs);
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(users.iter().map(|_| None).collect());
    let fatal: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    let export_options = |user: &UserRef| ExportOptions {
        window: ExportWindow {
            since: since.get(&user.user_id).copied(),
        },
        include_ephemeral: options.include_ephemeral,
    };
    // A user deleted meanwhile, or whose data cannot be read, is left out and the others go
    // on; a failure to write the backup, or a stop request, would fail every user: it stops
    // taking new ones.
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, users.len().max(1)) {
            scope.spawn(|| {
                while let Some(range) = batches.take() {
                    let stopped = crate::interrupt::requested().is_some() || lock(&fatal).is_some();
                    if stopped {
                        break;
                    }
                    let mut sink = BatchWriter {
                        writer,
                        users,
                        first: range.start,
                        clock_skew: options.clock_skew,
                        hook: options.hook.as_ref().map(|h| h.0.as_ref()),
                        progress,
                        taken_ms: 0,
                        current: None,
                        ended: 0,
                        outcomes: &outcomes,
                        stored_bytes,
                        previous: options.previous.as_ref(),
                        since,
                    };
                    let batch = &users[range.clone()];
                    match sink.run(engine, batch, &export_options) {
                        Ok(done) if done < batch.len() => {
                            batches.give_back(range.start + done..range.end)
                        }
                        Ok(_) => {}
                        Err((at, e)) => {
                            lock(&fatal).get_or_insert((at, e));
                        }
                    }
                }
            });
        }
    });
    // Asked to stop: the users started are finished (or undone), the others never began.
    crate::interrupt::check()?;
    if let Some((at, e)) = lock(&fatal).take() {
        let user = &users[at];
        return Err(Error::Other(format!(
            "backup of user {} ({}) failed: {e}",
            user.username, user.user_id
        )));
    }
    let outcomes = outcomes
        .into_inner()
        .map_err(|_| Error::Other("a worker thread panicked".into()))?;
    let mut exported = Vec::with_capacity(users.len());
    let mut left_out = Vec::new();
    let mut failed = Vec::new();
    for (user, outcome) in users.iter().zip(outcomes) {
        match outcome {
            Some(Ok(Some(user))) => exported.push(user),
            Some(Ok(None)) => {
                progress.note(&format!(
                    "left out {} ({}): {DELETED_DURING_BACKUP}",
                    user.username, user.user_id
                ));
                left_out.push(LeftOutUser {
                    user: user.clone(),
                    reason: DELETED_DURING_BACKUP.to_string(),
                });
            }
            Some(Err(e)) => failed.push(FailedUser {
                user_id: user.user_id.clone(),
                username: user.username.clone(),
                error: e.to_string(),
            }),
            // Not started because writing failed for another user first: that is reported.
            None => continue,
        }
    }
    Ok((exported, left_out, failed))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The users still to export, handed out a run of neighbours at a time: runs given back
/// (the users after a big one, see [`Engine::export_users`]) first, then the next ones,
/// fewer at a time towards the end so that every worker has some until the last.
struct Batches {
    state: Mutex<(usize, Vec<Range<usize>>)>,
    total: usize,
    jobs: usize,
}

impl Batches {
    fn new(total: usize, jobs: usize) -> Batches {
        Batches {
            state: Mutex::new((0, Vec::new())),
            total,
            jobs: jobs.max(1),
        }
    }

    fn take(&self) -> Option<Range<usize>> {
        let mut state = lock(&self.state);
        if let Some(range) = state.1.pop() {
            return Some(range);
        }
        let start = state.0;
        if start >= self.total {
            return None;
        }
        let size = ((self.total - start) / (2 * self.jobs)).clamp(1, BATCH_USERS);
        state.0 = start + size;
        Some(start..start + size)
    }

    fn give_back(&self, range: Range<usize>) {
        if !range.is_empty() {
            lock(&self.state).1.push(range);
        }
    }
}

/// Writes the users of one batch into the archive, one after the other, as the engine
/// exports them; records what became of each.
struct BatchWriter<'a> {
    writer: &'a ArchiveWriter,
    users: &'a [UserRef],
    /// Index in `users` of the batch's first user.
    first: usize,
    clock_skew: f64,
    hook: Option<&'a HookFn>,
    progress: &'a dyn Progress,
    /// When the batch's snapshot was not taken yet.
    taken_ms: u64,
    current: Option<UserExport<'a>>,
    /// Users of the batch ended so far.
    ended: usize,
    outcomes: &'a Mutex<Vec<Option<Outcome>>>,
    /// Bytes of the users' files as written, summed as each user ends.
    stored_bytes: &'a AtomicU64,
    previous: Option<&'a PreviousState>,
    /// The users of which only changes are exported (see [`since_times`]).
    since: &'a HashMap<String, f64>,
}

impl<'a> BatchWriter<'a> {
    /// Exports `batch` (starting at `self.first`); returns how many of its users were
    /// exported (the rest are given back), or the user whose failure stops the backup.
    fn run(
        &mut self,
        engine: &dyn Engine,
        batch: &[UserRef],
        options: &dyn Fn(&UserRef) -> ExportOptions,
    ) -> std::result::Result<usize, (usize, Error)> {
        let exported = engine.export_users(batch, options, self);
        let at = self.first + self.ended;
        match exported {
            Ok(done) => Ok(done),
            Err(e) if self.is_fatal(&e) => Err((at.min(self.users.len() - 1), e)),
            // The batch failed as a whole (no snapshot, a lost connection): the users it did
            // not end go one at a time, each failing or not on its own.
            Err(e) => {
                tracing::debug!("a batch of users failed ({e}): exporting them one at a time");
                self.current = None;
                for user in &batch[self.ended..] {
                    self.taken_ms = now_millis();
                    let at = self.first + self.ended;
                    let sink = self.begin(user).map_err(|e| (at, e))?;
                    let exported = engine.export_user(user, &options(user), sink);
                    self.end(user, exported).map_err(|e| (at, e))?;
                }
                Ok(batch.len())
            }
        }
    }

    /// Writes the user's manifest; returns its entry of the backup's manifest.
    fn finish_user(&self, writer: UserWriter, since: f64) -> Result<UserManifest> {
        let mut manifest = writer.finish()?;
        // The list stays in the user's own manifest (see `ArchiveWriter::finish`): held for
        // every user until the end, it was most of a backup's memory.
        let files = std::mem::take(&mut manifest.files);
        self.stored_bytes
            .fetch_add(files.iter().map(|f| f.size).sum(), Ordering::Relaxed);
        manifest
            .extra
            .insert(SNAPSHOT_TIME, crate::json::number_from_f64(since));
        // bin/backup.js's --incremental takes changes after a user's backupTimestamp: dated
        // before the snapshot (less the margin), a later run of it misses nothing.
        manifest.backup_timestamp = self
            .taken_ms
            .saturating_sub((self.clock_skew * 1000.0) as u64);
        Ok(manifest)
    }

    fn is_fatal(&self, e: &Error) -> bool {
        matches!(e, Error::Archive(_) | Error::Interrupted(_))
    }

    fn record(&self, at: usize, outcome: Outcome) {
        lock(self.outcomes)[at] = Some(outcome);
    }
}

impl<'a> BatchSink for BatchWriter<'a> {
    fn before_snapshot(&mut self, users: &[UserRef]) -> Result<()> {
        for user in users {
            if let Some(hook) = self.hook {
                hook(&BackupStep::BeforeUser(user));
            }
            crate::interrupt::pause_before_user(&user.username);
        }
        // Taken just before the engine opens the snapshot: nothing the snapshot misses was
        // changed before this time.
        self.taken_ms = now_millis();
        Ok(())
    }

    fn begin(&mut self, user: &UserRef) -> Result<&mut dyn UserSink> {
        self.progress.user_started(user);
        let writer = self.writer.open_user(user)?;
        // Exported whole (new, or the clock stepped back): every measurement goes whole, and
        // the account and profile are written.
        let previous = self
            .previous
            .filter(|_| self.since.contains_key(&user.user_id));
        let account_before = previous.and_then(|p| p.account_of(&user.user_id));
        let series_before = previous
            .map(|p| p.series_of(&user.user_id))
            .unwrap_or_default()
            .iter()
            .map(|m| (m.measurement.clone(), m.clone()))
            .collect();
        let export = self.current.insert(UserExport {
            writer,
            progress: self.progress,
            reported: 0,
            hook: self.hook,
            current: None,
            series_before,
            series_marks: Vec::new(),
            account: None,
            profile: Vec::new(),
            account_before,
        });
        Ok(export)
    }

    fn end(&mut self, user: &UserRef, exported: Result<()>) -> Result<()> {
        let at = self.first + self.ended;
        self.ended += 1;
        let export = self.current.take();
        let outcome = match (exported, export) {
            (Ok(()), Some(mut export)) => {
                let account = export.write_account_and_profile()?;
                export.report(0);
                let series = std::mem::take(&mut export.series_marks);
                let since = self.taken_ms as f64 / 1000.0;
                // Nothing new since the chain's last generation: no folder, only the record.
                let unchanged =
                    self.since.contains_key(&user.user_id) && export.writer.wrote_nothing();
                let written = if unchanged {
                    export.writer.discard_unwritten()?;
                    None
                } else {
                    let manifest = self.finish_user(export.writer, since)?;
                    Some(Written {
                        items: (manifest.stats.iter())
                            .filter(|(name, _)| *name != "attachments")
                            .map(|(_, n)| n)
                            .sum(),
                        attachments: manifest.stat("attachments"),
                        missing: missing_in(&manifest),
                        entry: EncodedEntry::new(manifest)?,
                    })
                };
                Ok(Some(Exported {
                    user_id: user.user_id.clone(),
                    written,
                    since,
                    series,
                    account,
                }))
            }
            (Err(Error::UserDeleted { .. }), export) => {
                if let Some(export) = export {
                    export.writer.discard_unwritten()?;
                }
                Ok(None)
            }
            (Err(e), _) if self.is_fatal(&e) => return Err(e),
            (Err(e), _) => {
                // Its partial files would otherwise be read as the user's data.
                self.writer.discard_user(user)?;
                Err(e)
            }
            (Ok(()), None) => Err(Error::Other("the user's export never began".into())),
        };
        // A user cut short by a stop request did not fail: the run's stop message says so.
        if outcome.is_ok() || crate::interrupt::requested().is_none() {
            self.progress.user_finished(user, outcome.is_ok());
        }
        self.record(at, outcome);
        Ok(())
    }
}

fn now_seconds() -> f64 {
    now_millis() as f64 / 1000.0
}
