//! A real S3 server (Garage) for the S3 tests: the one named by `PRYV_BACKUP_TEST_S3_*`
//! (exported by scripts/lib/garage.sh from scripts/test.sh), else one started by running that
//! script here. Every test works under a prefix of its own in the one test bucket.

use std::process::Command;
use std::sync::OnceLock;

use rand::Rng;

#[derive(Clone, Debug)]
pub struct S3Server {
    /// e.g. `http://127.0.0.1:53900`
    pub endpoint: String,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
}

impl S3Server {
    /// A prefix no other test uses, without a trailing `/`: `<label>-<random>`.
    pub fn unique_prefix(&self, label: &str) -> String {
        format!("{label}-{:016x}", rand::thread_rng().gen::<u64>())
    }

    /// The variables a pryv-backup process reads to reach this server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "garage".into()),
        ]
    }
}

/// The S3 server tests use. Panics with what to do when none can be had.
pub fn s3() -> S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER
        .get_or_init(|| from_env().unwrap_or_else(start))
        .clone()
}

fn from_env() -> Option<S3Server> {
    from_vars(|name| std::env::var(format!("PRYV_BACKUP_TEST_S3_{name}")).ok())
}

fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<S3Server> {
    Some(S3Server {
        endpoint: var("ENDPOINT")?,
        bucket: var("BUCKET")?,
        key_id: var("KEY_ID")?,
        secret: var("SECRET")?,
    })
}

fn start() -> S3Server {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/lib/garage.sh");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    if !out.status.success() {
        panic!(
            "{script} could not start Garage (run scripts/test.sh, or set PRYV_BACKUP_TEST_S3_*):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|line| line.trim_start_matches("export ").split_once('='))
        .collect();
    from_vars(|name| {
        let wanted = format!("PRYV_BACKUP_TEST_S3_{name}");
        printed
            .iter()
            .find(|(n, _)| *n == wanted)
            .map(|(_, v)| v.to_string())
    })
    .unwrap_or_else(|| panic!("{script} printed no PRYV_BACKUP_TEST_S3_* variables"))
}
