//! `decrypt_tree`: a plaintext mirror of a whole encrypted backup directory, so that any
//! tool (or a human) can read it without this program.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::CryptoError;
use crate::archive::FileSealer;

/// The cleartext envelope at the root of an encrypted backup.
pub const ENVELOPE_FILE: &str = "encryption.json";
/// Cleartext files at the root of an encrypted backup that are not ciphertext: the envelope
/// pryv-backup's generation record, and the reference's self-recovery readme and script.
const CLEARTEXT_ROOT_FILES: [&str; 4] = [
    ENVELOPE_FILE,
    crate::archive::layout::CHAIN_RECORD,
    "RESTORE-README.md",
    "decrypt-backup.mjs",
];

/// The envelope of the backup at `backup_dir`, or `None` if it is not encrypted (no
/// encryption.json).
pub fn read_envelope(backup_dir: &Path) -> Result<Option<serde_json::Value>, CryptoError> {
    let path = backup_dir.join(ENVELOPE_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CryptoError::io(&path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CryptoError::Envelope(format!("{} is not valid JSON ({e})", path.display())))
}

/// What [`decrypt_tree`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecryptReport {
    /// Files decrypted, relative to the backup root.
    pub files: Vec<PathBuf>,
    /// Cleartext root files not copied (the envelope, the reference's readme and script).
    pub skipped: Vec<PathBuf>,
    pub ciphertext_bytes: u64,
    pub plaintext_bytes: u64,
}

/// Writes into `out` the plaintext of every file of the encrypted backup `src` (same
/// relative paths), except the cleartext root files and any sub-folder holding its own
/// `encryption.json` (another sealed tree, e.g. an incremental generation, with its own key). `out` must not exist or be an empty
/// directory, and must not be inside `src`. Each file is written under a temporary name and
/// renamed when complete and authenticated; on failure, everything written is removed.
pub fn decrypt_tree(
    src: &Path,
    out: &Path,
    sealer: &dyn FileSealer,
) -> Result<DecryptReport, CryptoError> {
    let src_real = fs::canonicalize(src).map_err(|e| CryptoError::io(src, e))?;
    if !src_real.is_dir() {
        return Err(CryptoError::Directory(format!(
            "{} is not a directory",
            src.display()
        )));
    }
    let out_real = crate::paths::resolve_missing(out).map_err(|e| CryptoError::io(out, e))?;
    if out_real.starts_with(&src_real) {
        return Err(CryptoError::Directory(format!(
            "the output directory {} is inside the backup {}: choose a directory outside it",
            out.display(),
            src.display()
        )));
    }
    let mut files = Vec::new();
    list_files(&src_real, Path::new(""), &mut files)?;
    let mut created = Created::default();
    prepare_out(out, &mut created)?;

    let nested: Vec<PathBuf> = files
        .iter()
        .filter(|rel| rel.file_name() == Some(ENVELOPE_FILE.as_ref()))
        .filter_map(|rel| {
            rel.parent()
                .filter(|p| *p != Path::new(""))
                .map(Path::to_path_buf)
        })
        .collect();
    let mut report = DecryptReport::default();
    for rel in files {
        if let Err(e) = crate::interrupt::check() {
            created.remove();
            return Err(e.into());
        }
        let is_root_cleartext = rel.parent() == Some(Path::new(""))
            && CLEARTEXT_ROOT_FILES.iter().any(|n| rel == Path::new(n));
        if is_root_cleartext || nested.iter().any(|n| rel.starts_with(n)) {
            report.skipped.push(rel);
            continue;
        }
        if let Err(e) = decrypt_file(&src_real, out, &rel, sealer, &mut created, &mut report) {
            created.remove();
            return Err(e);
        }
        report.files.push(rel);
        // Tests stop here, one plaintext file written.
        crate::interrupt::pause_point("decrypt-file");
    }
    if let Err(e) = refresh_checksums(out) {
        created.remove();
        return Err(e);
    }
    Ok(report)
}

/// The manifests record sizes and SHA-256 of the sealed bytes; a plaintext copy gets those of
/// its own bytes, so that it checks (and restores) as a backup of its own.
fn refresh_checksums(out: &Path) -> Result<(), CryptoError> {
    use serde_json::Value;
    let mut manifests = Vec::new();
    list_files(out, Path::new(""), &mut manifests)?;
    manifests.retain(|rel| rel.file_name() == Some("manifest.json".as_ref()));
    let bad = |path: &Path, reason: String| CryptoError::File {
        path: path.display().to_string(),
        reason,
    };
    let read = |path: &Path| -> Result<Value, CryptoError> {
        let bytes = fs::read(path).map_err(|e| CryptoError::io(path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| bad(path, format!("not JSON after decryption: {e}")))
    };
    // Through a temporary file (0600, removed if anything fails) renamed over the old one.
    let write = |path: &Path, value: &Value| -> Result<(), CryptoError> {
        let text = serde_json::to_vec_pretty(value).map_err(|e| bad(path, e.to_string()))?;
        let dir = path.parent().unwrap_or(out);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| CryptoError::io(dir, e))?;
        tmp.write_all(&text).map_err(|e| CryptoError::io(path, e))?;
        tmp.persist(path)
            .map(drop)
            .map_err(|e| CryptoError::io(path, e.error))
    };
    let refresh = |value: &mut Value, base: &Path| -> Result<(), CryptoError> {
        let Some(Value::Array(files)) = value.get_mut("files") else {
            return Ok(());
        };
        for entry in files.iter_mut() {
            let Some(rel) = entry.get("path").and_then(Value::as_str) else {
                continue;
            };
            let path = base.join(rel);
            let bytes = fs::read(&path).map_err(|e| CryptoError::io(&path, e))?;
            entry["size"] = Value::from(bytes.len() as u64);
            if entry.get("sha256").is_some() {
                use sha2::Digest;
                entry["sha256"] = Value::String(hex::encode(sha2::Sha256::digest(&bytes)));
            }
        }
        Ok(())
    };
    for rel in manifests {
        let root = out.join(rel.parent().unwrap_or(Path::new("")));
        let path = out.join(&rel);
        let mut manifest = read(&path)?;
        // User manifests first: the root's list holds their sizes and hashes.
        if let Some(Value::Array(users)) = manifest.get_mut("users") {
            for user in users.iter_mut() {
                let Some(id) = user
                    .get("userId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    continue;
                };
                // An id from the archive never leads outside the copy.
                let Ok(id) = crate::archive::layout::safe_name("userId", &id) else {
                    return Err(bad(&path, format!("unsafe userId {id:?}")));
                };
                let dir = root.join("users").join(id);
                refresh(user, &dir)?;
                let user_manifest = dir.join("user-manifest.json");
                if user_manifest.is_file() {
                    let mut um = read(&user_manifest)?;
                    refresh(&mut um, &dir)?;
                    write(&user_manifest, &um)?;
                }
            }
        }
        refresh(&mut manifest, &root)?;
        write(&path, &manifest)?;
    }
    Ok(())
}

/// Paths this run created, to undo a partial decryption.
#[derive(Default)]
struct Created {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

impl Created {
    fn remove(&self) {
        for file in self.files.iter().rev() {
            let _ = fs::remove_file(file);
        }
        // Only empty directories go: anything else in them is not ours.
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn prepare_out(out: &Path, created: &mut Created) -> Result<(), CryptoError> {
    match fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CryptoError::Directory(format!(
                    "the output directory {} is not empty: give a new or empty directory",
                    out.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_dirs(out, created),
        Err(e) => Err(CryptoError::io(out, e)),
    }
}

/// Like `create_dir_all` (folders 0700: they hold plaintext user data), remembering which
/// directories it created.
fn create_dirs(dir: &Path, created: &mut Created) -> Result<(), CryptoError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent, created)?;
    }
    match crate::private_fs::create_dir(dir) {
        Ok(()) => {
            created.dirs.push(dir.to_owned());
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(CryptoError::io(dir, e)),
    }
}

/// Every regular file under `root/rel`, sorted; symlinks and special files are refused.
fn list_files(root: &Path, rel: &Path, files: &mut Vec<PathBuf>) -> Result<(), CryptoError> {
    let dir = root.join(rel);
    let mut entries = fs::read_dir(&dir)
        .and_then(|it| it.collect::<io::Result<Vec<_>>>())
        .map_err(|e| CryptoError::io(&dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| CryptoError::io(entry.path(), e))?;
        if kind.is_dir() {
            list_files(root, &path, files)?;
        } else if kind.is_file() {
            files.push(path);
        } else {
            return Err(CryptoError::File {
                path: path.display().to_string(),
                reason: "not a regular file (symlink or special file); a backup holds only regular files".into(),
            });
        }
    }
    Ok(())
}

fn decrypt_file(
    src: &Path,
    out: &Path,
    rel: &Path,
    sealer: &dyn FileSealer,
    created: &mut Created,
    report: &mut DecryptReport,
) -> Result<(), CryptoError> {
    let from = src.join(rel);
    let to = out.join(rel);
    let dest_dir = to.parent().unwrap_or(out);
    create_dirs(dest_dir, created)?;
    let input = File::open(&from).map_err(|e| CryptoError::io(&from, e))?;
    let ciphertext_bytes = input
        .metadata()
        .map_err(|e| CryptoError::io(&from, e))?
        .len();
    let file_error = |e: io::Error| CryptoError::File {
        path: rel.display().to_string(),
        reason: e.to_string(),
    };
    let mut plain = sealer
        .open(Box::new(BufReader::new(input)))
        .map_err(file_error)?;
    let temp =
        tempfile::NamedTempFile::new_in(dest_dir).map_err(|e| CryptoError::io(dest_dir, e))?;
    let mut writer = BufWriter::new(temp);
    // Read errors (authentication, truncation) name the file; write errors name the output.
    let copied = copy(&mut plain, &mut writer).map_err(|e| match e {
        CopyError::Read(e) => file_error(e),
        CopyError::Write(e) => CryptoError::io(&to, e),
    })?;
    let temp = writer
        .into_inner()
        .map_err(|e| CryptoError::io(&to, e.into_error()))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| CryptoError::io(&to, e))?;
    temp.persist_noclobber(&to)
        .map_err(|e| CryptoError::io(&to, e.error))?;
    created.files.push(to);
    report.ciphertext_bytes += ciphertext_bytes;
    report.plaintext_bytes += copied;
    Ok(())
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

fn copy(from: &mut dyn io::Read, to: &mut dyn Write) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}
