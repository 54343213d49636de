//! Integrity verification of a restored user, inside the import transaction: what was written
//! is read back exactly as a backup would read it, so a hash that matches here matches for
//! the core too.

use super::pool::Session;
use super::{accesses, events};
use crate::integrity::{ItemKind, UserCheck};
use crate::model::UserRef;

/// Re-reads the user's events and accesses (streamed, a batch of rows at a time) and checks
/// their integrity hashes. `Err(Error::Integrity)` on any mismatch: the caller then drops the
/// transaction, which rolls the user back.
pub fn verify_user_integrity(tx: &mut Session<'_>, user: &UserRef) -> crate::Result<()> {
    let mut tally = UserCheck::default();
    let uid = user.user_id.as_str();
    events::TABLE.for_each_row(tx, uid, None, &mut |row| {
        tally.item(ItemKind::Event, &events::to_item(row));
        Ok(())
    })?;
    accesses::TABLE.for_each_row(tx, uid, None, &mut |row| {
        tally.item(ItemKind::Access, &accesses::to_item(row));
        Ok(())
    })?;
    let tally = tally.finish(&user.username)?;
    tracing::debug!(
        "user {}: {} integrity hash(es) verified",
        user.username,
        tally.checked
    );
    Ok(())
}
