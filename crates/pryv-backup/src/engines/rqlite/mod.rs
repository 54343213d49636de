//! The platform DB kept in rqlite (`storages:platform:engine: rqlite`): one `keyValue`
//! table. See docs/storage-layout.md section 8.
//!
//! Two ways in: the node's HTTP API (the core running or not, as long as rqlited runs), or
//! with rqlited stopped, its SQLite file read directly.

mod file;
mod http;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::{RqliteSettings, ServiceUrl};
use crate::engine::PlatformStore;
use crate::model::Item;
use crate::platform::entries::{self, item_from_row, row_from_item};

pub use file::DATA_DIR_DB;

/// The table as the core creates it.
const TABLE_DDL: &str =
    "CREATE TABLE IF NOT EXISTS keyValue (key TEXT PRIMARY KEY, value TEXT NOT NULL)";

/// Rows sent per HTTP write (one rqlite transaction each).
const HTTP_WRITE_BATCH: usize = 1000;

#[derive(Debug, Error)]
pub enum RqliteError {
    #[error("cannot reach rqlite at {url} ({reason}); check that rqlited runs and storages:engines:rqlite:url")]
    Unreachable { url: String, reason: String },
    #[error("rqlite at {url} refused the request: {reason}")]
    Server { url: String, reason: String },
    #[error("rqlite database file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("rqlite database file {path}: {reason}")]
    Layout { path: PathBuf, reason: String },
    #[error("platform item: {0}")]
    Item(String),
}

/// The platform registry of an install using rqlite.
pub struct RqlitePlatform {
    access: Access,
}

enum Access {
    Http(http::Client),
    File(PathBuf),
    /// The data directory of a node that is not running.
    StoppedNode(PathBuf),
}

impl RqlitePlatform {
    /// Through the node's HTTP API, as configured.
    pub fn new(settings: &RqliteSettings) -> Self {
        Self::over_http(&settings.url)
    }

    /// Through the HTTP API at `url`, e.g. `http://localhost:4001`.
    pub fn over_http(url: &ServiceUrl) -> Self {
        RqlitePlatform {
            access: Access::Http(http::Client::new(url)),
        }
    }

    /// The database of a stopped node's data directory (`<data_dir>/db.sqlite`), for
    /// export only, without changing a byte there (see [`file::stopped_node_rows`]):
    /// rqlite rebuilds that file on start, so writes are refused.
    pub fn stopped_node(data_dir: &Path) -> Self {
        RqlitePlatform {
            access: Access::StoppedNode(data_dir.to_path_buf()),
        }
    }

    /// Whether the node at `url` answers at all (any HTTP answer counts: only a node that
    /// cannot be reached may be read from its data directory instead).
    pub fn node_answers(url: &ServiceUrl) -> bool {
        http::Client::new(url).answers()
    }

    /// A SQLite file in rqlite's layout. Exports read it; imports create or update it (in
    /// one transaction), unless it sits in a live rqlite data directory.
    pub fn sqlite_file(path: &Path) -> Self {
        RqlitePlatform {
            access: Access::File(path.to_path_buf()),
        }
    }

    fn rows_with_prefix(
        &self,
        prefix: &str,
        on_row: &mut dyn FnMut(&str, &str) -> crate::Result<()>,
    ) -> crate::Result<()> {
        match &self.access {
            Access::Http(client) => client.rows_with_prefix(prefix, on_row),
            Access::File(path) => file::rows_with_prefix(path, prefix, on_row),
            Access::StoppedNode(dir) => file::stopped_node_rows(dir, &[prefix], on_row),
        }
    }
}

fn row(item: crate::Result<Item>) -> crate::Result<(String, String)> {
    Ok(row_from_item(&item?).map_err(RqliteError::Item)?)
}

impl PlatformStore for RqlitePlatform {
    fn describe(&self) -> String {
        match &self.access {
            Access::Http(client) => format!("rqlite platform DB at {}", client.base()),
            Access::File(path) => format!("rqlite platform DB file {}", path.display()),
            Access::StoppedNode(dir) => format!(
                "the data directory {} of a stopped rqlite node (read-only)",
                dir.display()
            ),
        }
    }

    /// The user-field rows, as the core's backup takes them: unique ones, then indexed ones.
    fn export(&self, out: &mut dyn FnMut(&Item) -> crate::Result<()>) -> crate::Result<()> {
        // A stopped node's files are opened and checked once for the whole export.
        if let Access::StoppedNode(dir) = &self.access {
            return file::stopped_node_rows(
                dir,
                &entries::BACKED_UP_PREFIXES,
                &mut |key, value| out(&item_from_row(key, value)),
            );
        }
        for prefix in entries::BACKED_UP_PREFIXES {
            self.rows_with_prefix(prefix, &mut |key, value| out(&item_from_row(key, value)))?;
        }
        Ok(())
    }

    fn values(&self, keys: &[String]) -> crate::Result<Vec<(String, String)>> {
        match &self.access {
            Access::Http(client) => client.values(keys),
            Access::File(path) => file::values(path, keys),
            Access::StoppedNode(dir) => file::values(&dir.join(DATA_DIR_DB), keys),
        }
    }

    /// Writes every item's row back (`INSERT OR REPLACE`), leaving other rows alone. Over
    /// HTTP each batch of rows is its own transaction; into a file, all is one.
    fn import(&self, items: &mut dyn Iterator<Item = crate::Result<Item>>) -> crate::Result<()> {
        match &self.access {
            Access::File(path) => file::put_rows(path, &mut items.map(row)),
            Access::StoppedNode(dir) => {
                Err(file::data_dir_is_read_only(&dir.join(DATA_DIR_DB), dir).into())
            }
            Access::Http(client) => {
                client.ensure_table()?;
                let mut batch = Vec::with_capacity(HTTP_WRITE_BATCH);
                for item in items {
                    batch.push(row(item)?);
                    if batch.len() == HTTP_WRITE_BATCH {
                        client.put_batch(&batch)?;
                        batch.clear();
                    }
                }
                if !batch.is_empty() {
                    client.put_batch(&batch)?;
                }
                Ok(())
            }
        }
    }
}
