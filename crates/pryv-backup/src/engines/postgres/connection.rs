//! [`PgEngine`]: one install's database (through a small pool of connections), implementing
//! the engine traits.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use postgres::{Client, Config};

use super::pool::{Pool, PooledClient};
use super::schema::{self, SchemaState};
use super::{export, import, users_index, PgError};
use crate::engine::{
    AttachmentStore, BatchSink, Engine, ExportOptions, ImportOptions, UserSink, UserSource,
};
use crate::model::{Item, UserRef};
use crate::Result;

pub struct PgEngine {
    /// One connection per user being exported or restored at the same time.
    pool: Pool,
    /// Two restores into an empty database must not both create the schema.
    schema_lock: Mutex<()>,
    /// The schema was seen at the supported version: no need to look again for every user.
    schema_current: AtomicBool,
    /// The database was seen without tables, and this engine has not created them yet.
    schema_empty: AtomicBool,
    /// The schema is ready for this engine's restore: created, or found with the keys each
    /// user's statements rely on.
    schema_ready: AtomicBool,
    /// This engine created the schema: every row in it is this restore's, so a user not
    /// registered yet has none.
    created_schema: AtomicBool,
    /// The keys of [`schema::GUARDED_KEYS`] (bit i for key i) that the schema this engine
    /// created lacks still: their tables' rows are checked by `key_guard` as they are written.
    absent_keys: AtomicU8,
    /// A user's rows came in an order that proved nothing of their keys (each user's check
    /// by the database then reads the whole table): later users' loads keep the keys.
    rows_unordered: AtomicBool,
    /// A restore wrote through this engine: its end builds the indexes missing (a schema
    /// this engine created has none of [`schema::built_after_load`] until then).
    restoring: AtomicBool,
    /// Users were committed without waiting for their WAL flush (see `flush_commits`).
    unflushed_commits: AtomicBool,
    /// This engine committed rows (a user's or the platform's): what the end of a failed
    /// restore may say of them.
    committed_rows: AtomicBool,
    /// When the server started, as first connected: a restart in between could have lost
    /// commits that did not wait for their flush.
    server_started: String,
    description: String,
    /// Where attachments live when not in `attachment_files`.
    attachments: Option<Arc<dyn AttachmentStore>>,
}

impl PgEngine {
    /// Connects (without TLS) and checks the schema version; an empty database is accepted
    /// as a restore target. `attachments`: `None` when the file engine is `postgresql`
    /// (bytes in `attachment_files`), else the store holding them.
    pub fn connect(
        conn_str: &str,
        attachments: Option<Arc<dyn AttachmentStore>>,
    ) -> Result<PgEngine, PgError> {
        let description = describe(conn_str);
        let mut client = super::connect(conn_str)?;
        let state = schema::state(&mut client)?;
        let server_started = server_start_time(&mut client)?;
        Ok(PgEngine {
            pool: Pool::new(conn_str, client),
            schema_lock: Mutex::new(()),
            schema_current: AtomicBool::new(state == SchemaState::Current),
            schema_empty: AtomicBool::new(state == SchemaState::Empty),
            schema_ready: AtomicBool::new(false),
            created_schema: AtomicBool::new(false),
            absent_keys: AtomicU8::new(0),
            rows_unordered: AtomicBool::new(false),
            restoring: AtomicBool::new(false),
            unflushed_commits: AtomicBool::new(false),
            committed_rows: AtomicBool::new(false),
            server_started,
            description,
            attachments,
        })
    }

    /// Creates the schema when the database is empty (restore into a fresh install), what
    /// [`schema::built_after_load`] lists left for [`Engine::finish_restore`]; otherwise
    /// checks its version, and builds the keys of [`schema::LOAD_KEYS`] if an earlier restore
    /// stopped before them (they guard the rows, and each user's statements use them).
    /// Then builds the keys of the tables `keys_of` names if still absent: a user whose rows
    /// cannot be proven distinct as they are written, or who is read back through them.
    /// Called by every import.
    pub(super) fn ensure_schema_with_keys(&self, keys_of: &[&str]) -> Result<(), PgError> {
        self.restoring.store(true, Ordering::Release);
        let needed = key_bits(keys_of);
        if self.schema_ready.load(Ordering::Acquire)
            && self.absent_keys.load(Ordering::Acquire) & needed == 0
        {
            return Ok(());
        }
        // The guarded unit holds no data: a panic elsewhere leaves nothing to distrust.
        let _creating = self
            .schema_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut client = self.client()?;
        if !self.schema_ready.load(Ordering::Acquire) {
            if schema::state(&mut *client)? == SchemaState::Empty {
                schema::create_for_load(&mut *client)?;
                self.created_schema.store(true, Ordering::Release);
                let all = (1u8 << schema::GUARDED_KEYS.len()) - 1;
                self.absent_keys.store(all, Ordering::Release);
            } else {
                for index in schema::missing_after_load(&mut *client)? {
                    if schema::LOAD_KEYS.iter().any(|key| key.name == index.name) {
                        client.batch_execute(&index.sql)?;
                    }
                }
            }
            self.schema_current.store(true, Ordering::Release);
            self.schema_empty.store(false, Ordering::Release);
            self.schema_ready.store(true, Ordering::Release);
        }
        // Each key in a statement of its own: it then waits, with no other lock held, for
        // the users being written into its table to commit.
        for (i, key) in schema::GUARDED_KEYS.iter().enumerate() {
            let bit = 1u8 << i;
            if needed & bit != 0 && self.absent_keys.load(Ordering::Acquire) & bit != 0 {
                client.batch_execute(&key.sql())?;
                self.absent_keys.fetch_and(!bit, Ordering::AcqRel);
            }
        }
        Ok(())
    }

    /// Creates the schema for a load into an empty database, or checks it, as every import
    /// does first (`ensure_schema_with_keys`), with no key needed before the load's end.
    pub fn ensure_schema(&self) -> Result<(), PgError> {
        self.ensure_schema_with_keys(&[])
    }

    /// See `rows_unordered`.
    pub(super) fn note_unordered_rows(&self) {
        self.rows_unordered.store(true, Ordering::Release);
    }

    pub(super) fn rows_unordered(&self) -> bool {
        self.rows_unordered.load(Ordering::Acquire)
    }

    /// Whether `table`'s primary key is absent while this engine loads the schema it
    /// created: its rows must then go through a `key_guard`.
    pub(super) fn key_absent(&self, table: &str) -> bool {
        self.absent_keys.load(Ordering::Acquire) & key_bits(&[table]) != 0
    }

    /// Whether this engine created the schema (see `created_schema`).
    pub(super) fn created_schema(&self) -> bool {
        self.created_schema.load(Ordering::Acquire)
    }

    /// A restore committed a user without waiting for the flush of its WAL.
    pub(super) fn commits_to_flush(&self) {
        self.unflushed_commits.store(true, Ordering::Release);
        self.committed_rows.store(true, Ordering::Release);
    }

    /// Makes every commit of this engine durable: PostgreSQL flushes its WAL in order, so
    /// once a commit that waits for its flush returns, all earlier commits are on disk.
    fn flush_commits(&self) -> Result<(), PgError> {
        if !self.unflushed_commits.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        // A transaction id makes the commit write (and flush) a record of its own.
        tx.batch_execute("SET LOCAL synchronous_commit = on; SELECT txid_current()")?;
        tx.commit()?;
        // Flushed now, unless the server restarted since the users were committed: its
        // crash recovery may then have dropped the last of them.
        if server_start_time(&mut client)? != self.server_started {
            return Err(PgError::Schema(
                "the server restarted during the restore, so the last users it committed may \
                 be lost"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Builds what [`schema::built_after_load`] lists and the database lacks: left out when
    /// this engine created the schema, or by an earlier restore that stopped before building
    /// them. `jobs` at a time, each on its own connection (PostgreSQL allows concurrent
    /// index builds on one table; the key's build holds the others of its table back).
    fn build_missing_indexes(&self, jobs: usize) -> Result<(), PgError> {
        if !self.restoring.load(Ordering::Acquire) {
            return Ok(());
        }
        let missing = schema::missing_after_load(&mut *self.client()?)?;
        let built = crate::workers::in_parallel(
            &missing,
            jobs,
            |_| true,
            |index| {
                self.client()?
                    .batch_execute(&index.sql)
                    .map_err(PgError::from)
            },
        )
        .map_err(|e| PgError::Schema(e.to_string()))?;
        built
            .into_iter()
            .flatten()
            .collect::<Result<(), PgError>>()?;
        self.absent_keys.store(0, Ordering::Release);
        self.restoring.store(false, Ordering::Release);
        Ok(())
    }

    /// The schema's state, read from the database until it was once seen (a restore asks
    /// for every user, under its lock: the schema does not change under it until
    /// [`Self::ensure_schema`], which looks again before it creates one).
    fn schema_state(&self, client: &mut Client) -> Result<SchemaState, PgError> {
        if self.schema_current.load(Ordering::Acquire) {
            return Ok(SchemaState::Current);
        }
        if self.schema_empty.load(Ordering::Acquire) {
            return Ok(SchemaState::Empty);
        }
        let state = schema::state(client)?;
        match state {
            SchemaState::Current => self.schema_current.store(true, Ordering::Release),
            SchemaState::Empty => self.schema_empty.store(true, Ordering::Release),
        }
        Ok(state)
    }

    /// A connection of the engine's own, returned to the pool when dropped.
    pub(super) fn client(&self) -> Result<PooledClient<'_>, PgError> {
        self.pool.get()
    }

    pub(super) fn attachment_store(&self) -> Option<&dyn AttachmentStore> {
        self.attachments.as_deref()
    }
}

/// The bits of `absent_keys` that stand for the keys of `tables`.
fn key_bits(tables: &[&str]) -> u8 {
    schema::GUARDED_KEYS
        .iter()
        .enumerate()
        .filter(|(_, key)| tables.contains(&key.table))
        .fold(0, |bits, (i, _)| bits | 1 << i)
}

fn server_start_time(client: &mut Client) -> Result<String, PgError> {
    Ok(client
        .query_one("SELECT pg_postmaster_start_time()::text", &[])?
        .try_get(0)?)
}

/// Host, port, database and user, never the password.
fn describe(conn_str: &str) -> String {
    match conn_str.parse::<Config>() {
        Ok(c) => {
            let host = c
                .get_hosts()
                .first()
                .map(|h| match h {
                    postgres::config::Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".into());
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!(
                "PostgreSQL {}@{host}:{port}/{}",
                c.get_user().unwrap_or("(default user)"),
                c.get_dbname().unwrap_or("(default database)")
            )
        }
        Err(_) => "PostgreSQL (unparsable connection string)".into(),
    }
}

/// The advisory lock key restores hold ("pryvbkup" as a number).
const RESTORE_LOCK_KEY: i64 = 0x7072_7976_626b_7570;

impl Engine for PgEngine {
    fn describe(&self) -> String {
        match self.attachments.as_deref() {
            Some(store) => format!(
                "{} with attachments in {}",
                self.description,
                store.describe()
            ),
            None => self.description.clone(),
        }
    }

    fn lock_for_restore(&self) -> Result<Box<dyn crate::lock::Held>> {
        // A session-level advisory lock on a connection of its own: the server releases it
        // when the connection ends, however this process ends.
        let mut client = self.pool.dedicated()?;
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&RESTORE_LOCK_KEY])
            .and_then(|row| row.try_get(0))
            .map_err(PgError::from)?;
        if !taken {
            return Err(crate::Error::Locked(format!(
                "another pryv-backup restore is writing {}: wait for it to end, then run again",
                self.description
            )));
        }
        Ok(Box::new(client))
    }

    fn users(&self) -> Result<Vec<UserRef>> {
        let mut client = self.client()?;
        if self.schema_state(&mut client)? == SchemaState::Empty {
            return Ok(Vec::new());
        }
        Ok(users_index::all(&mut *client)?)
    }

    fn export_user(
        &self,
        user: &UserRef,
        options: &ExportOptions,
        sink: &mut dyn UserSink,
    ) -> Result<()> {
        export::export_user(self, user, options, sink)
    }

    fn export_users(
        &self,
        users: &[UserRef],
        options: &dyn Fn(&UserRef) -> ExportOptions,
        out: &mut dyn BatchSink,
    ) -> Result<usize> {
        export::export_users(self, users, options, out)
    }

    fn find_conflict(&self, user: &UserRef) -> Result<Option<String>> {
        let mut client = self.client()?;
        if self.schema_state(&mut client)? == SchemaState::Empty {
            return Ok(None);
        }
        Ok(users_index::conflict(&mut *client, user)?)
    }

    fn user_exists(&self, user_id: &str) -> Result<bool> {
        let mut client = self.client()?;
        if self.schema_state(&mut client)? == SchemaState::Empty {
            return Ok(false);
        }
        Ok(users_index::exists(&mut *client, user_id)?)
    }

    fn import_user(
        &self,
        user: &UserRef,
        source: &dyn UserSource,
        options: &ImportOptions,
    ) -> Result<()> {
        import::import_user(self, user, source, options)
    }

    fn import_users_together(
        &self,
        users: &[(&UserRef, &dyn UserSource)],
        options: &ImportOptions,
    ) -> Result<Option<Vec<Result<()>>>> {
        import::import_new_users(self, users, options)
    }

    fn export_platform(&self, out: &mut dyn FnMut(&Item) -> Result<()>) -> Result<()> {
        let mut client = self.client()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(PgError::from)?;
        super::platform::export(&mut tx, out)?;
        tx.commit().map_err(PgError::from)?;
        Ok(())
    }

    fn finish_restore(&self, jobs: usize, progress: &dyn crate::progress::Progress) -> Result<()> {
        let committed = self.committed_rows.load(Ordering::Acquire);
        progress.phase("flushing the commits to disk");
        self.flush_commits().map_err(|e| {
            crate::Error::Other(format!(
                "PostgreSQL did not confirm that the restored users are on disk ({e}): check the \
                 server, then restore again with --overwrite"
            ))
        })?;
        if self.restoring.load(Ordering::Acquire) {
            progress.phase("building the indexes");
        }
        self.build_missing_indexes(jobs).map_err(|e| {
            // A role that may not write fails every user, then this: no rows to speak of.
            crate::Error::Other(if committed {
                format!(
                    "the restored rows are committed, but building the install's indexes failed \
                     ({e}): the next pryv-backup restore into this database builds them (the \
                     core builds its secondary indexes when it starts, not the primary keys)"
                )
            } else {
                format!(
                    "this restore committed no rows, and building the install's indexes failed \
                     too ({e}): restore with a database role that may create and alter the \
                     core's tables (their owner)"
                )
            })
        })
    }

    fn platform_values(&self, keys: &[String]) -> Result<Vec<(String, String)>> {
        let mut client = self.client()?;
        if self.schema_state(&mut client)? == SchemaState::Empty {
            return Ok(Vec::new());
        }
        Ok(super::platform::values(&mut *client, keys)?)
    }

    fn import_platform(&self, items: &mut dyn Iterator<Item = Result<Item>>) -> Result<()> {
        self.ensure_schema()?;
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(PgError::from)?;
        super::platform::import(&mut tx, items)?;
        tx.commit().map_err(PgError::from)?;
        self.committed_rows.store(true, Ordering::Release);
        Ok(())
    }
}
