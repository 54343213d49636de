//! A small pool of connections, so that users exported or restored by parallel jobs each get
//! their own session (one PostgreSQL connection runs one transaction at a time).

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::{Client, NoTls};
use zeroize::Zeroizing;

use super::PgError;

pub struct Pool {
    /// May hold a password: wiped from memory when the pool goes.
    conn_str: Zeroizing<String>,
    idle: Mutex<Vec<Client>>,
}

impl Pool {
    /// A pool holding `first` (a connection already made with `conn_str`) as idle.
    pub fn new(conn_str: &str, first: Client) -> Pool {
        Pool {
            conn_str: Zeroizing::new(conn_str.to_string()),
            idle: Mutex::new(vec![first]),
        }
    }

    /// A connection of its own, never pooled (for session state such as advisory locks).
    pub fn dedicated(&self) -> Result<Client, PgError> {
        Ok(Client::connect(&self.conn_str, NoTls)?)
    }

    /// An idle connection, or a new one when all are in use.
    pub fn get(&self) -> Result<PooledClient<'_>, PgError> {
        let idle = self.idle().pop();
        let client = match idle {
            Some(client) if !client.is_closed() => client,
            _ => self.dedicated()?,
        };
        Ok(PooledClient {
            pool: self,
            client: Some(client),
        })
    }

    /// The idle list stays consistent even if a holder panicked: pushes and pops are whole.
    fn idle(&self) -> MutexGuard<'_, Vec<Client>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection taken from the pool; it goes back when dropped. A transaction left open is
/// rolled back by its own drop before that, so a connection is reusable after a failed
/// import; a closed connection (network or server error) is dropped instead.
pub struct PooledClient<'p> {
    pool: &'p Pool,
    client: Option<Client>,
}

impl Deref for PooledClient<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        // Only `drop` takes the client out.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for PooledClient<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for PooledClient<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        // After a panic the session's state is unknown: never hand it out again.
        if !client.is_closed() && !std::thread::panicking() {
            self.pool.idle().push(client);
        }
    }
}
