//! rqlite's SQLite database read (and, for fresh files, written) directly with rusqlite.
//!
//! rqlite 8/9 keeps the database it serves at `<data dir>/db.sqlite` (next to its Raft log
//! `raft.db` and snapshots `rsnapshots/`). rqlite allows reading that file, never writing
//! it: on start it rebuilds it from its snapshot and log, so direct changes would be lost
//! or make the node refuse to start. Writes therefore go only to a file outside a data
//! directory, to be loaded into a node with rqlite's own restore (`/db/load`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{RqliteError, TABLE_DDL};

/// The SQLite file inside an rqlite data directory.
pub const DATA_DIR_DB: &str = "db.sqlite";

/// What marks a directory as a live rqlite data directory.
const RAFT_LOG: &str = "raft.db";

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> RqliteError + '_ {
    move |source| RqliteError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// Every `(key, value)` row whose key starts with `prefix`, in key order.
pub fn rows_with_prefix(
    path: &Path,
    prefix: &str,
    on_row: &mut dyn FnMut(&str, &str) -> crate::Result<()>,
) -> crate::Result<()> {
    if !path.is_file() {
        return Err(no_such_file(path).into());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_error(path))?;
    rows_of(&conn, path, &[prefix], on_row)
}

fn no_such_file(path: &Path) -> RqliteError {
    RqliteError::Layout {
        path: path.to_path_buf(),
        reason: "no such file (with rqlite, give its data directory's db.sqlite)".into(),
    }
}

/// The rows of each prefix in turn, each in key order.
fn rows_of(
    conn: &Connection,
    path: &Path,
    prefixes: &[&str],
    on_row: &mut dyn FnMut(&str, &str) -> crate::Result<()>,
) -> crate::Result<()> {
    let err = db_error(path);
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keyValue'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(&err)?;
    if has_table.is_none() {
        return Err(RqliteError::Layout {
            path: path.to_path_buf(),
            reason: "no keyValue table: not a Pryv.io platform database".into(),
        }
        .into());
    }
    let mut statement = conn
        .prepare("SELECT key, value FROM keyValue WHERE substr(key, 1, ?1) = ?2 ORDER BY key")
        .map_err(&err)?;
    for prefix in prefixes {
        let mut rows = statement
            .query(rusqlite::params![prefix.chars().count() as i64, prefix])
            .map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let key: String = row.get(0).map_err(&err)?;
            let value: String = row.get(1).map_err(&err)?;
            on_row(&key, &value)?;
        }
    }
    Ok(())
}

/// The rows under these keys; none when the file or its table does not exist yet.
pub fn values(path: &Path, keys: &[String]) -> crate::Result<Vec<(String, String)>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let err = db_error(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?;
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keyValue'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(&err)?;
    if has_table.is_none() {
        return Ok(Vec::new());
    }
    let mut statement = conn
        .prepare("SELECT value FROM keyValue WHERE key = ?1")
        .map_err(&err)?;
    let mut found = Vec::new();
    for key in keys {
        let value: Option<String> = statement
            .query_row([key], |row| row.get(0))
            .optional()
            .map_err(&err)?;
        if let Some(value) = value {
            found.push((key.clone(), value));
        }
    }
    Ok(found)
}

/// What SQLite keeps beside a database: the write-ahead log and its index, or a rollback
/// journal.
const SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The rows of a stopped node's data directory, without changing a byte there: no process
/// may hold the directory open (a node still running, reached through another URL), the
/// database is opened `immutable` (no lock, no `-wal`/`-shm` created), and when the node
/// left a write-ahead log or a journal beside it (a node stopped without checkpointing),
/// the files are copied into a private temporary folder first, so that SQLite applies
/// them to the copy. The files are checked unchanged after the read.
pub fn stopped_node_rows(
    data_dir: &Path,
    prefixes: &[&str],
    on_row: &mut dyn FnMut(&str, &str) -> crate::Result<()>,
) -> crate::Result<()> {
    let db = data_dir.join(DATA_DIR_DB);
    if !db.is_file() {
        return Err(no_such_file(&db).into());
    }
    if let Some(holder) = live_holder(data_dir) {
        return Err(RqliteError::Layout {
            path: data_dir.to_path_buf(),
            reason: format!(
                "{holder} holds this rqlite data directory, yet the configured node does not \
                 answer: check storages:engines:rqlite:url, or stop that node first; nothing \
                 was read"
            ),
        }
        .into());
    }
    let before = FilesState::of(&db)?;
    let pending_log = SIDECARS
        .iter()
        .filter(|s| **s != "-shm")
        .any(|s| sidecar(&db, s).metadata().is_ok_and(|m| m.len() > 0));
    let copy;
    let conn = if pending_log {
        copy = private_copy(&db)?;
        Connection::open(copy.path().join(DATA_DIR_DB)).map_err(db_error(&db))?
    } else {
        immutable(&db)?
    };
    rows_of(&conn, &db, prefixes, on_row)?;
    drop(conn);
    if FilesState::of(&db)? != before {
        return Err(RqliteError::Layout {
            path: data_dir.to_path_buf(),
            reason: "its files changed while they were read (a node started on it?): back up \
                     again, through the node's HTTP API if it runs"
                .into(),
        }
        .into());
    }
    Ok(())
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens without locking and without creating any file beside the database: right only
/// for a file nobody writes.
fn immutable(db: &Path) -> crate::Result<Connection> {
    let err = db_error(db);
    let uri = format!("{}?immutable=1", file_uri(db));
    Ok(Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&err)?)
}

/// `file:<path>`, with the characters a SQLite URI gives a meaning to escaped.
fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_bytes() {
        match byte {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{byte:02X}")),
            _ if byte.is_ascii() => uri.push(char::from(byte)),
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

/// The database and its log or journal copied into a folder only this user can enter
/// (they hold the platform's user registry), removed when the value is dropped.
fn private_copy(db: &Path) -> crate::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("pryv-backup-rqlite-")
        .tempdir()
        .map_err(|e| crate::Error::io(std::env::temp_dir(), e))?;
    for suffix in ["", "-wal", "-journal"] {
        let from = sidecar(db, suffix);
        if !from.exists() {
            continue;
        }
        let to = sidecar(&dir.path().join(DATA_DIR_DB), suffix);
        std::fs::copy(&from, &to).map_err(|e| crate::Error::io(&from, e))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| crate::Error::io(&to, e))?;
    }
    Ok(dir)
}

/// Size and modification time of the database and each file SQLite may keep beside it.
#[derive(PartialEq, Eq)]
struct FilesState(Vec<Option<(u64, std::time::SystemTime)>>);

impl FilesState {
    fn of(db: &Path) -> crate::Result<FilesState> {
        let mut state = Vec::new();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let path = sidecar(db, suffix);
            state.push(match path.metadata() {
                Ok(m) => Some((
                    m.len(),
                    m.modified().map_err(|e| crate::Error::io(&path, e))?,
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(crate::Error::io(&path, e)),
            });
        }
        Ok(FilesState(state))
    }
}

/// A process that holds the data directory: rqlited locks its Raft log (`raft.db`) for as
/// long as it runs, and any process with a file of the directory open counts too (those
/// this user may see in /proc).
fn live_holder(data_dir: &Path) -> Option<String> {
    if raft_log_locked(&data_dir.join(RAFT_LOG)) {
        return Some(format!("a running rqlited (its {RAFT_LOG} is locked)"));
    }
    let dir = data_dir.canonicalize().ok()?;
    let me = std::process::id().to_string();
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = process.file_name().to_string_lossy().to_string();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| target.starts_with(&dir))
        {
            return Some(format!("process {pid}"));
        }
    }
    None
}

/// Whether another process holds the lock rqlited's Raft log store takes on `raft.db`.
fn raft_log_locked(raft_log: &Path) -> bool {
    let Ok(file) = std::fs::File::open(raft_log) else {
        return false;
    };
    // A shared lock is refused only while a writer holds its exclusive one; this one goes
    // with the file.
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}
/// Writes rows into a SQLite file in rqlite's layout (created when missing), all in one
/// transaction. Refuses a file inside a live rqlite data directory.
pub fn put_rows(
    path: &Path,
    rows: &mut dyn Iterator<Item = crate::Result<(String, String)>>,
) -> crate::Result<()> {
    if let Some(dir) = live_data_dir(path) {
        return Err(data_dir_is_read_only(path, &dir).into());
    }
    let err = db_error(path);
    // A new file takes its folder's mode and owner (a drill's private scratch keeps it
    // private).
    if !path.exists() {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        crate::install_fs::DataFolder::of(dir)
            .and_then(|folder| folder.create_file(path))
            .map_err(|e| crate::Error::io(path, e))?;
    }
    let mut conn = Connection::open(path).map_err(&err)?;
    let tx = conn.transaction().map_err(&err)?;
    tx.execute(TABLE_DDL, []).map_err(&err)?;
    {
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO keyValue (key, value) VALUES (?1, ?2)")
            .map_err(&err)?;
        for row in rows {
            let (key, value) = row?;
            insert.execute([key, value]).map_err(&err)?;
        }
    }
    tx.commit().map_err(&err)?;
    Ok(())
}

/// Why a node's data directory is never written.
pub fn data_dir_is_read_only(path: &Path, dir: &Path) -> RqliteError {
    RqliteError::Layout {
        path: path.to_path_buf(),
        reason: format!(
            "{} is a live rqlite data directory, whose database rqlite rebuilds on start: \
             restore through the HTTP API instead, or write a separate file and load it \
             with rqlite's /db/load",
            dir.display()
        ),
    }
}

fn live_data_dir(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.join(RAFT_LOG).exists().then(|| dir.to_path_buf())
}
