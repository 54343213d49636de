//! High-frequency series kept in InfluxDB 1.x (`storages:series:engine: influxdb`), reached
//! through its HTTP API. See docs/storage-layout.md section 7.
//!
//! Where the core keeps a user's series: database `user.<username>`, one measurement
//! `event.<eventId>` per series event, point times = offsets from the event time. Archive
//! items name the measurement by event id alone, as the other series engines do.

mod client;
mod line;
mod points;

use serde_json::Value;
use thiserror::Error;

use crate::config::InfluxSettings;
use crate::engine::{CollectionStore, ExportWindow};
use crate::model::{Item, UserRef};
use crate::series_time::{self, TimeUnit};
use client::Client;

/// Lines sent per `/write` request.
const WRITE_BATCH: usize = 5000;

const MEASUREMENT_PREFIX: &str = "event.";

#[derive(Debug, Error)]
pub enum InfluxError {
    #[error("cannot reach InfluxDB at {url} ({reason}); check that influxd runs and storages:engines:influxdb:host/port")]
    Unreachable { url: String, reason: String },
    #[error("InfluxDB at {url} refused the request: {reason}")]
    Server { url: String, reason: String },
    #[error(
        "InfluxDB cannot take the series of user {username}, measurement {measurement}: {reason}"
    )]
    Item {
        username: String,
        measurement: String,
        reason: String,
    },
}

/// A user's series in InfluxDB.
pub struct InfluxSeries {
    client: Client,
}

impl InfluxSeries {
    /// The server the core is configured with. No credentials (the core uses none) and no
    /// TLS: meant for a server on the same host.
    pub fn new(settings: &InfluxSettings) -> Self {
        Self::from_url(&format!("http://{}:{}", settings.host, settings.port))
    }

    /// A server by base URL, e.g. `http://127.0.0.1:8086`.
    pub fn from_url(url: &str) -> Self {
        if !is_loopback(url) {
            tracing::warn!("InfluxDB at {url} is not on this host: series travel unencrypted");
        }
        InfluxSeries {
            client: Client::new(url),
        }
    }

    /// The user's measurements; none when the user never had series (some InfluxDB
    /// versions answer `SHOW MEASUREMENTS` on a missing database with an error).
    fn measurements(&self, database: &str) -> crate::Result<Vec<String>> {
        if !self
            .names("", "SHOW DATABASES")?
            .iter()
            .any(|d| d == database)
        {
            return Ok(Vec::new());
        }
        self.names(database, "SHOW MEASUREMENTS")
    }

    /// The first column of every row a `SHOW ...` statement gives.
    fn names(&self, database: &str, statement: &str) -> crate::Result<Vec<String>> {
        let mut names = Vec::new();
        self.client.query(database, statement, &mut |series| {
            for row in series.values {
                match row.first() {
                    Some(Value::String(name)) => names.push(name.clone()),
                    other => {
                        return Err(self.server_error(format!(
                            "{statement} gave a row without a name: {other:?}"
                        )))
                    }
                }
            }
            Ok(())
        })?;
        Ok(names)
    }

    /// Every point of one measurement, in time order. One archive item holds them all.
    fn points(
        &self,
        user: &UserRef,
        database: &str,
        measurement: &str,
    ) -> crate::Result<Vec<Value>> {
        let query = format!("SELECT * FROM {}", quote_identifier(measurement));
        let mut points = Vec::new();
        self.client.query(database, &query, &mut |series| {
            for row in series.values {
                let point = points::point_from_row(&series.columns, row).map_err(|reason| {
                    InfluxError::Item {
                        username: user.username.clone(),
                        measurement: measurement.to_string(),
                        reason,
                    }
                })?;
                points.push(point);
            }
            Ok(())
        })?;
        Ok(points)
    }

    fn server_error(&self, reason: String) -> crate::Error {
        InfluxError::Server {
            url: self.client.base().to_string(),
            reason,
        }
        .into()
    }
}

impl CollectionStore for InfluxSeries {
    fn describe(&self) -> String {
        format!("InfluxDB series at {}", self.client.base())
    }

    /// Every series of the user, whatever the window: like the core, series are exported
    /// whole (a measurement is one archive item, replaced as a whole by later generations).
    fn export_user(
        &self,
        user: &UserRef,
        _window: &ExportWindow,
        out: &mut dyn FnMut(&Item) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let database = database_name(user);
        for name in self.measurements(&database)? {
            let points = self.points(user, &database, &name)?;
            if points.is_empty() {
                continue;
            }
            let event_id = match name.strip_prefix(MEASUREMENT_PREFIX) {
                Some(id) => id.to_string(),
                None => {
                    tracing::warn!(
                        "database {database}: measurement {name:?} is not named event.<id>; backed up under its own name, restored as event.{name}"
                    );
                    name.clone()
                }
            };
            out(&series_time::measurement_item(event_id, points))?;
        }
        Ok(())
    }

    /// Not all or nothing: InfluxDB has no transactions. Points of an item are checked
    /// before any of them is sent, so a bad item leaves no half of itself behind.
    fn import_user(
        &self,
        user: &UserRef,
        items: &mut dyn Iterator<Item = crate::Result<Item>>,
        overwrite: bool,
    ) -> crate::Result<()> {
        let database = database_name(user);
        let quoted = quote_identifier(&database);
        if overwrite {
            self.client.execute(&format!("DROP DATABASE {quoted}"))?;
        }
        self.client.execute(&format!("CREATE DATABASE {quoted}"))?;
        for item in items {
            let item = item?;
            let lines = item_lines(user, &item)?;
            for batch in lines.chunks(WRITE_BATCH) {
                self.client.write(&database, &batch.join("\n"))?;
            }
        }
        Ok(())
    }
}

fn item_lines(user: &UserRef, item: &Item) -> Result<Vec<String>, InfluxError> {
    let bad = |measurement: &str, reason: String| InfluxError::Item {
        username: user.username.clone(),
        measurement: measurement.to_string(),
        reason,
    };
    let event_id = item
        .get("measurement")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("?", "item without a string \"measurement\"".into()))?;
    let measurement = format!("{MEASUREMENT_PREFIX}{event_id}");
    // Earlier versions wrote seconds from InfluxDB, unmarked.
    let unit = TimeUnit::of(item, TimeUnit::Seconds).map_err(|reason| bad(event_id, reason))?;
    let points = match item.get("points") {
        Some(Value::Array(points)) => points.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(bad(event_id, "\"points\" is not an array".into())),
    };
    let mut lines = Vec::with_capacity(points.len());
    for point in points {
        match line::point_line(&measurement, point, unit) {
            Ok(Some(line)) => lines.push(line),
            Ok(None) => tracing::debug!("{measurement}: a point without values skipped"),
            Err(reason) => return Err(bad(event_id, reason)),
        }
    }
    Ok(lines)
}

/// The database the core's high-frequency server writes a user's series to.
pub fn database_name(user: &UserRef) -> String {
    format!("user.{}", user.username)
}

/// An InfluxQL identifier in double quotes.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn is_loopback(url: &str) -> bool {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}
