//! The backup's store going away in the middle of a restore (an S3 store cut off, a local
//! backup folder unmounted): the run stops once, saying the store is unreachable, within the
//! S3 client's retry bound; no user is called damaged and none is left half restored.

mod cli_support;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cli_support::*;
use pryv_backup::engine::Engine;
use pryv_backup::s3::{Bucket, S3Settings};
use testbed::s3::{s3, S3Server};

/// What an outage may cost once cut: the S3 client's retries (`pryv_backup::s3::RETRY_FOR`,
/// 20 s) plus one last backoff and attempt.
const OUTAGE_BOUND: Duration = Duration::from_secs(30);

/// Forwards loopback connections to `upstream` until [`CutProxy::cut`], which closes every
/// connection and the listening port: the store is then gone (connections refused).
struct CutProxy {
    address: String,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    listening: Option<JoinHandle<()>>,
}

impl CutProxy {
    fn to(upstream: &str) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (is_cut, open) = (cut.clone(), connections.clone());
        let listening = std::thread::spawn(move || {
            for client in listener.incoming() {
                if is_cut.load(Ordering::SeqCst) {
                    // Dropping the listener closes the port.
                    return;
                }
                let (Ok(client), Ok(server)) = (client, TcpStream::connect(&upstream)) else {
                    continue;
                };
                let mut open = open.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        CutProxy {
            address,
            cut,
            connections,
            listening: Some(listening),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    fn cut(&mut self) {
        self.cut.store(true, Ordering::SeqCst);
        // Wakes the listening thread, which then closes the port.
        let _ = TcpStream::connect(&self.address);
        if let Some(thread) = self.listening.take() {
            thread.join().unwrap();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
        assert!(
            TcpStream::connect(&self.address).is_err(),
            "the proxy still accepts connections"
        );
    }
}

/// `pryv-backup` as [`cli`] runs it, as a std command (to spawn it and see it pause).
fn bare_cli() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"));
    for name in [
        "PRYV_BACKUP_PASSPHRASE",
        "PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE",
        "PRYV_CORE_DIR",
        "NODE_ENV",
        "RUST_LOG",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// A run paused at `point` (once the backup's manifests were read).
fn paused(cmd: &mut Command, point: &str, pause_file: &Path) -> Child {
    let mut child = cmd
        .env("PRYV_BACKUP_TEST_PAUSE_AT", point)
        .env("PRYV_BACKUP_TEST_PAUSE_FILE", pause_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pause_file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "the run ended ({status}) before its pause point:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run never reached its pause point"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Lets the paused run go on and waits for its end: its output and how long it took.
fn resume(child: Child, pause_file: &Path) -> (Output, Duration) {
    let start = Instant::now();
    std::fs::remove_file(pause_file).unwrap();
    let output = child.wait_with_output().unwrap();
    (output, start.elapsed())
}

/// Each user of `source` is either absent from `target` or there whole.
fn no_half_user(source: &Install, target: &Install) {
    // A restore makes the schema with its first user.
    if target.count("SELECT count(*) FROM pg_tables WHERE tablename = 'streams'") == 0 {
        return;
    }
    let (expected, actual) = (source.dump(), target.dump());
    for user in source.engine().users().unwrap() {
        let there = user_rows(&actual, &user.user_id);
        if there.iter().all(|(_, rows)| rows.is_empty()) {
            continue;
        }
        assert_same(&user_rows(&expected, &user.user_id), &there);
    }
}

/// The run stopped on the outage: exit 1, the store named, no user called damaged.
fn stopped_on_outage(output: &Output, elapsed: Duration, names: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("the run ended {elapsed:?} after the store went away:\n{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}\n{stdout}");
    assert!(stderr.contains("is unreachable"), "{stderr}");
    for name in names {
        assert!(stderr.contains(name), "{name} not named:\n{stderr}");
    }
    for said in [stderr.as_str(), &*stdout] {
        assert!(
            !said.contains("damaged") && !said.contains("items found"),
            "{said}"
        );
    }
    stderr
}

/// The sample install and its backup at an S3 URL of the test server, with its prefix.
fn sample_backed_up_to_s3(server: &S3Server) -> (Install, String, String) {
    let prefix = server.unique_prefix("cli-outage");
    let url = format!("s3://{}/{prefix}", server.bucket);
    let source = Install::sample();
    let backup = cli()
        .envs(server.aws_env())
        .args(["backup", "--output", &url])
        .args(source.args())
        .output()
        .unwrap();
    assert_eq!(backup.status.code(), Some(0), "{}", text(&backup));
    (source, prefix, url)
}

#[test]
fn a_store_cut_off_mid_restore_stops_the_run_once_as_unreachable() {
    let server = s3();
    let (source, prefix, url) = sample_backed_up_to_s3(&server);

    let mut proxy = CutProxy::to(&server.endpoint);
    let target = Install::empty();
    let scratch = tempfile::tempdir().unwrap();
    let pause_file = scratch.path().join("paused");
    let mut restore = bare_cli();
    restore
        .envs(server.aws_env())
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .args(["--restore", &url, "--jobs", "2"])
        .args(target.args());
    let child = paused(&mut restore, "restore-manifests-read", &pause_file);
    proxy.cut();
    let (output, elapsed) = resume(child, &pause_file);

    let stderr = stopped_on_outage(&output, elapsed, &[&proxy.endpoint(), &server.bucket]);
    assert!(!stderr.contains(&server.secret), "the secret key shown");
    // The two users under way (--jobs 2) met the outage; no other was taken after it.
    let tried = stderr
        .lines()
        .filter(|l| l.contains("restoring ") && l.ends_with(" failed"))
        .count();
    assert!(tried <= 2, "users taken once the store was down:\n{stderr}");
    assert!(
        elapsed <= OUTAGE_BOUND,
        "giving up took {elapsed:?}, over {OUTAGE_BOUND:?}"
    );
    no_half_user(&source, &target);

    // A listed object the store says is not there (404) is that user's damage, not an
    // outage: the others are restored.
    let bucket = Bucket::connect(&S3Settings::self_hosted(
        &server.bucket,
        &server.endpoint,
        "garage",
        &server.key_id,
        &server.secret,
    ))
    .unwrap();
    let events = bucket.list(&format!("{prefix}/users")).unwrap();
    let lost = events
        .iter()
        .find(|key| key.contains("/events/"))
        .expect("a user with events");
    bucket.delete(lost).unwrap();
    let output = cli()
        .envs(server.aws_env())
        .args(["--restore", &url])
        .args(target.args())
        .output()
        .unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(3), "{said}");
    assert!(
        said.contains("damaged") && !said.contains("unreachable"),
        "{said}"
    );
}

#[test]
fn a_store_cut_off_mid_verify_or_drill_stops_it_as_unreachable() {
    let server = s3();
    let (_source, _prefix, url) = sample_backed_up_to_s3(&server);
    // The drill restores through a restore, paused where a restore is.
    for (command, point) in [
        ("verify", "verify-manifests-read"),
        ("drill", "restore-manifests-read"),
    ] {
        let mut proxy = CutProxy::to(&server.endpoint);
        let scratch = tempfile::tempdir().unwrap();
        let pause_file = scratch.path().join("paused");
        let mut run = bare_cli();
        run.envs(server.aws_env())
            .env("AWS_ENDPOINT_URL", proxy.endpoint())
            .env("TMPDIR", scratch.path())
            .args([command, &url]);
        let child = paused(&mut run, point, &pause_file);
        proxy.cut();
        let (output, elapsed) = resume(child, &pause_file);

        let stderr = stopped_on_outage(&output, elapsed, &[&proxy.endpoint()]);
        assert!(!stderr.contains("missing"), "{command}: {stderr}");
        assert!(
            elapsed <= OUTAGE_BOUND,
            "{command}: giving up took {elapsed:?}, over {OUTAGE_BOUND:?}"
        );
        let left: Vec<_> = std::fs::read_dir(scratch.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("pryv-backup-drill-")
            })
            .collect();
        assert!(
            left.is_empty(),
            "{command}: the drill's scratch left: {left:?}"
        );
    }
}

#[test]
fn a_backup_folder_gone_mid_restore_stops_the_run_as_unreachable() {
    let (source, _dir, backup) = sample_backed_up("outage-local");
    let target = Install::empty();
    let scratch = tempfile::tempdir().unwrap();
    let pause_file = scratch.path().join("paused");
    let mut restore = bare_cli();
    restore.arg("--restore").arg(&backup).args(target.args());
    let child = paused(&mut restore, "restore-manifests-read", &pause_file);
    // As an unmount would: the folder is no longer where the run found it.
    let away = scratch.path().join("unmounted");
    std::fs::rename(&backup, &away).unwrap();
    let (output, elapsed) = resume(child, &pause_file);

    let folder = backup.display().to_string();
    stopped_on_outage(&output, elapsed, &[&folder]);
    no_half_user(&source, &target);
}
