//! Restoring users: each in one transaction (all or nothing), or a batch of new ones in one
//! transaction (see `import_new_users`), derived tables (`users_index`, `event_streams`,
//! `alias_index`) filled as the core maintains them.

use std::collections::{HashMap, HashSet};

use postgres::Transaction;
use serde_json::Value;

use super::connection::PgEngine;
use super::copy::{self, CopyIn, CopyText};
use super::key_guard::{KeyGuard, Proof};
use super::pool::Session;
use super::table::{Cell, Inserter, Kind, RowWriter, Table};
use super::{
    accesses, account, attachments, audit, ephemeral, events, integrity_check, profile, schema,
    series, streams, users_index, webhooks, PgError,
};
use crate::engine::{AttachmentImport, ImportOptions, UserSource};
use crate::model::{Collection, Item, UserRef};
use crate::{Error, Result};

/// Events written per round of derived-row maintenance.
const EVENT_BATCH: usize = 500;

/// Bytes of `event_streams` rows (COPY text) held before they are written: a new user's
/// events are copied in stretches that give about this much.
const STREAM_ROWS_HELD: usize = 2 << 20;

pub fn import_user(
    engine: &PgEngine,
    user: &UserRef,
    source: &dyn UserSource,
    options: &ImportOptions,
) -> Result<()> {
    engine.ensure_schema_with_keys(&keys_needed(engine, options))?;
    let mut client = engine.client()?;
    let mut tx = client.session()?;
    // Each user's commit does not wait for its WAL flush: the restore ends with one commit
    // that does, which flushes every earlier one (see `PgEngine::finish_restore`).
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .map_err(PgError::from)?;
    engine.commits_to_flush();
    let uid = user.user_id.as_str();

    if let Some(reason) = users_index::conflict(&mut *tx, user)? {
        return Err(Error::Conflict {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            reason,
        });
    }
    let newly_registered = users_index::register(&mut tx, user)?;
    // In a schema this restore created, a user it had not registered has no rows anywhere.
    let no_rows_yet = newly_registered && engine.created_schema();
    if !no_rows_yet {
        // Rows of this user may be there already, replaced through upserts that name keys.
        // This transaction has touched users_index only: the key builds, which wait for the
        // users being written into their tables, cannot be waiting for it.
        engine.ensure_schema_with_keys(&guarded_tables())?;
    }
    if options.overwrite && !no_rows_yet {
        users_index::clear_user_data(&mut tx, user)?;
        ephemeral::clear(&mut tx, &user.username)?;
    }
    let mut staged = match engine.attachment_store() {
        Some(store) => Some(store.begin_user_import(uid, options.overwrite)?),
        None => None,
    };

    // Streams first: events' stream paths come from them.
    let stream_items: Vec<Item> = source.items(Collection::Streams)?.collect::<Result<_>>()?;
    let mut paths = if no_rows_yet {
        HashMap::new()
    } else {
        stream_paths(&mut tx, uid)?
    };
    let written = streams::import(&mut tx, uid, &stream_items, &paths)?;
    paths.extend(written);
    drop(stream_items);

    let mut aliases: Vec<String> = Vec::new();
    import_rows(
        &mut tx,
        source,
        uid,
        Collection::Accesses,
        &accesses::TABLE,
        &mut |item| {
            if let Some(alias) = accesses::live_alias(item) {
                aliases.push(alias.to_string());
            }
            accesses::to_row(item)
        },
    )?;
    for alias in &aliases {
        users_index::add_alias(&mut tx, alias, uid)?;
    }
    import_rows(
        &mut tx,
        source,
        uid,
        Collection::Profile,
        &profile::TABLE,
        &mut profile::to_row,
    )?;
    import_rows(
        &mut tx,
        source,
        uid,
        Collection::Webhooks,
        &webhooks::TABLE,
        &mut webhooks::to_row,
    )?;

    // Set when a guard had to ask the database: the next users' loads then keep the keys.
    let mut unordered = false;
    let events_guard = key_guard(engine, &Inserter::for_table(&events::TABLE));
    let files = import_events(
        &mut tx,
        source,
        uid,
        &paths,
        no_rows_yet,
        events_guard,
        &mut unordered,
    )?;
    write_attachments(&mut tx, user, source, &files, staged.as_deref_mut())?;

    if let Some(account) = source.account()? {
        account::import(&mut tx, uid, &account)?;
    }
    let audit_rows = Inserter::for_table(&audit::TABLE);
    let audit_guard = key_guard(engine, &audit_rows);
    write_rows(
        &mut tx,
        uid,
        no_rows_yet,
        audit_rows,
        audit_guard,
        &mut unordered,
        &mut |push| {
            let mut reader = audit::AuditReader::default();
            for text in source.texts(Collection::Audit)? {
                let text = text?;
                let mut row = reader.row(&text)?;
                row.insert(0, Cell::Text(uid.into()));
                push(row)?;
            }
            Ok(())
        },
    )?;
    let series_key = series::user_key(&user.username);
    let series_rows = series::inserter();
    let series_guard = key_guard(engine, &series_rows);
    write_rows(
        &mut tx,
        &series_key,
        no_rows_yet,
        series_rows,
        series_guard,
        &mut unordered,
        &mut |push| {
            for item in source.items(Collection::Series)? {
                series::rows(&user.username, &item?, push)?;
            }
            Ok(())
        },
    )?;

    for item in source.items(Collection::Sessions)? {
        ephemeral::import_session(&mut tx, &item?)?;
    }
    for item in source.items(Collection::PasswordResets)? {
        ephemeral::import_password_reset(&mut tx, &item?)?;
    }

    if options.verify_integrity {
        integrity_check::verify_user_integrity(&mut tx, user)?;
    }
    tx.commit()?;
    if unordered {
        engine.note_unordered_rows();
    }
    // The database is committed first: should this fail, the user's rows are in place and a
    // new restore with overwrite repairs the files.
    if let Some(staged) = staged {
        staged
            .commit()
            .map_err(Error::after_commit("attachments"))?;
    }
    Ok(())
}

/// Writes the attachments `files` lists ((event id, file id)): into `staged` when the
/// attachments have a store of their own, else into the transaction. A file the backup
/// lacks is said, and the event kept.
fn write_attachments(
    tx: &mut Transaction<'_>,
    user: &UserRef,
    source: &dyn UserSource,
    files: &[(String, String)],
    mut staged: Option<&mut (dyn AttachmentImport + '_)>,
) -> Result<()> {
    let uid = user.user_id.as_str();
    for (event_id, file_id) in files {
        let Some(mut data) = source.attachment(file_id)? else {
            tracing::warn!(
                "user {} ({uid}): the backup has no bytes for attachment {file_id} of event {event_id}",
                user.username
            );
            continue;
        };
        match staged.as_deref_mut() {
            Some(staged) => staged.write(event_id, file_id, &mut data)?,
            None => attachments::write_file(tx, uid, event_id, file_id, &mut data)?,
        }
    }
    Ok(())
}

/// The tables whose keys a restore into a schema it created may build last.
fn guarded_tables() -> Vec<&'static str> {
    schema::GUARDED_KEYS.iter().map(|key| key.table).collect()
}

/// The tables that need their key during this user's load: all of them once a user's rows
/// came in no order a `KeyGuard` can prove distinct (bin/backup.js's archives, a chain's
/// merged generations; the database's check of each user's rows would read the whole
/// table), and events' when the user is read back for verification (through that key).
fn keys_needed(engine: &PgEngine, options: &ImportOptions) -> Vec<&'static str> {
    if engine.rows_unordered() {
        guarded_tables()
    } else if options.verify_integrity {
        vec![events::TABLE.name]
    } else {
        Vec::new()
    }
}

/// Writes every item of a collection into its table with upserts: these tables hold a few
/// rows per user, which one INSERT writes in fewer round trips than a COPY.
fn import_rows(
    tx: &mut Transaction<'_>,
    source: &dyn UserSource,
    uid: &str,
    collection: Collection,
    table: &Table,
    to_row: &mut dyn FnMut(&Item) -> Result<Vec<Cell<'static>>, PgError>,
) -> Result<()> {
    let mut inserter = Inserter::for_table(table);
    for item in source.items(collection)? {
        let mut row = to_row(&item?)?;
        row.insert(0, Cell::Text(uid.into()));
        inserter.push(tx, row)?;
    }
    inserter.flush(tx)?;
    Ok(())
}

/// Takes one row for the table being written.
type PushRow<'a> = dyn FnMut(Vec<Cell>) -> Result<(), PgError> + 'a;

/// Rows given to `push` by `produce`, into the upsert's table: by COPY when the user has no
/// row there yet (a new user, or one cleared by overwrite), else by upserts that replace the
/// rows with the same key. Rows here never ask for a column's DEFAULT. `no_rows_yet`: the
/// user is known to have no row in any table. `guard`: the table has no key yet (then the
/// user has no rows there), so the guard checks the rows copied; `unordered` is set when
/// their order proved nothing.
fn write_rows(
    tx: &mut Session<'_>,
    uid: &str,
    no_rows_yet: bool,
    mut upsert: Inserter<'_>,
    mut guard: Option<KeyGuard>,
    unordered: &mut bool,
    produce: &mut dyn FnMut(&mut PushRow<'_>) -> Result<()>,
) -> Result<()> {
    if !no_rows_yet && user_has_rows(tx, upsert.table(), uid)? {
        produce(&mut |row| upsert.push(tx, row))?;
        upsert.flush(tx)?;
        return Ok(());
    }
    let mut copy = CopyIn::start(tx, upsert.table(), upsert.columns(), &[])?;
    produce(&mut |row| {
        if let Some(guard) = guard.as_mut() {
            guard.observe(&row)?;
        }
        copy.push(row)
    })?;
    copy.finish()?;
    if let Some(guard) = guard {
        *unordered |= guard.finish(tx, uid)? == Proof::ByDatabase;
    }
    Ok(())
}

fn user_has_rows(tx: &mut Session<'_>, table: &str, uid: &str) -> Result<bool, PgError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE user_id = $1)");
    let statement = tx.prepared(&sql)?;
    Ok(tx.query_one(&statement, &[&uid])?.try_get(0)?)
}

/// Writes the events and their `event_streams` rows. Returns the (event id, file id) of
/// every attachment they list.
///
/// A user without events yet (new, or cleared by overwrite) gets its events by COPY, and
/// the `event_streams` rows of each stretch of events by a COPY of their own after it (one
/// connection runs one COPY at a time); otherwise rows with the same id must be replaced,
/// so events and their streams are upserted a batch at a time. `no_rows_yet`: the user is
/// known to have no row in any table. `guard`: the table has no key yet, and the guard
/// checks the events copied; `unordered` is set when their order proved nothing.
fn import_events(
    tx: &mut Session<'_>,
    source: &dyn UserSource,
    uid: &str,
    paths: &HashMap<String, String>,
    no_rows_yet: bool,
    mut guard: Option<KeyGuard>,
    unordered: &mut bool,
) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    if !no_rows_yet && user_has_rows(tx, events::TABLE.name, uid)? {
        upsert_events(tx, source, uid, paths, &mut files)?;
        return Ok(files);
    }
    // event_streams rows derive from events: without events, any left are stale. (A schema
    // being loaded has no key on event_streams yet, which this would scan whole.)
    if !no_rows_yet {
        tx.execute("DELETE FROM event_streams WHERE user_id = $1", &[&uid])
            .map_err(PgError::from)?;
    }
    // Read as text: the rows take the JSON columns as the backup holds them.
    let mut texts = source.texts(Collection::Events)?;
    // The stretch's event_streams rows, as COPY text.
    let mut stream_rows: Vec<u8> = Vec::new();
    loop {
        let columns = Inserter::for_table(&events::TABLE).columns();
        let mut copy = CopyIn::start(tx, events::TABLE.name, columns, events::COPY_DEFAULTS)?;
        let mut more = false;
        for text in texts.by_ref() {
            let text = text?;
            let (mut row, links) = events::from_text(&text)?;
            row.insert(0, Cell::Text(uid.into()));
            if let Some(guard) = guard.as_mut() {
                guard.observe(&row)?;
            }
            copy.push(row)?;
            files.extend(links.attachment_ids());
            for (event_id, stream_id, path) in links.stream_rows(paths) {
                copy::text_row(&mut stream_rows, &[uid, event_id, stream_id, &path]);
            }
            if stream_rows.len() >= STREAM_ROWS_HELD {
                more = true;
                break;
            }
        }
        copy.finish()?;
        if !stream_rows.is_empty() {
            let columns = events::EVENT_STREAMS_COLUMNS.to_vec();
            let mut copy = CopyIn::start(tx, "event_streams", columns, &[])?;
            copy.push_text(&stream_rows)?;
            copy.finish()?;
            stream_rows.clear();
        }
        if !more {
            if let Some(guard) = guard {
                *unordered |= guard.finish(tx, uid)? == Proof::ByDatabase;
            }
            return Ok(files);
        }
    }
}

/// Events of a user who has some already: upserts, and for each batch its `event_streams`
/// rows replaced (an event already there may have had other streams). An event id met
/// twice keeps its later copy, within a batch as across batches. The `event_streams` rows
/// go by plain INSERT, after the DELETE of their events' rows: a schema being loaded has no
/// key on that table yet for an upsert to name.
fn upsert_events(
    tx: &mut Transaction<'_>,
    source: &dyn UserSource,
    uid: &str,
    paths: &HashMap<String, String>,
    files: &mut Vec<(String, String)>,
) -> Result<()> {
    let mut rows = Inserter::for_table(&events::TABLE);
    let mut stream_rows = Inserter::new(
        "event_streams",
        events::EVENT_STREAMS_COLUMNS.to_vec(),
        Vec::new(),
    );
    let mut batch: Vec<Item> = Vec::with_capacity(EVENT_BATCH);
    let mut write_batch = |tx: &mut Transaction<'_>, batch: &mut Vec<Item>| -> Result<()> {
        let mut seen = HashSet::new();
        let mut unique: Vec<Item> = batch
            .drain(..)
            .rev()
            .filter(|e| match e.get("id").and_then(Value::as_str) {
                Some(id) => seen.insert(id.to_string()),
                None => true,
            })
            .collect();
        unique.reverse();
        let ids: Vec<&str> = seen.iter().map(String::as_str).collect();
        tx.execute(
            "DELETE FROM event_streams WHERE user_id = $1 AND event_id = ANY($2)",
            &[&uid, &ids],
        )
        .map_err(PgError::from)?;
        for item in unique {
            let mut row = events::to_row(&item)?;
            row.insert(0, Cell::Text(uid.into()));
            rows.push(tx, row)?;
            let links = events::EventLinks::of(&item);
            for (event_id, stream_id, path) in links.stream_rows(paths) {
                let cells = vec![
                    Cell::Text(uid.into()),
                    Cell::Text(event_id.into()),
                    Cell::Text(stream_id.into()),
                    Cell::Text(path),
                ];
                stream_rows.push(tx, cells)?;
            }
            files.extend(links.attachment_ids());
        }
        // In before the next batch's DELETE, which must see them.
        rows.flush(tx)?;
        stream_rows.flush(tx)?;
        Ok(())
    };
    for item in source.items(Collection::Events)? {
        batch.push(item?);
        if batch.len() >= EVENT_BATCH {
            write_batch(tx, &mut batch)?;
        }
    }
    write_batch(tx, &mut batch)?;
    Ok(())
}

/// Stream id → path of the user's streams in the database.
fn stream_paths(tx: &mut Transaction<'_>, uid: &str) -> Result<HashMap<String, String>, PgError> {
    tx.query("SELECT id, path FROM streams WHERE user_id = $1", &[&uid])?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()
        .map_err(PgError::from)
}

// Several new users at once.
//
// Into a schema this restore created, none of the users has a row anywhere, so every row is
// new: one transaction holds a batch of users and each table's rows go in one COPY, where
// `import_user` spends about a dozen statements on each user (on a platform of many small
// accounts those statements, not the rows, are most of the work). All of them or none: on
// any error nothing of them is written, and the caller restores each user alone, which finds
// whose data is at fault and keeps the others.

/// COPY text held before it is written: a batch's rows are sent whenever the tables hold
/// this much, so memory stays bounded whatever the users hold.
const HELD_BYTES: usize = 16 << 20;

/// Restores `users` together when the schema is this restore's own (see above);
/// `Ok(None)` when it is not (each user is then restored alone). `Ok(Some(results))`: every
/// user's base data is committed; a user's result is an error only for what comes after the
/// commit (its staged attachments).
pub fn import_new_users(
    engine: &PgEngine,
    users: &[(&UserRef, &dyn UserSource)],
    options: &ImportOptions,
) -> Result<Option<Vec<Result<()>>>> {
    engine.ensure_schema_with_keys(&keys_needed(engine, options))?;
    if !engine.created_schema() {
        return Ok(None);
    }
    let mut client = engine.client()?;
    let mut tx = client.session()?;
    // As for one user: the restore's last commit flushes this one (`finish_restore`).
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .map_err(PgError::from)?;
    engine.commits_to_flush();

    let mut tables = BatchTables::new();
    for (user, _) in users {
        // A user already registered (by a core writing to this install meanwhile) makes
        // this COPY fail: each user alone then finds the conflict.
        tables
            .users_index
            .push_fields(&[&user.username, &user.user_id]);
    }

    let mut guards: Vec<(String, KeyGuard)> = Vec::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut staged: Vec<(usize, Box<dyn AttachmentImport + '_>)> = Vec::new();
    for (at, (user, source)) in users.iter().enumerate() {
        let uid = user.user_id.as_str();
        let stream_items: Vec<Item> = source.items(Collection::Streams)?.collect::<Result<_>>()?;
        let paths = streams::rows(uid, &stream_items, &HashMap::new(), &mut |row| {
            tables.streams.push(row)
        })?;
        drop(stream_items);
        for item in source.items(Collection::Accesses)? {
            let item = item?;
            if let Some(alias) = accesses::live_alias(&item) {
                aliases.push((alias.to_string(), uid.to_string()));
            }
            tables
                .accesses
                .push(with_user(uid, accesses::to_row(&item)?))?;
        }
        for item in source.items(Collection::Profile)? {
            tables
                .profile
                .push(with_user(uid, profile::to_row(&item?)?))?;
        }
        for item in source.items(Collection::Webhooks)? {
            tables
                .webhooks
                .push(with_user(uid, webhooks::to_row(&item?)?))?;
        }

        let mut events_guard = key_guard(engine, &Inserter::for_table(&events::TABLE));
        let mut files = Vec::new();
        for text in source.texts(Collection::Events)? {
            let text = text?;
            let (mut row, links) = events::from_text(&text)?;
            row.insert(0, Cell::Text(uid.into()));
            if let Some(guard) = events_guard.as_mut() {
                guard.observe(&row)?;
            }
            tables.events.push(row)?;
            files.extend(links.attachment_ids());
            for (event_id, stream_id, path) in links.stream_rows(&paths) {
                tables
                    .event_streams
                    .push_fields(&[uid, event_id, stream_id, &path]);
            }
            tables.send_if_full(&mut tx)?;
        }
        guards.extend(events_guard.map(|g| (uid.to_string(), g)));
        // Staged, as for one user, when the attachments have a store of their own.
        let mut user_staged = match engine.attachment_store() {
            Some(store) if !files.is_empty() => {
                Some(store.begin_user_import(uid, options.overwrite)?)
            }
            _ => None,
        };
        write_attachments(&mut tx, user, *source, &files, user_staged.as_deref_mut())?;
        staged.extend(user_staged.map(|import| (at, import)));

        if let Some(account) = source.account()? {
            account::rows(uid, &account, &mut |table, row| {
                tables.account[table].push(row)
            })?;
        }
        let mut audit_guard = key_guard(engine, &Inserter::for_table(&audit::TABLE));
        let mut reader = audit::AuditReader::default();
        for text in source.texts(Collection::Audit)? {
            let text = text?;
            let mut row = reader.row(&text)?;
            row.insert(0, Cell::Text(uid.into()));
            if let Some(guard) = audit_guard.as_mut() {
                guard.observe(&row)?;
            }
            tables.audit.push(row)?;
            tables.send_if_full(&mut tx)?;
        }
        guards.extend(audit_guard.map(|g| (uid.to_string(), g)));
        let series_key = series::user_key(&user.username);
        let mut series_guard = key_guard(engine, &series::inserter());
        for item in source.items(Collection::Series)? {
            series::rows(&user.username, &item?, &mut |row| {
                if let Some(guard) = series_guard.as_mut() {
                    guard.observe(&row)?;
                }
                tables.series.push(row)
            })?;
            tables.send_if_full(&mut tx)?;
        }
        guards.extend(series_guard.map(|g| (series_key, g)));

        for item in source.items(Collection::Sessions)? {
            ephemeral::import_session(&mut tx, &item?)?;
        }
        for item in source.items(Collection::PasswordResets)? {
            ephemeral::import_password_reset(&mut tx, &item?)?;
        }
        tables.send_if_full(&mut tx)?;
    }
    tables.send(&mut tx)?;

    let mut unordered = false;
    for (user_key, guard) in guards {
        unordered |= guard.finish(&mut tx, &user_key)? == Proof::ByDatabase;
    }
    for (alias, uid) in &aliases {
        users_index::add_alias(&mut tx, alias, uid)?;
    }
    if options.verify_integrity {
        for (user, _) in users {
            integrity_check::verify_user_integrity(&mut tx, user)?;
        }
    }
    // Tests stop the run here, the batch written and not committed: nothing of it stays.
    crate::interrupt::pause_point("restore-batch-written");
    crate::interrupt::check()?;
    tx.commit()?;
    if unordered {
        engine.note_unordered_rows();
    }
    // The database is committed first, as for one user: a failure here leaves that user's
    // rows in place, and a restore with overwrite repairs its files.
    let mut results: Vec<Result<()>> = users.iter().map(|_| Ok(())).collect();
    for (at, import) in staged {
        results[at] = import.commit().map_err(Error::after_commit("attachments"));
    }
    Ok(Some(results))
}

/// A guard for the rows `inserter` describes, when their table is loaded without its key
/// (see `key_guard`).
fn key_guard(engine: &PgEngine, inserter: &Inserter<'_>) -> Option<KeyGuard> {
    engine
        .key_absent(inserter.table())
        .then(|| KeyGuard::for_inserter(inserter))
}

/// A row of a per-user table: `user_id` first.
fn with_user<'a>(uid: &'a str, mut row: Vec<Cell<'a>>) -> Vec<Cell<'a>> {
    row.insert(0, Cell::Text(uid.into()));
    row
}

/// The batch's rows, table by table, as COPY text.
struct BatchTables {
    users_index: CopyText,
    streams: CopyText,
    accesses: CopyText,
    profile: CopyText,
    webhooks: CopyText,
    events: CopyText,
    event_streams: CopyText,
    account: [CopyText; 3],
    audit: CopyText,
    series: CopyText,
}

impl BatchTables {
    fn new() -> Self {
        let of = |table: &Table, defaults| {
            CopyText::new(table.name, Inserter::for_table(table).columns(), defaults)
        };
        let like =
            |inserter: Inserter<'_>| CopyText::new(inserter.table(), inserter.columns(), &[]);
        BatchTables {
            users_index: CopyText::new(
                "users_index",
                vec![("username", Kind::Text), ("user_id", Kind::Text)],
                &[],
            ),
            streams: of(&streams::TABLE, streams::COPY_DEFAULTS),
            accesses: of(&accesses::TABLE, &[]),
            profile: of(&profile::TABLE, &[]),
            webhooks: of(&webhooks::TABLE, webhooks::COPY_DEFAULTS),
            events: of(&events::TABLE, events::COPY_DEFAULTS),
            event_streams: CopyText::new(
                "event_streams",
                events::EVENT_STREAMS_COLUMNS.to_vec(),
                &[],
            ),
            account: account::inserters().map(like),
            audit: like(Inserter::for_table(&audit::TABLE)),
            series: like(series::inserter()),
        }
    }

    fn all(&mut self) -> impl Iterator<Item = &mut CopyText> {
        let [passwords, key_values, fields] = &mut self.account;
        [
            &mut self.users_index,
            &mut self.streams,
            &mut self.accesses,
            &mut self.profile,
            &mut self.webhooks,
            &mut self.events,
            &mut self.event_streams,
            passwords,
            key_values,
            fields,
            &mut self.audit,
            &mut self.series,
        ]
        .into_iter()
    }

    fn send_if_full(&mut self, tx: &mut postgres::Transaction<'_>) -> Result<(), PgError> {
        let held: usize = self.all().map(|t| t.len()).sum();
        if held >= HELD_BYTES {
            self.send(tx)?;
        }
        Ok(())
    }

    /// Writes every row held, users_index first.
    fn send(&mut self, tx: &mut postgres::Transaction<'_>) -> Result<(), PgError> {
        for table in self.all() {
            table.send(tx)?;
        }
        Ok(())
    }
}
