//! Where a backup's files physically go: the local filesystem, or one S3 bucket.
//!
//! The rest of the archive code names files by path and stays the same for both. In a bucket
//! a file is an object and its path reads `s3://<bucket>/<key>` (so messages show where it
//! is); folders are key prefixes and exist as soon as an object is under them.
//!
//! A file becomes visible under its name only when it is complete, in both: locally through
//! a temporary file renamed into place, in S3 because an upload shows nothing before it is
//! finished. So `manifest.json`, written last, still marks a backup complete.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::ArchiveError;
use crate::s3::{Bucket, S3Settings};

pub const S3_SCHEME: &str = "s3://";

/// How many folders a backup's deepest file sits below the backup's root
/// (`users/<id>/events/events-0001.jsonl.gz`, or an increment's under `increments/<n>/`).
const LAYOUT_DEPTH: usize = 5;

/// Opens a file, refusing a link in its place (the kernel answers ELOOP).
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Refuses a file whose folders inside the backup's layout include a link (a user folder
/// pointing elsewhere, say). The backup's own location may be reached through links.
fn refuse_linked_folders(path: &Path) -> Result<(), ArchiveError> {
    // Named first, looked at second: a restore opens ~20 files per user, and a look at every
    // folder above each (the backup's own among them) was most of its system calls.
    let layout_folders = path
        .ancestors()
        .skip(1)
        .take(LAYOUT_DEPTH - 1)
        .filter(|folder| names_a_layout_folder(folder));
    for folder in layout_folders {
        // Folders that do not exist are reported when the file is opened.
        if let Ok(meta) = fs::symlink_metadata(folder) {
            if meta.file_type().is_symlink() {
                return Err(ArchiveError::link(folder));
            }
        }
    }
    Ok(())
}

/// Whether a folder is one the backup layout itself makes (its parent is `users`,
/// `increments`, or it is `users`, `increments`, `platform`, or a collection's folder).
fn names_a_layout_folder(folder: &Path) -> bool {
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string()
    };
    let own = name(Some(folder));
    let parent = name(folder.parent());
    matches!(
        own.as_str(),
        "users" | "increments" | "platform" | "events" | "audit" | "series" | "attachments"
    ) || matches!(parent.as_str(), "users" | "increments")
}

#[derive(Clone, Default)]
pub enum Backend {
    #[default]
    Local,
    S3(Bucket),
}

/// Where a command that changes backups stands with one backup's lock.
pub enum ChangeLock {
    /// Held until dropped.
    Held(Box<dyn crate::lock::Held>),
    /// A dry run that could not take it: it looks without it.
    NotNeeded,
    /// Another run holds it: the backup is being written.
    Busy(String),
    /// It could not be taken to change the backup (no write access, say).
    Refused(String),
}

impl Backend {
    /// A backup location as an operator gives it: `s3://bucket/prefix` (reached with the
    /// usual AWS environment, see [`S3Settings`]) or a local directory.
    pub fn locate(
        location: &Path,
        s3: impl FnOnce(&str) -> S3Settings,
    ) -> Result<(Backend, PathBuf), ArchiveError> {
        let Some(rest) = location.to_str().and_then(|l| l.strip_prefix(S3_SCHEME)) else {
            return Ok((Backend::Local, location.to_path_buf()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        // A backup never takes a whole bucket: --delete-on-success would empty it.
        if bucket.is_empty() || prefix.is_empty() {
            return Err(ArchiveError::Invalid(format!(
                "{}: write s3://bucket/prefix (a bucket name, then the folder of this backup in it)",
                location.display()
            )));
        }
        let bucket = Bucket::connect(&s3(bucket))?;
        let root = format!("{S3_SCHEME}{}/{prefix}", bucket.name());
        Ok((Backend::S3(bucket), PathBuf::from(root)))
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Backend::Local)
    }

    /// Locks a backup output for the run: a lock file beside a local folder, a lock object
    /// beside an S3 prefix (see [`crate::lock`]).
    pub fn lock_output(&self, output: &Path) -> crate::Result<Box<dyn crate::lock::Held>> {
        match self {
            Backend::Local => crate::lock::lock_backup_output(output),
            Backend::S3(bucket) => crate::lock::lock_s3_output(bucket, &Self::key(bucket, output)?),
        }
    }

    /// The lock of `dir` for `command`, which removes or rewrites backups (prune, forget):
    /// taken when it changes them (`apply`); a dry run that cannot take it (read access
    /// only) looks without it, since it changes nothing. Busy and Refused carry what to tell
    /// the operator.
    pub fn lock_to_change(&self, dir: &Path, apply: bool, command: &str) -> ChangeLock {
        match self.lock_output(dir) {
            Ok(lock) => ChangeLock::Held(lock),
            Err(crate::Error::Locked(e)) => ChangeLock::Busy(format!("being written: {e}")),
            Err(e) if apply => ChangeLock::Refused(format!(
                "cannot take its lock, so nothing of it is changed ({e}): {command} needs \
                 write access to the folder holding the backups"
            )),
            Err(e) => {
                tracing::debug!("dry run without the lock of {}: {e}", dir.display());
                ChangeLock::NotNeeded
            }
        }
    }

    /// The object key of an `s3://<bucket>/<key>` path of this bucket.
    fn key(bucket: &Bucket, path: &Path) -> Result<String, ArchiveError> {
        let text = path.to_str().unwrap_or_default();
        let key = text
            .strip_prefix(S3_SCHEME)
            .and_then(|rest| rest.strip_prefix(bucket.name()))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| rest.trim_start_matches('/'))
            .ok_or_else(|| {
                ArchiveError::Invalid(format!(
                    "{} is not in bucket {}",
                    path.display(),
                    bucket.name()
                ))
            })?;
        Ok(key.to_string())
    }

    /// Opens a file for reading; `None` when it does not exist.
    pub(crate) fn open(&self, path: &Path) -> Result<Option<Box<dyn Read + Send>>, ArchiveError> {
        match self {
            Backend::Local => {
                refuse_linked_folders(path)?;
                match open_no_follow(path) {
                    Ok(f) => Ok(Some(Box::new(f))),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                        Err(ArchiveError::link(path))
                    }
                    Err(e) => Err(ArchiveError::io(path, e)),
                }
            }
            Backend::S3(bucket) => Ok(bucket.get(&Self::key(bucket, path)?)?),
        }
    }

    pub fn is_file(&self, path: &Path) -> Result<bool, ArchiveError> {
        match self {
            Backend::Local => Ok(path.is_file()),
            Backend::S3(bucket) => Ok(bucket.exists(&Self::key(bucket, path)?)?),
        }
    }

    /// Whether anything is stored under this folder (a local folder may exist empty).
    pub fn has_files_under(&self, dir: &Path) -> Result<bool, ArchiveError> {
        match self {
            Backend::Local => Ok(dir
                .read_dir()
                .is_ok_and(|mut entries| entries.next().is_some())),
            Backend::S3(bucket) => Ok(bucket.any_under(&Self::key(bucket, dir)?)?),
        }
    }

    /// Whether the folder can hold a backup to read: a directory, or a prefix with objects.
    pub fn is_dir(&self, dir: &Path) -> Result<bool, ArchiveError> {
        match self {
            Backend::Local => Ok(dir.is_dir()),
            Backend::S3(_) => self.has_files_under(dir),
        }
    }

    /// The bytes stored under a folder, leaving out its sub-folder `skip` (a base backup
    /// without its increments); links are not followed.
    pub fn size_under(&self, dir: &Path, skip: Option<&str>) -> Result<u64, ArchiveError> {
        match self {
            Backend::Local => {
                let mut total = 0;
                let entries = match fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
                    Err(e) => return Err(ArchiveError::io(dir, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| ArchiveError::io(dir, e))?;
                    let path = entry.path();
                    let meta = entry.metadata().map_err(|e| ArchiveError::io(&path, e))?;
                    if meta.is_dir() {
                        if skip.is_some_and(|s| entry.file_name() == s) {
                            continue;
                        }
                        total += self.size_under(&path, None)?;
                    } else if meta.is_file() {
                        total += meta.len();
                    }
                }
                Ok(total)
            }
            Backend::S3(bucket) => Ok(bucket.size_under(&Self::key(bucket, dir)?, skip)?),
        }
    }

    /// Whether `dir` is a folder of backups: one of its sub-folders holds a `manifest.json`.
    pub fn holds_backups(&self, dir: &Path) -> Result<bool, ArchiveError> {
        for name in self.list_dirs(dir)? {
            if self.is_file(&dir.join(name).join(super::layout::MANIFEST))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Names of the files directly in a folder; none when it does not exist.
    pub fn list_files(&self, dir: &Path) -> Result<Vec<String>, ArchiveError> {
        Ok(self
            .list(dir)?
            .into_iter()
            .filter_map(|(name, is_file)| is_file.then_some(name))
            .collect())
    }

    /// Names of the folders directly in a folder; none when it does not exist.
    pub fn list_dirs(&self, dir: &Path) -> Result<Vec<String>, ArchiveError> {
        Ok(self
            .list(dir)?
            .into_iter()
            .filter_map(|(name, is_file)| (!is_file).then_some(name))
            .collect())
    }

    /// Direct children of a folder, each with whether it is a file; none when it does not
    /// exist.
    pub(crate) fn list(&self, dir: &Path) -> Result<Vec<(String, bool)>, ArchiveError> {
        match self {
            Backend::Local => {
                let entries = match fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(ArchiveError::io(dir, e)),
                };
                let mut children = Vec::new();
                for entry in entries {
                    let entry = entry.map_err(|e| ArchiveError::io(dir, e))?;
                    let kind = entry
                        .file_type()
                        .map_err(|e| ArchiveError::io(&entry.path(), e))?;
                    // A link could make a host file part of a user's data: refused, by name.
                    if kind.is_symlink() {
                        return Err(ArchiveError::link(&entry.path()));
                    }
                    if !kind.is_file() && !kind.is_dir() {
                        continue;
                    }
                    let name = entry.file_name().into_string().map_err(|n| {
                        ArchiveError::corrupt(dir, format!("file name {n:?} is not UTF-8"))
                    })?;
                    children.push((name, kind.is_file()));
                }
                Ok(children)
            }
            Backend::S3(bucket) => {
                let (files, folders) = bucket.children(&Self::key(bucket, dir)?)?;
                let name = |key: String| match key.rsplit_once('/') {
                    Some((_, name)) => name.to_string(),
                    None => key,
                };
                Ok(files
                    .into_iter()
                    .map(|k| (name(k), true))
                    .chain(folders.into_iter().map(|k| (name(k), false)))
                    .collect())
            }
        }
    }

    /// Deletes the given files of a backup rooted at `root` (absent ones are skipped), then
    /// the folders under `root` they leave empty, then `root` if empty. Nothing else is
    /// touched: a file no manifest lists stays. Returns how many files were removed.
    pub fn remove_listed(&self, root: &Path, files: &[PathBuf]) -> Result<u64, ArchiveError> {
        let mut removed = 0;
        for file in files {
            if !file.starts_with(root) {
                return Err(ArchiveError::Invalid(format!(
                    "{} is not inside the backup {}: not deleted",
                    file.display(),
                    root.display()
                )));
            }
            match self {
                // remove_file removes a link itself, never what it points to.
                Backend::Local => match fs::remove_file(file) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ArchiveError::io(file, e)),
                },
                Backend::S3(bucket) => {
                    let key = Self::key(bucket, file)?;
                    if bucket.exists(&key)? {
                        bucket.delete(&key)?;
                        removed += 1;
                    }
                }
            }
        }
        if self.is_local() {
            // Deepest first, so a parent is tried after its children.
            let mut folders: Vec<&Path> = files
                .iter()
                .flat_map(|f| f.ancestors().skip(1))
                .filter(|a| a.starts_with(root))
                .collect();
            folders.sort_by_key(|f| std::cmp::Reverse(f.components().count()));
            folders.dedup();
            for folder in folders {
                // Fails on a folder that still holds something: that is what keeps it.
                let _ = fs::remove_dir(folder);
            }
        }
        Ok(removed)
    }

    /// Removes a folder if it is empty (S3 has no folders: nothing to do there).
    pub fn remove_empty_dir(&self, dir: &Path) {
        if self.is_local() {
            // Fails on a folder that still holds something: that is what keeps it.
            let _ = fs::remove_dir(dir);
        }
    }

    /// Deletes a folder and everything in it (locally, links are removed, never followed).
    pub fn remove_tree(&self, dir: &Path) -> Result<(), ArchiveError> {
        match self {
            Backend::Local => fs::remove_dir_all(dir).map_err(|e| ArchiveError::io(dir, e)),
            Backend::S3(bucket) => {
                let prefix = Self::key(bucket, dir)?;
                for key in bucket.list(&prefix)? {
                    bucket.delete(&key)?;
                }
                Ok(())
            }
        }
    }

    /// Starts an upload of `path` (S3 only; local files are written by `output`).
    pub(crate) fn upload(&self, path: &Path) -> Result<Option<crate::s3::Upload>, ArchiveError> {
        match self {
            Backend::Local => Ok(None),
            Backend::S3(bucket) => Ok(Some(bucket.create(&Self::key(bucket, path)?)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(bucket: &str) -> S3Settings {
        S3Settings::self_hosted(bucket, "http://127.0.0.1:1", "garage", "id", "secret")
    }

    #[test]
    fn locations_name_a_folder_or_a_prefix_in_a_bucket() {
        let (backend, root) = Backend::locate(Path::new("/backups/full"), settings).unwrap();
        assert!(backend.is_local());
        assert_eq!(root, Path::new("/backups/full"));

        let (backend, root) = Backend::locate(Path::new("s3://pryv/2026/full/"), settings).unwrap();
        let Backend::S3(bucket) = &backend else {
            panic!("not S3");
        };
        assert_eq!(root, Path::new("s3://pryv/2026/full"));
        let manifest = root.join("users").join("u1").join("user-manifest.json");
        assert_eq!(
            Backend::key(bucket, &manifest).unwrap(),
            "2026/full/users/u1/user-manifest.json"
        );
        // A path of another bucket whose name starts alike is not ours.
        assert!(Backend::key(bucket, Path::new("s3://pryvate/x")).is_err());

        for whole_bucket in ["s3://", "s3://pryv", "s3://pryv/", "s3:///prefix"] {
            assert!(
                Backend::locate(Path::new(whole_bucket), settings).is_err(),
                "{whole_bucket} accepted"
            );
        }
    }
}
