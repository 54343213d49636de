//! Row-by-row comparison of two Pryv.io PostgreSQL databases.

use std::collections::HashSet;

/// Each table's rows as JSON text, sorted.
pub type Dump = Vec<(String, Vec<String>)>;

/// Every table pryv-backup restores, with the rows that belong to a backup (platform_kv:
/// the user-field keys only; schema_migrations is the schema's, not the data's).
pub const TABLES: [(&str, &str); 18] = [
    ("streams", "true"),
    ("events", "true"),
    ("event_streams", "true"),
    ("accesses", "true"),
    ("webhooks", "true"),
    ("profile", "true"),
    ("passwords", "true"),
    ("store_key_values", "true"),
    ("account_fields", "true"),
    ("users_index", "true"),
    ("alias_index", "true"),
    ("series_data", "true"),
    ("audit_events", "true"),
    ("attachment_files", "true"),
    ("sessions", "true"),
    ("password_resets", "true"),
    (
        "platform_kv",
        "key LIKE 'user-unique/%' OR key LIKE 'user-indexed/%'",
    ),
    ("schema_migrations", "false"),
];

pub fn dump(client: &mut postgres::Client) -> Dump {
    TABLES
        .iter()
        .map(|(table, filter)| {
            let rows = client
                .query(
                    format!(
                        "SELECT row_to_json(t)::text AS r FROM {table} t WHERE {filter} ORDER BY r"
                    )
                    .as_str(),
                    &[],
                )
                .unwrap_or_else(|e| panic!("dumping {table}: {e}"));
            (table.to_string(), rows.iter().map(|r| r.get(0)).collect())
        })
        .collect()
}

/// A dump without some tables (those a test does not restore).
pub fn without(dump: Dump, tables: &[&str]) -> Dump {
    dump.into_iter()
        .filter(|(t, _)| !tables.contains(&t.as_str()))
        .collect()
}

/// Asserts two dumps are identical, table by table, naming the first differing rows.
#[track_caller]
pub fn assert_same(expected: &[(String, Vec<String>)], actual: &[(String, Vec<String>)]) {
    assert_eq!(
        expected.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        actual.iter().map(|(t, _)| t).collect::<Vec<_>>()
    );
    for ((table, want), (_, got)) in expected.iter().zip(actual) {
        if want == got {
            continue;
        }
        let (want_set, got_set): (HashSet<&String>, HashSet<&String>) =
            (want.iter().collect(), got.iter().collect());
        let missing: Vec<&&String> = want_set.difference(&got_set).take(3).collect();
        let extra: Vec<&&String> = got_set.difference(&want_set).take(3).collect();
        panic!(
            "table {table}: {} rows expected, {} found\nmissing: {missing:#?}\nunexpected: {extra:#?}",
            want.len(),
            got.len()
        );
    }
}
