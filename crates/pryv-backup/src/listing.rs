//! What a location holds, for `list`: one row per generation of each backup in a folder of
//! backups (or of the one backup given), and one per unfinished or damaged backup. Dates,
//! users, sequence and encryption come from the clear records, sizes from the stored files,
//! so no key is needed; item counts need the manifests, hence the key of an encrypted backup.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::layout::{IN_PROGRESS, MANIFEST, USERS_DIR};
use crate::archive::Backend;
use crate::chain::{ChainIndex, GenerationInfo, Opener, BASE_NAME, INCREMENTS_DIR};
use crate::Result;

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The backup's folder.
    pub backup: PathBuf,
    /// `.` for the base, `increments/NNNN` for an increment.
    pub generation: String,
    /// `full`, `increment`, `unfinished` or `damaged`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    /// When it was written (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<usize>,
    /// Items of every collection (attachments apart); absent when the manifest is sealed
    /// and no key was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<u64>,
    /// Bytes stored (a base without its increments).
    pub bytes: u64,
    /// `none`, `symmetric` or `hybrid`.
    pub encryption: String,
    pub complete: bool,
    /// Why it is not complete, or what could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The rows of `location`: a backup, or a folder holding backups (folders that are neither
/// a backup nor an unfinished one, such as `lost+found`, are left out).
pub fn list(backend: &Backend, location: &Path, open: &Opener<'_>) -> Result<Vec<Row>> {
    if looks_like_backup(backend, location)? {
        return rows_of(backend, location, open);
    }
    let mut names = backend.list_dirs(location)?;
    names.sort();
    let mut rows = Vec::new();
    for name in names {
        let dir = location.join(name);
        if looks_like_backup(backend, &dir)? {
            rows.extend(rows_of(backend, &dir, open)?);
        }
    }
    Ok(rows)
}

/// A finished backup, or the output of a run that did not finish.
fn looks_like_backup(backend: &Backend, dir: &Path) -> Result<bool> {
    Ok(backend.is_file(&dir.join(MANIFEST))?
        || backend.is_file(&dir.join(IN_PROGRESS))?
        || backend.has_files_under(&dir.join(USERS_DIR))?)
}

fn rows_of(backend: &Backend, dir: &Path, open: &Opener<'_>) -> Result<Vec<Row>> {
    let bare = |kind, note: String| Row {
        backup: dir.to_path_buf(),
        generation: BASE_NAME.into(),
        kind,
        sequence: None,
        backup_timestamp: None,
        users: None,
        items: None,
        bytes: 0,
        encryption: String::new(),
        complete: false,
        note: Some(note),
    };
    let index = match ChainIndex::open(backend, dir) {
        Ok(Some(index)) => index,
        Ok(None) => {
            let mut row = bare(
                "unfinished",
                "no manifest.json: a run that did not finish (the next backup into this folder replaces it), or one running now".into(),
            );
            row.bytes = backend.size_under(dir, None)?;
            return Ok(vec![row]);
        }
        Err(e) => {
            let mut row = bare("damaged", e.to_string());
            row.bytes = backend.size_under(dir, None)?;
            return Ok(vec![row]);
        }
    };
    let mut rows = Vec::new();
    for g in &index.generations {
        rows.push(generation_row(backend, dir, g, open)?);
    }
    for name in &index.leftovers {
        let mut row = bare(
            "unfinished",
            "no manifest.json: an increment that did not finish, ignored by restores".into(),
        );
        row.generation = name.clone();
        row.bytes = backend.size_under(&dir.join(name), None)?;
        rows.push(row);
    }
    Ok(rows)
}

fn generation_row(
    backend: &Backend,
    dir: &Path,
    g: &GenerationInfo,
    open: &Opener<'_>,
) -> Result<Row> {
    let skip = (g.name == BASE_NAME).then_some(INCREMENTS_DIR);
    let mut row = Row {
        backup: dir.to_path_buf(),
        generation: g.name.clone(),
        kind: if g.name == BASE_NAME {
            "full"
        } else {
            "increment"
        },
        sequence: g.record.as_ref().map(|r| r.sequence),
        backup_timestamp: g.record.as_ref().map(|r| r.backup_timestamp),
        users: g.record.as_ref().map(|r| r.users.len()),
        items: None,
        bytes: backend.size_under(&g.dir, skip)?,
        encryption: g.encryption.clone(),
        complete: true,
        note: None,
    };
    match open(&g.dir) {
        Ok(reader) => {
            let manifest = reader.manifest();
            row.backup_timestamp
                .get_or_insert(manifest.backup_timestamp);
            row.users.get_or_insert(manifest.users.len());
            let mut items = 0;
            for u in manifest.users.iter() {
                match u {
                    Ok(u) => {
                        items += (u.stats.iter())
                            .filter(|(name, _)| *name != "attachments")
                            .map(|(_, count)| count)
                            .sum::<u64>();
                    }
                    Err(e) => {
                        row.note = Some(format!("items unknown ({e})"));
                        break;
                    }
                }
            }
            row.items = row.note.is_none().then_some(items);
        }
        Err(e) if g.encryption != "none" => {
            row.note = Some(format!("items need the backup's key ({e})"));
        }
        Err(e) => {
            row.complete = false;
            row.kind = "damaged";
            row.note = Some(e);
        }
    }
    Ok(row)
}
