//! Integrity verification of a restored user, inside the import transaction: what was written
//! is read back exactly as a backup would read it, so a hash that matches here matches for
//! the core too.

use super::pool::Session;
use super::{accesses, events};
use crate::integrity::{ItemKind, UserCheck};
use crate::model::UserRef;

/// Re-reads the user's events and accesses (streamed, a batch of rows at a time) and checks
/// their integrity hashes, each row hashed as the item `events::to_item` or
/// `accesses::to_item` exports of it (test `rows_hash_as_their_exported_items`).
/// `Err(Error::Integrity)` on any mismatch: the caller then drops the transaction, which
/// rolls the user back.
pub fn verify_user_integrity(tx: &mut Session<'_>, user: &UserRef) -> crate::Result<()> {
    let mut tally = UserCheck::default();
    let uid = user.user_id.as_str();
    for (kind, table) in [
        (ItemKind::Event, &events::TABLE),
        (ItemKind::Access, &accesses::TABLE),
    ] {
        table.for_each_js_item(tx, uid, kind.unhashed_fields(), &mut |item| {
            tally.value(kind, item);
            Ok(())
        })?;
    }
    let tally = tally.finish(&user.username)?;
    tracing::debug!(
        "user {}: {} integrity hash(es) verified",
        user.username,
        tally.checked
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::pool::Pool;
    use super::super::table::Table;
    use super::*;
    use crate::engines::postgres::PgEngine;
    use crate::integrity;
    use crate::model::Item;

    /// Each row of `table` for `user_id`, both ways: the item a backup exports, and the
    /// canonical text and check of the JavaScript form read straight from the row.
    fn both_ways(
        tx: &mut Session<'_>,
        kind: ItemKind,
        table: &Table,
        to_item: fn(super::super::table::RowValues) -> Item,
        user_id: &str,
    ) -> Vec<(Item, String, integrity::Check)> {
        let sql = table.export_query("$1", None, None);
        let items: Vec<Item> = tx
            .query_prepared(&sql, &[&user_id])
            .unwrap()
            .iter()
            .map(|row| to_item(table.read_row_from(row, 0).unwrap()))
            .collect();
        let mut from_rows = Vec::new();
        table
            .for_each_js_item(tx, user_id, kind.unhashed_fields(), &mut |value| {
                let text = integrity::canonical_text_of(kind, value.clone());
                from_rows.push((text, integrity::check_value(kind, value)));
                Ok(())
            })
            .unwrap();
        assert_eq!(items.len(), from_rows.len());
        items
            .into_iter()
            .zip(from_rows)
            .map(|(item, (text, check))| (item, text, check))
            .collect()
    }

    /// The live install's events and accesses, as the real core wrote them (history copies,
    /// deletions, running periods, attachments), hash the same read straight from their rows
    /// as through the items a backup exports of them; and every hash left checks out. The
    /// last rows copy what float8 and jsonb columns can hold beyond that: NaN, -0, numbers
    /// longer than an f64.
    #[test]
    fn rows_hash_as_their_exported_items() {
        let mut db = testbed::pg_database();
        PgEngine::connect(db.conn_str(), None)
            .unwrap()
            .ensure_schema()
            .unwrap();
        for table in ["events", "accesses"] {
            testbed::load_live_table(db.client(), table);
        }
        db.client()
            .batch_execute(
                "INSERT INTO events (user_id, id, stream_ids, time, end_time, type, content, \
                 integrity, created, modified) VALUES \
                 ('edge', 'e1', '[\"a\"]', 'NaN', '-0', 'x/y', \
                  '{\"b\": [1.0, 12345678901234567890, -0, 1e-7]}', 'EVENT:0:sha256-x', \
                  '-0', 'Infinity'), \
                 ('edge', 'e2', NULL, 1.5, NULL, NULL, 'null', NULL, NULL, NULL)",
            )
            .unwrap();
        let users: Vec<String> = db
            .client()
            .query("SELECT DISTINCT user_id FROM events ORDER BY 1", &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(users.len() >= 4, "{users:?}");

        let client = postgres::Client::connect(db.conn_str(), postgres::NoTls).unwrap();
        let pool = Pool::new(db.conn_str(), client);
        let mut connection = pool.get().unwrap();
        let mut tx = connection.session().unwrap();
        let mut checked = 0;
        for user in &users {
            for (kind, table, to_item) in [
                (
                    ItemKind::Event,
                    &events::TABLE,
                    events::to_item as fn(_) -> _,
                ),
                (ItemKind::Access, &accesses::TABLE, accesses::to_item),
            ] {
                for (item, text, check) in both_ways(&mut tx, kind, table, to_item, user) {
                    assert_eq!(text, integrity::canonical_text(kind, &item), "{item}");
                    assert_eq!(check, integrity::check(kind, &item), "{item}");
                    // What a deletion stripped carries no hash any more.
                    if user != "edge" && check != integrity::Check::Absent {
                        assert_eq!(check, integrity::Check::Valid, "{item}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} hashed rows");
    }
}
