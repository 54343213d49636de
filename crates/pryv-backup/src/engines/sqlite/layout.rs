//! File names and schemas, exactly as the core creates them (docs/storage-layout.md §4).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::SqliteError;
use crate::Result;

pub const USER_INDEX_FILE: &str = "user-index.db";

/// How long a reader waits on a lock the core holds; the core itself gives up after ~10 s.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The per-user files, all at version 1.0.0 (the version is in the name only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFile {
    BaseStorage,
    Events,
    Audit,
    Account,
    Series,
}

impl UserFile {
    pub const ALL: [UserFile; 5] = [
        UserFile::BaseStorage,
        UserFile::Events,
        UserFile::Audit,
        UserFile::Account,
        UserFile::Series,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            UserFile::BaseStorage => "baseStorage-1.0.0.sqlite",
            UserFile::Events => "local-1.0.0.sqlite",
            UserFile::Audit => "audit-1.0.0.sqlite",
            UserFile::Account => "account-1.0.0.sqlite",
            UserFile::Series => "series-1.0.0.sqlite",
        }
    }

    /// The statements the core runs when it opens the file, in its order.
    pub fn schema(self) -> String {
        match self {
            UserFile::BaseStorage => BASE_STORAGE_SCHEMA.to_string(),
            UserFile::Events | UserFile::Audit => events_schema(),
            UserFile::Account => ACCOUNT_SCHEMA.to_string(),
            UserFile::Series => SERIES_SCHEMA.to_string(),
        }
    }
}

/// Where the high-frequency server's series of a user live: it names its per-user series
/// "database" `user.<username>`, and the SQLite series engine turns that name into a user
/// local directory of its own (docs §4, §9.3).
pub fn hf_series_dir(base: &Path, username: &str) -> Result<std::path::PathBuf> {
    crate::engines::filesystem::user_local_dir(base, &format!("user.{username}"))
}

/// The pre-1.0.0 audit file; the core migrates it into `audit-1.0.0.sqlite` when it starts.
pub const V0_AUDIT_FILE: &str = "audit.sqlite";

/// Refuses a user directory the core has not migrated yet: its audit would be missed by a
/// backup, and after a restore the core would find both versions and refuse to start.
pub fn refuse_unmigrated(user_dir: &Path) -> Result<()> {
    let v0 = user_dir.join(V0_AUDIT_FILE);
    if v0.exists() {
        return Err(crate::Error::Other(format!(
            "{} is a pre-1.0.0 audit database: start open-pryv.io once so it migrates it, then retry",
            v0.display()
        )));
    }
    Ok(())
}

/// The SQLite side files that belong to a database file and must move with it.
pub const SIDE_SUFFIXES: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// The columns of the events table (events and audit files), in the core's order.
pub const EVENT_COLUMNS: [(&str, &str); 17] = [
    ("eventid", "TEXT UNIQUE"),
    ("headId", "TEXT DEFAULT NULL"),
    ("streamIds", "TEXT"),
    ("time", "REAL"),
    ("deleted", "REAL DEFAULT NULL"),
    ("endTime", "REAL"),
    ("type", "TEXT"),
    ("content", "TEXT"),
    ("description", "TEXT"),
    ("clientData", "TEXT"),
    ("integrity", "TEXT"),
    ("attachments", "TEXT"),
    ("trashed", "INTEGER DEFAULT 0"),
    ("created", "REAL"),
    ("createdBy", "TEXT"),
    ("modified", "REAL"),
    ("modifiedBy", "TEXT"),
];

const EVENT_INDEXED: [&str; 10] = [
    "eventid",
    "time",
    "deleted",
    "endTime",
    "type",
    "trashed",
    "created",
    "createdBy",
    "modified",
    "modifiedBy",
];

fn events_schema() -> String {
    let cols: Vec<String> = EVENT_COLUMNS
        .iter()
        .map(|(n, t)| format!("{n} {t}"))
        .collect();
    let mut sql = format!("CREATE TABLE IF NOT EXISTS events ({});\n", cols.join(", "));
    for col in EVENT_INDEXED {
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS events_{col} ON events({col});\n"
        ));
    }
    // Full-text search on streamIds, kept in sync by triggers (must exist before any insert).
    let fts_cols: Vec<String> = EVENT_COLUMNS
        .iter()
        .map(|(n, _)| {
            if *n == "streamIds" {
                n.to_string()
            } else {
                format!("{n} UNINDEXED")
            }
        })
        .collect();
    sql.push_str(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5({}, content='events', content_rowid='rowid', \
         tokenize = \"unicode61 remove_diacritics 0 tokenchars '-_:.'\");\n",
        fts_cols.join(", ")
    ));
    sql.push_str(
        "CREATE VIRTUAL TABLE IF NOT EXISTS events_fts_v USING fts5vocab(events_fts, 'row');\n",
    );
    sql.push_str(
        "CREATE TRIGGER IF NOT EXISTS events_ai AFTER INSERT ON events BEGIN \
           INSERT INTO events_fts (rowid, streamIds) VALUES (new.rowid, new.streamIds); END;\n\
         CREATE TRIGGER IF NOT EXISTS events_ad AFTER DELETE ON events BEGIN \
           INSERT INTO events_fts (events_fts, rowid, streamIds) VALUES ('delete', old.rowid, old.streamIds); END;\n\
         CREATE TRIGGER IF NOT EXISTS events_au AFTER UPDATE ON events BEGIN \
           INSERT INTO events_fts (events_fts, rowid, streamIds) VALUES ('delete', old.rowid, old.streamIds); \
           INSERT INTO events_fts (rowid, streamIds) VALUES (new.rowid, new.streamIds); END;\n",
    );
    sql
}

const BASE_STORAGE_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS streams (id TEXT PRIMARY KEY, deleted INTEGER, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS streams_deleted ON streams(deleted);
CREATE TABLE IF NOT EXISTS accesses (id TEXT PRIMARY KEY, head_id TEXT, deleted INTEGER, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS accesses_deleted ON accesses(deleted);
CREATE INDEX IF NOT EXISTS accesses_head_id ON accesses(head_id);
CREATE TABLE IF NOT EXISTS profile (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (id TEXT PRIMARY KEY, deleted INTEGER, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS webhooks_deleted ON webhooks(deleted);
";

const ACCOUNT_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS passwords (time REAL PRIMARY KEY, hash TEXT NOT NULL, createdBy TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS passwords_hash ON passwords(hash);
CREATE TABLE IF NOT EXISTS storeKeyValueData (storeId TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (storeId, key));
CREATE INDEX IF NOT EXISTS storeKeyValueData_storeId ON storeKeyValueData(storeId);
CREATE TABLE IF NOT EXISTS account_fields (field TEXT NOT NULL, value TEXT, time REAL NOT NULL, createdBy TEXT NOT NULL, PRIMARY KEY (field, time));
CREATE INDEX IF NOT EXISTS account_fields_field ON account_fields(field);
";

const SERIES_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS series_data (event_id TEXT NOT NULL, point_time INTEGER NOT NULL, delta_time INTEGER NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (event_id, point_time));
CREATE INDEX IF NOT EXISTS idx_event_delta ON series_data(event_id, delta_time);
";

pub const USER_INDEX_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS id4name (username TEXT PRIMARY KEY, userId TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS id4name_id ON id4name(userId);
CREATE TABLE IF NOT EXISTS alias4id (alias TEXT PRIMARY KEY, userId TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alias4id_id ON alias4id(userId);
";

/// Opens an existing file for reading; no statement we run on it ever writes.
///
/// Read-write (without create) is preferred: a read-only connection leaves empty `-wal` and
/// `-shm` files behind, whereas the last read-write connection to close removes them. If the
/// file or directory is not writable, a read-only connection is used instead.
pub fn open_for_reading(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_WRITE)
        .or_else(|_| Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_ONLY))
        .map_err(|e| SqliteError::file(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| SqliteError::file(path, e))?;
    Ok(conn)
}

/// Opens a file of the install for a backup, read-only: nothing is ever written to it, and
/// no file is created beside it when its folder is not writable (backups run as a user with
/// read access only). A WAL database is read through its `-shm`; without one in a read-only
/// folder, the file alone is read (`immutable`) when there is no `-wal` either (no change
/// then lies outside it), else what is missing is told. The first read is made here, so that
/// a file that cannot be read is named.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    let access = |message: String| {
        crate::Error::Sqlite(SqliteError::Access {
            path: path.display().to_string(),
            message,
        })
    };
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let (wal, shm) = (beside("-wal"), beside("-shm"));
    let folder = path.parent().unwrap_or(Path::new("."));
    let immutable = !shm.exists() && !is_writable(folder);
    if immutable && wal.exists() {
        return Err(access(format!(
            "its {} holds changes not yet in the file, and reading them needs a {} this user \
             cannot create: give this user write access to the folder {} (or run the backup \
             while the core has the file open, which keeps the -shm)",
            wal.display(),
            shm.display(),
            folder.display()
        )));
    }
    // A read-only connection that creates the -wal and -shm of a database nobody has open
    // cannot remove them when it closes (SQLite leaves that to a writer), so a backup would
    // leave files in the install. With write access to the folder and no such files, the
    // connection is opened read-write but made query-only: its close removes what it made.
    let clean = !wal.exists() && !shm.exists();
    let access_flag = if clean && !immutable && is_writable(path) {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | access_flag;
    let opened = if immutable {
        Connection::open_with_flags(
            format!("file:{}?immutable=1", uri_path(path)),
            flags | OpenFlags::SQLITE_OPEN_URI,
        )
    } else {
        Connection::open_with_flags(path, flags)
    };
    let conn = opened.map_err(|e| SqliteError::file(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| SqliteError::file(path, e))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| SqliteError::file(path, e))?;
    if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        let unreadable = [path, &wal, &shm]
            .into_iter()
            .find(|f| f.exists() && !is_readable(f));
        return Err(match unreadable {
            Some(file) => access(format!(
                "this user cannot read {} ({e}): give it read access",
                file.display()
            )),
            None => SqliteError::file(path, e),
        });
    }
    Ok(conn)
}

fn is_writable(path: &Path) -> bool {
    has_access(path, libc::W_OK)
}

fn is_readable(path: &Path) -> bool {
    has_access(path, libc::R_OK)
}

/// What the kernel would allow this process (its real ids, as `access(2)` checks).
fn has_access(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c_path is a NUL-terminated string that outlives the call.
    unsafe { libc::access(c_path.as_ptr(), mode) == 0 }
}

/// A path as the path part of an SQLite `file:` URI: the characters a URI gives a meaning
/// to are percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

/// Creates (or opens) a file in WAL mode with the core's schema for `kind`. A new file gets
/// the owner of the folder `like` and its mode less the execute bits (see `install_fs`),
/// before SQLite opens it: SQLite gives its WAL, shared-memory and journal files the
/// database file's mode, and, running as root, its owner.
pub fn create_with_schema(path: &Path, schema: &str, like: &Path) -> Result<Connection> {
    if !path.exists() {
        crate::install_fs::DataFolder::of(like)
            .and_then(|folder| folder.create_file(path))
            .map_err(|e| crate::Error::io(path, e))?;
    }
    let conn = Connection::open(path).map_err(|e| SqliteError::file(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| SqliteError::file(path, e))?;
    switch_to_wal(&conn).map_err(|e| SqliteError::file(path, e))?;
    conn.execute_batch(schema)
        .map_err(|e| SqliteError::file(path, e))?;
    Ok(conn)
}

/// Puts the file in WAL mode. While another connection writes a file still in rollback mode
/// (one another restore worker has just created), SQLite refuses the switch with
/// `SQLITE_BUSY` at once, without waiting in the busy handler: retry for as long as the
/// busy timeout would have waited.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

/// Whether a table exists (the core creates baseStorage tables lazily).
pub fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}
