//! Writing a backup directory: see docs/archive-format.md for the layout.
//!
//! Items are streamed into the current file as they arrive; a chunk file of events or audit
//! is closed once the raw (pre-gzip) bytes written to it reach `max_chunk_size`, so memory
//! stays bounded by a few buffers whatever the size of a user.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::layout::{
    self, ACCOUNT, ATTACHMENTS_DIR, CHAIN_RECORD, ENVELOPE, IN_PROGRESS, MANIFEST, PLATFORM_DIR,
    USERS_DIR, USER_MANIFEST,
};
use super::manifest::{
    FileEntry, Manifest, ManifestInfo, SmallMap, UserManifest, WriterInfo, FORMAT_VERSION,
};
use super::output::{
    ensure_dir, remove_stale_temp_files, sync_filesystem, write_file, write_file_durable,
    OutputFile,
};
use super::{ArchiveError, Backend, FileSealer};
use crate::model::{Collection, Item, UserRef};

pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 50 * 1024 * 1024;

#[derive(Clone)]
pub struct WriterOptions {
    /// gzip every JSONL file (`.jsonl.gz`).
    pub compress: bool,
    /// Raw (pre-gzip) bytes after which an events/audit chunk file is closed.
    pub max_chunk_size: u64,
    /// Seals every file (after gzip) when set; see [`FileSealer`].
    pub sealer: Option<Arc<dyn FileSealer>>,
    /// Where the files go (the local filesystem unless set).
    pub backend: Backend,
    /// Writes the single-file collections a user has none of as empty files: the file set
    /// bin/backup.js writes for every user. An increment leaves them out, as both readers
    /// read a missing one as empty and most of an increment's users change in few of them.
    pub empty_files: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compress: true,
            max_chunk_size: DEFAULT_MAX_CHUNK_SIZE,
            sealer: None,
            backend: Backend::Local,
            empty_files: true,
        }
    }
}

struct Shared {
    root: PathBuf,
    options: WriterOptions,
    /// Root-level files written so far (platform data, user manifests).
    files: Mutex<Vec<FileEntry>>,
    opened_users: Mutex<HashSet<String>>,
    platform_opened: Mutex<bool>,
    /// The `users` folder exists: each user's writer need not make sure of it again.
    users_dir_made: AtomicBool,
}

impl Shared {
    fn record(&self, entry: FileEntry) {
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }
}

/// Writes one backup directory. Users may be written from several threads at once.
pub struct ArchiveWriter {
    shared: Arc<Shared>,
    replaced_unfinished: bool,
}

impl ArchiveWriter {
    /// Creates the directory if needed; refuses one that already holds a finished backup.
    pub fn create(dir: &Path, options: WriterOptions) -> Result<ArchiveWriter, ArchiveError> {
        let backend = &options.backend;
        if backend.is_file(&dir.join(MANIFEST))? {
            return Err(ArchiveError::Invalid(format!(
                "{} already holds a backup (it has a {MANIFEST}): choose an empty directory",
                dir.display()
            )));
        }
        // Temporary files of a run killed outright: never part of anything.
        let mut stale = remove_stale_temp_files(backend, dir, false)?;
        for ours in [USERS_DIR, PLATFORM_DIR] {
            stale += remove_stale_temp_files(backend, &dir.join(ours), true)?;
        }
        if stale > 0 {
            tracing::info!(
                "removed {stale} temporary files a killed run left in {}",
                dir.display()
            );
        }
        if options.max_chunk_size == 0 {
            return Err(ArchiveError::Invalid(
                "the maximum chunk size must be at least 1 byte".into(),
            ));
        }
        let marker = dir.join(IN_PROGRESS);
        // The output is locked by now, so the run that wrote a marker is over: what it left
        // is unfinished and is replaced whole (leftovers would mix with this run's files, as
        // the reference reader lists chunk folders rather than trusting the manifest).
        let replaced_unfinished = backend.is_file(&marker)?;
        if replaced_unfinished {
            for leftover in [USERS_DIR, PLATFORM_DIR] {
                if backend.has_files_under(&dir.join(leftover))? {
                    backend.remove_tree(&dir.join(leftover))?;
                }
            }
            backend.remove_listed(dir, &[dir.join(ENVELOPE)])?;
        } else {
            // Files this tool cannot tell as its own are never removed.
            for leftover in [USERS_DIR, PLATFORM_DIR] {
                if backend.has_files_under(&dir.join(leftover))? {
                    return Err(ArchiveError::Invalid(format!(
                        "{} holds files in {leftover}/ that no unfinished pryv-backup run marked as its own \
                         (there is no {IN_PROGRESS}): they are left alone; choose an empty \
                         directory, or move them away",
                        dir.display()
                    )));
                }
            }
        }
        ensure_dir(backend, dir)?;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        write_file_durable(
            backend,
            &marker,
            format!(
                "pryv-backup run {} started at {started} (Unix time): unfinished until manifest.json is written\n",
                std::process::id()
            )
            .as_bytes(),
            None,
            IN_PROGRESS.to_string(),
        )?;
        if let Some(sealer) = &options.sealer {
            // The envelope stays in the clear: restore needs it to know how to open the rest.
            let text = serde_json::to_vec_pretty(&sealer.envelope()).map_err(|e| {
                ArchiveError::Invalid(format!("cannot encode the encryption envelope: {e}"))
            })?;
            write_file(
                backend,
                &dir.join(ENVELOPE),
                &text,
                None,
                ENVELOPE.to_string(),
            )?;
        }
        Ok(ArchiveWriter {
            shared: Arc::new(Shared {
                root: dir.to_path_buf(),
                options,
                files: Mutex::new(Vec::new()),
                opened_users: Mutex::new(HashSet::new()),
                platform_opened: Mutex::new(false),
                users_dir_made: AtomicBool::new(false),
            }),
            replaced_unfinished,
        })
    }

    /// Whether this run removed the unfinished output of an earlier run to write anew.
    pub fn replaced_unfinished(&self) -> bool {
        self.replaced_unfinished
    }

    pub fn open_user(&self, user: &UserRef) -> Result<UserWriter, ArchiveError> {
        let dir = layout::user_dir(&self.shared.root, &user.user_id)?;
        let first = self
            .shared
            .opened_users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.user_id.clone());
        if !first {
            return Err(ArchiveError::Invalid(format!(
                "user {} ({}) is already being written to this backup",
                user.username, user.user_id
            )));
        }
        let backend = &self.shared.options.backend;
        if !self.shared.users_dir_made.load(Ordering::Acquire) {
            ensure_dir(backend, &self.shared.root.join(USERS_DIR))?;
            self.shared.users_dir_made.store(true, Ordering::Release);
        }
        // The user's folder is made with its first file: an increment leaves a user with
        // nothing new out, and making then removing its folder cost two system calls and,
        // on a filesystem mounted with `discard`, a synchronous discard per user.
        Ok(UserWriter {
            shared: Arc::clone(&self.shared),
            user: user.clone(),
            made_dirs: Vec::new(),
            folder_made: false,
            dir,
            current: None,
            done: HashSet::new(),
            stats: IndexMap::new(),
            chunks: IndexMap::new(),
            files: Vec::new(),
            account_written: false,
            missing_attachments: Vec::new(),
            bytes_written: 0,
        })
    }

    /// Removes what was written of a user left out of the backup (its writer dropped): no
    /// reader then takes partial files for the user's data.
    pub fn discard_user(&self, user: &UserRef) -> Result<(), ArchiveError> {
        let dir = layout::user_dir(&self.shared.root, &user.user_id)?;
        let backend = &self.shared.options.backend;
        if backend.has_files_under(&dir)? {
            backend.remove_tree(&dir)?;
        }
        backend.remove_empty_dir(&dir);
        Ok(())
    }

    /// `platform/platform.jsonl[.gz]`.
    pub fn platform_writer(&self) -> Result<JsonlWriter, ArchiveError> {
        let mut opened = self
            .shared
            .platform_opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if std::mem::replace(&mut *opened, true) {
            return Err(ArchiveError::Invalid(
                "platform data is already being written to this backup".into(),
            ));
        }
        let dir = self.shared.root.join(PLATFORM_DIR);
        ensure_dir(&self.shared.options.backend, &dir)?;
        let name = layout::jsonl_name("platform", self.shared.options.compress);
        let out = self.shared_output(&dir.join(&name))?;
        Ok(JsonlWriter {
            out,
            count: 0,
            relative: format!("{PLATFORM_DIR}/{name}"),
            shared: Arc::clone(&self.shared),
        })
    }

    /// The sealer every file goes through, when the backup is encrypted.
    pub fn sealer(&self) -> Option<&Arc<dyn FileSealer>> {
        self.shared.options.sealer.as_ref()
    }

    /// Writes `manifest.json`, last: its presence is what marks the backup complete. Call it
    /// once every `UserWriter` and `JsonlWriter` has finished.
    pub fn finish(self, info: ManifestInfo) -> Result<Manifest, ArchiveError> {
        self.finish_with_record(info, None)
    }

    /// [`ArchiveWriter::finish`], with a generation record (see the `chain` module), given as
    /// its compact text (a line per user of the install: held once, never as a JSON value):
    /// written in the clear as `chain.json` before the manifest, and as the manifest's `chain`
    /// field, sealed with it, so that a reader holding the key can tell the clear copy was not
    /// altered.
    pub fn finish_with_record(
        self,
        info: ManifestInfo,
        record: Option<Box<RawValue>>,
    ) -> Result<Manifest, ArchiveError> {
        let mut files = std::mem::take(
            &mut *self
                .shared
                .files
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut manifest = Manifest {
            format_version: FORMAT_VERSION,
            core_version: info.core_version,
            config: info.config,
            backup_type: info.backup_type,
            backup_timestamp: info.backup_timestamp,
            snapshot_before: info.snapshot_before,
            users: info.users,
            compressed: self.shared.options.compress,
            writer: Some(WriterInfo::this_tool()),
            files,
            extra: Map::new(),
            record: None,
        };
        if let Some(record) = record {
            write_file(
                &self.shared.options.backend,
                &self.shared.root.join(CHAIN_RECORD),
                record.get().as_bytes(),
                None,
                CHAIN_RECORD.to_string(),
            )?;
            manifest.record = Some(record);
        }
        // Every file the manifest lists is on disk before the manifest says it is complete.
        sync_filesystem(&self.shared.options.backend, &self.shared.root)?;
        let path = self.shared.root.join(MANIFEST);
        let mut out = self.shared_output_sealed(&path)?;
        // Encoded into the file as it goes: its text grows with the users (17.6 MB at 20,000)
        // and was held whole beside the manifest itself.
        serde_json::to_writer_pretty(OutputText(&mut out), &manifest)
            .map_err(|e| ArchiveError::Invalid(format!("cannot encode the manifest: {e}")))?;
        out.commit_durable(MANIFEST.to_string())?;
        // The manifest marks the backup complete whether or not the marker goes.
        let root = &self.shared.root;
        self.shared
            .options
            .backend
            .remove_listed(root, &[root.join(IN_PROGRESS)])?;
        Ok(manifest)
    }

    fn shared_output(&self, path: &Path) -> Result<OutputFile, ArchiveError> {
        let o = &self.shared.options;
        OutputFile::create(&o.backend, path, o.compress, o.sealer.as_ref())
    }

    /// A file that is never gzipped (a manifest), sealed when the backup is.
    fn shared_output_sealed(&self, path: &Path) -> Result<OutputFile, ArchiveError> {
        let o = &self.shared.options;
        OutputFile::create(&o.backend, path, false, o.sealer.as_ref())
    }
}

/// Text encoded straight into an [`OutputFile`] (its own buffer gathers the small writes).
struct OutputText<'a>(&'a mut OutputFile);

impl std::io::Write for OutputText<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one JSONL file, one compact JSON item per line.
pub struct JsonlWriter {
    out: OutputFile,
    count: u64,
    relative: String,
    shared: Arc<Shared>,
}

impl JsonlWriter {
    pub fn item(&mut self, item: &Item) -> Result<(), ArchiveError> {
        crate::interrupt::check()?;
        write_line(&mut self.out, item)?;
        self.count += 1;
        Ok(())
    }

    /// Closes the file; returns how many items it holds.
    pub fn finish(self) -> Result<u64, ArchiveError> {
        let entry = self.out.commit(self.relative)?;
        self.shared.record(entry);
        Ok(self.count)
    }
}

/// Serializes an item as compact JSON (key order and number text kept) plus `\n`; returns
/// the number of raw bytes written.
fn write_line(out: &mut OutputFile, item: &Item) -> Result<u64, ArchiveError> {
    let mut line = serde_json::to_vec(item).map_err(|e| {
        ArchiveError::Invalid(format!(
            "cannot encode an item for {}: {e}",
            out.path().display()
        ))
    })?;
    line.push(b'\n');
    out.write_all(&line)?;
    Ok(line.len() as u64)
}

/// The file items of the current collection go to.
struct Current {
    collection: Collection,
    out: Option<OutputFile>,
    /// Path of `out` relative to the user folder.
    relative: String,
    /// Raw bytes in `out` (for chunking).
    raw: u64,
}

/// Writes one user's folder. Items of a collection must arrive contiguously.
/// Our addition to a user's manifest: the attachments its events list that the store did
/// not have when the backup read it, as `[{eventId, fileId}]`.
pub const MISSING_ATTACHMENTS: &str = "missingAttachments";

pub struct UserWriter {
    shared: Arc<Shared>,
    user: UserRef,
    dir: PathBuf,
    /// Folders of the user this writer made sure of (a few), not looked at again per file.
    made_dirs: Vec<PathBuf>,
    /// Whether `dir` itself is among them.
    folder_made: bool,
    current: Option<Current>,
    done: HashSet<Collection>,
    stats: IndexMap<String, u64>,
    chunks: IndexMap<String, Vec<String>>,
    files: Vec<FileEntry>,
    account_written: bool,
    /// `(eventId, fileId)` of attachments the store no longer had.
    missing_attachments: Vec<(String, String)>,
    /// Raw (pre-compression) bytes of items and attachments written so far.
    bytes_written: u64,
}

/// Makes sure of a folder of a user not yet in `made` (the ones its writer made sure of).
fn ensure_user_dir(
    backend: &Backend,
    made: &mut Vec<PathBuf>,
    dir: &Path,
) -> Result<(), ArchiveError> {
    if !made.iter().any(|m| m == dir) {
        ensure_dir(backend, dir)?;
        made.push(dir.to_path_buf());
    }
    Ok(())
}

impl UserWriter {
    /// Makes sure of one of the user's folders (its own first), once per writer.
    fn ensure_dir(&mut self, dir: &Path) -> Result<(), ArchiveError> {
        self.ensure_folder()?;
        ensure_user_dir(&self.shared.options.backend, &mut self.made_dirs, dir)
    }

    /// Makes sure of the user's own folder, before its first file (asked before every item:
    /// one flag looked at).
    fn ensure_folder(&mut self) -> Result<(), ArchiveError> {
        if !self.folder_made {
            ensure_user_dir(&self.shared.options.backend, &mut self.made_dirs, &self.dir)?;
            self.folder_made = true;
        }
        Ok(())
    }

    /// Raw (pre-compression) bytes of the items and attachments written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    pub fn item(&mut self, collection: Collection, item: &Item) -> Result<(), ArchiveError> {
        // A safe point of every backup and consolidate: one atomic load per item.
        crate::interrupt::check()?;
        if self.current.as_ref().map(|c| c.collection) != Some(collection) {
            self.close_current()?;
            if !self.done.insert(collection) {
                return Err(ArchiveError::Invalid(format!(
                    "{} items of user {} arrived in two separate runs; a collection's items must be contiguous",
                    collection.name(),
                    self.user.user_id
                )));
            }
            self.current = Some(Current {
                collection,
                out: None,
                relative: String::new(),
                raw: 0,
            });
        }
        let max = self.shared.options.max_chunk_size;
        let out = self.current_output()?;
        let written = write_line(out, item)?;
        // Tests stop here, a chunk's temporary file open.
        crate::interrupt::pause_point("archive-item-written");
        self.bytes_written += written;
        *self.stats.entry(collection.name().to_string()).or_insert(0) += 1;
        if let Some(current) = self.current.as_mut() {
            current.raw += written;
            // An item is never split: the chunk that reaches the limit is closed after it.
            if layout::is_chunked(collection) && current.raw >= max {
                self.commit_current_file()?;
            }
        }
        Ok(())
    }

    /// The account data object, written as the single line of `account.jsonl[.gz]`.
    pub fn account(&mut self, account: &Item) -> Result<(), ArchiveError> {
        if self.account_written {
            return Err(ArchiveError::Invalid(format!(
                "account data of user {} given twice",
                self.user.user_id
            )));
        }
        self.close_current()?;
        self.ensure_folder()?;
        let name = layout::jsonl_name(ACCOUNT, self.shared.options.compress);
        let mut out = self.output(&self.dir.join(&name), self.shared.options.compress)?;
        write_line(&mut out, account)?;
        self.files.push(out.commit(name)?);
        self.account_written = true;
        Ok(())
    }

    /// One attachment blob, streamed to `attachments/<fileId>` (never gzipped).
    pub fn attachment(&mut self, file_id: &str, data: &mut dyn Read) -> Result<(), ArchiveError> {
        let file_id = layout::safe_name("attachment file id", file_id)?;
        let dir = self.dir.join(ATTACHMENTS_DIR);
        self.ensure_dir(&dir)?;
        let relative = format!("{ATTACHMENTS_DIR}/{file_id}");
        if self.files.iter().any(|f| f.path == relative) {
            return Err(ArchiveError::Invalid(format!(
                "attachment {file_id} of user {} given twice",
                self.user.user_id
            )));
        }
        let mut out = self.output(&dir.join(file_id), false)?;
        self.bytes_written += out.copy_from(data)?;
        self.files.push(out.commit(relative)?);
        *self.stats.entry("attachments".to_string()).or_insert(0) += 1;
        Ok(())
    }

    /// Whether nothing of the user was written yet.
    pub fn wrote_nothing(&self) -> bool {
        self.current.is_none()
            && self.done.is_empty()
            && !self.account_written
            && self.files.is_empty()
    }

    /// Drops a user nothing was written for (left out of the backup): its folder is made
    /// with its first file, so the backup holds no trace of it.
    pub fn discard_unwritten(self) -> Result<(), ArchiveError> {
        if !self.wrote_nothing() {
            return Err(ArchiveError::Invalid(format!(
                "user {} ({}) cannot be left out of the backup: some of its data is written",
                self.user.username, self.user.user_id
            )));
        }
        Ok(())
    }

    /// Writes the files format v1 always has (empty when the user has nothing, unless
    /// [`WriterOptions::empty_files`] is off), then `user-manifest.json`.
    pub fn finish(mut self) -> Result<UserManifest, ArchiveError> {
        self.close_current()?;
        self.ensure_folder()?;
        let compress = self.shared.options.compress;
        for collection in [
            Collection::Streams,
            Collection::Accesses,
            Collection::Profile,
            Collection::Webhooks,
        ] {
            if self.shared.options.empty_files && !self.done.contains(&collection) {
                let relative = layout::jsonl_name(collection.name(), compress);
                let out = self.output(&self.dir.join(&relative), compress)?;
                self.files.push(out.commit(relative)?);
            }
        }
        let mut stats = SmallMap::new();
        for name in [
            "streams",
            "accesses",
            "profile",
            "webhooks",
            "events",
            "audit",
            "series",
            "attachments",
        ] {
            stats.insert(name, self.stats.get(name).copied().unwrap_or(0));
        }
        // Ephemeral collections are counted only when present, as their files.
        for collection in [Collection::Sessions, Collection::PasswordResets] {
            if let Some(n) = self.stats.get(collection.name()) {
                stats.insert(collection.name(), *n);
            }
        }
        let mut chunks = SmallMap::new();
        for collection in [Collection::Events, Collection::Audit] {
            let list = self
                .chunks
                .shift_remove(collection.name())
                .unwrap_or_default();
            chunks.insert(collection.name(), list);
        }
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut extra = SmallMap::new();
        if !self.missing_attachments.is_empty() {
            let missing = self.missing_attachments.iter().map(
                |(event_id, file_id)| serde_json::json!({ "eventId": event_id, "fileId": file_id }),
            );
            extra.insert(MISSING_ATTACHMENTS, Value::Array(missing.collect()));
        }
        let manifest = UserManifest {
            user_id: self.user.user_id.clone(),
            username: self.user.username.clone(),
            backup_timestamp: now_ms(),
            stats,
            chunks,
            files: std::mem::take(&mut self.files),
            extra,
        };
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| ArchiveError::Invalid(format!("cannot encode the user manifest: {e}")))?;
        let relative = format!("{USERS_DIR}/{}/{USER_MANIFEST}", self.user.user_id);
        let entry = write_file(
            &self.shared.options.backend,
            &self.dir.join(USER_MANIFEST),
            &text,
            self.shared.options.sealer.as_ref(),
            relative,
        )?;
        self.shared.record(entry);
        Ok(manifest)
    }

    fn output(&self, path: &Path, gzip: bool) -> Result<OutputFile, ArchiveError> {
        let o = &self.shared.options;
        OutputFile::create(&o.backend, path, gzip, o.sealer.as_ref())
    }

    /// The open file of the current collection, opening the next one (chunk) when needed.
    fn current_output(&mut self) -> Result<&mut OutputFile, ArchiveError> {
        self.ensure_folder()?;
        let compress = self.shared.options.compress;
        let Some(current) = self.current.as_mut() else {
            return Err(ArchiveError::Invalid(
                "no collection is being written".into(),
            ));
        };
        if current.out.is_none() {
            let collection = current.collection;
            let relative = if layout::is_chunked(collection) {
                let list = self
                    .chunks
                    .entry(collection.name().to_string())
                    .or_default();
                let name = layout::chunk_name(collection, list.len() + 1, compress);
                list.push(name.clone());
                format!("{}/{name}", collection.name())
            } else {
                layout::single_file(collection, compress)
                    .to_string_lossy()
                    .replace('\\', "/")
            };
            let path = self.dir.join(&relative);
            let backend = &self.shared.options.backend;
            ensure_user_dir(
                backend,
                &mut self.made_dirs,
                path.parent().unwrap_or(&self.dir),
            )?;
            current.out = Some(OutputFile::create(
                backend,
                &path,
                compress,
                self.shared.options.sealer.as_ref(),
            )?);
            current.relative = relative;
            current.raw = 0;
        }
        current
            .out
            .as_mut()
            .ok_or_else(|| ArchiveError::Invalid("no file is open".into()))
    }

    fn commit_current_file(&mut self) -> Result<(), ArchiveError> {
        if let Some(current) = self.current.as_mut() {
            if let Some(out) = current.out.take() {
                self.files
                    .push(out.commit(std::mem::take(&mut current.relative))?);
            }
        }
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), ArchiveError> {
        self.commit_current_file()?;
        self.current = None;
        Ok(())
    }

    pub fn user(&self) -> &UserRef {
        &self.user
    }
}

/// Lets an engine export a user straight into the archive.
impl crate::engine::UserSink for UserWriter {
    fn item(&mut self, collection: Collection, item: &Item) -> crate::Result<()> {
        Ok(UserWriter::item(self, collection, item)?)
    }

    fn account(&mut self, account: &Item) -> crate::Result<()> {
        Ok(UserWriter::account(self, account)?)
    }

    fn attachment(
        &mut self,
        _event_id: &str,
        file_id: &str,
        data: &mut dyn Read,
    ) -> crate::Result<()> {
        Ok(UserWriter::attachment(self, file_id, data)?)
    }

    fn attachment_missing(&mut self, event_id: &str, file_id: &str) {
        self.missing_attachments
            .push((event_id.to_string(), file_id.to_string()));
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
