//! The schema pryv-backup reads and writes (version 3 of the core's PostgreSQL engine), and
//! the check that a database holds it (docs/storage-layout.md, section 3).

use postgres::GenericClient;

use super::PgError;

/// pryv-backup's DDL for schema version 3 (creates every table and records versions 1–3).
pub const DDL: &str = include_str!("schema.sql");

/// The only schema version pryv-backup reads and writes.
pub const SUPPORTED_VERSION: i32 = 3;

/// Versions of the core's PostgreSQL schema we know of, with their migration.
pub const KNOWN_VERSIONS: [(i32, &str); 4] = [
    (0, "initial schema (no migration applied)"),
    (1, "20260512_132200_access_versioning"),
    (2, "20260616_143000_webhooks_scopes"),
    (3, "20260626_154500_access_alias"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaState {
    /// No table at all: a fresh database, ready to receive the schema.
    Empty,
    /// The supported version.
    Current,
}

/// What the database holds; an error names what we know and what to do.
pub fn state(client: &mut impl GenericClient) -> Result<SchemaState, PgError> {
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )?
        .try_get(0)?;
    if tables == 0 {
        return Ok(SchemaState::Empty);
    }
    let has_migrations: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_migrations')",
            &[],
        )?
        .try_get(0)?;
    if !has_migrations {
        return Err(PgError::Schema(format!(
            "this database has tables but no schema_migrations table, so it is not an open-pryv.io v2 \
             database pryv-backup knows (it reads and writes schema version {SUPPORTED_VERSION}). \
             If it is one, start the core once so it records and migrates its schema."
        )));
    }
    let version: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .try_get(0)?;
    if version == SUPPORTED_VERSION {
        return Ok(SchemaState::Current);
    }
    let known = KNOWN_VERSIONS
        .iter()
        .map(|(v, name)| format!("{v} ({name})"))
        .collect::<Vec<_>>()
        .join(", ");
    let advice = if version < SUPPORTED_VERSION {
        "start the current open-pryv.io core once on this database so it applies its migrations, then retry"
    } else {
        "this database was migrated by a newer core than pryv-backup knows: use a pryv-backup release that supports it"
    };
    Err(PgError::Schema(format!(
        "schema version {version} is not supported: pryv-backup reads and writes version \
         {SUPPORTED_VERSION} only (known versions: {known}); {advice}"
    )))
}

/// Creates the schema in an empty database, in one transaction.
pub fn create(client: &mut impl GenericClient) -> Result<(), PgError> {
    let mut tx = client.transaction()?;
    tx.batch_execute(DDL)?;
    tx.commit()?;
    Ok(())
}

/// Creates the schema for a bulk load, in one transaction: everything but what
/// [`built_after_load`] lists (the secondary indexes and the primary keys of
/// [`LOAD_KEYS`]), which is built once the rows are in, as pg_restore does (maintaining
/// those B-trees row by row takes most of a restore's time). The other primary keys and the
/// unique indexes stay: they guard what the rows may hold.
pub fn create_for_load(client: &mut impl GenericClient) -> Result<(), PgError> {
    let mut tx = client.transaction()?;
    for statement in statements().iter().filter(|s| !is_secondary_index(s)) {
        tx.batch_execute(statement)?;
    }
    for key in LOAD_KEYS {
        tx.batch_execute(&format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            key.table, key.name
        ))?;
    }
    tx.commit()?;
    Ok(())
}

/// A primary key a load into a schema it created may build after the rows.
pub struct LoadKey {
    pub table: &'static str,
    /// As PostgreSQL names it for the core's DDL.
    pub name: &'static str,
    pub columns: &'static str,
}

impl LoadKey {
    pub fn sql(&self) -> String {
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})",
            self.table, self.name, self.columns
        )
    }
}

/// `event_streams`' key: its rows derive from events, one per (event, distinct stream), so
/// once events' ids are distinct they cannot clash.
pub const EVENT_STREAMS_KEY: LoadKey = LoadKey {
    table: "event_streams",
    name: "event_streams_pkey",
    columns: "user_id, event_id, stream_id",
};

/// The keys of the tables that hold most rows. While one is absent, each user's rows are
/// proven distinct by `key_guard` before the user's commit.
pub const GUARDED_KEYS: [LoadKey; 3] = [
    LoadKey {
        table: "events",
        name: "events_pkey",
        columns: "user_id, id",
    },
    LoadKey {
        table: "audit_events",
        name: "audit_events_pkey",
        columns: "user_id, eventid",
    },
    LoadKey {
        table: "series_data",
        name: "series_data_pkey",
        columns: "user_id, event_id, point_time",
    },
];

/// Every key [`create_for_load`] leaves out, `event_streams`' first (each user's own
/// statements on that table use it).
pub const LOAD_KEYS: [&LoadKey; 4] = [
    &EVENT_STREAMS_KEY,
    &GUARDED_KEYS[0],
    &GUARDED_KEYS[1],
    &GUARDED_KEYS[2],
];

/// The schema's DDL statements, in order.
pub fn statements() -> Vec<String> {
    // Comments (which may hold ';') sit on whole lines; statements hold no ';' of their own.
    let code: String = DDL
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .map(|line| format!("{line}\n"))
        .collect();
    code.split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// An index a bulk load builds after the rows: a non-unique index, or a key of
/// [`LOAD_KEYS`].
pub struct IndexBuiltAfterLoad {
    pub name: String,
    /// The statement that builds it.
    pub sql: String,
}

/// What a load into an empty database builds last, the keys first. Should a restore stop
/// before they are built, the next restore builds the missing ones ([`missing_after_load`]):
/// the keys before it writes, the rest at its end; the core, which creates its indexes
/// `IF NOT EXISTS` when it starts, builds the secondary ones.
pub fn built_after_load() -> Vec<IndexBuiltAfterLoad> {
    let keys = LOAD_KEYS.iter().map(|key| IndexBuiltAfterLoad {
        name: key.name.to_string(),
        sql: key.sql(),
    });
    let secondary = statements()
        .into_iter()
        .filter(|s| is_secondary_index(s))
        .filter_map(|s| {
            let name = s.split_whitespace().nth(2)?.to_string();
            let sql = s.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1);
            Some(IndexBuiltAfterLoad { name, sql })
        });
    keys.chain(secondary).collect()
}

/// What [`built_after_load`] lists that the database lacks.
pub fn missing_after_load(
    client: &mut impl GenericClient,
) -> Result<Vec<IndexBuiltAfterLoad>, PgError> {
    let present: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
            &[],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(built_after_load()
        .into_iter()
        .filter(|index| !present.contains(&index.name))
        .collect())
}

fn is_secondary_index(statement: &str) -> bool {
    statement.starts_with("CREATE INDEX ")
}
