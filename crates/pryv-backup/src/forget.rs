//! Erasure: removes named users from every backup of a location (one backup, a folder of
//! backups, or an S3 prefix), in every generation, with their platform entries.
//!
//! For each generation holding one of the users: the user's folder goes, the platform (and
//! v1 register) file is rewritten without the entries naming the user (by plaintext
//! username, or in hashed PII mode by its token under the install's `platform:piiHmacKey`,
//! which is then needed), and `manifest.json` is rewritten without the user, with the sizes and
//! SHA-256 of the rewritten files. Records (`chain.json`) lose the user's digest, and every
//! later generation's record is relinked to its predecessor's new manifest digest, so the
//! chain still reads as one. Encrypted generations are sealed again with their own key.
//!
//! Each file is replaced atomically (written under a temporary name, renamed), but a
//! generation is several files and a chain several generations. Before the first rewrite,
//! forget writes [`FORGETTING_MARKER`] at the backup's root (sealed like the backup: it
//! names the users) and removes it once done. A run that finds the marker knows the chain
//! may be half-rewritten: it relinks every generation from the files as they are (the
//! checks of an untouched chain are skipped for that backup) and forgets the marked users
//! with those asked for now. So an interrupted forget is finished by the next one.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::archive::layout::{self, CHAIN_RECORD, MANIFEST, PLATFORM_DIR, REGISTER_DIR, USERS_DIR};
use crate::archive::output::{sync_filesystem, write_file, write_file_durable, OutputFile};
use crate::archive::{ArchiveReader, Backend, ChangeLock, FileEntry, FileSealer, Items};
use crate::chain::{
    increment_dirs, user_digest, ChainIndex, GenerationRecord, Opener, Sha256Hex, BASE_NAME,
};
use crate::config::PiiKey;
use crate::model::UserRef;
use crate::platform::owners::owner_of;
use crate::platform::{looks_like_token, PlatformOwners};
use crate::{Error, Result};

/// The marker of a forget under way, at the root of the backup being rewritten.
pub const FORGETTING_MARKER: &str = ".pryv-backup-forgetting.json";

/// Files removed between two checks for a stop request.
const REMOVAL_BATCH: usize = 64;

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgetReport {
    /// False for a dry run: nothing was changed.
    pub applied: bool,
    /// The backups holding one of the users, with what was (or would be) changed.
    pub backups: Vec<BackupChange>,
    /// Backups left alone because they are being written (their lock is held), with why:
    /// forget has not done all it should.
    pub skipped: Vec<(PathBuf, String)>,
    /// Folders without `manifest.json` (an unfinished backup, which no reader trusts and the
    /// next backup into it replaces, or no backup at all): not read.
    pub incomplete: Vec<PathBuf>,
    /// Backups that could not be read or rewritten (a broken chain, a missing key, a write
    /// error), with why. One whose rewrite began holds the marker: the next forget finishes.
    pub damaged: Vec<(PathBuf, String)>,
    /// Users asked for that no backup read holds (already forgotten, or never there).
    pub not_found: Vec<String>,
    pub files_removed: u64,
    pub files_rewritten: u64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupChange {
    pub dir: PathBuf,
    pub users: Vec<UserRef>,
    /// An earlier forget was stopped in this backup (its marker was found): finished now.
    pub finishes_interrupted: bool,
    pub generations: Vec<GenerationChange>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationChange {
    pub dir: PathBuf,
    /// The userIds this generation holds (a folder or a manifest entry).
    pub users: Vec<String>,
    pub platform_entries: u64,
    pub files_removed: Vec<PathBuf>,
    pub files_rewritten: Vec<PathBuf>,
}

/// What the marker holds (sealed when the backup is encrypted).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    users: Vec<UserRef>,
}

/// Forgets the users named in `wanted` (userIds or usernames) in the backup at `location`,
/// or in each backup directly inside it; changes files only when `apply`.
pub fn run(
    backend: &Backend,
    location: &Path,
    wanted: &[String],
    pii_key: Option<&PiiKey>,
    apply: bool,
    open: &Opener<'_>,
) -> Result<ForgetReport> {
    if wanted.is_empty() {
        return Err(Error::Other("no user given (--user)".into()));
    }
    let mut report = ForgetReport {
        applied: apply,
        ..Default::default()
    };
    let dirs = if is_backup(backend, location)? {
        vec![location.to_path_buf()]
    } else {
        backend
            .list_dirs(location)?
            .into_iter()
            .map(|name| location.join(name))
            .collect()
    };
    let mut found: HashSet<String> = HashSet::new();
    for dir in dirs {
        crate::interrupt::check()?;
        // Held to the end of this backup: no backup is written into it meanwhile.
        let _lock = match backend.lock_to_change(&dir, apply, "forget") {
            ChangeLock::Busy(why) => {
                report.skipped.push((dir, why));
                continue;
            }
            ChangeLock::Refused(why) => {
                report.damaged.push((dir, why));
                continue;
            }
            lock => lock,
        };
        if !is_backup(backend, &dir)? {
            report.incomplete.push(dir);
            continue;
        }
        match forget_in_backup(backend, &dir, wanted, pii_key, apply, open) {
            Ok(Some(change)) => {
                for u in &change.users {
                    found.insert(u.user_id.clone());
                    found.insert(u.username.clone());
                }
                for g in &change.generations {
                    report.files_removed += g.files_removed.len() as u64;
                    report.files_rewritten += g.files_rewritten.len() as u64;
                }
                report.backups.push(change);
            }
            Ok(None) => {}
            Err(e @ Error::Interrupted(_)) => return Err(e),
            Err(e) => report.damaged.push((dir, e.to_string())),
        }
    }
    report.not_found = wanted
        .iter()
        .filter(|w| !found.contains(*w))
        .cloned()
        .collect();
    Ok(report)
}

/// A user the backups hold but the install deleted, and the latest time it was deleted by.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeletedUser {
    #[serde(flatten)]
    pub user: UserRef,
    /// The newest generation (ms) that lists the user among the install's users.
    pub last_seen: u64,
    /// The first generation (ms) that no longer lists the user among the install's users
    /// after the last one that did: the deletion happened before it.
    pub gone_by: u64,
}

/// What [`deleted_before`] found.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeletedUsers {
    pub users: Vec<DeletedUser>,
    /// Generations whose manifests could not be opened (no key), with why.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The users the backups of `location` (one backup, or the backups directly in a folder)
/// hold, whom the install deleted at least `older_than_ms` before `now_ms`. Dated by the
/// generations' records of the install's users, across every backup: a deletion happened
/// before the first generation that no longer lists the user after the last that did. A
/// user no record lists (backups made before records held the install's users) is never
/// taken as deleted. Naming the users needs each backup's manifests, hence its key: the
/// backups that cannot be opened are returned apart, with why (their records still date the
/// deletions of the others).
pub fn deleted_before(
    backend: &Backend,
    location: &Path,
    open: &Opener<'_>,
    now_ms: u64,
    older_than_ms: u64,
) -> Result<DeletedUsers> {
    let dirs = if is_backup(backend, location)? {
        vec![location.to_path_buf()]
    } else {
        let mut dirs = Vec::new();
        for name in backend.list_dirs(location)? {
            let dir = location.join(name);
            if is_backup(backend, &dir)? {
                dirs.push(dir);
            }
        }
        dirs
    };
    // Every generation's time with the install's users it records, and every user held.
    let mut timeline: Vec<(u64, HashSet<Sha256Hex>)> = Vec::new();
    let mut held: Vec<UserRef> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut unreadable = Vec::new();
    for dir in dirs {
        let Some(index) = ChainIndex::open(backend, &dir)? else {
            continue;
        };
        for g in &index.generations {
            if let Some(record) = &g.record {
                if let Some(install) = &record.install_users {
                    timeline.push((record.backup_timestamp, install.iter().copied().collect()));
                }
            }
            let reader = match open(&g.dir) {
                Ok(reader) => reader,
                Err(e) => {
                    unreadable.push((g.dir.clone(), e));
                    continue;
                }
            };
            for (user_id, username) in reader.manifest().users.ids() {
                // A set beside the list: searching the list for each user of each generation
                // took 23 s per generation of 100,000 users.
                if seen.insert(user_id.to_string()) {
                    held.push(UserRef {
                        user_id: user_id.to_string(),
                        username: username.to_string(),
                    });
                }
            }
        }
    }
    timeline.sort_by_key(|(time, _)| *time);
    let mut deleted = Vec::new();
    for user in held {
        let digest = user_digest(&user.user_id);
        let Some(last_seen) = timeline
            .iter()
            .filter(|(_, users)| users.contains(&digest))
            .map(|(time, _)| *time)
            .max()
        else {
            continue;
        };
        let gone_by = timeline
            .iter()
            .find(|(time, users)| *time > last_seen && !users.contains(&digest))
            .map(|(time, _)| *time);
        if let Some(gone_by) = gone_by {
            if gone_by.saturating_add(older_than_ms) <= now_ms {
                deleted.push(DeletedUser {
                    user,
                    last_seen,
                    gone_by,
                });
            }
        }
    }
    Ok(DeletedUsers {
        users: deleted,
        unreadable,
    })
}

fn is_backup(backend: &Backend, dir: &Path) -> Result<bool> {
    Ok(backend.is_file(&dir.join(MANIFEST))?)
}

/// One generation as forget reads it: its folder and name, and the opened backup.
struct Generation {
    dir: PathBuf,
    name: String,
    reader: ArchiveReader,
}

fn forget_in_backup(
    backend: &Backend,
    dir: &Path,
    wanted: &[String],
    pii_key: Option<&PiiKey>,
    apply: bool,
    open: &Opener<'_>,
) -> Result<Option<BackupChange>> {
    // The generations and the leftovers of crashed runs (increments without manifest).
    let mut dirs = vec![(dir.to_path_buf(), BASE_NAME.to_string())];
    let mut leftovers = Vec::new();
    for d in increment_dirs(backend, dir)? {
        let name = format!(
            "{}/{}",
            crate::chain::INCREMENTS_DIR,
            d.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        );
        if backend.is_file(&d.join(MANIFEST))? {
            dirs.push((d, name));
        } else {
            leftovers.push(d);
        }
    }
    let mut generations = Vec::with_capacity(dirs.len());
    for (d, name) in dirs {
        let reader = open(&d).map_err(|e| {
            Error::Other(format!(
                "{}: {e} (forget reads every manifest: an encrypted backup needs its \
                 passphrase, or the private key; the public key is not enough)",
                label(&name)
            ))
        })?;
        generations.push(Generation {
            dir: d,
            name,
            reader,
        });
    }
    let sealer = generations[0].reader.sealer().cloned();
    let marker = read_marker(backend, dir, sealer.as_ref())?;
    if marker.is_none() {
        // An untouched chain must be whole: forget never relinks a broken one.
        ChainIndex::open(backend, dir)?;
    }

    let mut users = marker.as_ref().map(|m| m.users.clone()).unwrap_or_default();
    for g in &generations {
        for (user_id, username) in g.reader.manifest().users.ids() {
            let asked = wanted.iter().any(|w| w == user_id || w == username);
            if asked && !users.iter().any(|x: &UserRef| x.user_id == user_id) {
                users.push(UserRef {
                    user_id: user_id.to_string(),
                    username: username.to_string(),
                });
            }
        }
    }
    if users.is_empty() {
        return Ok(None);
    }
    let owners = PlatformOwners::new(&users, pii_key, false, false)?;
    check_platform_names(&generations, &users, pii_key, &owners, marker.is_some())?;
    let ids: HashSet<&str> = users.iter().map(|u| u.user_id.as_str()).collect();

    // What each generation holds of the users.
    let mut changes = Vec::with_capacity(generations.len());
    for g in &generations {
        let mut change = GenerationChange {
            dir: g.dir.clone(),
            users: Vec::new(),
            platform_entries: 0,
            files_removed: Vec::new(),
            files_rewritten: Vec::new(),
        };
        for u in &users {
            let files = user_files(backend, &g.dir, &u.user_id)?;
            let listed = g.reader.has_user(&u.user_id);
            if listed || !files.is_empty() {
                change.users.push(u.user_id.clone());
            }
            change.files_removed.extend(files);
        }
        for path in [platform_path(&g.reader), register_path(&g.reader)] {
            let n = count_owned(open_items(&g.reader, &path), &owners)?;
            if n > 0 {
                change.platform_entries += n;
                change.files_rewritten.push(path);
            }
        }
        changes.push(change);
    }
    // From the first generation changed on, every manifest is rewritten: its own content,
    // or its record's link to the manifest before it. After an interrupted forget, every
    // one: which links it left stale is not known.
    let first = match marker {
        Some(_) => 0,
        None => changes
            .iter()
            .position(|c| !c.users.is_empty() || c.platform_entries > 0)
            .unwrap_or(changes.len()),
    };
    for (g, change) in generations.iter().zip(changes.iter_mut()).skip(first) {
        if backend.is_file(&g.dir.join(CHAIN_RECORD))? {
            change.files_rewritten.push(g.dir.join(CHAIN_RECORD));
        }
        change.files_rewritten.push(g.dir.join(MANIFEST));
    }
    let mut leftover_files = Vec::new();
    for d in &leftovers {
        for u in &users {
            leftover_files.push((d.clone(), user_files(backend, d, &u.user_id)?));
        }
    }

    if apply {
        let marker_text = serde_json::to_vec(&Marker {
            users: users.clone(),
        })
        .map_err(|e| Error::Other(format!("cannot encode the forget marker: {e}")))?;
        write_file_durable(
            backend,
            &dir.join(FORGETTING_MARKER),
            &marker_text,
            sealer.as_ref(),
            FORGETTING_MARKER.into(),
        )?;
        let mut previous_digest: Option<String> = None;
        for (i, (g, change)) in generations.iter().zip(&changes).enumerate() {
            crate::interrupt::check()?;
            let mut platform_files = Vec::new();
            for path in [platform_path(&g.reader), register_path(&g.reader)] {
                if change.files_rewritten.contains(&path) {
                    platform_files.push(rewrite_without(&g.reader, &path, &owners)?);
                }
            }
            if i >= first {
                previous_digest = Some(rewrite_manifest(g, &ids, platform_files, previous_digest)?);
            }
            remove_files(backend, &g.dir, &change.files_removed)?;
            crate::interrupt::pause_point("forget-generation-done");
        }
        for (d, files) in &leftover_files {
            remove_files(backend, d, files)?;
        }
        backend.remove_listed(dir, &[dir.join(FORGETTING_MARKER)])?;
    }
    let mut generations_changed: Vec<GenerationChange> = changes
        .into_iter()
        .filter(|c| !c.files_removed.is_empty() || !c.files_rewritten.is_empty())
        .collect();
    for (d, files) in leftover_files {
        if !files.is_empty() {
            generations_changed.push(GenerationChange {
                dir: d,
                users: Vec::new(),
                platform_entries: 0,
                files_removed: files,
                files_rewritten: Vec::new(),
            });
        }
    }
    Ok(Some(BackupChange {
        dir: dir.to_path_buf(),
        users,
        finishes_interrupted: marker.is_some(),
        generations: generations_changed,
    }))
}

fn label(name: &str) -> String {
    if name == BASE_NAME {
        "the base backup".into()
    } else {
        name.to_string()
    }
}

/// Every file under the user's folder of a generation (whatever its manifest lists: a file
/// left by an interrupted run goes too).
fn user_files(backend: &Backend, root: &Path, user_id: &str) -> Result<Vec<PathBuf>> {
    fn walk(backend: &Backend, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
        files.extend(backend.list_files(dir)?.into_iter().map(|f| dir.join(f)));
        for sub in backend.list_dirs(dir)? {
            walk(backend, &dir.join(sub), files)?;
        }
        Ok(())
    }
    let dir = layout::user_dir(root, user_id)?;
    let mut files = Vec::new();
    if backend.is_dir(&dir)? {
        walk(backend, &dir, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn remove_files(backend: &Backend, root: &Path, files: &[PathBuf]) -> Result<()> {
    for batch in files.chunks(REMOVAL_BATCH) {
        crate::interrupt::check()?;
        backend.remove_listed(root, batch)?;
    }
    for f in files {
        // The user's folder and its sub-folders, once empty.
        for a in f.ancestors().skip(1) {
            if a == root.join(USERS_DIR) || !a.starts_with(root) {
                break;
            }
            backend.remove_empty_dir(a);
        }
    }
    Ok(())
}

fn platform_path(reader: &ArchiveReader) -> PathBuf {
    let compressed = reader.manifest().compressed;
    reader
        .root()
        .join(PLATFORM_DIR)
        .join(layout::jsonl_name("platform", compressed))
}

fn register_path(reader: &ArchiveReader) -> PathBuf {
    let compressed = reader.manifest().compressed;
    reader
        .root()
        .join(REGISTER_DIR)
        .join(layout::jsonl_name("servers", compressed))
}

fn open_items<'a>(reader: &'a ArchiveReader, path: &Path) -> Result<Items<'a>> {
    if path.starts_with(reader.root().join(PLATFORM_DIR)) {
        Ok(reader.platform_items()?)
    } else {
        Ok(reader.register_items()?)
    }
}

fn count_owned(items: Result<Items<'_>>, owners: &PlatformOwners) -> Result<u64> {
    let mut n = 0;
    for item in items? {
        if owners.keeps(&item?) {
            n += 1;
        }
    }
    Ok(n)
}

/// In hashed PII mode platform entries name users by token: without the install's key, or
/// with another key, the users' entries could not be told apart and would stay. Refused
/// then, before anything is changed (unless an interrupted forget may have removed them).
fn check_platform_names(
    generations: &[Generation],
    users: &[UserRef],
    pii_key: Option<&PiiKey>,
    owners: &PlatformOwners,
    resumed: bool,
) -> Result<()> {
    let (mut hashed, mut named) = (false, false);
    for g in generations {
        for item in g.reader.platform_items()? {
            let item = item?;
            hashed |= owner_of(&item).is_some_and(|o| looks_like_token(&o));
            named |= owners.keeps(&item);
        }
    }
    if !hashed || named || resumed {
        return Ok(());
    }
    let who: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    Err(Error::Other(match pii_key {
        None => format!(
            "its platform entries name users by token (hashed PII mode): give the install's \
             platform:piiHmacKey with --pii-key-file so that those of {} are found",
            who.join(", ")
        ),
        Some(_) => format!(
            "no platform entry is named by the token of {} under the key given: is it this \
             install's platform:piiHmacKey?",
            who.join(", ")
        ),
    }))
}

/// Rewrites a platform (or register) file without the users' entries; its new listing.
fn rewrite_without(
    reader: &ArchiveReader,
    path: &Path,
    owners: &PlatformOwners,
) -> Result<FileEntry> {
    let compressed = reader.manifest().compressed;
    let mut out = OutputFile::create(reader.backend(), path, compressed, reader.sealer())?;
    for item in open_items(reader, path)? {
        let item = item?;
        if owners.keeps(&item) {
            continue;
        }
        let mut line = serde_json::to_vec(&item)
            .map_err(|e| Error::Other(format!("cannot encode a platform entry: {e}")))?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    let relative = path
        .strip_prefix(reader.root())
        .map_err(|_| Error::Other(format!("{} is outside its backup", path.display())))?
        .to_string_lossy()
        .into_owned();
    Ok(out.commit(relative)?)
}

/// Writes the generation's manifest (and record) without the users, with the new listings
/// of rewritten files and its record linked to `previous_digest`; returns its new digest.
fn rewrite_manifest(
    g: &Generation,
    ids: &HashSet<&str>,
    rewritten: Vec<FileEntry>,
    previous_digest: Option<String>,
) -> Result<String> {
    let backend = g.reader.backend();
    let mut manifest = g.reader.manifest().clone();
    manifest.users = manifest.users.retain_ids(|id| !ids.contains(id))?;
    let in_user_folder = |path: &str| {
        ids.iter()
            .any(|id| path.starts_with(&format!("{USERS_DIR}/{id}/")))
    };
    manifest.files.retain(|f| !in_user_folder(&f.path));
    for entry in rewritten {
        match manifest.files.iter_mut().find(|f| f.path == entry.path) {
            Some(f) => *f = entry,
            None => manifest.files.push(entry),
        }
    }
    if let Some(text) = &manifest.record {
        let mut record: GenerationRecord = serde_json::from_str(text.get()).map_err(|e| {
            Error::Other(format!(
                "{}: its record cannot be read ({e})",
                label(&g.name)
            ))
        })?;
        let digests: HashSet<Sha256Hex> = ids.iter().map(|id| user_digest(id)).collect();
        record.users.retain(|u| !digests.contains(&u.user));
        if let Some(install) = record.install_users.as_mut() {
            install.retain(|d| !digests.contains(d));
        }
        if let (Some(link), Some(digest)) = (record.previous.as_mut(), previous_digest) {
            link.manifest_sha256 = digest;
        }
        let encode = |e: serde_json::Error| Error::Other(format!("cannot encode a record: {e}"));
        let compact = serde_json::value::to_raw_value(&record).map_err(encode)?;
        let text = serde_json::to_vec_pretty(&record).map_err(encode)?;
        write_file(
            backend,
            &g.dir.join(CHAIN_RECORD),
            &text,
            None,
            CHAIN_RECORD.into(),
        )?;
        manifest.record = Some(compact);
    }
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::Other(format!("cannot encode a manifest: {e}")))?;
    // The rewritten files are durable before the manifest that lists them.
    sync_filesystem(backend, &g.dir)?;
    let entry = write_file_durable(
        backend,
        &g.dir.join(MANIFEST),
        &text,
        g.reader.sealer(),
        MANIFEST.into(),
    )?;
    entry
        .sha256
        .ok_or_else(|| Error::Other("a written manifest has no digest".into()))
}

/// The marker an interrupted forget left in `dir`, if any.
fn read_marker(
    backend: &Backend,
    dir: &Path,
    sealer: Option<&Arc<dyn FileSealer>>,
) -> Result<Option<Marker>> {
    let path = dir.join(FORGETTING_MARKER);
    let Some(input) = backend.open(&path)? else {
        return Ok(None);
    };
    let mut input = match sealer {
        Some(s) => s.open(input).map_err(|e| Error::io(&path, e))?,
        None => input,
    };
    let mut text = Vec::new();
    input
        .read_to_end(&mut text)
        .map_err(|e| Error::io(&path, e))?;
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        Error::Other(format!(
            "{} is not a marker this version can read ({e}): check the backup and remove it \
             by hand",
            path.display()
        ))
    })
}
