//! Backing up one user: every table read in one REPEATABLE READ, READ ONLY transaction, rows
//! streamed in batches and turned into items as the core's own export does.

use std::io::ErrorKind;

use super::connection::PgEngine;
use super::pool::Session;
use super::table::{RowValues, Table};
use super::{
    accesses, account, attachments, audit, ephemeral, events, profile, series, streams, webhooks,
};
use crate::engine::{ExportOptions, ExportWindow, UserSink};
use crate::model::{Collection, Item, UserRef};
use crate::stream_tree;
use crate::{Error, Result};

pub fn export_user(
    engine: &PgEngine,
    user: &UserRef,
    options: &ExportOptions,
    sink: &mut dyn UserSink,
) -> Result<()> {
    let mut client = engine.client()?;
    let mut tx = client.snapshot_session()?;
    let uid = user.user_id.as_str();
    let window = &options.window;

    // The first read fixes the snapshot. The core removes a user from the index before its
    // data: indexed here, the user is whole in this snapshot; gone, it was deleted since it
    // was listed, and nothing of it is exported.
    let indexed = tx.query_prepared(
        "SELECT 1 FROM users_index WHERE user_id = $1 AND username = $2",
        &[&uid, &user.username],
    )?;
    if indexed.is_empty() {
        return Err(Error::UserDeleted {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
        });
    }

    // Streams parents first (the reference's reader builds paths in file order); a user has
    // few enough streams to sort them in memory, as a restore holds them all anyway.
    let mut stream_items: Vec<Item> = Vec::new();
    streams::TABLE.for_each_row(&mut tx, uid, Some(window), &mut |row| {
        let item = streams::to_item(row);
        if window.includes(&item) {
            stream_items.push(item);
        }
        Ok(())
    })?;
    for item in stream_tree::parents_first(stream_items) {
        sink.item(Collection::Streams, &item)?;
    }

    let mut ignore = |_: &Item| {};
    emit_rows(
        &mut tx,
        sink,
        uid,
        Collection::Accesses,
        &accesses::TABLE,
        Some(window),
        None,
        accesses::to_item,
        &mut ignore,
    )?;
    // Profile has no timestamps: always exported whole, as the core does.
    emit_rows(
        &mut tx,
        sink,
        uid,
        Collection::Profile,
        &profile::TABLE,
        None,
        None,
        profile::to_item,
        &mut ignore,
    )?;
    emit_rows(
        &mut tx,
        sink,
        uid,
        Collection::Webhooks,
        &webhooks::TABLE,
        Some(window),
        None,
        webhooks::to_item,
        &mut ignore,
    )?;
    let mut files: Vec<(String, String)> = Vec::new();
    emit_rows(
        &mut tx,
        sink,
        uid,
        Collection::Events,
        &events::TABLE,
        Some(window),
        Some(events::EXPORT_ORDER),
        events::to_item,
        &mut |item| files.extend(events::EventLinks::of(item).attachment_ids()),
    )?;

    // Attachments of the exported head events only: a history copy lists the head's files,
    // which the core keeps under the head's id alone.
    for (event_id, file_id) in &files {
        match engine.attachment_store() {
            Some(store) => match store.read(uid, event_id, file_id) {
                Ok(mut reader) => sink.attachment(event_id, file_id, &mut reader)?,
                Err(Error::Io { path, source }) if source.kind() == ErrorKind::NotFound => {
                    tracing::warn!(
                        "user {} ({uid}): attachment {file_id} of event {event_id} is missing ({path}); not backed up",
                        user.username
                    );
                    sink.attachment_missing(event_id, file_id);
                }
                Err(e) => return Err(e),
            },
            None => match attachments::open_file(&mut tx, uid, event_id, file_id)? {
                Some(mut reader) => sink.attachment(event_id, file_id, &mut reader)?,
                // The core's backup skips a missing file with a warning; so do we, loudly.
                None => {
                    tracing::warn!(
                        "user {} ({uid}): attachment {file_id} of event {event_id} has no bytes in attachment_files; not backed up",
                        user.username
                    );
                    sink.attachment_missing(event_id, file_id);
                }
            },
        }
    }

    sink.account(&account::export(&mut tx, uid)?)?;
    emit_rows(
        &mut tx,
        sink,
        uid,
        Collection::Audit,
        &audit::TABLE,
        Some(window),
        None,
        audit::to_item,
        &mut ignore,
    )?;
    series::export(&mut tx, &user.username, &mut |item| {
        sink.item(Collection::Series, item)
    })?;
    if options.include_ephemeral {
        ephemeral::export(&mut tx, &user.username, &mut |c, item| sink.item(c, item))?;
    }
    tx.commit()?;
    Ok(())
}

/// Streams one table's rows of the user to the sink as items of `collection`, in `order`
/// (SQL, default: by key); `seen` watches every item sent.
#[allow(clippy::too_many_arguments)]
fn emit_rows(
    tx: &mut Session<'_>,
    sink: &mut dyn UserSink,
    uid: &str,
    collection: Collection,
    table: &Table,
    window: Option<&ExportWindow>,
    order: Option<&str>,
    convert: fn(RowValues) -> Item,
    seen: &mut dyn FnMut(&Item),
) -> Result<()> {
    let key_order = table.key.join(", ");
    let order = order.unwrap_or(&key_order);
    table.for_each_row_ordered(tx, uid, window, order, &mut |row| {
        let item = convert(row);
        if window.is_none_or(|w| w.includes(&item)) {
            seen(&item);
            sink.item(collection, &item)?;
        }
        Ok(())
    })
}
