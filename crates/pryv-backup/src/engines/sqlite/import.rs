//! Restoring one user, all or nothing: every per-user file is built from scratch in a staging
//! directory inside its target directory (same filesystem, same names and schema the core
//! creates) — the user's local directory, plus the HF server's `user.<username>` directory for
//! high-frequency series — then renamed into place; the users index is committed last. Until
//! then the install is untouched; after a failure the replaced files are put back.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;
use tempfile::TempDir;

use super::layout::{self, UserFile, SIDE_SUFFIXES};
use super::swap_journal::{self, Journal};
use super::{
    account, base_storage, db, ephemeral, events, series, users_index, SqliteEngine, SqliteError,
};
use crate::engine::{AttachmentImport, ImportOptions, UserSource};
use crate::integrity::{ItemKind, UserCheck};
use crate::model::{Collection, Item, UserRef};
use crate::{Error, Result};

pub fn import_user(
    engine: &SqliteEngine,
    user: &UserRef,
    source: &dyn UserSource,
    options: &ImportOptions,
) -> Result<()> {
    let conflict = |reason: String| Error::Conflict {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        reason,
    };
    if let Some(reason) = users_index::find_conflict(&engine.index_path(), user)? {
        return Err(conflict(reason));
    }
    if !options.overwrite && crate::engine::Engine::user_exists(engine, &user.user_id)? {
        return Err(conflict(
            "the install already holds data for this user; restore with overwrite to replace it"
                .to_string(),
        ));
    }
    let dir = engine.user_dir(&user.user_id)?;
    layout::refuse_unmigrated(&dir)?;
    let hf_dir = layout::hf_series_dir(engine.base(), &user.username)?;
    let managed = engine.managed_files();
    let mut user_target = Target::prepare(dir, managed.clone(), engine.base())?;
    let hf_managed = managed
        .into_iter()
        .filter(|f| *f == UserFile::Series)
        .collect();
    let mut hf_target = match Target::prepare(hf_dir, hf_managed, engine.base()) {
        Ok(t) => t,
        Err(e) => {
            user_target.discard();
            return Err(e);
        }
    };
    let result = stage_and_commit(
        engine,
        user,
        source,
        options,
        &mut user_target,
        &mut hf_target,
    );
    if result.is_err() {
        user_target.discard();
        hf_target.discard();
    }
    result
}

fn stage_and_commit(
    engine: &SqliteEngine,
    user: &UserRef,
    source: &dyn UserSource,
    options: &ImportOptions,
    user_target: &mut Target,
    hf_target: &mut Target,
) -> Result<()> {
    let mut attachments = engine
        .attachments
        .begin_user_import(&user.user_id, options.overwrite)?;
    user_target.files = build_files(
        user_target.staging()?,
        source,
        &user_target.manages,
        &mut *attachments,
    )?;
    if hf_target.manages.contains(&UserFile::Series) {
        // High-frequency series live in the HF server's own "user.<username>" directory.
        let hf_series = write_file(hf_target.staging()?, UserFile::Series, |conn| {
            write_series(conn, source, true)
        })?;
        hf_target.files.extend(hf_series);
    }
    let ephemeral = ephemeral::collect(source)?;
    if options.verify_integrity {
        verify_staged_integrity(user, user_target.staging()?)?;
    }
    // Tests stop the run here, the user's new files staged; the last safe point before the swap.
    crate::interrupt::pause_point("sqlite-staged");
    crate::interrupt::check()?;
    commit(
        engine,
        user,
        [&*user_target, &*hf_target],
        &ephemeral,
        attachments,
        options.overwrite,
    )
}

/// Series items of one location: measurements named `event.<id>` are the HF server's.
fn write_series(conn: &Connection, source: &dyn UserSource, hf: bool) -> Result<usize> {
    let mut n = 0;
    for item in source.items(Collection::Series)? {
        let item = item?;
        if series::is_hf_measurement(&item) == hf {
            n += series::write(conn, &item)?;
        }
    }
    Ok(n)
}

/// One directory a restore writes into: the staged files and what they replace.
pub(super) struct Target {
    dir: PathBuf,
    /// The files of this directory an overwrite replaces (all that we manage there).
    manages: Vec<UserFile>,
    created_dir: bool,
    base: PathBuf,
    staging: Option<TempDir>,
    pub(super) files: Vec<UserFile>,
}

impl Target {
    pub(super) fn prepare(dir: PathBuf, manages: Vec<UserFile>, base: &Path) -> Result<Target> {
        let created_dir = !dir.exists();
        // The user's folders take the install folder's owner and mode.
        crate::install_fs::DataFolder::of(base)
            .and_then(|folder| folder.create_dir_all(&dir))
            .map_err(|e| Error::io(&dir, e))?;
        let mut target = Target {
            staging: None,
            dir,
            manages,
            created_dir,
            base: base.to_path_buf(),
            files: Vec::new(),
        };
        match temp_dir_in(&target.dir, swap_journal::STAGING_PREFIX) {
            Ok(staging) => {
                target.staging = Some(staging);
                Ok(target)
            }
            Err(e) => {
                target.discard();
                Err(e)
            }
        }
    }

    pub(super) fn staging(&self) -> Result<&Path> {
        self.staging
            .as_ref()
            .map(TempDir::path)
            .ok_or_else(|| Error::Other("restore staging directory already removed".to_string()))
    }

    /// Drops what was staged and the directories this restore created.
    pub(super) fn discard(&mut self) {
        self.staging = None;
        if self.created_dir {
            remove_empty_dirs(&self.dir, &self.base);
        }
    }
}

/// Writes every file the user has data for; returns which files were written.
fn build_files(
    staging: &Path,
    source: &dyn UserSource,
    managed: &[UserFile],
    attachments: &mut dyn AttachmentImport,
) -> Result<Vec<UserFile>> {
    let mut staged = Vec::new();

    let written = write_file(staging, UserFile::BaseStorage, |conn| {
        let mut n = 0;
        for table in base_storage::TABLES {
            n += table.write_all(conn, source.items(table.collection)?)?;
        }
        Ok(n)
    })?;
    staged.extend(written);

    let mut files: Vec<(String, String)> = Vec::new();
    let written = write_file(staging, UserFile::Events, |conn| {
        let rows = source.items(Collection::Events)?.map(|item| {
            let item = item?;
            files.extend(current_attachments(&item));
            events::event_to_row(&item)
        });
        events::insert_rows(conn, rows)
    })?;
    staged.extend(written);
    let mut seen = HashSet::new();
    for (event_id, file_id) in files {
        if !seen.insert((event_id.clone(), file_id.clone())) {
            continue;
        }
        match source.attachment(&file_id)? {
            Some(mut data) => attachments.write(&event_id, &file_id, &mut data)?,
            None => tracing::warn!(
                event_id,
                file_id,
                "attachment listed by its event is not in the backup"
            ),
        }
    }

    // Audit and series held by another store are restored by that store.
    if managed.contains(&UserFile::Audit) {
        let written = write_file(staging, UserFile::Audit, |conn| {
            events::insert_rows(
                conn,
                source
                    .items(Collection::Audit)?
                    .map(|i| events::audit_to_row(&i?)),
            )
        })?;
        staged.extend(written);
    }

    if let Some(account_data) = source.account()? {
        let written = write_file(staging, UserFile::Account, |conn| {
            account::write(conn, &account_data)?;
            Ok(1)
        })?;
        staged.extend(written);
    }

    if managed.contains(&UserFile::Series) {
        let written = write_file(staging, UserFile::Series, |conn| {
            write_series(conn, source, false)
        })?;
        staged.extend(written);
    }
    Ok(staged)
}

/// The (event id, file id) pairs a current event owns.
fn current_attachments(event: &Item) -> Vec<(String, String)> {
    if event.get("headId").is_some_and(|h| !h.is_null()) {
        return Vec::new();
    }
    let Some(id) = event.get("id").and_then(Value::as_str) else {
        return Vec::new();
    };
    event
        .get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a.get("id").and_then(Value::as_str))
                .map(|f| (id.to_string(), f.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates one file with the core's schema, fills it in one transaction, closes it (which
/// checkpoints the WAL away) and fsyncs it. A file that ends up empty is not kept.
pub(super) fn write_file(
    staging: &Path,
    file: UserFile,
    fill: impl FnOnce(&Connection) -> Result<usize>,
) -> Result<Option<UserFile>> {
    let path = staging.join(file.file_name());
    // The file ends up in the user's folder: it takes that folder's mode, not the staging's.
    let user_dir = staging.parent().unwrap_or(staging);
    let conn = layout::create_with_schema(&path, &file.schema(), user_dir)?;
    let tx = conn.unchecked_transaction().map_err(db)?;
    let count = fill(&tx)?;
    tx.commit().map_err(|e| SqliteError::file(&path, e))?;
    conn.close().map_err(|(_, e)| SqliteError::file(&path, e))?;
    if count == 0 {
        for suffix in SIDE_SUFFIXES {
            let _ = fs::remove_file(side_path(&path, suffix));
        }
        return Ok(None);
    }
    fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&path, e))?;
    Ok(Some(file))
}

/// Reads the staged events and accesses back as they will be exported and checks their
/// integrity hashes, before anything replaces the user's current files.
fn verify_staged_integrity(user: &UserRef, staging: &Path) -> Result<()> {
    let mut tally = UserCheck::default();
    let path = staging.join(UserFile::Events.file_name());
    if path.exists() {
        let conn = layout::open_for_reading(&path)?;
        let mut stmt = conn.prepare(&events::select_sql()).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            tally.item(ItemKind::Event, &events::row_to_event(row)?);
        }
    }
    let path = staging.join(UserFile::BaseStorage.file_name());
    if path.exists() {
        let conn = layout::open_for_reading(&path)?;
        for table in base_storage::TABLES
            .iter()
            .filter(|t| t.collection == Collection::Accesses)
        {
            for access in table.read_all(&conn)? {
                tally.item(ItemKind::Access, &access);
            }
        }
    }
    tally.finish(&user.username)?;
    Ok(())
}

/// Swaps the staged files in. Order: old files aside, new files in, attachments, sessions and
/// password resets (shared file), then the users index; any failure before the index commit
/// puts the old files back (attachments, once committed, stay).
fn commit(
    engine: &SqliteEngine,
    user: &UserRef,
    targets: [&Target; 2],
    ephemeral: &ephemeral::Staged,
    attachments: Box<dyn AttachmentImport + '_>,
    overwrite: bool,
) -> Result<()> {
    let index_path = engine.index_path();
    let index = users_index::open_for_update(&index_path)?;
    let tx = rusqlite::Transaction::new_unchecked(&index, rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| SqliteError::file(&index_path, e))?;
    if let Some(reason) =
        users_index::conflict_in(&tx, user).map_err(|e| SqliteError::file(&index_path, e))?
    {
        return Err(Error::Conflict {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            reason,
        });
    }
    tx.execute(
        "INSERT OR IGNORE INTO id4name (username, userId) VALUES (?1, ?2)",
        [&user.username, &user.user_id],
    )
    .map_err(|e| SqliteError::file(&index_path, e))?;

    // Sessions and password resets: written in the same window, only if there is anything to do.
    let shared_path = ephemeral::shared_path(engine.base());
    let shared = if !ephemeral.is_empty() || (overwrite && shared_path.exists()) {
        Some(ephemeral::open_for_update(engine.base())?)
    } else {
        None
    };
    let shared_tx = match &shared {
        Some(conn) => {
            let tx = rusqlite::Transaction::new_unchecked(
                conn,
                rusqlite::TransactionBehavior::Immediate,
            )
            .map_err(|e| SqliteError::file(&shared_path, e))?;
            ephemeral::apply(&tx, &user.username, ephemeral, overwrite)?;
            Some(tx)
        }
        None => None,
    };

    let of = SwapOf {
        user_id: &user.user_id,
        base: engine.base(),
        index: Some(index_path.clone()),
    };
    swap_in_all(&targets, overwrite, &of, || {
        attachments.commit()?;
        if let Some(shared_tx) = shared_tx {
            shared_tx
                .commit()
                .map_err(|e| SqliteError::file(&shared_path, e))?;
        }
        tx.commit().map_err(|e| SqliteError::file(&index_path, e))?;
        Ok(())
    })
}

/// Whose files a swap replaces, and the users index its commit goes to (for the journal).
pub(super) struct SwapOf<'a> {
    pub user_id: &'a str,
    /// Where the journal is written: the install's base folder.
    pub base: &'a Path,
    pub index: Option<PathBuf>,
}

/// Moves the staged files of every target into place (the old ones aside first, with
/// overwrite), then runs `finish`, the commits that belong to the same unit; any failure
/// puts the old files back. The old files are deleted once all succeeded. The renames are
/// journaled first (see [`swap_journal`]), so a run killed inside is finished or undone by
/// the next one; signals are not looked at in here.
pub(super) fn swap_in_all(
    targets: &[&Target],
    overwrite: bool,
    of: &SwapOf<'_>,
    finish: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let mut asides = Vec::new();
    for target in targets {
        asides.push(temp_dir_in(&target.dir, swap_journal::REPLACED_PREFIX)?);
    }
    let mut journal = Journal {
        user_id: of.user_id.to_string(),
        indexed_before: match &of.index {
            Some(index) => users_index::has_user_id(index, of.user_id)?,
            None => false,
        },
        index: of.index.clone(),
        aside: Vec::new(),
        placed: Vec::new(),
        aside_dirs: asides.iter().map(|a| a.path().to_path_buf()).collect(),
        committed: false,
    };
    for (target, aside) in targets.iter().zip(&asides) {
        plan_swap(target, aside.path(), overwrite, &mut journal)?;
    }
    let written = journal.write(of.base)?;
    let mut swap = Swap::default();
    let result: Result<()> = (|| {
        for (from, to) in &journal.aside {
            rename(from, to)?;
            swap.moved_aside.push((from.clone(), to.clone()));
        }
        // Tests kill or signal the run here, the user's old files aside, no new file in.
        crate::interrupt::pause_point("sqlite-swap");
        for (from, to) in &journal.placed {
            rename(from, to)?;
            swap.placed.push(to.clone());
        }
        finish()
    })();
    if let Err(e) = result {
        // When the undo did not complete, the journal and the old files it names are kept:
        // the next run retries it.
        if swap.undo() {
            written.remove()?;
        } else {
            asides.into_iter().for_each(|aside| drop(aside.keep()));
        }
        return Err(e);
    }
    // Tests kill the run here: committed, the journal not yet updated nor removed.
    crate::interrupt::pause_point("sqlite-swap-committed");
    // Whether the swap committed can be told without the journal (a user new to the index,
    // or no index: the new files all in); otherwise the journal says so.
    let tells_by_itself = of.index.is_none() || !journal.indexed_before;
    let written = if tells_by_itself {
        written
    } else {
        journal.committed = true;
        journal.write(of.base)?
    };
    for target in targets {
        swap_journal::sync_dir(&target.dir)?;
    }
    for aside in asides {
        let path = aside.path().to_path_buf();
        aside.close().map_err(|e| Error::io(&path, e))?;
    }
    written.remove()
}

/// Plans one directory's renames: its old files aside (with overwrite), its staged files in.
fn plan_swap(target: &Target, aside: &Path, overwrite: bool, journal: &mut Journal) -> Result<()> {
    let dir = &target.dir;
    if overwrite {
        for file in &target.manages {
            for suffix in SIDE_SUFFIXES {
                let from = side_path(&dir.join(file.file_name()), suffix);
                if from.exists() {
                    let to = aside.join(from.file_name().unwrap_or_default());
                    journal.aside.push((from, to));
                }
            }
        }
    }
    for file in &target.files {
        let to = dir.join(file.file_name());
        let moved_aside = journal.aside.iter().any(|(from, _)| *from == to);
        if to.exists() && !moved_aside {
            return Err(Error::Other(format!(
                "{} already exists (is the core running? stop it before restoring, or restore with overwrite)",
                to.display()
            )));
        }
        journal
            .placed
            .push((target.staging()?.join(file.file_name()), to));
    }
    Ok(())
}

/// What the commit changed, to put back on failure.
#[derive(Default)]
struct Swap {
    moved_aside: Vec<(PathBuf, PathBuf)>,
    placed: Vec<PathBuf>,
}

impl Swap {
    /// Whether everything was put back.
    fn undo(self) -> bool {
        let mut whole = true;
        for path in self.placed {
            if let Err(e) = fs::remove_file(&path) {
                whole = false;
                tracing::error!(path = %path.display(), error = %e, "could not remove a restored file while rolling back");
            }
        }
        for (original, aside) in self.moved_aside {
            if let Err(e) = fs::rename(&aside, &original) {
                whole = false;
                tracing::error!(from = %aside.display(), to = %original.display(), error = %e,
                    "could not put a user file back while rolling back; the next restore or backup retries it");
            }
        }
        whole
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::io(from, e))
}

fn side_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Staging and old files alike hold user data: 0700 whatever the umask, owned as `dir` is
/// (what a killed run leaves, the core's user can remove).
fn temp_dir_in(dir: &Path, prefix: &str) -> Result<TempDir> {
    let temp = crate::private_fs::temp_dir_in(dir, prefix).map_err(|e| Error::io(dir, e))?;
    crate::install_fs::DataFolder::of(dir)
        .and_then(|folder| folder.own(temp.path()))
        .map_err(|e| Error::io(temp.path(), e))?;
    Ok(temp)
}

/// Removes the user directory and its empty shard parents that a failed restore created.
fn remove_empty_dirs(dir: &Path, base: &Path) {
    let mut current = Some(dir);
    while let Some(d) = current {
        if d == base || fs::remove_dir(d).is_err() {
            break;
        }
        current = d.parent();
    }
}
