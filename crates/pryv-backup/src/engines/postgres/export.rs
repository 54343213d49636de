//! Backing up users: a batch of users read in one REPEATABLE READ, READ ONLY transaction,
//! each table once for the whole batch, rows streamed in batches and turned into items as
//! the core's own export does.
//!
//! Each table's query walks the batch's users in turn (a LATERAL join over the list), each
//! user's rows in the order its own export reads them, and tags every row with the user's
//! rank; rows are handed to one user's sink after another as they stream. A batch of many
//! small users thus costs a dozen round trips, not a dozen per user.

use std::collections::VecDeque;
use std::io::ErrorKind;

use postgres::types::ToSql;
use postgres::{Portal, Row};

use super::connection::PgEngine;
use super::pool::Session;
use super::table::{RowValues, Table};
use super::{
    accesses, account, attachments, audit, ephemeral, events, profile, series, streams, webhooks,
};
use crate::engine::{BatchSink, ExportOptions, ExportWindow, UserSink};
use crate::model::{Collection, Item, UserRef};
use crate::stream_tree;
use crate::{Error, Result};

/// Rows a batch asks for first per table, doubled on every fetch up to [`MAX_FETCH`]: a
/// batch that ends early (after a big user) leaves few rows read for nothing.
const FIRST_FETCH: i32 = 32;
const MAX_FETCH: i32 = 500;

/// Rows after which a user ends its batch: the users after it are given back (see
/// [`crate::engine::Engine::export_users`]), so that those small users need not wait for a
/// big one while another worker could take them.
const BIG_USER_ROWS: u64 = 2000;

/// One user, through [`export_users`].
pub fn export_user(
    engine: &PgEngine,
    user: &UserRef,
    options: &ExportOptions,
    sink: &mut dyn UserSink,
) -> Result<()> {
    struct One<'s> {
        sink: &'s mut dyn UserSink,
        result: Option<Result<()>>,
    }
    impl BatchSink for One<'_> {
        fn begin(&mut self, _: &UserRef) -> Result<&mut dyn UserSink> {
            Ok(&mut *self.sink)
        }
        fn end(&mut self, _: &UserRef, exported: Result<()>) -> Result<()> {
            self.result = Some(exported);
            Ok(())
        }
    }
    let mut one = One { sink, result: None };
    export_users(
        engine,
        std::slice::from_ref(user),
        &|_| options.clone(),
        &mut one,
    )?;
    one.result
        .unwrap_or_else(|| Err(Error::Other("the user's export did not run".into())))
}

/// See [`crate::engine::Engine::export_users`].
pub fn export_users(
    engine: &PgEngine,
    users: &[UserRef],
    options: &dyn Fn(&UserRef) -> ExportOptions,
    out: &mut dyn BatchSink,
) -> Result<usize> {
    let Some(first) = users.first() else {
        return Ok(0);
    };
    let include_ephemeral = options(first).include_ephemeral;
    out.before_snapshot(users)?;
    let mut client = engine.client()?;
    let mut tx = client.snapshot_session()?;

    // The first read fixes the snapshot. The core removes a user from the index before its
    // data: indexed here, the user is whole in this snapshot; gone, it was deleted since it
    // was listed, and nothing of it is exported.
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    let indexed: Vec<i64> = tx
        .query_prepared(
            "SELECT b.n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS b(uid, uname, n) \
             WHERE EXISTS (SELECT 1 FROM users_index WHERE user_id = b.uid AND username = b.uname)",
            &[&ids, &names],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()
        .map_err(super::PgError::from)?;
    // A batch's queries look costly enough for the JIT (on in Debian's PostgreSQL), which
    // compiled each of them anew: more of the server's time than the reads.
    tx.batch_execute("SET LOCAL jit = off")
        .map_err(super::PgError::from)?;
    // Every query below reads one user's rows at a time through an index led by its user
    // column. A table whose rows few users own (series points, often) has statistics that
    // put each user at a large share of it, and the planner then scans the whole table for
    // every user of the batch: 20,000 scans of series_data in a backup of 20,000 users. A
    // batch of one user (a big one) keeps the planner's choice: one scan at most.
    if users.len() > 1 {
        tx.batch_execute("SET LOCAL enable_seqscan = off")
            .map_err(super::PgError::from)?;
    }
    let present: Vec<(&UserRef, ExportOptions)> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| indexed.contains(&(*i as i64 + 1)))
        .map(|(_, u)| (u, options(u)))
        .collect();

    let mut cursors = Cursors::open(&mut tx, &present)?;
    let mut rank = 0;
    for (done, user) in users.iter().enumerate() {
        let Some((_, options)) = present.get(rank).filter(|(u, _)| *u == user) else {
            out.begin(user)?;
            out.end(
                user,
                Err(Error::UserDeleted {
                    user_id: user.user_id.clone(),
                    username: user.username.clone(),
                }),
            )?;
            continue;
        };
        rank += 1;
        let sink = out.begin(user)?;
        let exported = export_one(
            engine,
            &mut tx,
            &mut cursors,
            rank as i64,
            user,
            &options.window,
            include_ephemeral,
            sink,
        );
        let read = exported.as_ref().ok().copied();
        // A failed user leaves the transaction and the cursors as they are: the next users go
        // in another batch.
        out.end(user, exported.map(|_| ()))?;
        match read {
            Some(rows) if rows < BIG_USER_ROWS => continue,
            _ => {
                drop(cursors);
                tx.commit()?;
                return Ok(done + 1);
            }
        }
    }
    drop(cursors);
    tx.commit()?;
    Ok(users.len())
}

/// One user of the batch, rank `n` in its cursors; returns how many rows it read.
#[allow(clippy::too_many_arguments)]
fn export_one(
    engine: &PgEngine,
    tx: &mut Session<'_>,
    cursors: &mut Cursors,
    n: i64,
    user: &UserRef,
    window: &ExportWindow,
    include_ephemeral: bool,
    sink: &mut dyn UserSink,
) -> Result<u64> {
    let uid = user.user_id.as_str();
    let mut read = 0;
    // Streams parents first (the reference's reader builds paths in file order); a user has
    // few enough streams to sort them in memory, as a restore holds them all anyway.
    let mut stream_items: Vec<Item> = Vec::new();
    read += cursors.streams.take(tx, n, &mut |row| {
        let item = streams::to_item(streams::TABLE.read_row_from(row, 1)?);
        if window.includes(&item) {
            stream_items.push(item);
        }
        Ok(())
    })?;
    for item in stream_tree::parents_first(stream_items) {
        sink.item(Collection::Streams, &item)?;
    }

    let mut ignore = |_: &Item| {};
    read += emit_rows(
        tx,
        &mut cursors.accesses,
        n,
        sink,
        Collection::Accesses,
        &accesses::TABLE,
        window,
        accesses::to_item,
        &mut ignore,
    )?;
    read += emit_rows(
        tx,
        &mut cursors.profile,
        n,
        sink,
        Collection::Profile,
        &profile::TABLE,
        &ExportWindow::everything(),
        profile::to_item,
        &mut ignore,
    )?;
    read += emit_rows(
        tx,
        &mut cursors.webhooks,
        n,
        sink,
        Collection::Webhooks,
        &webhooks::TABLE,
        window,
        webhooks::to_item,
        &mut ignore,
    )?;
    let mut files: Vec<(String, String)> = Vec::new();
    read += emit_rows(
        tx,
        &mut cursors.events,
        n,
        sink,
        Collection::Events,
        &events::TABLE,
        window,
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
            None => match attachments::open_file(tx, uid, event_id, file_id)? {
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

    let (mut passwords, mut store_key_values, mut fields) = (Vec::new(), Vec::new(), Vec::new());
    read += cursors.passwords.take(tx, n, &mut |row| {
        passwords.push(account::password(row, 1)?);
        Ok(())
    })?;
    read += cursors.store_key_values.take(tx, n, &mut |row| {
        store_key_values.push(account::store_key_value(row, 1)?);
        Ok(())
    })?;
    read += cursors.account_fields.take(tx, n, &mut |row| {
        fields.push(account::field(row, 1)?);
        Ok(())
    })?;
    sink.account(&account::object(passwords, store_key_values, fields))?;
    read += emit_rows(
        tx,
        &mut cursors.audit,
        n,
        sink,
        Collection::Audit,
        &audit::TABLE,
        window,
        audit::to_item,
        &mut ignore,
    )?;
    let mut measurements = series::Measurements::default();
    let mut emit = |item: &Item| sink.item(Collection::Series, item);
    read += cursors
        .series
        .take(tx, n, &mut |row| measurements.push(row, 1, &mut emit))?;
    measurements.finish(&mut emit)?;
    if include_ephemeral {
        ephemeral::export(tx, &user.username, &mut |c, item| sink.item(c, item))?;
    }
    Ok(read)
}

/// Streams one table's rows of user `n` to the sink as items of `collection`; `seen`
/// watches every item sent. Returns how many rows were read.
#[allow(clippy::too_many_arguments)]
fn emit_rows(
    tx: &mut Session<'_>,
    cursor: &mut Cursor,
    n: i64,
    sink: &mut dyn UserSink,
    collection: Collection,
    table: &Table,
    window: &ExportWindow,
    convert: fn(RowValues) -> Item,
    seen: &mut dyn FnMut(&Item),
) -> Result<u64> {
    cursor.take(tx, n, &mut |row| {
        let item = convert(table.read_row_from(row, 1)?);
        if window.includes(&item) {
            seen(&item);
            sink.item(collection, &item)?;
        }
        Ok(())
    })
}

/// One query per table for the batch, read in step.
struct Cursors {
    streams: Cursor,
    accesses: Cursor,
    profile: Cursor,
    webhooks: Cursor,
    events: Cursor,
    passwords: Cursor,
    store_key_values: Cursor,
    account_fields: Cursor,
    audit: Cursor,
    series: Cursor,
}

impl Cursors {
    fn open(tx: &mut Session<'_>, users: &[(&UserRef, ExportOptions)]) -> Result<Cursors> {
        let ids: Vec<&str> = users.iter().map(|(u, _)| u.user_id.as_str()).collect();
        let since: Vec<Option<f64>> = users.iter().map(|(_, o)| o.window.since).collect();
        let keys: Vec<String> = users
            .iter()
            .map(|(u, _)| series::user_key(&u.username))
            .collect();
        let params: [&(dyn ToSql + Sync); 3] = [&ids, &since, &keys];
        let mut open = |inner: String| Cursor::open(tx, &inner, &params);
        let windowed = |table: &Table, order: Option<&str>| {
            table.export_query("b.uid", Some("b.since"), order)
        };
        let [passwords, store_key_values, account_fields] = account::queries("b.uid");
        Ok(Cursors {
            streams: open(windowed(&streams::TABLE, None))?,
            accesses: open(windowed(&accesses::TABLE, None))?,
            // Profile has no timestamps: always exported whole, as the core does.
            profile: open(profile::TABLE.export_query("b.uid", None, None))?,
            webhooks: open(windowed(&webhooks::TABLE, None))?,
            events: open(windowed(&events::TABLE, Some(events::EXPORT_ORDER)))?,
            passwords: open(passwords)?,
            store_key_values: open(store_key_values)?,
            account_fields: open(account_fields)?,
            audit: open(windowed(&audit::TABLE, None))?,
            series: open(series::query("b.ukey"))?,
        })
    }
}

/// A query's rows for the whole batch, each tagged with its user's rank (1 for the first),
/// fetched a few at a time and taken one user after another.
struct Cursor {
    portal: Portal,
    rows: VecDeque<Row>,
    fetch: i32,
    done: bool,
}

impl Cursor {
    /// Runs `inner` (a user's query, naming it `b.uid`, `b.since`, `b.ukey`) for every user of
    /// `params` (ids, change-time windows, series keys) in turn.
    fn open(tx: &mut Session<'_>, inner: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Cursor> {
        // The users in their order, each one's rows in the order of its own query: a nested
        // loop over the list, which `take` checks as the rows come.
        let sql = format!(
            "SELECT b.n, t.* FROM unnest($1::text[], $2::float8[], $3::text[]) \
             WITH ORDINALITY AS b(uid, since, ukey, n) CROSS JOIN LATERAL ({inner}) t"
        );
        let statement = tx.prepared(&sql)?;
        let portal = tx.bind(&statement, params).map_err(super::PgError::from)?;
        Ok(Cursor {
            portal,
            rows: VecDeque::new(),
            fetch: FIRST_FETCH,
            done: false,
        })
    }

    /// Gives `each` the rows of user `n`; returns how many.
    fn take(
        &mut self,
        tx: &mut Session<'_>,
        n: i64,
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<u64> {
        let mut taken = 0;
        loop {
            if self.rows.is_empty() && !self.done {
                let rows = tx
                    .query_portal(&self.portal, self.fetch)
                    .map_err(super::PgError::from)?;
                // Fewer rows than asked for: the portal is done, no need to ask again.
                self.done = rows.len() < self.fetch as usize;
                self.fetch = (self.fetch * 2).min(MAX_FETCH);
                self.rows.extend(rows);
            }
            let Some(row) = self.rows.front() else {
                return Ok(taken);
            };
            let rank: i64 = row.try_get(0).map_err(super::PgError::from)?;
            if rank > n {
                return Ok(taken);
            }
            if rank < n {
                return Err(Error::Other(format!(
                    "the database returned rows of the batch's user {rank} after those of user {n}: \
                     no user was backed up from this read"
                )));
            }
            if let Some(row) = self.rows.pop_front() {
                each(&row)?;
                taken += 1;
            }
        }
    }
}
