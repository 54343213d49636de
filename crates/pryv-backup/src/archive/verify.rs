//! Checking a backup without restoring it: every listed file present, of the recorded size
//! and SHA-256 (our backups record them; reference ones do not), every file decompressing
//! and parsing, item counts matching the manifests. All problems are collected, per file.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};

use super::input::{self, digest};
use super::jsonl::JsonlLines;
use super::layout::{self, ACCOUNT, ATTACHMENTS_DIR, PLATFORM_DIR, USER_MANIFEST};
use super::manifest::{FileEntry, UserManifest};
use super::reader::{ArchiveReader, KeptFiles, UserReader};
use super::{ArchiveError, Backend, FileSealer};
use crate::model::Collection;

/// Stop listing bad lines of one file after this many.
const MAX_LINE_PROBLEMS: usize = 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    pub path: String,
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub files_checked: u64,
    pub items_checked: u64,
    pub attachments_checked: u64,
    pub users_checked: u64,
    /// Problems grouped by file (or user folder), sorted by path.
    pub problems: Vec<FileProblem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the backup in the local directory `dir`; `Err` only when it cannot be opened at
/// all (no manifest, wrong secret, ...) or its store (or folder) became unreachable.
pub fn verify(
    dir: &Path,
    sealer: Option<Arc<dyn FileSealer>>,
) -> Result<VerifyReport, ArchiveError> {
    verify_in(&Backend::Local, dir, sealer)
}

/// [`verify`], wherever the backup is.
pub fn verify_in(
    backend: &Backend,
    dir: &Path,
    sealer: Option<Arc<dyn FileSealer>>,
) -> Result<VerifyReport, ArchiveError> {
    let mut reader = ArchiveReader::open_in(backend, dir, sealer)?;
    // The generation record is the chain's to check (a line per user of the install).
    drop(reader.take_record());
    // Tests cut the store here, its manifest read.
    crate::interrupt::pause_point("verify-manifests-read");
    let mut check = Checker {
        backend: backend.clone(),
        sealer: reader.sealer().cloned(),
        compressed: reader.manifest().compressed,
        problems: BTreeMap::new(),
        report: VerifyReport::default(),
        proven: None,
        outage: None,
        kept: None,
        kept_bytes: 0,
    };
    for entry in &reader.manifest().files {
        check.recorded(dir, entry);
    }
    let platform = dir
        .join(PLATFORM_DIR)
        .join(layout::jsonl_name("platform", check.compressed));
    check.items(&platform, false);
    for user_id in reader.manifest().users.ids().map(|(id, _)| id) {
        if check.outage.is_some() {
            break;
        }
        match reader.user(user_id) {
            Ok(user_reader) => check.user(&user_reader, user_reader.manifest()),
            Err(e) => check.failed(&dir.join(layout::USERS_DIR), e),
        }
    }
    check.outage(backend, dir)?;
    let mut report = check.report;
    report.problems = check
        .problems
        .into_iter()
        .map(|(path, problems)| FileProblem { path, problems })
        .collect();
    Ok(report)
}

impl UserReader {
    /// Checks this user's files before they are restored: each listed file's size and
    /// SHA-256, attachments present, and every file the manifests hold no hash of
    /// decompressing and parsing, with counts against the manifest. Empty when all is well;
    /// `Err` when the backup's store (or folder) became unreachable, which says nothing of
    /// this user's files.
    ///
    /// A file whose SHA-256 the manifests record is proven by it: its bytes are those the
    /// writer wrote, with the counts the writer recorded, so it is not decompressed and
    /// parsed twice (the import reads it once, and a bad line there still aborts the user
    /// before its commit). Files without a recorded hash (the reference tool records none)
    /// are checked whole, as [`verify`] checks every file.
    pub fn check(&self) -> Result<Vec<FileProblem>, ArchiveError> {
        let mut check = Checker {
            backend: self.backend.clone(),
            sealer: self.sealer.clone(),
            compressed: self.compressed,
            problems: BTreeMap::new(),
            report: VerifyReport::default(),
            proven: Some(HashSet::new()),
            outage: None,
            kept: Some(KeptFiles::new()),
            kept_bytes: 0,
        };
        // A whole-backup verify checks it with the other root-level files; opening the user
        // may have proven it already.
        if let Some(entry) = self.manifest_file().filter(|_| !self.manifest_proven()) {
            check.recorded(self.dir(), entry);
        }
        check.user(self, self.manifest());
        check.outage(&self.backend, &self.root)?;
        if check.problems.is_empty() {
            // Set once: a second check of the same reader proves the same bytes.
            let _ = self
                .kept
                .set(Arc::new(check.kept.take().unwrap_or_default()));
        }
        Ok(check
            .problems
            .into_iter()
            .map(|(path, problems)| FileProblem { path, problems })
            .collect())
    }
}

struct Checker {
    backend: Backend,
    sealer: Option<Arc<dyn FileSealer>>,
    compressed: bool,
    problems: BTreeMap<String, Vec<String>>,
    report: VerifyReport,
    /// Files whose size and SHA-256 matched their manifest entry, when that is proof
    /// enough (see [`UserReader::check`]): their content is not decompressed and parsed here.
    proven: Option<HashSet<PathBuf>>,
    /// The store became unreachable: what remains is not checked, nothing is called damaged.
    outage: Option<ArchiveError>,
    /// Small proven files' stored bytes, kept for the restore that follows the check (see
    /// [`KEPT_FILE_BYTES`]); `None` in a whole-backup verify.
    kept: Option<KeptFiles>,
    kept_bytes: usize,
}

/// Files of at most this size that a check before a restore proves are kept in memory for
/// the restore, up to [`KEPT_USER_BYTES`] per user: a small user's files are then opened once
/// (a batch of 200 users holds at most 12.8 MB of them).
const KEPT_FILE_BYTES: u64 = 16 << 10;
const KEPT_USER_BYTES: usize = 64 << 10;

/// A stored file's size and SHA-256, with its bytes when they were kept.
struct Stored {
    size: u64,
    sha: String,
    bytes: Option<Arc<[u8]>>,
}

impl Stored {
    fn hashed((size, sha): (u64, String)) -> Self {
        Stored {
            size,
            sha,
            bytes: None,
        }
    }
}

impl Checker {
    /// A file that could not be checked: a problem of that file, unless the store is down.
    fn failed(&mut self, path: &Path, e: ArchiveError) {
        if e.is_unreachable() {
            self.outage.get_or_insert(e);
        } else {
            self.problem(path, e.to_string());
        }
    }

    /// Fails when the store became unreachable, or when the local backup folder `root` is
    /// gone (its files then all read as missing, which is no damage of theirs).
    fn outage(&mut self, backend: &Backend, root: &Path) -> Result<(), ArchiveError> {
        if let Some(e) = self.outage.take() {
            return Err(e);
        }
        match ArchiveError::folder_gone(backend, root) {
            Some(gone) if !self.problems.is_empty() => Err(gone),
            _ => Ok(()),
        }
    }

    fn is_proven(&self, path: &Path) -> bool {
        self.proven.as_ref().is_some_and(|p| p.contains(path))
    }

    fn problem(&mut self, path: &Path, message: String) {
        self.problems
            .entry(path.display().to_string())
            .or_default()
            .push(message);
    }

    fn user(&mut self, reader: &UserReader, manifest: &UserManifest) {
        self.report.users_checked += 1;
        let dir = reader.dir();
        // What the user's folder holds, looked at once: the files its manifests leave out are
        // looked for here rather than opened one by one.
        let present: HashSet<String> = match self.backend.list(dir) {
            Ok(entries) if !entries.is_empty() => {
                entries.into_iter().map(|(name, _)| name).collect()
            }
            Ok(_) => match self.backend.is_dir(dir) {
                Ok(true) => HashSet::new(),
                Ok(false) => return self.problem(dir, "user folder is missing".into()),
                Err(e) => return self.failed(dir, e),
            },
            Err(e) => return self.failed(dir, e),
        };
        let user_manifest = dir.join(USER_MANIFEST);
        // Opening the user read it whole already when it proved it.
        let opened = if reader.manifest_proven() {
            Ok(None)
        } else {
            input::open(&self.backend, &user_manifest, false, self.sealer.as_ref()).map(Some)
        };
        match opened {
            Ok(None) => {}
            Ok(Some(Some(r))) => {
                if let Err(e) = serde_json::from_reader::<_, UserManifest>(io::BufReader::new(r)) {
                    self.problem(&user_manifest, format!("unreadable user manifest: {e}"));
                }
            }
            Ok(Some(None)) => self.problem(&user_manifest, "missing".into()),
            Err(e) => self.failed(&user_manifest, e),
        }
        for entry in &manifest.files {
            self.recorded(dir, entry);
        }
        for collection in Collection::ALL {
            if self.outage.is_some() {
                return;
            }
            let files = match reader.collection_files(collection) {
                Ok(f) => f,
                Err(e) if e.is_unreachable() => return self.failed(dir, e),
                Err(e) => {
                    self.problem(dir, format!("{}: {e}", collection.name()));
                    continue;
                }
            };
            if layout::is_chunked(collection) {
                self.unlisted_chunks(dir, collection, &files);
            } else if files.is_empty() {
                self.unlisted_file(reader, collection, &present);
            }
            // A proven file's count is the writer's, recorded with it.
            if files.iter().any(|(path, _)| self.is_proven(path)) {
                continue;
            }
            let count: u64 = files
                .iter()
                .map(|(path, required)| self.items(path, *required))
                .sum();
            let expected = manifest.stat(collection.name());
            if count != expected && self.outage.is_none() {
                self.problem(
                    dir,
                    format!(
                        "{}: {count} items found, the manifest says {expected}",
                        collection.name()
                    ),
                );
            }
        }
        if self.outage.is_some() {
            return;
        }
        let account = dir.join(layout::jsonl_name(ACCOUNT, self.compressed));
        if !self.is_proven(&account) && self.backend.is_file(&account).unwrap_or(true) {
            let n = self.items(&account, true);
            if n != 1 && self.outage.is_none() {
                self.problem(&account, format!("holds {n} items, expected exactly 1"));
            }
        }
        self.attachments(reader, manifest, present.contains(ATTACHMENTS_DIR));
    }

    /// A collection's file that the user's manifests do not list (and count nothing of):
    /// present, it is a file the reference tool would restore and ours ignores.
    fn unlisted_file(
        &mut self,
        reader: &UserReader,
        collection: Collection,
        present: &HashSet<String>,
    ) {
        let relative = layout::single_file(collection, self.compressed);
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or_default();
        if !present.contains(top) {
            return;
        }
        let path = reader.dir().join(&relative);
        match self.backend.is_file(&path) {
            Ok(false) => {}
            Ok(true) => self.problem(
                &path,
                "not listed in the user manifest (the reference tool would restore it)".into(),
            ),
            Err(e) => self.failed(&path, e),
        }
    }

    /// `folder_present`: the user's folder holds an attachments folder.
    fn attachments(&mut self, reader: &UserReader, manifest: &UserManifest, folder_present: bool) {
        if self.outage.is_some() {
            return;
        }
        let ids = match folder_present {
            false => Vec::new(),
            true => match reader.attachment_ids() {
                Ok(ids) => ids,
                Err(e) => return self.failed(reader.dir(), e),
            },
        };
        let expected = manifest.stat("attachments");
        if ids.len() as u64 != expected {
            self.problem(
                reader.dir(),
                format!(
                    "attachments: {} files found, the manifest says {expected}",
                    ids.len()
                ),
            );
        }
        for id in ids {
            let path = reader.dir().join(ATTACHMENTS_DIR).join(&id);
            if self.is_proven(&path) {
                self.report.attachments_checked += 1;
                continue;
            }
            // Reading through the sealer checks that an encrypted blob authenticates.
            let result = reader
                .attachment(&id)
                .and_then(|r| {
                    r.ok_or_else(|| ArchiveError::Missing {
                        path: path.display().to_string(),
                    })
                })
                .and_then(|mut r| {
                    io::copy(&mut r, &mut io::sink()).map_err(|e| ArchiveError::reading(&path, e))
                });
            match result {
                Ok(_) => self.report.attachments_checked += 1,
                Err(e) => self.failed(&path, e),
            }
        }
    }

    /// Chunk files present but not in the inventory: our reader ignores them, the reference
    /// reader (which lists the folder) would restore them.
    fn unlisted_chunks(&mut self, dir: &Path, collection: Collection, listed: &[(PathBuf, bool)]) {
        let folder = dir.join(collection.name());
        match self.backend.list_files(&folder) {
            Ok(names) => {
                for name in names.into_iter().filter(|n| !n.starts_with('.')) {
                    let path = folder.join(&name);
                    if !listed.iter().any(|(p, _)| *p == path) {
                        self.problem(
                            &path,
                            "not listed in the user manifest's chunks (the reference tool would restore it)".into(),
                        );
                    }
                }
            }
            Err(e) => self.failed(&folder, e),
        }
    }

    /// Decompresses a JSONL file and checks that each line is JSON; returns how many items it
    /// holds.
    fn items(&mut self, path: &Path, required: bool) -> u64 {
        let input = match input::open(&self.backend, path, self.compressed, self.sealer.as_ref()) {
            Ok(Some(i)) => i,
            Ok(None) => {
                if required {
                    self.problem(path, "missing".into());
                }
                return 0;
            }
            Err(e) => {
                self.failed(path, e);
                return 0;
            }
        };
        self.report.files_checked += 1;
        let mut count = 0;
        let mut bad_lines = 0;
        let mut lines = JsonlLines::new(input, path);
        // Each line checked to be JSON, without building its value.
        while let Some(text) = lines.next_text() {
            match text.and_then(|t| Ok(t.parse::<IgnoredAny>().map(drop)?)) {
                Ok(()) => count += 1,
                Err(e) if e.is_unreachable() => {
                    self.failed(path, e);
                    return count;
                }
                Err(e) => {
                    bad_lines += 1;
                    if bad_lines <= MAX_LINE_PROBLEMS {
                        self.problem(path, e.to_string());
                    }
                }
            }
        }
        if bad_lines > MAX_LINE_PROBLEMS {
            self.problem(
                path,
                format!("{} more bad lines", bad_lines - MAX_LINE_PROBLEMS),
            );
        }
        self.report.items_checked += count;
        count
    }

    /// Checks a file a manifest records: present, same size, same SHA-256 of its bytes.
    /// A file's stored bytes, their count and SHA-256, when it holds at most `size` bytes
    /// (a longer one is hashed as it streams, not held); `None` when it does not exist.
    fn stored(&self, path: &Path, size: u64) -> Result<Option<Stored>, ArchiveError> {
        let Some(bytes) = input::stored_bytes(&self.backend, path, size)? else {
            return Ok(None);
        };
        if bytes.len() as u64 > size {
            return Ok(digest(&self.backend, path)?.map(Stored::hashed));
        }
        let sha = hex::encode(Sha256::digest(&bytes));
        Ok(Some(Stored {
            size: bytes.len() as u64,
            sha,
            bytes: Some(bytes.into()),
        }))
    }

    fn recorded(&mut self, base: &Path, entry: &FileEntry) {
        let mut path = base.to_path_buf();
        for part in entry.path.split('/') {
            if let Err(e) = layout::safe_name("file path", part) {
                self.problem(base, format!("{}: {e}", entry.path));
                return;
            }
            path.push(part);
        }
        let keep = self.kept.is_some()
            && entry.sha256.is_some()
            && entry.size <= KEPT_FILE_BYTES
            && self.kept_bytes + entry.size as usize <= KEPT_USER_BYTES;
        let read = if keep {
            self.stored(&path, entry.size)
        } else {
            digest(&self.backend, &path).map(|d| d.map(Stored::hashed))
        };
        match read {
            Ok(None) => self.problem(&path, "missing".into()),
            Ok(Some(Stored { size, sha, bytes })) => {
                let mut matches = true;
                if size != entry.size {
                    matches = false;
                    self.problem(
                        &path,
                        format!("size is {size} bytes, the manifest says {}", entry.size),
                    );
                }
                match &entry.sha256 {
                    Some(expected) if !expected.eq_ignore_ascii_case(&sha) => {
                        self.problem(
                            &path,
                            format!("SHA-256 is {sha}, the manifest says {expected}"),
                        );
                    }
                    Some(_) if matches => {
                        if let (Some(kept), Some(bytes)) = (self.kept.as_mut(), bytes) {
                            self.kept_bytes += bytes.len();
                            kept.insert(path.clone(), bytes);
                        }
                        if let Some(proven) = self.proven.as_mut() {
                            proven.insert(path);
                        }
                    }
                    _ => {}
                }
            }
            Err(e) => self.failed(&path, e),
        }
    }
}
