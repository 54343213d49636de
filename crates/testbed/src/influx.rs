//! A real InfluxDB 1.x server for series tests: the one named by `PRYV_BACKUP_TEST_INFLUX`
//! (see scripts/lib/influxdb.sh), else a throwaway `influxd` started here on a free loopback
//! port with its data in a temporary directory, stopped when the last user lets go of it.
//! [`private`] always starts one of its own, for tests that write the core's fixed names.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub const ENV: &str = "PRYV_BACKUP_TEST_INFLUX";

/// A running InfluxDB; keep it alive as long as the test uses it.
pub struct Influx {
    url: String,
    _server: Option<Arc<Server>>,
}

impl Influx {
    /// The base URL, e.g. `http://127.0.0.1:58086`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

struct Server {
    url: String,
    child: Mutex<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());

/// The InfluxDB tests use. Panics with what to do when none can be had.
pub fn influxdb() -> Influx {
    if let Ok(url) = std::env::var(ENV) {
        return Influx {
            url: url.trim_end_matches('/').to_string(),
            _server: None,
        };
    }
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let server = match shared.upgrade() {
        Some(server) => server,
        None => {
            let server = Arc::new(start());
            *shared = Arc::downgrade(&server);
            server
        }
    };
    Influx {
        url: server.url.clone(),
        _server: Some(server),
    }
}

/// A throwaway InfluxDB of this test alone, whatever `PRYV_BACKUP_TEST_INFLUX` says, stopped
/// when dropped. For data under the core's own names: it writes a user's series to database
/// `user.<username>` and its config names only a host and port, so two tests loading the same
/// install's series (or two runs sharing a server) keep apart only on two servers.
pub fn private() -> Influx {
    let server = start();
    Influx {
        url: server.url.clone(),
        _server: Some(Arc::new(server)),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let (http_port, rpc_port) = (free_port(), free_port());
    let d = dir.path().display();
    let config = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc_port}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
         [http]\n  bind-address = \"127.0.0.1:{http_port}\"\n  log-enabled = false\n\
         [monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
    );
    let config_path = dir.path().join("influxdb.conf");
    std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("writing influxdb.conf: {e}"));
    let log = std::fs::File::create(dir.path().join("log"))
        .unwrap_or_else(|e| panic!("creating the influxd log: {e}"));
    let child = Command::new("influxd")
        .arg("-config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start influxd ({e}): install InfluxDB 1.x (Debian package `influxdb`, \
                 see scripts/lib/influxdb.sh) or set {ENV}=http://127.0.0.1:PORT"
            )
        });
    let server = Server {
        url: format!("http://127.0.0.1:{http_port}"),
        child: Mutex::new(child),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pings(http_port) {
        if Instant::now() > deadline {
            panic!("influxd did not answer on port {http_port} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// `GET /ping` answers 204 once the server is ready.
fn pings(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"204")
}
