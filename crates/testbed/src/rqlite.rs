//! A stand-in for an rqlite node, for tests of the platform DB over HTTP.
//!
//! rqlited itself cannot be installed on this machine (no Debian package, no crate), so this
//! serves the part of rqlite's documented HTTP API that the core and pryv-backup use, the same
//! part the stand-in behind `tests/fixtures/live-reference-sqlite` served to the real core (its
//! README, "platform DB" row): `GET /readyz`, `/status`, `/nodes`; `POST /db/execute`
//! (`?transaction` runs the request's statements all or nothing) and `POST /db/query`
//! (`level=` accepted, one node is always strong). Bodies are JSON arrays of statements, each
//! a string or `[sql, positional params...]`. Answers are `{"results": [...]}` with, per
//! statement, columnar `columns`/`types`/`values` (`values` left out when no row matched, as
//! rqlite does), `rows_affected`/`last_insert_id` for writes, or `error` with SQLite's message.
//!
//! The data is one real SQLite file in a temporary folder (no Raft log, no snapshots). One
//! thread answers on 127.0.0.1 (a free port), one request per connection (`Connection:
//! close`); it stops when the value is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use serde_json::{json, Value};

/// A running stand-in node.
pub struct RqliteStandIn {
    url: String,
    db: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl RqliteStandIn {
    /// A node over an empty database (no table: the core, or a restore, creates it).
    pub fn start() -> RqliteStandIn {
        let dir = tempfile::tempdir().expect("rqlite stand-in folder");
        let db = dir.path().join("db.sqlite");
        let conn = Connection::open(&db).expect("rqlite stand-in database");
        let listener = TcpListener::bind("127.0.0.1:0").expect("rqlite stand-in port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || serve(listener, conn, &stop))
        };
        RqliteStandIn {
            url,
            db,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file the node serves, to check what a restore wrote.
    pub fn db_path(&self) -> &Path {
        &self.db
    }
}

impl Drop for RqliteStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, mut conn: Connection, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // A client killed mid-request (the signal tests do that) only loses its connection.
        if let Ok(stream) = stream {
            let _ = answer(stream, &mut conn);
        }
    }
}

fn answer(stream: TcpStream, conn: &mut Connection) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;

    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let flags: Vec<&str> = query
        .split('&')
        .map(|p| p.split('=').next().unwrap_or(""))
        .collect();
    let (status, reply) = match (method.as_str(), path) {
        ("GET", "/readyz") => (200, "[+]node ok\n[+]leader ok\n[+]store ok\n".to_string()),
        ("GET", "/status") => (200, json!({"store": {"ready": true}}).to_string()),
        ("GET", "/nodes") => (
            200,
            json!({"1": {"reachable": true, "leader": true}}).to_string(),
        ),
        ("POST", "/db/execute") => run(conn, &body, flags.contains(&"transaction"), false),
        ("POST", "/db/query") => run(conn, &body, flags.contains(&"transaction"), true),
        _ => (404, "not found\n".to_string()),
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{reply}",
        if status == 200 { "OK" } else { "Error" },
        reply.len()
    )?;
    stream.flush()
}

/// Runs a request's statements; a bad body is a 400 with a top-level `error`, as rqlite does.
fn run(conn: &mut Connection, body: &[u8], transaction: bool, query: bool) -> (u16, String) {
    let statements = match serde_json::from_slice::<Vec<Value>>(body) {
        Ok(statements) => statements,
        Err(e) => return (400, json!({ "error": e.to_string() }).to_string()),
    };
    let mut results = Vec::new();
    if transaction {
        let tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                return (
                    200,
                    json!({"results": [{"error": e.to_string()}]}).to_string(),
                )
            }
        };
        let mut failed = false;
        for statement in &statements {
            let result = one(&tx, statement, query);
            failed = result.get("error").is_some();
            results.push(result);
            if failed {
                break;
            }
        }
        // Dropping an uncommitted transaction rolls it back.
        if !failed {
            if let Err(e) = tx.commit() {
                results = vec![json!({ "error": e.to_string() })];
            }
        }
    } else {
        for statement in &statements {
            results.push(one(conn, statement, query));
        }
    }
    (200, json!({ "results": results }).to_string())
}

fn one(conn: &Connection, statement: &Value, query: bool) -> Value {
    let (sql, params) = match statement {
        Value::String(sql) => (sql.as_str(), &[][..]),
        Value::Array(parts) => match parts.split_first() {
            Some((Value::String(sql), params)) => (sql.as_str(), params),
            _ => return json!({"error": "statement must start with its SQL text"}),
        },
        _ => return json!({"error": "statement must be a string or an array"}),
    };
    let params: Vec<SqlValue> = match params.iter().map(sql_param).collect() {
        Ok(params) => params,
        Err(e) => return json!({ "error": e }),
    };
    let outcome = if query {
        select(conn, sql, &params)
    } else {
        conn.execute(sql, rusqlite::params_from_iter(&params)).map(
            |changed| json!({"last_insert_id": conn.last_insert_rowid(), "rows_affected": changed}),
        )
    };
    outcome.unwrap_or_else(|e| json!({ "error": sqlite_message(e) }))
}

fn select(conn: &Connection, sql: &str, params: &[SqlValue]) -> rusqlite::Result<Value> {
    let mut st = conn.prepare(sql)?;
    let columns: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
    // rqlite reports declared types; without rusqlite's `column_decltype` feature the
    // first row's storage classes stand in (the same for `keyValue`'s TEXT columns).
    let mut types: Vec<String> = vec![String::new(); columns.len()];
    let mut rows = st.query(rusqlite::params_from_iter(params))?;
    let mut values = Vec::new();
    while let Some(row) = rows.next()? {
        let mut out = Vec::with_capacity(columns.len());
        for (i, kind) in types.iter_mut().enumerate() {
            let value = row.get_ref(i)?;
            if values.is_empty() {
                *kind = value.data_type().to_string().to_lowercase();
            }
            out.push(match value {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => json!(n),
                ValueRef::Real(x) => json!(x),
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => json!(b),
            });
        }
        values.push(Value::Array(out));
    }
    let mut result = json!({ "columns": columns, "types": types });
    if !values.is_empty() {
        result["values"] = Value::Array(values);
    }
    Ok(result)
}

fn sql_param(value: &Value) -> Result<SqlValue, String> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => SqlValue::Integer(i),
            (None, Some(x)) => SqlValue::Real(x),
            _ => return Err(format!("unsupported number parameter {n}")),
        },
        other => return Err(format!("unsupported parameter {other}")),
    })
}

/// SQLite's own message (e.g. `no such table: keyValue`), as rqlite passes it on.
fn sqlite_message(error: rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => other.to_string(),
    }
}
