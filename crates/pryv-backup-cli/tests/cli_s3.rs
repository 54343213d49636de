//! Backups to and restores from a real S3 server (Garage on loopback, see
//! scripts/lib/garage.sh): the same layout and the same restored data as a backup on disk,
//! and an upload cut short before the manifest leaves a backup every command calls incomplete.

mod cli_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::mpsc;
use std::time::Duration;

use cli_support::*;
use pryv_backup::s3::{Bucket, S3Settings};
use testbed::s3::{s3, S3Server};

fn bucket(server: &S3Server) -> Bucket {
    Bucket::connect(&S3Settings::self_hosted(
        &server.bucket,
        &server.endpoint,
        "garage",
        &server.key_id,
        &server.secret,
    ))
    .unwrap_or_else(|e| panic!("connecting to the test bucket: {e}"))
}

/// The test S3 server, its bucket, a new prefix named after `name` and its `s3://` URL.
fn fresh_prefix(name: &str) -> (S3Server, Bucket, String, String) {
    let server = s3();
    let bucket = bucket(&server);
    let prefix = server.unique_prefix(name);
    let url = format!("s3://{}/{prefix}", server.bucket);
    (server, bucket, prefix, url)
}

/// Keys under `prefix/`, relative to it, with their bytes.
fn objects(bucket: &Bucket, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = bucket
        .list(prefix)
        .unwrap_or_else(|e| panic!("listing {prefix}: {e}"))
        .into_iter()
        .map(|key| {
            let mut bytes = Vec::new();
            bucket
                .get(&key)
                .unwrap_or_else(|e| panic!("reading {key}: {e}"))
                .unwrap_or_else(|| panic!("{key} listed but absent"))
                .read_to_end(&mut bytes)
                .unwrap_or_else(|e| panic!("reading {key}: {e}"));
            let relative = key[prefix.len() + 1..].to_string();
            (relative, bytes)
        })
        .collect();
    out.sort();
    out
}

fn local_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .map(|(path, bytes)| {
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            (relative.display().to_string(), bytes)
        })
        .collect()
}

fn cli_s3(server: &S3Server) -> assert_cmd::Command {
    let mut cmd = cli();
    cmd.envs(server.aws_env());
    cmd
}

/// `pryv-backup backup` of `install` to the S3 `url`, with `extra` arguments, whatever its
/// outcome.
fn s3_backup(server: &S3Server, install: &Install, url: &str, extra: &[&str]) -> Output {
    cli_s3(server)
        .args(["backup", "--output", url])
        .args(extra)
        .args(install.args())
        .output()
        .unwrap()
}

/// `pryv-backup --restore` of the S3 `url` into `install`, whatever its outcome.
fn s3_restore(server: &S3Server, url: &str, install: &Install) -> Output {
    cli_s3(server)
        .args(["--restore", url])
        .args(install.args())
        .output()
        .unwrap()
}

#[test]
fn backup_to_s3_restores_like_the_backup_on_disk() {
    let (server, bucket, prefix, url) = fresh_prefix("cli-full");
    let source = Install::sample();
    let disk = tempfile::tempdir().unwrap();
    let out = disk.path().join("full");

    cli()
        .arg("--output")
        .arg(&out)
        .args(source.args())
        .arg("--include-ephemeral")
        .assert()
        .code(0);
    let output = s3_backup(&server, &source, &url, &["--json", "--include-ephemeral"]);
    assert!(
        output.status.success(),
        "backup to S3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout_json(&output)["output"], url.as_str());

    // Same files under the same names; attachments byte for byte.
    let in_s3 = objects(&bucket, &prefix);
    let on_disk = local_files(&out);
    let names =
        |list: &[(String, Vec<u8>)]| list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&in_s3), names(&on_disk));
    let attachments = |list: &[(String, Vec<u8>)]| {
        list.iter()
            .filter(|(n, _)| n.contains("/attachments/"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(!attachments(&on_disk).is_empty());
    assert_eq!(attachments(&in_s3), attachments(&on_disk));

    cli_s3(&server).args(["verify", &url]).assert().code(0);
    cli_s3(&server).args(["drill", &url]).assert().code(0);

    let from_s3 = Install::empty();
    cli_s3(&server)
        .args(["--restore", &url])
        .args(from_s3.args())
        .assert()
        .code(0);
    let from_disk = Install::empty();
    cli()
        .arg("--restore")
        .arg(&out)
        .args(from_disk.args())
        .assert()
        .code(0);
    let expected = source.dump();
    assert_same(&expected, &from_s3.dump());
    assert_same(&from_disk.dump(), &from_s3.dump());

    // An incremental run adds a generation beside the base, in the bucket too.
    cli_s3(&server)
        .args(["backup", "--incremental", "--output", &url])
        .args(source.args())
        .assert()
        .code(0);
    assert!(bucket
        .exists(&format!("{prefix}/increments/0001/manifest.json"))
        .unwrap());
    let again = Install::empty();
    cli_s3(&server)
        .args(["--restore", &url, "--delete-on-success"])
        .args(again.args())
        .assert()
        .code(0);
    assert_same(&expected, &again.dump());
    assert!(
        bucket.list(&prefix).unwrap().is_empty(),
        "--delete-on-success leaves nothing under the prefix"
    );
}

/// Forwards loopback connections to the S3 server, but holds the request that would store
/// `manifest.json` (never forwarding it) and reports it: the backup is then stopped there.
fn manifest_holding_proxy(server: &S3Server) -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let upstream = server
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (held, held_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let held = held.clone();
            let (mut from_client, mut to_server) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut from_server, mut to_client) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
            });
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match from_client.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let stores_manifest = text.lines().any(|line| {
                        line.starts_with("PUT ")
                            && line.split(' ').nth(1).is_some_and(|path| {
                                path.split('?')
                                    .next()
                                    .unwrap_or("")
                                    .ends_with("/manifest.json")
                            })
                    });
                    if stores_manifest {
                        let _ = held.send(());
                        // Hold the connection open, forwarding nothing more.
                        std::thread::sleep(Duration::from_secs(120));
                        return;
                    }
                    if to_server.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (proxy, held_rx)
}

#[test]
fn an_interrupted_upload_leaves_no_manifest_and_is_reported_incomplete() {
    let (server, bucket, prefix, url) = fresh_prefix("cli-interrupted");
    let source = Install::sample();
    let (proxy, held) = manifest_holding_proxy(&server);

    let mut backup = std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"));
    backup
        .envs(server.aws_env())
        .env("AWS_ENDPOINT_URL", &proxy)
        .env_remove("NODE_ENV")
        .args(["backup", "--output", &url])
        .args(source.args())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = backup.spawn().unwrap();
    held.recv_timeout(Duration::from_secs(120))
        .expect("the backup never tried to store its manifest");
    // Everything else is stored; the process dies as a crash or a cut link would stop it.
    child.kill().unwrap();
    child.wait().unwrap();

    let keys = bucket.list(&prefix).unwrap();
    assert!(
        keys.iter().any(|k| k.ends_with("/user-manifest.json")),
        "the users' files were uploaded before the manifest: {keys:?}"
    );
    assert!(
        !keys.iter().any(|k| *k == format!("{prefix}/manifest.json")),
        "no manifest object after an interrupted backup"
    );

    let target = Install::empty();
    let restore = s3_restore(&server, &url, &target);
    // No complete backup at the location: exit 10, as on disk.
    assert_eq!(restore.status.code(), Some(10));
    let stderr = String::from_utf8_lossy(&restore.stderr);
    assert!(stderr.contains("no complete backup"), "{stderr}");
    assert_eq!(
        target
            .count("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
        0,
        "nothing written to the target"
    );

    let verify = cli_s3(&server).args(["verify", &url]).output().unwrap();
    assert_eq!(verify.status.code(), Some(10));
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("no complete backup"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The killed run's lock is still there, fresh; its process on this machine is gone, so
    // the next run takes it over at once, replaces the killed run's objects and completes.
    assert!(bucket
        .exists(&pryv_backup::lock::s3_output_lock_key(&prefix))
        .unwrap());
    let again = s3_backup(&server, &source, &url, &["--include-ephemeral"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("replacing an unfinished backup left by an earlier run")
            && stderr.contains("taking over the lock"),
        "{stderr}"
    );
    let keys = bucket.list(&prefix).unwrap();
    assert!(
        !keys.iter().any(|k| k.ends_with(".pryv-backup-in-progress")),
        "{keys:?}"
    );
    let restore = s3_restore(&server, &url, &target);
    assert_exit_stderr(&restore, 0);
    assert_same(&source.dump(), &target.dump());
}

/// A backup into an S3 prefix holds a lock object beside it: a second backup started while
/// it runs (here: while the object is there) is refused before it writes, and a finished
/// backup leaves no lock behind.
#[test]
fn a_second_backup_into_one_s3_prefix_is_refused() {
    let (server, bucket, prefix, url) = fresh_prefix("cli-lock");
    let source = Install::sample();
    let lock = pryv_backup::lock::s3_output_lock_key(&prefix);

    let body = |refreshed_ms: u64| {
        serde_json::to_vec(&pryv_backup::lock::S3LockBody {
            holder: "pid 1 on another host".into(),
            token: "0123".into(),
            refreshed_ms,
            owner: None,
        })
        .unwrap()
    };
    // A fresh lock of a live process on this machine (this test) is refused.
    let alive = serde_json::to_vec(&pryv_backup::lock::S3LockBody {
        holder: "this test".into(),
        token: "4567".into(),
        refreshed_ms: pryv_backup::backup::now_millis(),
        owner: pryv_backup::lock::LockOwner::this_process(),
    })
    .unwrap();
    bucket.put(&lock, alive).unwrap();
    let output = s3_backup(&server, &source, &url, &[]);
    assert_eq!(output.status.code(), Some(11));
    assert!(String::from_utf8_lossy(&output.stderr).contains("held by this test"));
    bucket
        .put(&lock, body(pryv_backup::backup::now_millis()))
        .unwrap();
    let output = s3_backup(&server, &source, &url, &[]);
    assert_eq!(output.status.code(), Some(11));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another pryv-backup run") && stderr.contains("pid 1 on another host"),
        "{stderr}"
    );
    assert!(!bucket.any_under(&prefix).unwrap(), "the refused run wrote");

    // A lock not rewritten for longer than a run rewrites it was left by a killed run.
    let old = pryv_backup::backup::now_millis() - pryv_backup::lock::S3_LOCK_STALE_MS - 1000;
    bucket.put(&lock, body(old)).unwrap();
    let output = s3_backup(&server, &source, &url, &[]);
    assert_exit_stderr(&output, 0);
    assert!(!bucket.exists(&lock).unwrap(), "the lock outlived the run");
    assert!(bucket.exists(&format!("{prefix}/manifest.json")).unwrap());
}

/// `prune` works over an S3 prefix of dated backups as over a folder.
#[test]
fn prune_over_an_s3_prefix_removes_only_what_no_rule_keeps() {
    let server = s3();
    let bucket = bucket(&server);
    let root = server.unique_prefix("cli-prune");
    let url = |name: &str| format!("s3://{}/{root}/{name}", server.bucket);
    let source = Install::sample();
    for name in ["b1", "b2"] {
        cli_s3(&server)
            .args(["backup", "--output", &url(name)])
            .args(source.args())
            .assert()
            .code(0);
    }
    let root_url = format!("s3://{}/{root}", server.bucket);
    let output = cli_s3(&server)
        .args(["--json", "prune", &root_url, "--keep-last", "1", "--yes"])
        .output()
        .unwrap();
    assert_exit_stderr(&output, 0);
    let report = stdout_json(&output);
    assert_eq!(report["removed"].as_array().unwrap().len(), 1, "{report:#}");
    assert!(
        !bucket.any_under(&format!("{root}/b1")).unwrap(),
        "b1 is gone"
    );
    assert!(bucket.exists(&format!("{root}/b2/manifest.json")).unwrap());
    assert!(
        !bucket
            .exists(&pryv_backup::lock::s3_output_lock_key(&format!(
                "{root}/b2"
            )))
            .unwrap(),
        "prune released its locks"
    );
    cli_s3(&server)
        .args(["verify", &url("b2")])
        .assert()
        .code(0);
}
