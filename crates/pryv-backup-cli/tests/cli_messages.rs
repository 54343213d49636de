//! Messages an operator of an unattended install met (issue #31, point 8), and what they
//! say now: which file, which user, which credentials, what to do.

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use cli_support::*;

/// A throwaway P-256 key pair made with `openssl ecparam -name prime256v1 -genkey` for
/// these tests only (PKCS#8 and SPKI PEM).
const EC_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBS1FwPLlw9jbR3IG
iW72j/r6syLFtzAlBqHJyZQtel+hRANCAAQHWZcNadEdGqLzruE2HkmnQ3q6Ns58
VxabrcWMWsZ6H42NTIpwJnU3fQgiH1/CNirz6HfXvko4hRFm7r3jB7uD
-----END PRIVATE KEY-----
";
const EC_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEB1mXDWnRHRqi867hNh5Jp0N6ujbO
fFcWm63FjFrGeh+NjUyKcCZ1N30IIh9fwjYq8+h3175KOIURZu694we7gw==
-----END PUBLIC KEY-----
";
/// RSA's algorithm identifier, which the decoder's own error showed for an EC key.
const RSA_OID: &str = "1.2.840.113549.1.1.1";

/// A core directory with an empty config/: its settings are the built-in ones, which name
/// a database that is not there (so a run that connects fails, and says so).
fn bare_core_dir() -> tempfile::TempDir {
    let core = tempfile::tempdir().unwrap();
    std::fs::create_dir(core.path().join("config")).unwrap();
    core
}

/// `NODE_ENV=prod` when the file is `production-config.yml`: the core and we read no
/// environment file; the operator is told which one was looked for.
#[test]
fn a_node_env_without_its_config_file_is_warned_about() {
    let core = bare_core_dir();
    std::fs::write(core.path().join("config/production-config.yml"), "{}\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    let output = cli()
        .env("NODE_ENV", "prod")
        .arg("backup")
        .arg("--core-dir")
        .arg(core.path())
        .arg("--output")
        .arg(work.path().join("backup"))
        .output()
        .unwrap();
    let expected = core.path().join("config/prod-config.yml");
    assert!(
        text(&output).contains("NODE_ENV=prod")
            && text(&output).contains(&expected.display().to_string()),
        "{}",
        text(&output)
    );
}

/// Without credentials the S3 client tried the EC2 metadata service for a long time and
/// never said why; a backup also connected to the database first.
#[test]
fn missing_s3_credentials_are_named_before_the_database_is_touched() {
    let core = bare_core_dir();
    let started = Instant::now();
    let mut command = cli();
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_METADATA_ENDPOINT",
        "AWS_SKIP_SIGNATURE",
    ] {
        command.env_remove(name);
    }
    let output = command
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "garage")
        .arg("backup")
        .arg("--core-dir")
        .arg(core.path())
        .arg("--output")
        .arg("s3://backups/2026-12")
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        "{stderr}"
    );
    assert!(!stderr.contains("PostgreSQL"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// An EC key given where an RSA one is needed: the message said the RSA identifier was
/// "unknown/unsupported", as if it were the key's.
#[test]
fn an_ec_key_is_called_an_ec_key() {
    let work = tempfile::tempdir().unwrap();
    let public = work.path().join("ec.pub.pem");
    let private = work.path().join("ec.key.pem");
    std::fs::write(&public, EC_PUBLIC_KEY).unwrap();
    std::fs::write(&private, EC_PRIVATE_KEY).unwrap();
    let core = bare_core_dir();

    let backup = cli()
        .arg("backup")
        .arg("--core-dir")
        .arg(core.path())
        .arg("--output")
        .arg(work.path().join("backup"))
        .arg("--recipient-pubkey")
        .arg(&public)
        .output()
        .unwrap();
    let decrypt = cli()
        .arg("decrypt")
        .arg(reference_archives().join("encrypted-hybrid"))
        .arg("--out")
        .arg(work.path().join("plain"))
        .arg("--private-key")
        .arg(&private)
        .output()
        .unwrap();
    for output in [backup, decrypt] {
        assert_exit(&output, 1);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not an RSA key") && stderr.contains("EC (elliptic curve)"),
            "{stderr}"
        );
        assert!(!stderr.contains(RSA_OID), "{stderr}");
    }
}

/// A refused write said "Permission denied (os error 13): Permission denied (os error 13)";
/// it now says it once, with the path, the operation and the Unix user of the run.
#[test]
fn a_refused_write_names_the_path_and_the_unix_user() {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let passphrase = work.path().join("passphrase");
    std::fs::write(&passphrase, "correct horse battery staple").unwrap();
    std::fs::set_permissions(&passphrase, std::fs::Permissions::from_mode(0o644)).unwrap();
    let read_only = work.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = read_only.join("plain");
    // A copy the run's user can read wherever the repository was cloned (a clone in a 0700
    // folder is out of nobody's reach).
    let archive = work.path().join("encrypted-passphrase");
    copy_tree(&reference_archives().join("encrypted-passphrase"), &archive);
    let readable = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&archive)
        .status()
        .unwrap();
    assert!(readable.success());

    // root may write anywhere: the run is then made as nobody.
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let mut command = if as_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("pryv-backup"));
        c
    } else {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pryv-backup"))
    };
    let output = command
        .env_remove("PRYV_BACKUP_PASSPHRASE")
        .arg("decrypt")
        .arg(&archive)
        .arg("--out")
        .arg(&out)
        .arg("--decrypt-passphrase-file")
        .arg(&passphrase)
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("into {}", out.display())),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Permission denied").count(), 1, "{stderr}");
    let user = if as_root {
        "nobody".to_string()
    } else {
        whoami()
    };
    assert!(stderr.contains(&format!("Unix user {user}")), "{stderr}");
}

/// The name of the user running the tests.
fn whoami() -> String {
    let output = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A restore with a role that may only read restores no user, and the end of the restore
/// must not say that rows were committed.
#[test]
fn a_restore_with_a_read_only_role_does_not_claim_committed_rows() {
    let (source, _work, out) = sample_backed_up("backup");
    let role = format!("{}_reader", source.db.name()).replace('-', "_");
    source.sql(&format!(
        "CREATE ROLE {role} LOGIN;
         GRANT CONNECT ON DATABASE \"{db}\" TO {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};",
        db = source.db.name()
    ));
    let output = cli()
        .arg("restore")
        .args(source.args())
        .arg(format!("--storages:engines:postgresql:user={role}"))
        .arg("--restore")
        .arg(&out)
        .arg("--overwrite")
        .output()
        .unwrap();
    source.sql(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    let report = text(&output);
    assert!(report.contains("restored: 0"), "{report}");
    assert!(!report.contains("rows are committed"), "{report}");
    assert!(report.contains("committed no rows"), "{report}");
}

/// systemd's `ProtectSystem=strict` makes every folder outside `ReadWritePaths=` read-only:
/// the message says where to allow the write. Needs root to mount a read-only file system
/// (in a mount namespace of its own, so the host never sees it); skipped otherwise.
#[test]
fn a_read_only_file_system_points_at_read_write_paths() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a read-only file system needs root");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let read_only = work.path().join("textfile");
    std::fs::create_dir(&read_only).unwrap();
    let prom = read_only.join("pryv-backup.prom");
    let output = std::process::Command::new("unshare")
        .args(["--mount", "sh", "-c"])
        .arg("mount -t tmpfs -o ro,size=1m tmpfs \"$1\" && shift && exec \"$@\"")
        .arg("sh")
        .arg(&read_only)
        .arg(assert_cmd::cargo::cargo_bin("pryv-backup"))
        .arg("--metrics-file")
        .arg(&prom)
        .arg("verify")
        .arg(reference_archives().join("full-gz"))
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&prom.display().to_string()) && stderr.contains("ReadWritePaths="),
        "{stderr}"
    );
}

/// Logs read by journald or written to a file carry no colour codes (they show as garbage
/// there): stderr is not a terminal here, as under systemd.
#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    std::fs::create_dir_all(&out).unwrap();
    // A temporary file a killed run left: removing it is logged at the info level.
    std::fs::write(out.join(".manifest.json.1234.tmp"), b"partial").unwrap();
    let output = cli()
        .arg("-v")
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("removed 1 temporary files a killed run left"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    // The last line says how much and how fast.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains(" items, ") && last.contains(" written) in ") && last.ends_with(" items/s)"),
        "{stdout}"
    );
}

/// Scripts tell "another run holds the lock" (11) and "wrong secret" (12) from other errors,
/// as restic's exit codes do; the metrics file records the same code.
#[test]
fn locked_and_wrong_secret_have_their_own_exit_codes() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("nightly");
    // A run writing into `out` holds this lock (see lock::backup_output_lock_path).
    let lock = std::fs::File::create(work.path().join(".nightly.pryv-backup.lock")).unwrap();
    lock.try_lock().unwrap();
    let metrics = work.path().join("backup.prom");
    let locked = cli()
        .arg("--metrics-file")
        .arg(&metrics)
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(locked.status.code(), Some(11), "{}", text(&locked));
    assert!(
        text(&locked).contains("another pryv-backup run"),
        "{}",
        text(&locked)
    );
    let recorded = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        recorded
            .lines()
            .any(|l| l.starts_with("pryv_backup_exit_status") && l.ends_with(" 11")),
        "{recorded}"
    );
    drop(lock);

    let right = work.path().join("right");
    let wrong = work.path().join("wrong");
    std::fs::write(&right, "the right passphrase").unwrap();
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let sealed = work.path().join("sealed");
    backup(
        &source,
        &sealed,
        &["--encrypt-passphrase-file", right.to_str().unwrap()],
    );
    for command in ["verify", "inspect", "drill"] {
        let output = run(&[
            command.as_ref(),
            sealed.as_os_str(),
            "--decrypt-passphrase-file".as_ref(),
            wrong.as_os_str(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(12),
            "{command}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains("wrong passphrase or key"),
            "{}",
            text(&output)
        );
    }
}
