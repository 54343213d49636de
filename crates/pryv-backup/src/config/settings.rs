//! Connection settings of the storages an install uses. Secrets are zeroized on drop and
//! never printed by `Debug`.

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

use super::ServiceUrl;

/// `storages:engines:postgresql`.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// `None` when the configuration leaves it empty (the core then connects without one).
    pub password: Option<Zeroizing<String>>,
}

impl PgSettings {
    /// A libpq-style `key=value` connection string, as `postgres::Config` parses it.
    /// It holds the password: keep it out of logs.
    pub fn connection_string(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(format!(
            "host={} port={} dbname={} user={}",
            quote_conn_value(&self.host),
            self.port,
            quote_conn_value(&self.database),
            quote_conn_value(&self.user)
        ));
        if let Some(password) = &self.password {
            let quoted = Zeroizing::new(quote_conn_value(password));
            text.push_str(" password=");
            text.push_str(&quoted);
        }
        text
    }

    /// The same settings as a `postgres::Config`, without going through text.
    pub fn to_postgres_config(&self) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.user);
        if let Some(password) = &self.password {
            config.password(password.as_bytes());
        }
        config
    }
}

/// Quotes a value for a `key=value` connection string (single quotes, `\` escapes).
fn quote_conn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &redacted(self.password.is_some()))
            .finish()
    }
}

/// `storages:engines:s3`: where the S3 file engine keeps attachments.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `None`: AWS, with the endpoint derived from the region.
    pub endpoint: Option<ServiceUrl>,
    pub region: String,
    pub bucket: String,
    /// Explicit credentials; `None` means the AWS default credential chain. The core uses
    /// them only when both the key id and the secret are set.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Zeroizing<String>>,
    pub force_path_style: bool,
    /// Prepended to every object key (`<keyPrefix><userId>/<eventId>/<fileId>`).
    pub key_prefix: String,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &redacted(self.secret_access_key.is_some()),
            )
            .field("force_path_style", &self.force_path_style)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// `storages:engines:influxdb` (InfluxDB 1.x HTTP API, no authentication in the core).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfluxSettings {
    pub host: String,
    pub port: u16,
}

/// `storages:engines:rqlite`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RqliteSettings {
    /// The HTTP API, e.g. `http://localhost:4001` (credentials, when any, in its userinfo).
    pub url: ServiceUrl,
    /// The rqlite node's data directory (absolute once resolved against the install).
    pub data_dir: PathBuf,
}

fn redacted(present: bool) -> &'static str {
    if present {
        "<redacted>"
    } else {
        "<none>"
    }
}

/// `platform:piiHmacKey`, decoded: the pepper of hashed PII mode's tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct PiiKey(pub Zeroizing<Vec<u8>>);

impl PiiKey {
    /// From the base64 text `platform:piiHmacKey` holds; `None` when it is not base64 (the
    /// caller says where it came from, never the text: a secret).
    pub fn from_base64(text: &str) -> Option<PiiKey> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .map(|k| PiiKey(Zeroizing::new(k)))
    }
}

impl fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiKey(<secret>)")
    }
}
