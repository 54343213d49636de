//! A fingerprint of every table: row count and an md5 over the rows' md5s in sorted order,
//! so that two databases with the same rows (in any physical order) compare equal.

use postgres::Client;

use crate::BenchError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDigest {
    pub table: String,
    pub rows: i64,
    pub md5: String,
}

/// Tables whose content depends on when they were written, not on the platform's data.
const SKIPPED: [&str; 1] = ["schema_migrations"];

/// Digests of all tables of the current schema, by table name.
pub fn table_digests(client: &mut Client) -> Result<Vec<TableDigest>, BenchError> {
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
            &[],
        )?
        .iter()
        .map(|row| row.get(0))
        .filter(|name: &String| !SKIPPED.contains(&name.as_str()))
        .collect();
    let mut digests = Vec::with_capacity(tables.len());
    for table in tables {
        // Per-row md5s keep the aggregate small (32 bytes a row) whatever the row size.
        let sql = format!(
            "SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) \
             FROM (SELECT md5(t::text) AS h FROM \"{}\" t) rows",
            table.replace('"', "\"\"")
        );
        let row = client.query_one(&sql, &[])?;
        digests.push(TableDigest {
            table,
            rows: row.get(0),
            md5: row.get(1),
        });
    }
    Ok(digests)
}
