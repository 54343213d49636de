//! The library's DDL, split so that secondary indexes are built once after the bulk load
//! (much faster than maintaining them row by row during COPY).

use postgres::Client;

use pryv_backup::engines::postgres::schema::{self, SchemaState};

use crate::BenchError;

/// Tables (with their primary keys) and the schema_migrations rows.
pub fn tables_ddl() -> Vec<String> {
    statements().into_iter().filter(|s| !is_index(s)).collect()
}

/// Secondary indexes.
pub fn indexes_ddl() -> Vec<String> {
    statements().into_iter().filter(|s| is_index(s)).collect()
}

fn is_index(statement: &str) -> bool {
    statement.starts_with("CREATE INDEX") || statement.starts_with("CREATE UNIQUE INDEX")
}

fn statements() -> Vec<String> {
    // Comments (which may hold ';') sit on whole lines; statements hold no ';' of their own.
    let code: String = schema::DDL
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .map(|line| format!("{line}\n"))
        .collect();
    code.split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
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
        let indexes = indexes_ddl();
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
        assert_eq!(indexes.len(), indexed);
    }
}
