//! Who else is connected to the install's database: a core that runs holds connections
//! open (a restore into it is refused unless forced).

use std::time::Duration;

use super::{PgError, APPLICATION_NAME};

/// Another session connected to the same database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherClient {
    pub pid: i32,
    /// `application_name`, empty when the client set none (the core sets none).
    pub application: String,
    pub user: String,
    /// The client's address, `local` over a Unix socket.
    pub address: String,
}

/// A session that has just disconnected stays listed until its server process ends: looks
/// this many times, this far apart, before telling it is there.
const LOOKS: usize = 3;
const BETWEEN_LOOKS: Duration = Duration::from_millis(200);

/// The client sessions connected to the database of `conn_str` other than pryv-backup's
/// (background workers such as autovacuum are not clients).
pub fn other_clients(conn_str: &str) -> Result<Vec<OtherClient>, PgError> {
    let mut client = super::connect(conn_str)?;
    let mut found = Vec::new();
    for look in 0..LOOKS {
        if look > 0 {
            std::thread::sleep(BETWEEN_LOOKS);
        }
        found = client
            .query(
                "SELECT pid, coalesce(application_name, ''), coalesce(usename::text, ''), \
                        coalesce(host(client_addr), 'local') \
                 FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                   AND backend_type = 'client backend' \
                   AND application_name IS DISTINCT FROM $1 \
                 ORDER BY pid",
                &[&APPLICATION_NAME],
            )?
            .iter()
            .map(|row| OtherClient {
                pid: row.get(0),
                application: row.get(1),
                user: row.get(2),
                address: row.get(3),
            })
            .collect();
        if found.is_empty() {
            break;
        }
    }
    Ok(found)
}
