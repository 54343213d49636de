//! Platform-wide rows in `platform_kv`, exported and restored as the archive's platform
//! items (see `crate::platform::entries`).

use std::collections::HashMap;

use postgres::Transaction;

use super::table::{Cell, Inserter, Kind::Text, RowWriter, INSERT_ROWS};
use super::PgError;
use crate::model::Item;
use crate::platform::entries::{item_from_row, row_from_item, BACKED_UP_PREFIXES};

pub fn export(
    tx: &mut Transaction<'_>,
    out: &mut dyn FnMut(&Item) -> crate::Result<()>,
) -> crate::Result<()> {
    for prefix in BACKED_UP_PREFIXES {
        let rows = tx
            .query(
                "SELECT key, value FROM platform_kv WHERE starts_with(key, $1) ORDER BY key",
                &[&prefix],
            )
            .map_err(PgError::from)?;
        for row in &rows {
            let key: String = row.try_get(0).map_err(PgError::from)?;
            let value: String = row.try_get(1).map_err(PgError::from)?;
            out(&item_from_row(&key, &value))?;
        }
    }
    Ok(())
}

pub fn values(
    client: &mut impl postgres::GenericClient,
    keys: &[String],
) -> Result<Vec<(String, String)>, PgError> {
    client
        .query(
            "SELECT key, value FROM platform_kv WHERE key = ANY($1) ORDER BY key",
            &[&keys],
        )?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// Writes the platform rows with multi-row upserts (one round trip per batch, not per row:
/// a platform holds a few rows per user). A key given twice keeps its last value, as one
/// upsert after the other would.
pub fn import(
    tx: &mut Transaction<'_>,
    items: &mut dyn Iterator<Item = crate::Result<Item>>,
) -> crate::Result<()> {
    let mut batch: Vec<(String, String)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        let item = item?;
        let (key, value) = row_from_item(&item).map_err(|reason| PgError::Item {
            collection: "platform",
            id: item.to_string(),
            reason,
        })?;
        match at.get(&key) {
            Some(&i) => batch[i].1 = value,
            None => {
                at.insert(key.clone(), batch.len());
                batch.push((key, value));
            }
        }
        if batch.len() >= INSERT_ROWS {
            write(tx, &mut batch)?;
            at.clear();
        }
    }
    write(tx, &mut batch)?;
    Ok(())
}

fn write(tx: &mut Transaction<'_>, batch: &mut Vec<(String, String)>) -> Result<(), PgError> {
    let mut rows = Inserter::new(
        "platform_kv",
        vec![("key", Text), ("value", Text)],
        vec!["key"],
    );
    for (key, value) in batch.drain(..) {
        rows.push(tx, vec![Cell::Text(key.into()), Cell::Text(value.into())])?;
    }
    rows.flush(tx)
}
