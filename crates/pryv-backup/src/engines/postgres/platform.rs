//! Platform-wide rows in `platform_kv`, exported and restored as the archive's platform
//! items (see `crate::platform::entries`).

use postgres::Transaction;

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

pub fn import(tx: &mut Transaction<'_>, item: &Item) -> Result<(), PgError> {
    let (key, value) = row_from_item(item).map_err(|reason| PgError::Item {
        collection: "platform",
        id: item.to_string(),
        reason,
    })?;
    tx.execute(
        "INSERT INTO platform_kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&key, &value],
    )?;
    Ok(())
}
