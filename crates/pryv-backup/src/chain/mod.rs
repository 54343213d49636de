//! A backup directory and its increments ("generations"), read as one state.
//!
//! Format extension (see docs/archive-format.md): the directory's own `manifest.json` is the
//! base backup, untouched and readable by bin/backup.js. Each incremental run writes a
//! complete format-v1 archive of what changed into `increments/NNNN/` beside it; a
//! generation without its `manifest.json` that no later one was made after is a crashed
//! run's leftover, ignored; each generation's record (`chain.json`, see [`record`]) names
//! the one before it, so a lost generation is an error, by name. Reading the chain
//! yields the latest state: for each item id, the version of the newest generation holding
//! it (deletions travel as the core's tombstones, `deleted` set). History versions of an
//! event deleted in a later generation are left out, as the core's default deletion mode
//! erases them (with the opt-in `keep-everything` mode the source keeps them: a chain
//! restore then lacks them rather than resurrect what may have been erased).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::archive::{
    ArchiveError, ArchiveReader, Backend, Manifest, UserEntriesBuilder, UserReader,
};
use crate::engine::{as_texts, ItemIter, TextIter, UserSource};
use crate::model::{Collection, Item, UserRef};
use crate::series_append;
use crate::{Error, Result};

mod record;
mod since;

pub use record::{
    check_increment_sealing, relink_clear_copy, user_digest, ChainIndex, ClockStep,
    EncryptionRecord, GenerationInfo, GenerationRecord, PreviousLink, PreviousState, Sha256Hex,
    UserRecord, BASE_NAME, RECORD_VERSION,
};
pub use since::SNAPSHOT_TIME;
pub(crate) use since::{changes_since_ms, user_since};

pub const INCREMENTS_DIR: &str = "increments";

/// Opens one generation directory (the caller knows the secrets).
pub type Opener<'a> = dyn Fn(&Path) -> std::result::Result<ArchiveReader, String> + 'a;

/// When each generation of `index` was written (ms): from its clear record, else from its
/// manifest (a generation written before records existed, which needs the key when encrypted).
pub fn generation_times(index: &ChainIndex, open: &Opener<'_>) -> Result<Vec<u64>> {
    index
        .generations
        .iter()
        .map(|g| match &g.record {
            Some(r) => Ok(r.backup_timestamp),
            None => open(&g.dir)
                .map(|reader| reader.manifest().backup_timestamp)
                .map_err(|e| Error::Other(format!("{}: {e}", g.label()))),
        })
        .collect()
}

/// The complete backup directly inside `root` whose newest generation was written last, by
/// the generations' records, never by folder name (`lost+found` or a renamed folder sorts
/// anywhere). Folders without a `manifest.json` are no complete backup and are passed over;
/// one whose chain cannot be read is an error naming it, as it would be for a restore.
pub fn newest_backup_in(
    backend: &Backend,
    root: &Path,
    open: &Opener<'_>,
) -> Result<Option<PathBuf>> {
    let mut newest: Option<(u64, PathBuf)> = None;
    for name in backend.list_dirs(root)? {
        let dir = root.join(&name);
        let Some(index) = ChainIndex::open(backend, &dir)? else {
            continue;
        };
        let written = generation_times(&index, open)?
            .into_iter()
            .max()
            .unwrap_or(0);
        if newest.as_ref().is_none_or(|(time, _)| written > *time) {
            newest = Some((written, dir));
        }
    }
    Ok(newest.map(|(_, dir)| dir))
}

pub struct Chain {
    backend: Backend,
    dir: PathBuf,
    index: ChainIndex,
    /// Base first, then increments in sequence order (as `index.generations`).
    generations: Vec<ArchiveReader>,
    /// [`Chain::present_users`], computed once (a restore asks it for every user); reset
    /// when generations are dropped.
    present: OnceLock<Option<HashSet<Sha256Hex>>>,
}

impl Chain {
    /// `None` when `dir` holds no complete base backup (no `manifest.json`). A generation
    /// that is lost, unreadable, out of place or sealed otherwise than the base is an error
    /// naming it (see [`ChainIndex::open`]).
    pub fn open(backend: &Backend, dir: &Path, open: &Opener<'_>) -> Result<Option<Chain>> {
        let Some(index) = ChainIndex::open(backend, dir)? else {
            return Ok(None);
        };
        let mut generations = Vec::with_capacity(index.generations.len());
        for g in &index.generations {
            let mut reader =
                open(&g.dir).map_err(|e| Error::Other(format!("{}: {e}", g.label())))?;
            check_sealed_record(g, reader.take_record())?;
            generations.push(reader);
        }
        Ok(Some(Chain {
            backend: backend.clone(),
            dir: dir.to_path_buf(),
            index,
            generations,
            present: OnceLock::new(),
        }))
    }

    /// Refuses a folder that is one increment of a backup, opened on its own: it holds only
    /// what changed since the generation before it (users with nothing new not at all, a
    /// series as its new points), so what it would restore is not the users' data.
    pub fn refuse_lone_increment(&self) -> Result<()> {
        let base = &self.index.generations[0];
        match base
            .record
            .as_ref()
            .and_then(|r| r.previous.as_ref().map(|_| r.sequence))
        {
            None => Ok(()),
            Some(sequence) => Err(Error::Other(format!(
                "{} is increment {sequence:04} of a backup, not a backup: it holds only what \
                 changed since the generation before it. Give the backup's own folder (the one \
                 holding `increments/`) to restore its latest state, with --as-of for this one's",
                self.dir.display()
            ))),
        }
    }

    /// The chain as its clear files show it.
    pub fn index(&self) -> &ChainIndex {
        &self.index
    }

    /// Keeps only the generations written at or before `time_ms` (the base always stays):
    /// the first ones in sequence order, so that a generation dated earlier by a clock
    /// stepped back never brings in a later one without those before it.
    pub fn as_of(mut self, time_ms: u64) -> Result<Chain> {
        let base_time = self.generations[0].manifest().backup_timestamp;
        if base_time > time_ms {
            return Err(Error::Other(format!(
                "the base backup was written at {base_time} ms, after the requested time {time_ms} ms"
            )));
        }
        let keep = self
            .generations
            .iter()
            .take_while(|g| g.manifest().backup_timestamp <= time_ms)
            .count();
        self.generations.truncate(keep);
        self.index.generations.truncate(keep);
        self.present = OnceLock::new();
        Ok(self)
    }

    /// Keeps the generations up to the one named `name` (the base: `.` or `base`; an
    /// increment: `increments/0001` or `0001`), as they were once it was written.
    pub fn up_to(mut self, name: &str) -> Result<Chain> {
        let wanted = match name.trim_end_matches('/') {
            "base" | BASE_NAME => BASE_NAME.to_string(),
            n if n.starts_with(INCREMENTS_DIR) => n.to_string(),
            n => format!("{INCREMENTS_DIR}/{n}"),
        };
        let Some(at) = self.index.generations.iter().position(|g| g.name == wanted) else {
            let names: Vec<&str> = self
                .index
                .generations
                .iter()
                .skip(1)
                .map(|g| g.name.as_str())
                .collect();
            return Err(Error::Other(format!(
                "{} has no generation {name} (it has the base{}{})",
                self.dir.display(),
                if names.is_empty() { "" } else { " and " },
                names.join(", ")
            )));
        };
        self.generations.truncate(at + 1);
        self.index.generations.truncate(at + 1);
        self.present = OnceLock::new();
        Ok(self)
    }

    /// What the next increment starts from: the records when every generation has one,
    /// else the manifests (chains written before records existed).
    pub fn previous_state(&self) -> Result<PreviousState> {
        if let Some(state) = self.index.state_from_records() {
            return Ok(state);
        }
        let (sequence, link) = self.index.next_link();
        let mut state = PreviousState {
            sequence,
            previous: Some(link),
            ..Default::default()
        };
        for g in &self.generations {
            let m = g.manifest();
            for u in m.users.iter() {
                let u = u?;
                if let Some(since) = user_since(&u, m.snapshot_before) {
                    state.since.insert(user_digest(&u.user_id), since);
                }
            }
            state.latest_snapshot = m.snapshot_before.or(state.latest_snapshot);
        }
        let newest_user = state.since.values().copied().reduce(f64::max);
        state.latest_snapshot = match (state.latest_snapshot, newest_user) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Ok(state)
    }

    /// The folder (or S3 prefix) of the base backup.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn generation_count(&self) -> usize {
        self.generations.len()
    }

    /// The [`user_digest`]s of the users the latest state holds, when a generation records
    /// its install's users: the newest such set, plus the users of the generations after it
    /// (runs of chosen users, which may add a user but say nothing of the others). `None`
    /// when no generation records a set: every user of any generation is then held.
    fn present_users(&self) -> Option<&HashSet<Sha256Hex>> {
        self.present
            .get_or_init(|| self.read_present_users())
            .as_ref()
    }

    fn read_present_users(&self) -> Option<HashSet<Sha256Hex>> {
        let newest = self
            .index
            .generations
            .iter()
            .rposition(|g| g.record.as_ref().is_some_and(|r| r.install_users.is_some()))?;
        let mut present: HashSet<Sha256Hex> = self.index.generations[newest]
            .record
            .as_ref()
            .and_then(|r| r.install_users.as_ref())
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for g in &self.generations[newest + 1..] {
            present.extend(g.manifest().users.ids().map(|(id, _)| user_digest(id)));
        }
        Some(present)
    }

    /// Every user of the latest state (a user deleted from the install before the newest
    /// generation recording its users is not), in the order first seen.
    pub fn users(&self) -> Vec<UserRef> {
        let present = self.present_users();
        let mut seen = HashMap::new();
        let mut users = Vec::new();
        for g in &self.generations {
            for (user_id, username) in g.manifest().users.ids() {
                if !is_present(present, user_id) {
                    continue;
                }
                if seen.insert(user_id, ()).is_none() {
                    users.push(UserRef {
                        user_id: user_id.to_string(),
                        username: username.to_string(),
                    });
                }
            }
        }
        users
    }

    /// The users older generations hold that the latest state does not (deleted from the
    /// install), each with the `backupTimestamp` (ms) of the newest generation holding it:
    /// what `forget` can remove from the backups.
    pub fn deleted_users(&self) -> Vec<(UserRef, u64)> {
        let Some(present) = self.present_users() else {
            return Vec::new();
        };
        let mut deleted: Vec<(UserRef, u64)> = Vec::new();
        for g in &self.generations {
            let time = g.manifest().backup_timestamp;
            for (user_id, username) in g.manifest().users.ids() {
                if present.contains(&user_digest(user_id)) {
                    continue;
                }
                match deleted.iter_mut().find(|(d, _)| d.user_id == user_id) {
                    Some((_, last)) => *last = time,
                    None => deleted.push((
                        UserRef {
                            user_id: user_id.to_string(),
                            username: username.to_string(),
                        },
                        time,
                    )),
                }
            }
        }
        deleted
    }

    /// How many items the generations hold for each user, by userId (an item changed in
    /// several generations counts once in each): what restoring the user reads.
    pub fn item_counts(&self) -> Result<HashMap<&str, u64>> {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for users in self.generations.iter().map(|g| &g.manifest().users) {
            for at in 0..users.len() {
                let user = users.get(at)?;
                let items: u64 = user
                    .stats
                    .iter()
                    .filter(|(name, _)| *name != "attachments")
                    .map(|(_, n)| n)
                    .sum();
                *counts.entry(users.user_id(at)).or_default() += items;
            }
        }
        Ok(counts)
    }

    /// The latest state of one user, across generations.
    pub fn user_source(&self, user_id: &str) -> Result<ChainUser> {
        if !is_present(self.present_users(), user_id) {
            return Err(Error::Other(format!(
                "user {user_id} was deleted from the install before the latest generation of \
                 this backup (restore --as-of a time before its deletion to get it back)"
            )));
        }
        let mut readers = Vec::new();
        for g in &self.generations {
            if g.has_user(user_id) {
                readers.push(g.user(user_id)?);
            }
        }
        if readers.is_empty() {
            return Err(Error::Other(format!(
                "user {user_id} is not in this backup"
            )));
        }
        Ok(ChainUser { readers })
    }

    /// Every file the backup's manifests account for, in every generation: manifests,
    /// envelope, platform files, each user's manifest, chunks, account and attachments.
    /// Deleting a backup removes these and nothing else.
    pub fn listed_files(&self) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for g in 0..self.generations.len() {
            files.extend(self.generation_files(g)?);
        }
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// The folder of generation `index` (0 is the base) and when it was written (ms).
    pub fn generation(&self, index: usize) -> Option<(&Path, u64)> {
        let g = self.generations.get(index)?;
        Some((g.root(), g.manifest().backup_timestamp))
    }

    /// The files generation `index` accounts for (see [`Chain::listed_files`]).
    pub fn generation_files(&self, index: usize) -> Result<Vec<PathBuf>> {
        match self.generations.get(index) {
            Some(g) => listed_files_of(g),
            None => Ok(Vec::new()),
        }
    }

    /// Platform entries of the newest generation (each holds a complete platform export).
    pub fn platform_items(
        &self,
    ) -> Result<Box<dyn Iterator<Item = std::result::Result<Item, ArchiveError>> + Send + '_>> {
        let newest = self.generations.last().unwrap_or(&self.generations[0]);
        Ok(newest.platform_items()?)
    }

    /// The chain's latest state as one manifest: for each user, the time up to which the
    /// newest generation holding it is complete (its cutoff, see
    /// [`changes_since_ms`]), as that user's `backupTimestamp`. The result's
    /// `snapshotBefore` is cleared: the cutoffs are already applied, generation by generation.
    pub fn latest_state(&self) -> Result<Manifest> {
        let present = self.present_users();
        /// A user of the latest state: where it is first listed, and what newer generations
        /// holding it change of that entry.
        struct Latest {
            generation: usize,
            entry: usize,
            backup_timestamp: u64,
            snapshot_time: Option<serde_json::Value>,
        }
        let mut latest: Vec<Latest> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (generation, g) in self.generations.iter().enumerate() {
            let m = g.manifest();
            for entry in 0..m.users.len() {
                let user_id = m.users.user_id(entry);
                if !is_present(present, user_id) {
                    continue;
                }
                let u = m.users.get(entry)?;
                // The newest generation's, even if dated earlier (a clock stepped back).
                let backup_timestamp = changes_since_ms(u.backup_timestamp, m.snapshot_before);
                match seen.get(user_id) {
                    Some(&at) => {
                        latest[at].backup_timestamp = backup_timestamp;
                        // A later generation's snapshot is the newer one: the next increment
                        // starts from it, not from the base's.
                        if let Some(t) = u.extra.get(SNAPSHOT_TIME) {
                            latest[at].snapshot_time = Some(t.clone());
                        }
                    }
                    None => {
                        seen.insert(user_id, latest.len());
                        latest.push(Latest {
                            generation,
                            entry,
                            backup_timestamp,
                            snapshot_time: None,
                        });
                    }
                }
            }
        }
        let mut users = UserEntriesBuilder::new();
        for l in latest {
            let mut u = self.generations[l.generation]
                .manifest()
                .users
                .get(l.entry)?;
            u.backup_timestamp = l.backup_timestamp;
            if let Some(t) = l.snapshot_time {
                u.extra.insert(SNAPSHOT_TIME, t);
            }
            users.push(u)?;
        }
        let mut state = self.generations[0].manifest().clone();
        state.users = users.finish()?;
        state.snapshot_before = None;
        Ok(state)
    }

    /// Where the next increment goes: `increments/NNNN` after the highest existing number
    /// (incomplete ones included, so a failed run is never overwritten).
    pub fn next_generation_dir(&self) -> Result<PathBuf> {
        next_generation_dir(&self.backend, &self.dir)
    }

    /// The manifest of generation `index` (0 is the base).
    pub fn generation_manifest(&self, index: usize) -> Option<&Manifest> {
        self.generations.get(index).map(ArchiveReader::manifest)
    }
}

/// Whether the latest state holds `user_id`, given [`Chain::present_users`].
fn is_present(present: Option<&HashSet<Sha256Hex>>, user_id: &str) -> bool {
    present.is_none_or(|p| p.contains(&user_digest(user_id)))
}

/// Every file one generation's manifests account for: manifests, envelope, record,
/// platform files, each user's manifest, chunks, account and attachments.
pub fn listed_files_of(g: &ArchiveReader) -> Result<Vec<PathBuf>> {
    use crate::archive::layout;
    let mut files = Vec::new();
    let root = g.root();
    let compressed = g.manifest().compressed;
    files.push(root.join(layout::MANIFEST));
    files.push(root.join(layout::ENVELOPE));
    files.push(root.join(layout::CHAIN_RECORD));

    files.push(
        root.join(layout::PLATFORM_DIR)
            .join(layout::jsonl_name("platform", compressed)),
    );
    files.push(
        root.join(layout::REGISTER_DIR)
            .join(layout::jsonl_name("servers", compressed)),
    );
    for (user_id, _) in g.manifest().users.ids() {
        let user = match g.user(user_id) {
            Ok(user) => user,
            // A user manifest that does not prove out lists nothing to trust: the user's
            // folder is the layout's, and what it holds is the user's.
            Err(ArchiveError::Corrupt { .. }) => {
                walk_files(g.backend(), &layout::user_dir(root, user_id)?, &mut files)?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let dir = user.dir().to_path_buf();
        files.push(dir.join(layout::USER_MANIFEST));
        files.push(dir.join(layout::jsonl_name(layout::ACCOUNT, compressed)));
        for collection in Collection::ALL {
            files.extend(
                user.collection_files(collection)?
                    .into_iter()
                    .map(|(p, _)| p),
            );
        }
        for id in user.attachment_ids()? {
            files.push(dir.join(layout::ATTACHMENTS_DIR).join(id));
        }
        files.extend(user.manifest().files.iter().map(|f| dir.join(&f.path)));
    }
    files.extend(g.manifest().files.iter().map(|f| root.join(&f.path)));
    files.sort();
    files.dedup();
    Ok(files)
}

/// The files of one generation's layout, found by listing its folders rather than read
/// from its (sealed) manifests: its root files of the format and everything under `users/`,
/// `platform/` and `register/`. For removing a generation whose manifests cannot be opened.
pub fn layout_files(backend: &Backend, root: &Path) -> Result<Vec<PathBuf>> {
    use crate::archive::layout;
    let mut files: Vec<PathBuf> = [layout::MANIFEST, layout::ENVELOPE, layout::CHAIN_RECORD]
        .iter()
        .map(|f| root.join(f))
        .collect();
    for dir in [
        layout::USERS_DIR,
        layout::PLATFORM_DIR,
        layout::REGISTER_DIR,
    ] {
        walk_files(backend, &root.join(dir), &mut files)?;
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Every file under `dir`, found by listing it.
fn walk_files(backend: &Backend, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    files.extend(backend.list_files(dir)?.into_iter().map(|f| dir.join(f)));
    for sub in backend.list_dirs(dir)? {
        walk_files(backend, &dir.join(sub), files)?;
    }
    Ok(())
}

/// A generation's clear record must be the one sealed in its manifest (when either exists).
fn check_sealed_record(
    g: &GenerationInfo,
    sealed: Option<Box<serde_json::value::RawValue>>,
) -> Result<()> {
    let sealed = match sealed {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<GenerationRecord>(text.get()).map_err(|e| {
                Error::Other(format!(
                    "{}: the record in its manifest.json cannot be read ({e})",
                    g.label()
                ))
            })?,
        ),
    };
    if sealed != g.record {
        let what = match (&sealed, &g.record) {
            (Some(_), None) => "its chain.json is missing",
            (None, Some(_)) => "its chain.json was not written with its manifest (planted)",
            _ => "its chain.json differs from the record in its manifest (altered)",
        };
        return Err(Error::Other(format!(
            "{}: {what}; put the original back from a copy",
            g.label()
        )));
    }
    Ok(())
}

/// Where the next increment of the backup in `dir` goes: `increments/NNNN` after the
/// highest existing number (incomplete ones included, so a failed run is never overwritten).
pub fn next_generation_dir(backend: &Backend, dir: &Path) -> Result<PathBuf> {
    use crate::archive::layout::{IN_PROGRESS, MANIFEST};
    let dirs = increment_dirs(backend, dir)?;
    // The newest increment left unfinished by a run of this tool (its marker, no manifest)
    // is taken again: the writer replaces it, as it replaces an unfinished base, rather than
    // a new folder being made beside it on every run after an interrupted one.
    if let Some(newest) = dirs.last() {
        if !backend.is_file(&newest.join(MANIFEST))?
            && backend.is_file(&newest.join(IN_PROGRESS))?
        {
            return Ok(newest.clone());
        }
    }
    let last = dirs
        .iter()
        .filter_map(|d| d.file_name()?.to_str()?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    Ok(dir.join(INCREMENTS_DIR).join(format!("{:04}", last + 1)))
}

/// Increment directories (complete or not), sorted by their number.
pub fn increment_dirs(backend: &Backend, dir: &Path) -> Result<Vec<PathBuf>> {
    let root = dir.join(INCREMENTS_DIR);
    let mut dirs: Vec<(u32, PathBuf)> = backend
        .list_dirs(&root)?
        .into_iter()
        .filter_map(|name| Some((name.parse::<u32>().ok()?, root.join(name))))
        .collect();
    dirs.sort();
    Ok(dirs.into_iter().map(|(_, p)| p).collect())
}

/// The field whose value identifies an item of `collection` across generations.
pub(crate) fn id_field(collection: Collection) -> &'static str {
    match collection {
        Collection::Series => "measurement",
        Collection::Audit => "eventid",
        _ => "id",
    }
}

/// The key that identifies an item across generations.
fn item_key(collection: Collection, item: &Item) -> Option<String> {
    item.get(id_field(collection)).map(|v| v.to_string())
}

/// New points of a series (an append item) that no older generation of the user holds the
/// series for: an error, never taken for the series nor dropped.
fn points_following_nothing(measurement: &dyn std::fmt::Display) -> Error {
    Error::Damaged(format!(
        "series {measurement}: an increment adds points to it, but no generation before holds \
         it (restore the whole backup folder, not one of its increments alone)"
    ))
}

/// An event tombstone: `deleted` set on a head (not a history version).
fn is_deleted_head(item: &Item) -> bool {
    item.get("deleted").is_some_and(|d| !d.is_null())
        && item.get("headId").is_none_or(|h| h.is_null())
}

/// One user's latest state: base items not superseded, then each increment's items that
/// no later increment supersedes. Memory holds only the increments' keys.
pub struct ChainUser {
    readers: Vec<UserReader>,
}

impl ChainUser {
    /// Checks the user's files in every generation (see [`UserReader::check`]); the error
    /// names each damaged file, or the store that became unreachable.
    pub fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        for reader in &self.readers {
            for p in reader.check()? {
                problems.push(format!("{}: {}", p.path, p.problems.join("; ")));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(Error::Damaged(problems.join(" | ")))
    }

    /// The file ids of the attachments the user's generations hold (listed, not read).
    pub fn attachment_ids(&self) -> Result<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        for reader in &self.readers {
            ids.extend(reader.attachment_ids()?);
        }
        Ok(ids)
    }
}

impl UserSource for ChainUser {
    fn items(&self, collection: Collection) -> Result<ItemIter<'_>> {
        if self.readers.len() == 1 {
            return Ok(Box::new(self.readers[0].items(collection)?.map(|r| {
                let item = r?;
                match series_append::append_target(&item) {
                    Some((to, _)) => Err(points_following_nothing(to)),
                    None => Ok(item),
                }
            })));
        }
        // key → newest generation holding it, over the increments only (they are small);
        // and event key → newest generation where that event is a tombstone; and series
        // key → the points added after its newest generation, in order.
        let mut newest: HashMap<String, usize> = HashMap::new();
        let mut deleted_in: HashMap<String, usize> = HashMap::new();
        let mut appended: HashMap<String, Vec<Item>> = HashMap::new();
        for (g, reader) in self.readers.iter().enumerate().skip(1) {
            for item in reader.items(collection)? {
                let item = item?;
                if let Some((to, _)) = series_append::append_target(&item) {
                    appended.entry(to.to_string()).or_default().push(item);
                    continue;
                }
                if let Some(key) = item_key(collection, &item) {
                    appended.remove(&key);
                    if collection == Collection::Events && is_deleted_head(&item) {
                        deleted_in.insert(key.clone(), g);
                    }
                    newest.insert(key, g);
                }
            }
        }
        let newest = std::rc::Rc::new(newest);
        let deleted_in = std::rc::Rc::new(deleted_in);
        let appended = std::rc::Rc::new(std::cell::RefCell::new(appended));
        let mut parts: Vec<ItemIter<'_>> = Vec::with_capacity(self.readers.len() + 1);
        for (g, reader) in self.readers.iter().enumerate() {
            let (newest, deleted_in) = (newest.clone(), deleted_in.clone());
            let appended = appended.clone();
            let items = reader.items(collection)?.filter_map(move |r| match r {
                Err(e) => Some(Err(Error::from(e))),
                // Put onto the measurement it extends, below; the user's oldest generation
                // has nothing before it (the first pass reads the increments only).
                Ok(item) if series_append::append_target(&item).is_some() => {
                    (g == 0).then(|| Err(points_following_nothing(&item[series_append::APPEND_TO])))
                }
                Ok(mut item) => {
                    let superseded = item_key(collection, &item)
                        .and_then(|key| newest.get(&key).copied())
                        .is_some_and(|n| n != g);
                    // The core erases the history of an event it deletes (default
                    // `keep-nothing` mode): versions an older generation holds of an event
                    // deleted later must not come back.
                    let head_deleted_later = collection == Collection::Events
                        && item
                            .get("headId")
                            .filter(|h| !h.is_null())
                            .and_then(|h| deleted_in.get(&h.to_string()))
                            .is_some_and(|&d| d > g);
                    if superseded || head_deleted_later {
                        return None;
                    }
                    let appends = item_key(collection, &item)
                        .and_then(|key| appended.borrow_mut().remove(&key));
                    for append in appends.iter().flatten() {
                        if let Err(e) = series_append::append_points(&mut item, append) {
                            return Some(Err(Error::Damaged(format!(
                                "series {}: {e}",
                                item_key(collection, &item).unwrap_or_default()
                            ))));
                        }
                    }
                    Some(Ok(item))
                }
            });
            parts.push(Box::new(items));
        }
        // Points added to a measurement no generation before holds: never silently dropped.
        let mut checked = false;
        parts.push(Box::new(std::iter::from_fn(move || {
            if std::mem::replace(&mut checked, true) {
                return None;
            }
            let appended = appended.borrow();
            let orphan = appended.keys().next()?;
            Some(Err(points_following_nothing(orphan)))
        })));
        Ok(Box::new(parts.into_iter().flatten()))
    }

    fn texts(&self, collection: Collection) -> Result<TextIter<'_>> {
        match self.readers.as_slice() {
            // Series are read as items: an increment's new points must not pass for a series.
            [only] if collection != Collection::Series => Ok(Box::new(
                only.texts(collection)?.map(|r| r.map_err(Error::from)),
            )),
            // Generations are merged on parsed items.
            _ => Ok(as_texts(self.items(collection)?)),
        }
    }

    fn account(&self) -> Result<Option<Item>> {
        for reader in self.readers.iter().rev() {
            if let Some(account) = reader.account()? {
                return Ok(Some(account));
            }
        }
        Ok(None)
    }

    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn Read + '_>>> {
        for reader in self.readers.iter().rev() {
            if let Some(data) = reader.attachment(file_id)? {
                return Ok(Some(data));
            }
        }
        Ok(None)
    }
}
