//! Cross-implementation: files sealed by Rust open with an independent Node.js
//! implementation (tests/node/pryvbke1.mjs) and the other way round, for both key models.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use pryv_backup::archive::FileSealer;
use pryv_backup::crypto::{decrypt_tree, Pryvbke1};
use rand::RngCore;
use serde_json::Value;

const PASSPHRASE: &str = "ünïcødé passphrase ✓";
const KEY_PASSPHRASE: &str = "key secret";

fn node_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/node/pryvbke1.mjs")
}

/// Runs node with `args`; panics with the output on failure, or if node is not installed.
fn node(args: &[&str], envs: &[(&str, &str)]) {
    let output = Command::new("node")
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): install Node.js 20 or newer (e.g. `apt-get install nodejs`)")
        });
    assert!(
        output.status.success(),
        "node {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the Node.js implementation's `command` (`seal-tree` or `open-tree`) from `from` into
/// `to`, with `extra` arguments and `envs`.
fn node_tree(command: &str, from: &Path, to: &Path, extra: &[&str], envs: &[(&str, &str)]) {
    let script = node_script();
    let mut args = vec![path(&script), command, path(from), path(to)];
    args.extend_from_slice(extra);
    node(&args, envs);
}

/// The Node.js implementation opens `sealed` into `opened` (with `extra` arguments and
/// `envs`), giving back `files`.
fn assert_node_opens(
    sealed: &Path,
    opened: &Path,
    files: &[(PathBuf, Vec<u8>)],
    extra: &[&str],
    envs: &[(&str, &str)],
) {
    node_tree("open-tree", sealed, opened, extra, envs);
    assert_tree(opened, files);
}

struct Keys {
    public: PathBuf,
    pkcs8: PathBuf,
    pkcs8_encrypted: PathBuf,
    pkcs1: PathBuf,
}

/// A fresh RSA-2048 key pair, the private key in three PEM forms.
fn generate_keys(dir: &Path) -> Keys {
    let keys = Keys {
        public: dir.join("pub.pem"),
        pkcs8: dir.join("key.pem"),
        pkcs8_encrypted: dir.join("key-enc.pem"),
        pkcs1: dir.join("key-rsa.pem"),
    };
    let script = format!(
        "const c = require('node:crypto'); const fs = require('node:fs');
         const {{ publicKey, privateKey }} = c.generateKeyPairSync('rsa', {{ modulusLength: 2048 }});
         fs.writeFileSync({:?}, publicKey.export({{ type: 'spki', format: 'pem' }}));
         fs.writeFileSync({:?}, privateKey.export({{ type: 'pkcs8', format: 'pem' }}));
         fs.writeFileSync({:?}, privateKey.export({{ type: 'pkcs8', format: 'pem',
           cipher: 'aes-256-cbc', passphrase: {:?} }}));
         fs.writeFileSync({:?}, privateKey.export({{ type: 'pkcs1', format: 'pem' }}));",
        keys.public, keys.pkcs8, keys.pkcs8_encrypted, KEY_PASSPHRASE, keys.pkcs1
    );
    node(&["-e", &script], &[]);
    keys
}

/// Plaintext files around the frame size (0, 1, 64 KiB - 1, 64 KiB, 64 KiB + 1, several frames).
fn plain_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let sizes = [0usize, 1, 65_535, 65_536, 65_537, 3 * 65_536, 200_003];
    let mut files = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let mut bytes = vec![0u8; *size];
        rand::thread_rng().fill_bytes(&mut bytes);
        let rel = PathBuf::from(format!("users/u{}/file-{size}.bin", i % 2));
        fs::create_dir_all(dir.join(&rel).parent().unwrap()).unwrap();
        fs::write(dir.join(&rel), &bytes).unwrap();
        files.push((rel, bytes));
    }
    files
}

/// Seals every file of `plain` into `out` with the Rust implementation, writing small pieces
/// to exercise the streaming writer.
fn rust_seal_tree(sealer: &dyn FileSealer, files: &[(PathBuf, Vec<u8>)], out: &Path) {
    fs::create_dir_all(out).unwrap();
    fs::write(
        out.join("encryption.json"),
        serde_json::to_vec_pretty(&sealer.envelope()).unwrap(),
    )
    .unwrap();
    for (rel, bytes) in files {
        fs::create_dir_all(out.join(rel).parent().unwrap()).unwrap();
        let file = fs::File::create(out.join(rel)).unwrap();
        let mut writer = sealer.seal(Box::new(file)).unwrap();
        for piece in bytes.chunks(7_919) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap();
    }
}

fn assert_tree(dir: &Path, files: &[(PathBuf, Vec<u8>)]) {
    for (rel, bytes) in files {
        let got = fs::read(dir.join(rel)).unwrap();
        assert!(
            got == *bytes,
            "{} differs ({} vs {} bytes)",
            rel.display(),
            got.len(),
            bytes.len()
        );
    }
}

fn envelope(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("encryption.json")).unwrap()).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn crypto_node_passphrase_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let files = plain_tree(&tmp.path().join("plain"));

    // Rust seals, Node opens.
    let sealer = Pryvbke1::with_passphrase(PASSPHRASE).unwrap();
    let rust_sealed = tmp.path().join("rust-sealed");
    rust_seal_tree(&sealer, &files, &rust_sealed);
    let node_opened = tmp.path().join("node-opened");
    assert_node_opens(
        &rust_sealed,
        &node_opened,
        &files,
        &[],
        &[("PRYV_BACKUP_PASSPHRASE", PASSPHRASE)],
    );

    // Node seals, Rust opens.
    let node_sealed = tmp.path().join("node-sealed");
    node_tree(
        "seal-tree",
        &tmp.path().join("plain"),
        &node_sealed,
        &[],
        &[("PRYV_BACKUP_PASSPHRASE", PASSPHRASE)],
    );
    let opener = Pryvbke1::open_with_passphrase(&envelope(&node_sealed), PASSPHRASE).unwrap();
    let rust_opened = tmp.path().join("rust-opened");
    let report = decrypt_tree(&node_sealed, &rust_opened, &opener).unwrap();
    assert_eq!(report.files.len(), files.len());
    assert_tree(&rust_opened, &files);
}

#[test]
fn crypto_node_hybrid_both_ways_and_key_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = generate_keys(tmp.path());
    let files = plain_tree(&tmp.path().join("plain"));

    // Rust seals for the public key, Node opens with the private key.
    let sealer = Pryvbke1::for_recipient(&fs::read_to_string(&keys.public).unwrap()).unwrap();
    let rust_sealed = tmp.path().join("rust-sealed");
    rust_seal_tree(&sealer, &files, &rust_sealed);
    let node_opened = tmp.path().join("node-opened");
    assert_node_opens(
        &rust_sealed,
        &node_opened,
        &files,
        &["--private-key", path(&keys.pkcs8)],
        &[],
    );

    // Node seals, Rust opens with each form of the private key.
    let node_sealed = tmp.path().join("node-sealed");
    node_tree(
        "seal-tree",
        &tmp.path().join("plain"),
        &node_sealed,
        &["--public-key", path(&keys.public)],
        &[],
    );
    let env = envelope(&node_sealed);
    // OpenSSL may write attributes before the PEM block.
    let with_attributes = tmp.path().join("key-attributes.pem");
    let pkcs8 = fs::read_to_string(&keys.pkcs8).unwrap();
    fs::write(
        &with_attributes,
        format!("Bag Attributes\n    localKeyID: 01 02\n{pkcs8}"),
    )
    .unwrap();
    let forms = [
        (&keys.pkcs8, None),
        (&with_attributes, None),
        (&keys.pkcs8_encrypted, Some(KEY_PASSPHRASE)),
        (&keys.pkcs1, None),
    ];
    for (i, (key, key_passphrase)) in forms.into_iter().enumerate() {
        let pem = fs::read_to_string(key).unwrap();
        let opener = Pryvbke1::open_with_private_key(&env, &pem, key_passphrase).unwrap();
        let rust_opened = tmp.path().join(format!("rust-opened-{i}"));
        decrypt_tree(&node_sealed, &rust_opened, &opener).unwrap();
        assert_tree(&rust_opened, &files);
    }

    // An encrypted key without or with a wrong passphrase is refused with a clear message.
    let encrypted_pem = fs::read_to_string(&keys.pkcs8_encrypted).unwrap();
    let err = Pryvbke1::open_with_private_key(&env, &encrypted_pem, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("passphrase is required"), "{err}");
    let err = Pryvbke1::open_with_private_key(&env, &encrypted_pem, Some("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong key passphrase"), "{err}");
}

#[test]
fn crypto_node_wrong_private_key_is_detected_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let right = generate_keys(&mkdir(tmp.path().join("right")));
    let wrong = generate_keys(&mkdir(tmp.path().join("wrong")));
    let sealer = Pryvbke1::for_recipient(&fs::read_to_string(&right.public).unwrap()).unwrap();
    let wrong_pem = fs::read_to_string(&wrong.pkcs8).unwrap();
    let err = Pryvbke1::open_with_private_key(&sealer.envelope(), &wrong_pem, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("private key does not match this backup"),
        "{err}"
    );
    // Giving the public key where a private key is expected, and the reverse.
    let public_pem = fs::read_to_string(&right.public).unwrap();
    assert!(Pryvbke1::open_with_private_key(&sealer.envelope(), &public_pem, None).is_err());
    let err = Pryvbke1::for_recipient(&wrong_pem).unwrap_err().to_string();
    assert!(err.contains("got a private key"), "{err}");
}

fn mkdir(dir: PathBuf) -> PathBuf {
    fs::create_dir_all(&dir).unwrap();
    dir
}
