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

/// Creates the schema for a bulk load, in one transaction: everything but the secondary
/// indexes ([`secondary_indexes`]), which are built once the rows are in, as pg_restore
/// does (maintaining them row by row takes most of a restore's time). Primary keys and
/// unique indexes stay: they guard what the rows may hold.
pub fn create_for_load(client: &mut impl GenericClient) -> Result<(), PgError> {
    let mut tx = client.transaction()?;
    for statement in statements().iter().filter(|s| !is_secondary_index(s)) {
        tx.batch_execute(statement)?;
    }
    tx.commit()?;
    Ok(())
}

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

/// A non-unique index of the schema.
pub struct SecondaryIndex {
    pub name: String,
    /// `CREATE INDEX IF NOT EXISTS ...`: building it again is a no-op.
    pub sql: String,
}

/// The schema's non-unique indexes. A load can leave them for last, as a restore into an
/// empty database does: should it stop before they are built, the next restore builds the
/// missing ones, and so does the core, which creates its indexes `IF NOT EXISTS` when it
/// starts.
pub fn secondary_indexes() -> Vec<SecondaryIndex> {
    statements()
        .into_iter()
        .filter(|s| is_secondary_index(s))
        .filter_map(|s| {
            let name = s.split_whitespace().nth(2)?.to_string();
            let sql = s.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1);
            Some(SecondaryIndex { name, sql })
        })
        .collect()
}

/// The schema's secondary indexes the database lacks.
pub fn missing_indexes(client: &mut impl GenericClient) -> Result<Vec<SecondaryIndex>, PgError> {
    let present: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
            &[],
        )?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(secondary_indexes()
        .into_iter()
        .filter(|index| !present.contains(&index.name))
        .collect())
}

fn is_secondary_index(statement: &str) -> bool {
    statement.starts_with("CREATE INDEX ")
}
