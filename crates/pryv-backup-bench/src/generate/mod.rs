//! Fills an empty database with a realistic platform (docs/performance.md says what's in it).

mod accesses;
mod account;
mod audit;
mod events;
mod ids;
mod plan;
mod streams;

use std::time::{Duration, Instant};

use postgres::Client;

use crate::schema;
use crate::BenchError;

/// What to generate. `events` counts regular events; events holding attachments (one per
/// file) and series events (one per 20 000 points) come on top.
#[derive(Clone, Debug)]
pub struct Options {
    pub users: usize,
    pub events: u64,
    pub seed: u64,
    /// Share of the events owned by the first (very large) user.
    pub big_user_share: f64,
    /// Total attachment bytes (files of 16 KiB to 3 MiB, random content).
    pub attachment_bytes: u64,
    pub series_points: u64,
    pub audit_rows: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            users: 100,
            events: 100_000,
            seed: 1,
            big_user_share: 0.5,
            attachment_bytes: 16 * 1024 * 1024,
            series_points: 100_000,
            audit_rows: 50_000,
        }
    }
}

/// Rows written per table, and how long each step took.
#[derive(Debug, Default)]
pub struct Summary {
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub rows: u64,
    pub elapsed: Duration,
}

impl Summary {
    pub fn rows(&self, name: &str) -> Option<u64> {
        self.steps.iter().find(|s| s.name == name).map(|s| s.rows)
    }

    pub fn total_elapsed(&self) -> Duration {
        self.steps.iter().map(|s| s.elapsed).sum()
    }

    fn timed(
        &mut self,
        name: &'static str,
        step: impl FnOnce() -> Result<u64, BenchError>,
    ) -> Result<(), BenchError> {
        let start = Instant::now();
        let rows = step()?;
        self.steps.push(Step {
            name,
            rows,
            elapsed: start.elapsed(),
        });
        Ok(())
    }
}

/// Creates the schema in the (empty) database behind `client` and loads the platform.
pub fn generate(client: &mut Client, options: &Options) -> Result<Summary, BenchError> {
    if options.users == 0 {
        return Err(BenchError::Invalid("--users must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&options.big_user_share) {
        return Err(BenchError::Invalid(
            "--big-user-share must be between 0 and 1".into(),
        ));
    }
    schema::require_empty(client)?;
    let mut summary = Summary::default();
    summary.timed("schema", || {
        client.batch_execute(&schema::tables_ddl().join(";\n"))?;
        Ok(0)
    })?;
    let mut users = Vec::new();
    summary.timed("plan", || {
        users = plan::plan(options);
        Ok(users.len() as u64)
    })?;
    let seed = options.seed;
    let users = &users;
    summary.timed("users_index", || account::load_users_index(client, users))?;
    summary.timed("platform_kv", || {
        account::load_platform_kv(client, seed, users)
    })?;
    summary.timed("account", || account::load_account(client, seed, users))?;
    summary.timed("profile", || account::load_profile(client, users))?;
    summary.timed("streams", || streams::load(client, seed, users))?;
    summary.timed("accesses", || accesses::load_accesses(client, seed, users))?;
    summary.timed("webhooks", || accesses::load_webhooks(client, seed, users))?;
    summary.timed("events", || events::load_events(client, seed, users))?;
    summary.timed("attachment_files", || {
        events::load_attachment_files(client, users)
    })?;
    summary.timed("series_data", || events::load_series(client, seed, users))?;
    summary.timed("audit_events", || audit::load(client, seed, users))?;
    summary.timed("event_streams", || derive_event_streams(client))?;
    summary.timed("keys+indexes", || {
        client.batch_execute("SET maintenance_work_mem = '256MB'")?;
        client.batch_execute(&schema::keys_and_indexes_ddl().join(";\n"))?;
        Ok(0)
    })?;
    summary.timed("analyze", || {
        client.batch_execute("ANALYZE")?;
        Ok(0)
    })?;
    Ok(summary)
}

/// One row per (live head event, stream id), with the stream's path (or `id/` when the
/// stream is unknown), as the core maintains it.
fn derive_event_streams(client: &mut Client) -> Result<u64, BenchError> {
    Ok(client.execute(
        "INSERT INTO event_streams (user_id, event_id, stream_id, stream_path) \
         SELECT e.user_id, e.id, s.stream_id, COALESCE(st.path, s.stream_id || '/') \
         FROM events e \
         CROSS JOIN LATERAL jsonb_array_elements_text(e.stream_ids) AS s(stream_id) \
         LEFT JOIN streams st ON st.user_id = e.user_id AND st.id = s.stream_id \
         WHERE e.head_id IS NULL AND e.deleted IS NULL",
        &[],
    )?)
}
