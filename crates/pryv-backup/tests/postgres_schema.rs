//! The schema pryv-backup creates matches docs/storage-layout.md section 2, and the version
//! check refuses what it does not know.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pryv_backup::engines::postgres::schema::{self, SchemaState};

/// table → [(column, information_schema data_type)] in order, from the doc's tables.
fn documented_tables() -> BTreeMap<String, Vec<(String, String)>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/storage-layout.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let start = doc
        .find("## 2. PostgreSQL engine")
        .expect("section 2 in the doc");
    let end = doc
        .find("<!-- section 2 end -->")
        .expect("end of section 2 in the doc");
    let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in doc[start..end].lines() {
        if let Some(name) = line
            .strip_prefix("#### `")
            .and_then(|l| l.strip_suffix('`'))
        {
            current = Some(name.to_string());
            tables.entry(name.to_string()).or_default();
            continue;
        }
        let Some(table) = &current else { continue };
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let cells: Vec<&str> = rest.split('|').map(str::trim).collect();
        let column = cells[0].trim_end_matches('`').to_string();
        let ty = match cells[1] {
            "TEXT" => "text",
            "DOUBLE PRECISION" => "double precision",
            "BOOLEAN" => "boolean",
            "JSONB" => "jsonb",
            "INTEGER" => "integer",
            "BIGINT" => "bigint",
            "BYTEA" => "bytea",
            "TIMESTAMPTZ" => "timestamp with time zone",
            other => panic!("unknown type {other:?} for {table}.{column} in the doc"),
        };
        tables
            .get_mut(table)
            .unwrap()
            .push((column, ty.to_string()));
    }
    tables
}

fn database_tables(client: &mut postgres::Client) -> BTreeMap<String, Vec<(String, String)>> {
    let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for row in client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            &[],
        )
        .unwrap()
    {
        tables
            .entry(row.get(0))
            .or_default()
            .push((row.get(1), row.get(2)));
    }
    tables
}

#[test]
fn postgres_schema_matches_the_documentation() {
    let mut db = testbed::pg_database();
    let client = db.client();
    assert_eq!(schema::state(client).unwrap(), SchemaState::Empty);
    schema::create(client).unwrap();
    assert_eq!(schema::state(client).unwrap(), SchemaState::Current);

    let documented = documented_tables();
    assert!(
        documented.len() >= 18,
        "the doc lists only {} tables",
        documented.len()
    );
    let actual = database_tables(client);
    let doc_names: Vec<&String> = documented.keys().collect();
    let db_names: Vec<&String> = actual.keys().collect();
    assert_eq!(doc_names, db_names, "tables in the doc vs in the database");
    for (table, columns) in &documented {
        assert_eq!(
            columns, &actual[table],
            "columns of {table}: doc (left) vs database (right)"
        );
    }
}

#[test]
fn postgres_schema_version_check_refuses_unknown_versions() {
    let mut db = testbed::pg_database();
    let client = db.client();
    schema::create(client).unwrap();

    client
        .batch_execute("DELETE FROM schema_migrations WHERE version = 3")
        .unwrap();
    let err = schema::state(client).unwrap_err().to_string();
    assert!(err.contains("schema version 2 is not supported"), "{err}");
    assert!(
        err.contains("20260626_154500_access_alias"),
        "names the versions it knows: {err}"
    );
    assert!(
        err.contains("start the current open-pryv.io core"),
        "says what to do: {err}"
    );

    client
        .batch_execute("INSERT INTO schema_migrations (version) VALUES (3), (4)")
        .unwrap();
    let err = schema::state(client).unwrap_err().to_string();
    assert!(err.contains("schema version 4 is not supported"), "{err}");

    client
        .batch_execute("DROP TABLE schema_migrations")
        .unwrap();
    let err = schema::state(client).unwrap_err().to_string();
    assert!(err.contains("no schema_migrations table"), "{err}");
}
