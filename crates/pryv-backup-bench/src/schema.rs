//! The library's DDL, split so that primary keys and secondary indexes are built once after
//! the bulk load (much faster than maintaining them row by row during COPY). The result is
//! the same schema: a key added later gets the same name (`<table>_pkey`) as an inline one.

use postgres::Client;

use pryv_backup::engines::postgres::schema::{self, SchemaState};

use crate::BenchError;

/// Tables without their multi-column primary keys, and the schema_migrations rows.
pub fn tables_ddl() -> Vec<String> {
    schema::statements()
        .into_iter()
        .filter(|s| !is_index(s))
        .map(|s| split_primary_key(&s).0)
        .collect()
}

/// The primary keys left out by [`tables_ddl`], then the secondary indexes.
pub fn keys_and_indexes_ddl() -> Vec<String> {
    let statements = schema::statements();
    let keys = statements
        .iter()
        .filter(|s| !is_index(s))
        .filter_map(|s| split_primary_key(s).1);
    let indexes = statements.iter().filter(|s| is_index(s)).cloned();
    keys.chain(indexes).collect()
}

/// A `CREATE TABLE` without its `PRIMARY KEY (...)` line, and the `ALTER TABLE` adding it.
fn split_primary_key(statement: &str) -> (String, Option<String>) {
    let Some(table) = statement
        .strip_prefix("CREATE TABLE ")
        .and_then(|rest| rest.split_whitespace().next())
    else {
        return (statement.to_string(), None);
    };
    let mut lines: Vec<&str> = statement.lines().collect();
    let Some(at) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("PRIMARY KEY ("))
    else {
        return (statement.to_string(), None);
    };
    let key = lines.remove(at).trim().trim_end_matches(',').to_string();
    if let Some(previous) = at.checked_sub(1).and_then(|i| lines.get_mut(i)) {
        *previous = previous.trim_end().trim_end_matches(',');
    }
    (
        lines.join("\n"),
        Some(format!("ALTER TABLE {table} ADD {key}")),
    )
}

fn is_index(statement: &str) -> bool {
    statement.starts_with("CREATE INDEX") || statement.starts_with("CREATE UNIQUE INDEX")
}

/// Refuses anything but a database without tables: the generator never mixes with real data.
pub fn require_empty(client: &mut Client) -> Result<(), BenchError> {
    match schema::state(client) {
        Ok(SchemaState::Empty) => Ok(()),
        Ok(SchemaState::Current) | Err(_) => Err(BenchError::Invalid(
            "the target database already has tables; the generator only fills an EMPTY \
             database (create one with `createdb`)"
                .to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_statement() {
        let tables = tables_ddl();
        let indexes = keys_and_indexes_ddl();
        assert!(tables.iter().any(|s| s.starts_with("CREATE TABLE events")));
        assert!(tables
            .iter()
            .any(|s| s.starts_with("INSERT INTO schema_migrations")));
        assert!(indexes.iter().any(|s| s.contains("idx_event_time")));
        let created = tables
            .iter()
            .filter(|s| s.starts_with("CREATE TABLE"))
            .count();
        assert_eq!(created, schema::DDL.matches("CREATE TABLE").count());
        let indexed = schema::DDL.matches("CREATE INDEX").count()
            + schema::DDL.matches("CREATE UNIQUE INDEX").count();
        let keys = schema::DDL.matches("  PRIMARY KEY (").count();
        assert_eq!(indexes.len(), keys + indexed);
        assert!(indexes.contains(&"ALTER TABLE events ADD PRIMARY KEY (user_id, id)".to_string()));
        assert!(tables.iter().all(|s| !s.contains("PRIMARY KEY (")));
        assert!(tables
            .iter()
            .any(|s| s.contains("created_by TEXT\n)") || s.contains("modified_by TEXT\n)")));
    }
}
