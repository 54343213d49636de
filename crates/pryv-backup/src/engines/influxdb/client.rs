//! A minimal blocking client for InfluxDB 1.x's HTTP API: `/ping`, `/query` (chunked, so
//! results stream in bounded pieces) and `/write` (line protocol).

use std::io::{BufReader, Read};
use std::time::Duration;

use serde::Deserialize;

use crate::engines::http::HttpFailure;
use serde_json::Value;

use super::InfluxError;

/// Points per chunk of a streamed query result.
const CHUNK_SIZE: &str = "10000";
/// Writes retried while a new database becomes visible (100 ms apart).
const NEW_DATABASE_RETRIES: u32 = 50;

pub struct Client {
    base: String,
    agent: ureq::Agent,
}

/// One response object; a chunked query yields several.
#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

/// A piece of one series of a query result: rows in the order of `columns`.
#[derive(Deserialize)]
pub struct Series {
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub values: Vec<Vec<Value>>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(300))
            .build();
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs a statement that changes the server (`CREATE DATABASE`, `DROP DATABASE`).
    pub fn execute(&self, statement: &str) -> Result<(), InfluxError> {
        let response = self
            .agent
            .post(&format!("{}/query", self.base))
            .send_form(&[("q", statement)])
            .map_err(|e| self.http_error(e))?;
        self.read_responses(response.into_reader(), &mut |_| Ok(()))
    }

    /// Runs a query on `database`, handing over each piece of result as it arrives. Times
    /// come as integer nanoseconds.
    pub fn query(
        &self,
        database: &str,
        query: &str,
        on_series: &mut dyn FnMut(Series) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let response = self
            .agent
            .get(&format!("{}/query", self.base))
            .query("db", database)
            .query("q", query)
            .query("epoch", "ns")
            .query("chunked", "true")
            .query("chunk_size", CHUNK_SIZE)
            .call()
            .map_err(|e| self.http_error(e))?;
        self.read_responses(response.into_reader(), on_series)
    }

    /// Writes line-protocol points with nanosecond timestamps.
    /// Writes line-protocol points. A database created a moment ago may not be visible to
    /// writes yet (InfluxDB answers 404): those are retried for a few seconds.
    pub fn write(&self, database: &str, lines: &str) -> Result<(), InfluxError> {
        let mut attempts = 0;
        loop {
            let sent = self
                .agent
                .post(&format!("{}/write", self.base))
                .query("db", database)
                .query("precision", "ns")
                .send_string(lines);
            match sent {
                Ok(_) => return Ok(()),
                Err(ureq::Error::Status(404, _)) if attempts < NEW_DATABASE_RETRIES => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(self.http_error(e)),
            }
        }
    }

    fn read_responses<E>(
        &self,
        body: impl Read,
        on_series: &mut dyn FnMut(Series) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<InfluxError>,
    {
        let stream = serde_json::Deserializer::from_reader(BufReader::new(body));
        for response in stream.into_iter::<Response>() {
            let response =
                response.map_err(|e| self.protocol(format!("unreadable answer: {e}")))?;
            if let Some(error) = response.error {
                return Err(self.protocol(error).into());
            }
            for result in response.results {
                if let Some(error) = result.error {
                    return Err(self.protocol(error).into());
                }
                for series in result.series {
                    on_series(series)?;
                }
            }
        }
        Ok(())
    }

    fn protocol(&self, reason: String) -> InfluxError {
        InfluxError::Server {
            url: self.base.clone(),
            reason,
        }
    }

    fn http_error(&self, error: ureq::Error) -> InfluxError {
        match crate::engines::http::failure(error) {
            HttpFailure::Answered(reason) => self.protocol(reason),
            HttpFailure::Unreachable(reason) => InfluxError::Unreachable {
                url: self.base.clone(),
                reason,
            },
        }
    }
}
