//! A small pool of connections, so that users exported or restored by parallel jobs each get
//! their own session (one PostgreSQL connection runs one transaction at a time).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Row, Statement, Transaction};
use zeroize::Zeroizing;

use super::PgError;

pub struct Pool {
    /// May hold a password: wiped from memory when the pool goes.
    conn_str: Zeroizing<String>,
    idle: Mutex<Vec<Connection>>,
}

/// A connection and the statements prepared on it, by SQL text. Each user's export or
/// import runs the same dozen statements: prepared once per connection, they cost one round
/// trip each instead of two, and the server parses them once.
struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Connection {
    fn new(mut client: Client) -> Connection {
        // Each execution still planned for its own parameters, as an unprepared statement is:
        // a generic plan made while a restore's tables are nearly empty could scan them whole
        // once they are full. (PostgreSQL before 12 lacks the setting.)
        if let Err(e) = client.batch_execute("SET plan_cache_mode = force_custom_plan") {
            tracing::debug!("plan_cache_mode not set: {e}");
        }
        Connection {
            client,
            statements: HashMap::new(),
        }
    }
}

impl Pool {
    /// A pool holding `first` (a connection already made with `conn_str`) as idle.
    pub fn new(conn_str: &str, first: Client) -> Pool {
        Pool {
            conn_str: Zeroizing::new(conn_str.to_string()),
            idle: Mutex::new(vec![Connection::new(first)]),
        }
    }

    /// A connection of its own, never pooled (for session state such as advisory locks).
    pub fn dedicated(&self) -> Result<Client, PgError> {
        super::connect(&self.conn_str)
    }

    /// An idle connection, or a new one when all are in use.
    pub fn get(&self) -> Result<PooledClient<'_>, PgError> {
        let idle = self.idle().pop();
        let connection = match idle {
            Some(connection) if !connection.client.is_closed() => connection,
            _ => Connection::new(self.dedicated()?),
        };
        Ok(PooledClient {
            pool: self,
            connection: Some(connection),
        })
    }

    /// The idle list stays consistent even if a holder panicked: pushes and pops are whole.
    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection taken from the pool; it goes back when dropped. A transaction left open is
/// rolled back by its own drop before that, so a connection is reusable after a failed
/// import; a closed connection (network or server error) is dropped instead.
pub struct PooledClient<'p> {
    pool: &'p Pool,
    connection: Option<Connection>,
}

impl PooledClient<'_> {
    fn connection(&mut self) -> &mut Connection {
        // Only `drop` takes the connection out.
        self.connection.as_mut().unwrap_or_else(|| unreachable!())
    }

    /// Starts a transaction that prepares its statements once per connection.
    pub fn session(&mut self) -> Result<Session<'_>, PgError> {
        let Connection { client, statements } = self.connection();
        Ok(Session {
            tx: client.transaction()?,
            statements,
        })
    }

    /// [`PooledClient::session`] with a REPEATABLE READ, READ ONLY transaction: one snapshot.
    pub fn snapshot_session(&mut self) -> Result<Session<'_>, PgError> {
        let Connection { client, statements } = self.connection();
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        Ok(Session { tx, statements })
    }
}

impl Deref for PooledClient<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Only `drop` takes the connection out.
        &self
            .connection
            .as_ref()
            .unwrap_or_else(|| unreachable!())
            .client
    }
}

impl DerefMut for PooledClient<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.connection().client
    }
}

impl Drop for PooledClient<'_> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        // After a panic the session's state is unknown: never hand it out again.
        if !connection.client.is_closed() && !std::thread::panicking() {
            self.pool.idle().push(connection);
        }
    }
}

/// A transaction on a pooled connection, with that connection's prepared statements. It
/// is the transaction for everything else (`Deref`).
pub struct Session<'c> {
    tx: Transaction<'c>,
    statements: &'c mut HashMap<String, Statement>,
}

impl<'c> Session<'c> {
    /// `sql` prepared on this connection, once. (A prepared statement outlives the
    /// transaction that prepared it, even one rolled back.)
    pub fn prepared(&mut self, sql: &str) -> Result<Statement, PgError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Runs `sql`, prepared once per connection, and returns its rows.
    pub fn query_prepared(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, PgError> {
        let statement = self.prepared(sql)?;
        Ok(self.tx.query(&statement, params)?)
    }

    pub fn commit(self) -> Result<(), PgError> {
        Ok(self.tx.commit()?)
    }
}

impl<'c> Deref for Session<'c> {
    type Target = Transaction<'c>;

    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}

impl<'c> DerefMut for Session<'c> {
    fn deref_mut(&mut self) -> &mut Transaction<'c> {
        &mut self.tx
    }
}
