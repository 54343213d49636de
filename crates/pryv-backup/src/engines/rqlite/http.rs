//! The rqlite HTTP API: `/db/query` (reads, `level=strong` so a read is confirmed by the
//! cluster's leader) and `/db/execute` (writes, one transaction per request).

use std::time::Duration;

use serde::Deserialize;

use crate::config::ServiceUrl;
use crate::engines::http::HttpFailure;
use serde_json::Value;

use super::{RqliteError, TABLE_DDL};

/// Rows read per request, so a large platform never sits in memory whole.
const PAGE: i64 = 5000;

pub struct Client {
    /// The API's root, credentials included when configured so (never shown).
    base: ServiceUrl,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    values: Vec<Vec<Value>>,
    error: Option<String>,
}

impl Client {
    pub fn new(base: &ServiceUrl) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(120))
            .build();
        Client {
            base: ServiceUrl::new(base.with_credentials().trim_end_matches('/')),
            agent,
        }
    }

    pub fn base(&self) -> &ServiceUrl {
        &self.base
    }

    /// Whether anything answers HTTP at the node's address (`/readyz`, whatever its status).
    pub fn answers(&self) -> bool {
        match self.agent.get(&format!("{}/readyz", self.base)).call() {
            Ok(_) => true,
            Err(e) => matches!(crate::engines::http::failure(e), HttpFailure::Answered(_)),
        }
    }

    /// Every `(key, value)` row whose key starts with `prefix`, in key order, page by page.
    pub fn rows_with_prefix(
        &self,
        prefix: &str,
        on_row: &mut dyn FnMut(&str, &str) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let mut after = String::new();
        loop {
            let statement = serde_json::json!([[
                "SELECT key, value FROM keyValue WHERE substr(key, 1, ?) = ? AND key > ? ORDER BY key LIMIT ?",
                prefix.chars().count(),
                prefix,
                after,
                PAGE
            ]]);
            let results = self.post("/db/query?level=strong", &statement)?;
            let rows = results
                .into_iter()
                .next()
                .map(|r| r.values)
                .unwrap_or_default();
            let count = rows.len();
            for row in rows {
                match row.as_slice() {
                    [Value::String(key), Value::String(value)] => {
                        on_row(key, value)?;
                        after.clone_from(key);
                    }
                    other => {
                        return Err(self
                            .server_error(format!("unexpected keyValue row: {other:?}"))
                            .into())
                    }
                }
            }
            if (count as i64) < PAGE {
                return Ok(());
            }
        }
    }

    /// The rows under these keys, in one query; none on a node whose table does not exist
    /// yet (the core creates it when it starts).
    pub fn values(&self, keys: &[String]) -> crate::Result<Vec<(String, String)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; keys.len()].join(", ");
        let mut statement = vec![Value::String(format!(
            "SELECT key, value FROM keyValue WHERE key IN ({placeholders}) ORDER BY key"
        ))];
        statement.extend(keys.iter().cloned().map(Value::String));
        let results = match self.post(
            "/db/query?level=strong",
            &Value::Array(vec![Value::Array(statement)]),
        ) {
            Ok(results) => results,
            Err(RqliteError::Server { reason, .. }) if reason.contains("no such table") => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e.into()),
        };
        let mut found = Vec::new();
        for row in results.into_iter().flat_map(|r| r.values) {
            match row.as_slice() {
                [Value::String(key), Value::String(value)] => {
                    found.push((key.clone(), value.clone()))
                }
                other => {
                    return Err(self
                        .server_error(format!("unexpected keyValue row: {other:?}"))
                        .into())
                }
            }
        }
        Ok(found)
    }

    /// Creates the platform table when the node is new, as the core does at start.
    pub fn ensure_table(&self) -> Result<(), RqliteError> {
        self.post("/db/execute", &serde_json::json!([[TABLE_DDL]]))?;
        Ok(())
    }

    /// Writes rows with `INSERT OR REPLACE` (as the core does), in one transaction.
    pub fn put_batch(&self, rows: &[(String, String)]) -> Result<(), RqliteError> {
        let statements: Vec<Value> = rows
            .iter()
            .map(|(key, value)| {
                serde_json::json!([
                    "INSERT OR REPLACE INTO keyValue (key, value) VALUES (?, ?)",
                    key,
                    value
                ])
            })
            .collect();
        self.post("/db/execute?transaction", &Value::Array(statements))?;
        Ok(())
    }

    fn post(&self, path: &str, body: &Value) -> Result<Vec<StatementResult>, RqliteError> {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base.with_credentials()))
            .set("Content-Type", "application/json")
            .send_string(&body.to_string())
            .map_err(|e| self.http_error(e))?;
        let response: Response = serde_json::from_reader(response.into_reader())
            .map_err(|e| self.server_error(format!("unreadable answer: {e}")))?;
        if let Some(error) = response.error {
            return Err(self.server_error(error));
        }
        if let Some(error) = response.results.iter().find_map(|r| r.error.clone()) {
            return Err(self.server_error(error));
        }
        Ok(response.results)
    }

    fn server_error(&self, reason: String) -> RqliteError {
        RqliteError::Server {
            url: self.base.to_string(),
            reason,
        }
    }

    fn http_error(&self, error: ureq::Error) -> RqliteError {
        match crate::engines::http::failure(error) {
            HttpFailure::Answered(reason) => self.server_error(reason),
            HttpFailure::Unreachable(reason) => RqliteError::Unreachable {
                url: self.base.to_string(),
                reason,
            },
        }
    }
}
