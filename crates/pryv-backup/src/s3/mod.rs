//! S3-compatible object storage, used from our (blocking) threads: the S3 attachments engine
//! and the S3 backup destination both go through [`Bucket`].
//!
//! object_store does the protocol (signing, retries, multipart); its futures are driven by
//! one small process-wide tokio runtime. Uploads are streamed in parts of [`PART_SIZE`]
//! bytes: at most one part being filled and one in flight per object, whatever its size.
//!
//! A store that cannot be reached (connection refused or cut, timeouts, 5xx answers) is
//! retried for [`RETRY_FOR`] by the first request that meets it; once that request gives up,
//! the bucket is known down and every later request of the run fails at once with
//! [`S3Error::Unreachable`], so an outage costs one wait per run, not one per file or user.

mod upload;

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::HttpError;
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, RetryConfig};
use thiserror::Error;
use tokio::runtime::Runtime;
use zeroize::Zeroizing;

use crate::url_credentials::redact_url_credentials;

pub use upload::Upload;

/// Size of one multipart part: above S3's 5 MiB minimum; 10 000 parts (S3's maximum) make
/// objects of up to ~78 GiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// How long a request is retried when the store does not answer (or answers 5xx), from its
/// first attempt. The last attempt may add one backoff ([`MAX_BACKOFF`]) and its own time
/// (the client's 5 s connect timeout): a store that refuses or drops connections, or does
/// not accept them, is given up within 30 s. One that accepts connections then never
/// answers costs up to the client's 30 s request timeout more.
pub const RETRY_FOR: Duration = Duration::from_secs(20);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum S3Error {
    #[error("S3 settings: {0}")]
    Config(String),
    /// `reason` is the client's error and its causes, with the credentials of any URL in
    /// them (an endpoint may carry some) redacted.
    #[error("S3 {op} of {url} failed: {reason}")]
    Request {
        op: &'static str,
        url: String,
        reason: String,
    },
    /// The store did not answer (or answered 5xx) for [`RETRY_FOR`]: nothing it holds can be
    /// read or written for the rest of the run. Not a sign of damage in what it holds.
    #[error("the store at {store} is unreachable ({cause}); the run stopped there, as nothing more can be read from or written to it: check that the store is up and reachable from this host, then run again")]
    Unreachable { store: String, cause: String },
}

impl S3Error {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, S3Error::Unreachable { .. })
    }

    /// The outage an I/O error of an object's body carries, if it carries one.
    pub fn in_io(error: &io::Error) -> Option<S3Error> {
        match error.get_ref()?.downcast_ref::<S3Error>()? {
            S3Error::Unreachable { store, cause } => Some(S3Error::Unreachable {
                store: store.clone(),
                cause: cause.clone(),
            }),
            _ => None,
        }
    }
}

/// How to reach one bucket. Unset fields fall back to the usual AWS environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or
/// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`), then to AWS's own defaults.
#[derive(Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    pub region: Option<String>,
    /// For S3-compatible stores (Garage, MinIO, Ceph); `http://` is allowed only here.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Zeroizing<String>>,
    /// Path-style addressing (`endpoint/bucket/key`), which most self-hosted stores need.
    pub path_style: bool,
}

impl S3Settings {
    /// A self-hosted store (Garage, MinIO, Ceph) at `endpoint`, path-style, with this key.
    pub fn self_hosted(
        bucket: &str,
        endpoint: &str,
        region: &str,
        key_id: &str,
        secret: &str,
    ) -> Self {
        S3Settings {
            bucket: bucket.to_string(),
            region: Some(region.to_string()),
            endpoint: Some(endpoint.to_string()),
            access_key_id: Some(key_id.to_string()),
            secret_access_key: Some(Zeroizing::new(secret.to_string())),
            path_style: true,
        }
    }
}

impl std::fmt::Debug for S3Settings {
    // Never prints the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field(
                "endpoint",
                &self.endpoint.as_deref().map(redact_url_credentials),
            )
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// Checks that the environment gives the client some credentials. Without any, the client
/// asks the EC2 instance metadata service (169.254.169.254), which off EC2 means a long
/// series of retries ending in a message that never says the credentials are missing.
fn credentials_in_env() -> Result<(), S3Error> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
        (true, true) => return Ok(()),
        (true, false) => {
            return Err(S3Error::Config(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both".into(),
            ))
        }
        (false, true) => {
            return Err(S3Error::Config(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both".into(),
            ))
        }
        (false, false) => {}
    }
    // The other sources the client reads: a web identity (Kubernetes), container
    // credentials (ECS), the instance metadata service when named, anonymous requests.
    let other_sources = [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_METADATA_ENDPOINT",
        "AWS_SKIP_SIGNATURE",
    ];
    if other_sources.iter().any(|name| set(name)) {
        return Ok(());
    }
    Err(S3Error::Config(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
         AWS_WEB_IDENTITY_TOKEN_FILE for a web identity; on EC2 with an instance role, \
         AWS_METADATA_ENDPOINT=http://169.254.169.254; AWS profiles are not read)"
            .into(),
    ))
}

/// An error and its causes in one line, any URL's credentials redacted.
fn redacted_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let said = c.to_string();
        // Many errors already quote their cause.
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    redact_url_credentials(&text)
}

/// Why a failed request means the store cannot be reached, when it does: a transport error
/// (connecting, sending, a timeout, a connection cut mid-answer) or a 5xx answer, each
/// already retried for [`RETRY_FOR`]. A 404, 403 or any other 4xx is about the request.
fn outage_cause(error: &object_store::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = None;
    let mut transport = false;
    while let Some(e) = current {
        transport |= e.downcast_ref::<HttpError>().is_some();
        innermost = Some(e);
        current = e.source();
    }
    let text = redacted_chain(error);
    let server_error = text.contains("Server returned non-2xx status code: 5");
    if !transport && !server_error {
        return None;
    }
    let said = innermost.map(ToString::to_string).unwrap_or(text);
    Some(redact_url_credentials(&format!(
        "{said}; retried for {}s",
        RETRY_FOR.as_secs()
    )))
}

/// One bucket, shareable between threads.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<AmazonS3>,
    name: String,
    /// Where the bucket is, credentials redacted: its endpoint, or AWS's.
    location: String,
    /// Set by the first request that found the store unreachable: its cause.
    down: Arc<OnceLock<String>>,
}

impl Bucket {
    pub fn connect(settings: &S3Settings) -> Result<Bucket, S3Error> {
        if settings.bucket.is_empty() {
            return Err(S3Error::Config("no bucket name given".into()));
        }
        if settings.access_key_id.is_none() || settings.secret_access_key.is_none() {
            credentials_in_env()?;
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&settings.bucket);
        let env_endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
        if let Some(endpoint) = settings.endpoint.as_ref().or(env_endpoint.as_ref()) {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let env_region = std::env::var("AWS_REGION").ok();
        if let Some(region) = settings.region.as_ref().or(env_region.as_ref()) {
            builder = builder.with_region(region);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.as_str());
        }
        builder = builder
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    max_backoff: MAX_BACKOFF,
                    ..Default::default()
                },
                retry_timeout: RETRY_FOR,
                // The time decides, not the count: a store restarting gets the whole wait.
                max_retries: 100,
            });
        let location = match settings.endpoint.as_ref().or(env_endpoint.as_ref()) {
            Some(endpoint) => redact_url_credentials(endpoint),
            None => match settings.region.as_ref().or(env_region.as_ref()) {
                Some(region) => format!("https://s3.{region}.amazonaws.com"),
                None => "AWS S3".to_string(),
            },
        };
        let store = builder.build().map_err(|e| {
            S3Error::Config(redact_url_credentials(&format!(
                "bucket {}: {e}",
                settings.bucket
            )))
        })?;
        Ok(Bucket {
            store: Arc::new(store),
            name: settings.bucket.clone(),
            location: format!("{location} (bucket {})", settings.bucket),
            down: Arc::new(OnceLock::new()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `s3://bucket/key`, for messages.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    /// Fails at once when an earlier request found the store unreachable. Every request
    /// starts here (through [`Bucket::key`]).
    fn reachable(&self) -> Result<(), S3Error> {
        match self.down.get() {
            Some(cause) => Err(self.unreachable(cause.clone())),
            None => Ok(()),
        }
    }

    fn unreachable(&self, cause: String) -> S3Error {
        S3Error::Unreachable {
            store: self.location.clone(),
            cause,
        }
    }

    /// The error of a failed request; an outage marks the bucket down for the run.
    fn request_error(&self, op: &'static str, url: String, e: object_store::Error) -> S3Error {
        match outage_cause(&e) {
            Some(cause) => {
                let first = self.down.get_or_init(|| cause);
                self.unreachable(first.clone())
            }
            None => S3Error::Request {
                op,
                url,
                reason: redacted_chain(&e),
            },
        }
    }

    fn key(&self, key: &str) -> Result<Key, S3Error> {
        self.reachable()?;
        Key::parse(key).map_err(|e| {
            S3Error::Config(format!("{} is not a usable object key: {e}", self.url(key)))
        })
    }

    fn failed(&self, op: &'static str, key: &str) -> impl FnOnce(object_store::Error) -> S3Error {
        let (bucket, url) = (self.clone(), self.url(key));
        move |source| bucket.request_error(op, url, source)
    }

    /// The object's bytes, streamed; `None` when there is no such object.
    pub fn get(&self, key: &str) -> Result<Option<Box<dyn Read + Send>>, S3Error> {
        let path = self.key(key)?;
        match runtime()?.block_on(self.store.get(&path)) {
            Ok(found) => Ok(Some(Box::new(ObjectReader {
                stream: found.into_stream(),
                current: bytes::Bytes::new(),
                url: self.url(key),
                bucket: self.clone(),
            }))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("download", key)(e)),
        }
    }

    pub fn exists(&self, key: &str) -> Result<bool, S3Error> {
        let path = self.key(key)?;
        match runtime()?.block_on(self.store.head(&path)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("lookup", key)(e)),
        }
    }

    /// Every key below `prefix` taken as a folder (`prefix/...`), at any depth, in the
    /// store's (lexicographic) order.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let path = self.key(prefix)?;
        let prefix = (!prefix.is_empty()).then_some(&path);
        let mut stream = self.store.list(prefix);
        let mut keys = Vec::new();
        let rt = runtime()?;
        while let Some(meta) = rt.block_on(stream.next()) {
            let meta = meta.map_err(self.failed("listing", path.as_ref()))?;
            keys.push(meta.location.to_string());
        }
        Ok(keys)
    }

    /// The total size in bytes of the objects below `prefix` taken as a folder, leaving out
    /// those below `prefix/<skip>/`.
    pub fn size_under(&self, prefix: &str, skip: Option<&str>) -> Result<u64, S3Error> {
        let path = self.key(prefix)?;
        let skipped = skip.map(|s| format!("{}/{s}/", path.as_ref().trim_end_matches('/')));
        let mut stream = self.store.list((!prefix.is_empty()).then_some(&path));
        let rt = runtime()?;
        let mut total = 0;
        while let Some(meta) = rt.block_on(stream.next()) {
            let meta = meta.map_err(self.failed("listing", path.as_ref()))?;
            if skipped
                .as_deref()
                .is_some_and(|s| meta.location.as_ref().starts_with(s))
            {
                continue;
            }
            total += meta.size;
        }
        Ok(total)
    }

    /// Whether any object is below `prefix` taken as a folder (stops at the first).
    pub fn any_under(&self, prefix: &str) -> Result<bool, S3Error> {
        let path = self.key(prefix)?;
        let mut stream = self.store.list((!prefix.is_empty()).then_some(&path));
        match runtime()?.block_on(stream.next()) {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.failed("listing", prefix)(e)),
        }
    }

    /// The objects and the sub-folders directly below `prefix` taken as a folder, as full
    /// keys (folders without their trailing `/`).
    pub fn children(&self, prefix: &str) -> Result<(Vec<String>, Vec<String>), S3Error> {
        let path = self.key(prefix)?;
        let listed = runtime()?
            .block_on(
                self.store
                    .list_with_delimiter((!prefix.is_empty()).then_some(&path)),
            )
            .map_err(self.failed("listing", prefix))?;
        let files = listed.objects.into_iter().map(|o| o.location.to_string());
        let folders = listed.common_prefixes.into_iter().map(|p| p.to_string());
        Ok((files.collect(), folders.collect()))
    }

    pub fn delete(&self, key: &str) -> Result<(), S3Error> {
        let path = self.key(key)?;
        match runtime()?.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("delete", key)(e)),
        }
    }

    /// Writes a small object only if there is none at `key` (`If-None-Match: *`); `false`
    /// when one exists. A store that ignores the condition writes anyway: callers read
    /// back what they wrote when that matters.
    pub fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, S3Error> {
        let path = self.key(key)?;
        let options = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match runtime()?.block_on(self.store.put_opts(&path, bytes.into(), options)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.failed("upload", key)(e)),
        }
    }

    /// Writes (or replaces) a small object in one request.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        let path = self.key(key)?;
        runtime()?
            .block_on(self.store.put(&path, bytes.into()))
            .map(|_| ())
            .map_err(self.failed("upload", key))
    }

    /// Server-side copy (no bytes through this machine).
    pub fn copy(&self, from: &str, to: &str) -> Result<(), S3Error> {
        let (source, target) = (self.key(from)?, self.key(to)?);
        runtime()?
            .block_on(self.store.copy(&source, &target))
            .map_err(self.failed("copy", from))
    }

    /// Starts writing `key`; see [`Upload`].
    pub fn create(&self, key: &str) -> Result<Upload, S3Error> {
        Ok(Upload::new(self.clone(), self.key(key)?, key.to_string()))
    }
}

/// The shared runtime: two worker threads are plenty, our threads block on it.
fn runtime() -> Result<&'static Runtime, S3Error> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("pryv-backup-s3")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| S3Error::Config(format!("cannot start the S3 client runtime: {e}")))
}

/// An object's body as a [`Read`], one received buffer at a time.
struct ObjectReader {
    stream: BoxStream<'static, object_store::Result<bytes::Bytes>>,
    current: bytes::Bytes,
    url: String,
    bucket: Bucket,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            let rt = runtime().map_err(io::Error::other)?;
            match rt.block_on(self.stream.next()) {
                Some(Ok(bytes)) => self.current = bytes,
                // An outage travels as the S3Error itself, for the archive to tell it from
                // a damaged file (see `S3Error::in_io`).
                Some(Err(e)) => {
                    return Err(
                        match self.bucket.request_error("download", self.url.clone(), e) {
                            down @ S3Error::Unreachable { .. } => io::Error::other(down),
                            other => io::Error::other(format!("{}: {other}", self.url)),
                        },
                    )
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_names_the_store_without_its_credentials() {
        let settings =
            S3Settings::self_hosted("pryv", "http://ops:hunter2@127.0.0.1:9", "r", "k", "s");
        let bucket = Bucket::connect(&settings).unwrap();
        let said = bucket.unreachable("connection refused".into()).to_string();
        assert!(
            said.starts_with("the store at http://")
                && said.contains("127.0.0.1:9 (bucket pryv) is unreachable (connection refused)")
                && !said.contains("hunter2"),
            "{said}"
        );
    }

    /// A port nothing listens on: connections are refused, as by a store that is down.
    #[test]
    fn a_store_that_refuses_connections_is_given_up_once_within_the_bound() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let settings = S3Settings::self_hosted("pryv", &endpoint, "r", "k", "s");
        let bucket = Bucket::connect(&settings).unwrap();

        let start = std::time::Instant::now();
        let first = bucket.exists("backup/manifest.json").unwrap_err();
        let waited = start.elapsed();
        assert!(first.is_unreachable(), "{first}");
        assert!(first.to_string().contains(&endpoint), "{first}");
        assert!(
            waited >= RETRY_FOR && waited <= Duration::from_secs(30),
            "gave up after {waited:?}"
        );
        // Known down: the next requests, of any kind, fail at once.
        let start = std::time::Instant::now();
        assert!(bucket
            .get("backup/users/u1/account.jsonl.gz")
            .is_err_and(|e| e.is_unreachable()));
        assert!(bucket.list("backup").is_err_and(|e| e.is_unreachable()));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
