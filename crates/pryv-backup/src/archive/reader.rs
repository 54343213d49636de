//! Reading a backup directory written by pryv-backup or by open-pryv.io's bin/backup.js.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::input;
use super::jsonl::JsonlLines;
use super::layout::{
    self, ACCOUNT, ATTACHMENTS_DIR, ENVELOPE, MANIFEST, PLATFORM_DIR, REGISTER_DIR, USER_MANIFEST,
};
use super::manifest::{FileEntry, Manifest, UserManifest, FORMAT_VERSION};
use super::user_entries;
use super::{ArchiveError, Backend, FileSealer};
use crate::model::{Collection, Item, ItemText};

/// A stream of items read lazily, file after file.
pub type Items<'a> = Box<dyn Iterator<Item = Result<Item, ArchiveError>> + Send + 'a>;

/// The same, as the items' JSON text.
pub type Texts<'a> = Box<dyn Iterator<Item = Result<ItemText, ArchiveError>> + Send + 'a>;

/// An opened backup directory. Safe to share between threads restoring users in parallel.
pub struct ArchiveReader {
    backend: Backend,
    root: PathBuf,
    manifest: Manifest,
    sealer: Option<Arc<dyn FileSealer>>,
    /// Where each user and file is in the manifest, built on first use: a restore asks for
    /// every user, and a search of the lists each time cost O(users x files) (90 s of CPU for
    /// 20,000 users).
    positions: OnceLock<Positions>,
}

/// Indexes in [`Manifest::users`] sorted by userId and in [`Manifest::files`] sorted by path
/// (both unique: [`ArchiveReader::open_in`] refuses a manifest listing one twice), searched by
/// bisection: 4 bytes an entry, where maps of copied names took ~90 (18 MB at 100,000 users).
struct Positions {
    users: Vec<u32>,
    files: Vec<u32>,
}

/// The indexes `0..count` sorted by `key`.
fn sorted_by<'a>(count: usize, key: impl Fn(usize) -> &'a str) -> Vec<u32> {
    let mut order: Vec<u32> = (0..count as u32).collect();
    order.sort_unstable_by(|&a, &b| key(a as usize).cmp(key(b as usize)));
    order
}

/// The index whose `key` is `wanted`, through `order` (see [`sorted_by`]).
fn find<'a>(order: &[u32], key: impl Fn(usize) -> &'a str, wanted: &str) -> Option<usize> {
    let at = order
        .binary_search_by(|&i| key(i as usize).cmp(wanted))
        .ok()?;
    Some(order[at] as usize)
}

impl ArchiveReader {
    /// The cleartext `encryption.json` of an encrypted backup, to build the sealer from.
    pub fn envelope(dir: &Path) -> Result<Option<Value>, ArchiveError> {
        Self::envelope_in(&Backend::Local, dir)
    }

    pub fn envelope_in(backend: &Backend, dir: &Path) -> Result<Option<Value>, ArchiveError> {
        let path = dir.join(ENVELOPE);
        let Some(input) = input::open(backend, &path, false, None)? else {
            return Ok(None);
        };
        serde_json::from_reader(BufReader::new(input))
            .map(Some)
            .map_err(|e| ArchiveError::corrupt(&path, format!("invalid JSON ({e})")))
    }

    /// Opens a backup directory on the local filesystem.
    pub fn open(
        dir: &Path,
        sealer: Option<Arc<dyn FileSealer>>,
    ) -> Result<ArchiveReader, ArchiveError> {
        Self::open_in(&Backend::Local, dir, sealer)
    }

    pub fn open_in(
        backend: &Backend,
        dir: &Path,
        sealer: Option<Arc<dyn FileSealer>>,
    ) -> Result<ArchiveReader, ArchiveError> {
        if !backend.is_dir(dir)? {
            let what = if backend.is_local() {
                "is not a directory"
            } else {
                "holds no objects"
            };
            return Err(ArchiveError::Invalid(format!("{} {what}", dir.display())));
        }
        let encrypted = backend.is_file(&dir.join(ENVELOPE))?;
        if encrypted && sealer.is_none() {
            return Err(ArchiveError::Invalid(format!(
                "{} is an encrypted backup ({ENVELOPE} is present): give the passphrase or the private key it was made for",
                dir.display()
            )));
        }
        if !encrypted && sealer.is_some() {
            return Err(ArchiveError::Invalid(format!(
                "{} is not encrypted (no {ENVELOPE}): do not give a passphrase or key for it",
                dir.display()
            )));
        }
        let path = dir.join(MANIFEST);
        // An encrypted manifest that does not open: most likely the wrong secret (a damaged
        // one reads the same), told apart so scripts can say so.
        let unreadable = |e: &dyn std::fmt::Display| {
            if encrypted {
                ArchiveError::WrongSecret {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            } else {
                ArchiveError::corrupt(&path, format!("cannot read the manifest: {e}"))
            }
        };
        let input = match input::open(backend, &path, false, sealer.as_ref()) {
            Ok(Some(input)) => input,
            Ok(None) => {
                // A folder of backups is a common thing to give here: say what it is.
                return Err(ArchiveError::Invalid(if backend.holds_backups(dir)? {
                    format!(
                        "{} is a folder of backups, not a backup: `pryv-backup list {}` shows them; give one of them",
                        dir.display(),
                        dir.display()
                    )
                } else {
                    format!(
                        "{} has no {MANIFEST}: it is no backup, or an incomplete one whose run did not finish (`pryv-backup list` tells which); make a new backup",
                        dir.display()
                    )
                }));
            }
            Err(e @ ArchiveError::Io { .. }) => return Err(e),
            Err(e) => return Err(unreadable(&e)),
        };
        // A manifest that reads but whose entries cannot be kept (no room in the temporary
        // folder) is neither damaged nor opened with the wrong key: said as it is.
        user_entries::keeping_failure();
        let manifest: Manifest = serde_json::from_reader(BufReader::new(input))
            .map_err(|e| user_entries::keeping_failure().unwrap_or_else(|| unreadable(&e)))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(ArchiveError::Invalid(format!(
                "{}: format version {} is not supported (this tool reads version {FORMAT_VERSION}); use a newer pryv-backup",
                path.display(),
                manifest.format_version
            )));
        }
        // A user listed twice would be restored from two folders merged into one: refused.
        let mut seen = std::collections::HashSet::new();
        for (user_id, username) in manifest.users.ids() {
            layout::safe_name("user id", user_id)?;
            for (what, name) in [("user id", user_id), ("username", username)] {
                if !seen.insert((what, name)) {
                    return Err(ArchiveError::Invalid(format!(
                        "{}: {what} {name} is listed twice: the manifest was edited or damaged, \
                         and this backup cannot be trusted as it is",
                        path.display()
                    )));
                }
            }
        }
        Ok(ArchiveReader {
            backend: backend.clone(),
            root: dir.to_path_buf(),
            manifest,
            sealer,
            positions: OnceLock::new(),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Takes the generation record out of the manifest (see [`Manifest::record`]): a chain
    /// checks it once on opening, then holds the record parsed; the text, a line per user
    /// of the install in every generation, is not kept beside it.
    pub fn take_record(&mut self) -> Option<Box<serde_json::value::RawValue>> {
        self.manifest.record.take()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn positions(&self) -> &Positions {
        self.positions.get_or_init(|| Positions {
            users: sorted_by(self.manifest.users.len(), |i| {
                self.manifest.users.user_id(i)
            }),
            files: sorted_by(self.manifest.files.len(), |i| &self.manifest.files[i].path),
        })
    }

    /// The index of this user's entry in the manifest.
    fn listed_user(&self, user_id: &str) -> Option<usize> {
        let users = &self.positions().users;
        find(users, |i| self.manifest.users.user_id(i), user_id)
    }

    /// Whether the manifest lists this user.
    pub fn has_user(&self, user_id: &str) -> bool {
        self.listed_user(user_id).is_some()
    }

    pub fn user(&self, user_id: &str) -> Result<UserReader, ArchiveError> {
        let dir = layout::user_dir(&self.root, user_id)?;
        let listed = self.listed_user(user_id).ok_or_else(|| {
            ArchiveError::Invalid(format!("user {user_id} is not in this backup"))
        })?;
        let mut manifest = self.manifest.users.get(listed)?;
        // The root manifest lists the user manifest's own size and SHA-256.
        let listed_as = format!("{}/{user_id}/{USER_MANIFEST}", layout::USERS_DIR);
        let files = &self.positions().files;
        let manifest_file =
            find(files, |i| &self.manifest.files[i].path, &listed_as).map(|i| FileEntry {
                path: USER_MANIFEST.to_string(),
                ..self.manifest.files[i].clone()
            });
        // Our backups list a user's files in the user's own manifest only (the root manifest,
        // which every reader holds whole, stays small); the size and SHA-256 the root records
        // of that manifest prove its list. Older ones list them in the root's entry too.
        let mut manifest_proven = false;
        if let Some(entry) = manifest_file.as_ref().filter(|f| f.sha256.is_some()) {
            if manifest.files.is_empty() {
                manifest.files = self.proven_files(&dir.join(USER_MANIFEST), entry)?;
                manifest_proven = true;
            }
        }
        Ok(UserReader {
            backend: self.backend.clone(),
            root: self.root.clone(),
            dir,
            manifest,
            manifest_file,
            manifest_proven,
            compressed: self.manifest.compressed,
            sealer: self.sealer.clone(),
            kept: OnceLock::new(),
        })
    }

    /// The files a user manifest lists, once its bytes are those `entry` records. The bytes
    /// are read once (at most one more than recorded), hashed, and parsed from memory: what is
    /// parsed is what was proven.
    fn proven_files(&self, path: &Path, entry: &FileEntry) -> Result<Vec<FileEntry>, ArchiveError> {
        let bytes = input::stored_bytes(&self.backend, path, entry.size)?
            .ok_or_else(|| ArchiveError::corrupt(path, "missing"))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let expected = entry.sha256.as_deref().unwrap_or_default();
        if bytes.len() as u64 != entry.size || !sha256.eq_ignore_ascii_case(expected) {
            let size = match bytes.len() as u64 {
                read if read > entry.size => format!("over {}", entry.size),
                read => read.to_string(),
            };
            return Err(ArchiveError::corrupt(
                path,
                format!(
                    "size {size} bytes and SHA-256 {sha256}, the manifest says {} bytes and {expected}: \
                     the user's files cannot be trusted",
                    entry.size
                ),
            ));
        }
        let input = input::decoded(
            Box::new(io::Cursor::new(bytes)),
            path,
            false,
            self.sealer.as_ref(),
        )?;
        let own: UserManifest = serde_json::from_reader(BufReader::new(input))
            .map_err(|e| ArchiveError::corrupt(path, format!("unreadable user manifest: {e}")))?;
        Ok(own.files)
    }

    /// `platform/platform.jsonl[.gz]`; nothing when absent.
    pub fn platform_items(&self) -> Result<Items<'_>, ArchiveError> {
        let name = layout::jsonl_name("platform", self.manifest.compressed);
        Ok(self.optional_file(self.root.join(PLATFORM_DIR).join(name)))
    }

    /// `register/servers.jsonl[.gz]` (username → v1 server), only in backups converted from
    /// Pryv.io v1 enterprise; nothing when absent.
    pub fn register_items(&self) -> Result<Items<'_>, ArchiveError> {
        let name = layout::jsonl_name("servers", self.manifest.compressed);
        Ok(self.optional_file(self.root.join(REGISTER_DIR).join(name)))
    }

    fn optional_file(&self, path: PathBuf) -> Items<'_> {
        parsed(ItemFiles::new(
            self.backend.clone(),
            vec![(path, false)],
            self.manifest.compressed,
            self.sealer.clone(),
        ))
    }

    pub(crate) fn sealer(&self) -> Option<&Arc<dyn FileSealer>> {
        self.sealer.as_ref()
    }
}

/// One user of an opened backup.
pub struct UserReader {
    pub(super) backend: Backend,
    /// The backup (generation) this user is part of.
    pub(super) root: PathBuf,
    dir: PathBuf,
    manifest: UserManifest,
    /// `user-manifest.json` as the root manifest lists it (path relative to `dir`).
    manifest_file: Option<FileEntry>,
    /// `user-manifest.json` was read and found as `manifest_file` records it (its list of
    /// files is the one in `manifest`).
    manifest_proven: bool,
    pub(super) compressed: bool,
    pub(super) sealer: Option<Arc<dyn FileSealer>>,
    /// Small files whose stored bytes the check before a restore read and proved: the
    /// restore reads them from here, so what it imports is what was proven, without opening
    /// them again.
    pub(super) kept: OnceLock<Arc<KeptFiles>>,
}

/// Stored bytes of proven files, by path.
pub(super) type KeptFiles = HashMap<PathBuf, Arc<[u8]>>;

// Its check before a restore (`check`) is in verify.rs, which reads through this reader.
impl UserReader {
    pub fn manifest(&self) -> &UserManifest {
        &self.manifest
    }

    pub(crate) fn manifest_file(&self) -> Option<&FileEntry> {
        self.manifest_file.as_ref()
    }

    /// Whether `user-manifest.json` was already read and proven by its recorded hash.
    pub(crate) fn manifest_proven(&self) -> bool {
        self.manifest_proven
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the manifests list the user's files (ours do; the reference's do not).
    pub(crate) fn lists_files(&self) -> bool {
        !self.manifest.files.is_empty()
    }

    /// Whether the manifests list this file (path relative to the user's folder).
    fn lists(&self, relative: &Path) -> bool {
        self.manifest
            .files
            .iter()
            .any(|f| Path::new(&f.path) == relative)
    }

    /// The files holding a collection, in order, each with whether it must exist.
    pub fn collection_files(
        &self,
        collection: Collection,
    ) -> Result<Vec<(PathBuf, bool)>, ArchiveError> {
        let expected = self.manifest.stat(collection.name()) > 0;
        if !layout::is_chunked(collection) {
            let relative = layout::single_file(collection, self.compressed);
            // The user's list of its files says which exist: one it leaves out that the
            // manifest counts nothing of is not looked for (three such per user were half of
            // a restore's opens). The check before a restore looks for one planted there.
            if !expected && self.lists_files() && !self.lists(&relative) {
                return Ok(Vec::new());
            }
            return Ok(vec![(self.dir.join(relative), expected)]);
        }
        let dir = self.dir.join(collection.name());
        match self.manifest.chunks.get(collection.name()) {
            Some(names) => names
                .iter()
                .map(|name| Ok((dir.join(layout::safe_name("chunk name", name)?), true)))
                .collect(),
            // No inventory (hand-made or foreign backup): the chunk files in name order.
            None => {
                let prefix = format!("{}-", collection.name());
                let suffix = layout::jsonl_name("", self.compressed);
                let mut names = self.backend.list_files(&dir)?;
                names.retain(|n| n.starts_with(&prefix) && n.ends_with(&suffix));
                names.sort();
                Ok(names.into_iter().map(|n| (dir.join(n), true)).collect())
            }
        }
    }

    /// A collection's items, streamed file by file; nothing when the backup has none.
    pub fn items(&self, collection: Collection) -> Result<Items<'_>, ArchiveError> {
        Ok(parsed(self.texts(collection)?))
    }

    /// [`UserReader::items`] as their JSON text, not parsed.
    pub fn texts(&self, collection: Collection) -> Result<Texts<'_>, ArchiveError> {
        let files = self.collection_files(collection)?;
        Ok(Box::new(
            ItemFiles::new(
                self.backend.clone(),
                files,
                self.compressed,
                self.sealer.clone(),
            )
            .with_kept(self.kept.get().cloned()),
        ))
    }

    /// The account data object, when the backup has one.
    pub fn account(&self) -> Result<Option<Item>, ArchiveError> {
        let path = self.dir.join(layout::jsonl_name(ACCOUNT, self.compressed));
        let mut items = ItemFiles::new(
            self.backend.clone(),
            vec![(path, false)],
            self.compressed,
            self.sealer.clone(),
        )
        .with_kept(self.kept.get().cloned());
        items.next().map(|text| Ok(text?.item()?)).transpose()
    }

    /// An attachment's bytes (opened through the sealer), when the backup has it.
    pub fn attachment(
        &self,
        file_id: &str,
    ) -> Result<Option<Box<dyn Read + Send + '_>>, ArchiveError> {
        let path = self
            .dir
            .join(ATTACHMENTS_DIR)
            .join(layout::safe_name("attachment file id", file_id)?);
        let kept = self.kept.get().map(Arc::as_ref);
        let opened = open_kept(&self.backend, kept, &path, false, self.sealer.as_ref())?;
        Ok(opened.map(|inner| Box::new(Named { inner, path }) as Box<dyn Read + Send>))
    }

    /// File ids of the attachments present, sorted.
    pub fn attachment_ids(&self) -> Result<Vec<String>, ArchiveError> {
        let mut names = self.backend.list_files(&self.dir.join(ATTACHMENTS_DIR))?;
        // Dot files are our own leftovers of interrupted writes, never file ids.
        names.retain(|n| !n.starts_with('.'));
        for name in &names {
            layout::safe_name("attachment file id", name)?;
        }
        names.sort();
        Ok(names)
    }

    /// fileId → eventId, from the `attachments[].id` of the user's events (format v1 does
    /// not store the mapping otherwise). Reads every event. A history copy lists its head's
    /// files: the head event wins whatever the file order (the reference's reader takes the
    /// last event listing the file instead, which depends on the order).
    pub fn attachment_events(&self) -> Result<BTreeMap<String, String>, ArchiveError> {
        let mut map: BTreeMap<String, (bool, String)> = BTreeMap::new();
        for event in self.items(Collection::Events)? {
            let event = event?;
            let Some(event_id) = event.get("id").and_then(Value::as_str) else {
                continue;
            };
            let head = event.get("headId").is_none_or(Value::is_null);
            let attachments = event.get("attachments").and_then(Value::as_array);
            for file_id in attachments
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("id").and_then(Value::as_str))
            {
                let held_by_head = map.get(file_id).is_some_and(|(h, _)| *h);
                if head || !held_by_head {
                    map.insert(file_id.to_string(), (head, event_id.to_string()));
                }
            }
        }
        Ok(map.into_iter().map(|(f, (_, e))| (f, e)).collect())
    }
}

/// Lets an engine restore a user straight from the archive.
impl crate::engine::UserSource for UserReader {
    fn items(&self, collection: Collection) -> crate::Result<crate::engine::ItemIter<'_>> {
        let items = UserReader::items(self, collection)?;
        Ok(Box::new(items.map(|r| r.map_err(crate::Error::from))))
    }

    fn texts(&self, collection: Collection) -> crate::Result<crate::engine::TextIter<'_>> {
        let texts = UserReader::texts(self, collection)?;
        Ok(Box::new(texts.map(|r| r.map_err(crate::Error::from))))
    }

    fn account(&self) -> crate::Result<Option<Item>> {
        Ok(UserReader::account(self)?)
    }

    fn attachment(&self, file_id: &str) -> crate::Result<Option<Box<dyn Read + '_>>> {
        Ok(UserReader::attachment(self, file_id)?.map(|r| r as Box<dyn Read>))
    }
}

/// Texts parsed into items, stopping at the first error: the caller restores all or nothing.
fn parsed<'a>(
    texts: impl Iterator<Item = Result<ItemText, ArchiveError>> + Send + 'a,
) -> Items<'a> {
    let mut failed = false;
    Box::new(texts.map_while(move |text| {
        if failed {
            return None;
        }
        let item = text.and_then(|t| Ok(t.item()?));
        failed = item.is_err();
        Some(item)
    }))
}

/// The item texts of several files in sequence, each opened only when reached.
struct ItemFiles {
    backend: Backend,
    pending: VecDeque<(PathBuf, bool)>,
    current: Option<JsonlLines>,
    compressed: bool,
    sealer: Option<Arc<dyn FileSealer>>,
    kept: Option<Arc<KeptFiles>>,
}

impl ItemFiles {
    fn new(
        backend: Backend,
        files: Vec<(PathBuf, bool)>,
        compressed: bool,
        sealer: Option<Arc<dyn FileSealer>>,
    ) -> Self {
        ItemFiles {
            backend,
            pending: files.into(),
            current: None,
            compressed,
            sealer,
            kept: None,
        }
    }

    /// Files read from `kept` when there, instead of from the store.
    fn with_kept(mut self, kept: Option<Arc<KeptFiles>>) -> Self {
        self.kept = kept;
        self
    }

    fn open(&self, path: &Path) -> Result<Option<Box<dyn Read + Send>>, ArchiveError> {
        let kept = self.kept.as_deref();
        open_kept(
            &self.backend,
            kept,
            path,
            self.compressed,
            self.sealer.as_ref(),
        )
    }
}

/// A file opened as [`input::open`] opens it, from its bytes in `kept` when they are there.
fn open_kept(
    backend: &Backend,
    kept: Option<&KeptFiles>,
    path: &Path,
    gzip: bool,
    sealer: Option<&Arc<dyn FileSealer>>,
) -> Result<Option<Box<dyn Read + Send>>, ArchiveError> {
    match kept.and_then(|kept| kept.get(path)) {
        Some(bytes) => {
            let stored = Box::new(io::Cursor::new(Arc::clone(bytes)));
            input::decoded(stored, path, gzip, sealer).map(Some)
        }
        None => input::open(backend, path, gzip, sealer),
    }
}

impl Iterator for ItemFiles {
    type Item = Result<ItemText, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        // A safe point of every restore, verify and drill: one atomic load per item.
        if let Err(e) = crate::interrupt::check() {
            self.current = None;
            self.pending.clear();
            return Some(Err(e.into()));
        }
        loop {
            if let Some(lines) = self.current.as_mut() {
                match lines.next_text() {
                    Some(Err(e)) => {
                        // Stop at the first error: the caller restores all or nothing.
                        self.current = None;
                        self.pending.clear();
                        return Some(Err(e));
                    }
                    Some(ok) => return Some(ok),
                    None => self.current = None,
                }
            }
            let (path, required) = self.pending.pop_front()?;
            match self.open(&path) {
                Ok(Some(input)) => self.current = Some(JsonlLines::new(input, &path)),
                Ok(None) if !required => {}
                Ok(None) => {
                    self.pending.clear();
                    return Some(Err(ArchiveError::Missing {
                        path: path.display().to_string(),
                    }));
                }
                Err(e) => {
                    self.pending.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Names the file in read errors of an attachment stream.
struct Named {
    inner: Box<dyn Read + Send>,
    path: PathBuf,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}
