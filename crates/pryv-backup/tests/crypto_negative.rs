//! PRYVBKE1 edge cases and every failure the format can detect, each with a clear error and
//! never garbage output.

use std::fs;
use std::io::{self, Read, Write};
use std::sync::OnceLock;

use pryv_backup::archive::FileSealer;
use pryv_backup::crypto::{decrypt_tree, read_envelope, Pryvbke1};
use serde_json::{json, Value};

const CHUNK: usize = 65_536;
const FRAME: usize = 4 + CHUNK + 16;
const HEADER: usize = 8 + 4 + 55;

/// One backup's sealer, shared: scrypt is deliberately slow.
fn sealer() -> &'static Pryvbke1 {
    static SEALER: OnceLock<Pryvbke1> = OnceLock::new();
    SEALER.get_or_init(|| Pryvbke1::with_passphrase("right passphrase").unwrap())
}

fn seal(sealer: &dyn FileSealer, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = sealer.seal(Box::new(&mut out)).unwrap();
    writer.write_all(plain).unwrap();
    writer.finish().unwrap();
    out
}

fn open(sealer: &dyn FileSealer, sealed: &[u8]) -> io::Result<Vec<u8>> {
    let mut reader = sealer.open(Box::new(sealed))?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain)?;
    Ok(plain)
}

fn open_err(sealer: &dyn FileSealer, sealed: &[u8]) -> String {
    let err = open(sealer, sealed).expect_err("must not decrypt");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    err.to_string()
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Payload lengths of the frames of a sealed file.
fn frame_lengths(sealed: &[u8]) -> Vec<usize> {
    let mut at = 12 + u32::from_be_bytes(sealed[8..12].try_into().unwrap()) as usize;
    let mut lengths = Vec::new();
    while at < sealed.len() {
        let len = u32::from_be_bytes(sealed[at..at + 4].try_into().unwrap()) as usize;
        lengths.push(len);
        at += 4 + len;
    }
    lengths
}

#[test]
fn crypto_header_is_the_reference_header() {
    let sealed = seal(sealer(), b"x");
    assert_eq!(&sealed[..8], b"PRYVBKE1");
    assert_eq!(u32::from_be_bytes(sealed[8..12].try_into().unwrap()), 55);
    let header: Value = serde_json::from_slice(&sealed[12..HEADER]).unwrap();
    assert_eq!(
        header.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["v", "salt", "chunk"]
    );
    assert_eq!(header["v"], 1);
    assert_eq!(header["chunk"], 65536);
    assert_eq!(
        header["salt"].as_str().unwrap().len(),
        24,
        "16 bytes in base64"
    );
}

#[test]
fn crypto_sizes_around_the_frame_round_trip() {
    let cases: [(usize, &[usize]); 6] = [
        (0, &[]),
        (1, &[17]),
        (CHUNK - 1, &[CHUNK + 15]),
        (CHUNK, &[CHUNK + 16]),
        (CHUNK + 1, &[CHUNK + 16, 17]),
        (2 * CHUNK, &[CHUNK + 16, CHUNK + 16]),
    ];
    for (len, frames) in cases {
        let plain = data(len);
        let sealed = seal(sealer(), &plain);
        assert_eq!(
            frame_lengths(&sealed),
            frames,
            "frames of a {len}-byte file"
        );
        assert_eq!(
            sealed.len(),
            HEADER + frames.iter().map(|l| 4 + l).sum::<usize>()
        );
        assert_eq!(open(sealer(), &sealed).unwrap(), plain, "{len} bytes");
    }
}

#[test]
fn crypto_empty_file_is_the_header_alone() {
    let sealed = seal(sealer(), b"");
    assert_eq!(sealed.len(), HEADER);
    assert_eq!(open(sealer(), &sealed).unwrap(), b"");
}

#[test]
fn crypto_plaintext_never_appears_in_the_sealed_file() {
    let marker = b"PLAINMARK patient diagnosis ".repeat(5000);
    let sealed = seal(sealer(), &marker);
    assert!(!sealed.windows(9).any(|w| w == b"PLAINMARK"));
}

#[test]
fn crypto_wrong_passphrase_fails_on_the_first_frame() {
    let sealed = seal(sealer(), &data(1000));
    let wrong = Pryvbke1::open_with_passphrase(&sealer().envelope(), "wrong passphrase").unwrap();
    let err = open_err(&wrong, &sealed);
    assert!(err.contains("wrong passphrase or private key"), "{err}");
}

#[test]
fn crypto_file_moved_from_another_backup_fails() {
    // Same passphrase, another backup: another envelope salt, so another data key.
    let other_backup = Pryvbke1::with_passphrase("right passphrase").unwrap();
    let sealed = seal(&other_backup, &data(1000));
    let err = open_err(sealer(), &sealed);
    assert!(err.contains("a file from another backup"), "{err}");
}

#[test]
fn crypto_truncation_mid_frame_and_in_header_fails() {
    let sealed = seal(sealer(), &data(CHUNK + 5000));
    for cut in [
        HEADER + FRAME + 100,
        HEADER + FRAME + 2,
        HEADER + 100,
        sealed.len() - 1,
    ] {
        let err = open_err(sealer(), &sealed[..cut]);
        assert!(err.contains("truncated"), "cut at {cut}: {err}");
    }
    for cut in [10, HEADER - 1] {
        let err = open_err(sealer(), &sealed[..cut]);
        assert!(
            err.contains("ends inside the header"),
            "cut at {cut}: {err}"
        );
    }
    // A cut exactly between frames is not detectable by the format (documented limit).
    assert_eq!(
        open(sealer(), &sealed[..HEADER + FRAME]).unwrap(),
        data(CHUNK)
    );
}

#[test]
fn crypto_reordered_frames_fail() {
    let plain = data(3 * CHUNK + 10);
    let sealed = seal(sealer(), &plain);
    let frame = |i: usize| &sealed[HEADER + i * FRAME..HEADER + (i + 1) * FRAME];
    let rest = &sealed[HEADER + 3 * FRAME..];

    let swapped_0_1 = [&sealed[..HEADER], frame(1), frame(0), frame(2), rest].concat();
    let err = open_err(sealer(), &swapped_0_1);
    assert!(err.contains("first frame"), "{err}");

    let swapped_1_2 = [&sealed[..HEADER], frame(0), frame(2), frame(1), rest].concat();
    let mut reader = sealer().open(Box::new(swapped_1_2.as_slice())).unwrap();
    let mut first = vec![0u8; CHUNK];
    reader.read_exact(&mut first).unwrap();
    assert_eq!(
        first,
        plain[..CHUNK],
        "frames before the damage are genuine"
    );
    let err = reader.read(&mut first).unwrap_err().to_string();
    assert!(
        err.contains("frame 1") && err.contains("reordered"),
        "{err}"
    );
    // The failure sticks: no later read turns it into a clean end of file.
    assert!(reader.read(&mut first).is_err());
}

#[test]
fn crypto_tampered_byte_fails() {
    let mut sealed = seal(sealer(), &data(2 * CHUNK));
    sealed[HEADER + FRAME + 4 + 1000] ^= 1;
    let err = open_err(sealer(), &sealed);
    assert!(err.contains("frame 1"), "{err}");
}

#[test]
fn crypto_bad_magic_and_bad_headers_fail() {
    let gzip = [
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let err = open_err(sealer(), &gzip);
    assert!(err.contains("bad magic"), "{err}");
    assert!(open_err(sealer(), b"").contains("bad magic"));

    let sealed = seal(sealer(), &data(100));
    let mut huge_header = sealed.clone();
    huge_header[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(open_err(sealer(), &huge_header).contains("header length"));

    let with_header = |header: &str| {
        let mut file = b"PRYVBKE1".to_vec();
        file.extend_from_slice(&(header.len() as u32).to_be_bytes());
        file.extend_from_slice(header.as_bytes());
        file.extend_from_slice(&sealed[HEADER..]);
        file
    };
    assert!(open_err(sealer(), &with_header("{not json")).contains("not valid JSON"));
    let v2 = r#"{"v":2,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","chunk":65536}"#;
    assert!(open_err(sealer(), &with_header(v2)).contains("version"));
    let huge_chunk = r#"{"v":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","chunk":99999999999}"#;
    assert!(open_err(sealer(), &with_header(huge_chunk)).contains("chunk"));

    let mut huge_frame = sealed.clone();
    huge_frame[HEADER..HEADER + 4].copy_from_slice(&(1u32 << 30).to_be_bytes());
    assert!(open_err(sealer(), &huge_frame).contains("claims"));
}

#[test]
fn crypto_writer_streams_in_small_and_large_pieces() {
    let plain = data(5 * CHUNK + 123);
    for piece in [1usize, 1000, CHUNK, 3 * CHUNK] {
        let mut out = Vec::new();
        let mut writer = sealer().seal(Box::new(&mut out)).unwrap();
        for part in plain.chunks(piece) {
            writer.write_all(part).unwrap();
            writer.flush().unwrap();
        }
        writer.finish().unwrap();
        assert_eq!(frame_lengths(&out).len(), 6);
        let mut reader = sealer().open(Box::new(out.as_slice())).unwrap();
        let mut back = Vec::new();
        let mut buf = vec![0u8; piece.min(70_000)];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert!(back == plain, "pieces of {piece}");
    }
}

#[test]
fn crypto_envelope_errors_are_clear() {
    let envelope = sealer().envelope();
    let with = |field: &str, value: Value| {
        let mut e = envelope.clone();
        e[field] = value;
        Pryvbke1::open_with_passphrase(&e, "x")
            .unwrap_err()
            .to_string()
    };
    assert!(with("N", json!(1000)).contains("power of two"));
    assert!(with("N", json!(1u64 << 20)).contains("memory"));
    assert!(with("mode", json!("quantum")).contains("unknown mode"));
    assert!(with("v", json!(2)).contains("unsupported version"));
    assert!(with("salt", json!("*not base64*")).contains("salt"));
    assert!(with("kdf", json!("argon2")).contains("kdf"));
    let mut huge = envelope.clone();
    huge["N"] = json!(1u64 << 31);
    huge["r"] = json!(u32::MAX);
    huge["p"] = json!(u32::MAX);
    let err = Pryvbke1::open_with_passphrase(&huge, "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("memory"), "{err}");
    let err = Pryvbke1::open_with_passphrase(&json!([1]), "x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("encryption.json"), "{err}");
    assert!(Pryvbke1::with_passphrase("").is_err());
    let err = Pryvbke1::for_recipient("hello").unwrap_err().to_string();
    assert!(err.contains("PEM"), "{err}");
}

#[test]
fn crypto_envelope_is_what_the_reference_writes() {
    let envelope = sealer().envelope();
    let keys: Vec<_> = envelope.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["v", "alg", "chunk", "mode", "kdf", "salt", "N", "r", "p"]
    );
    assert_eq!(envelope["alg"], "AES-256-GCM-CHUNKED");
    assert_eq!(
        (
            envelope["N"].as_u64(),
            envelope["r"].as_u64(),
            envelope["p"].as_u64()
        ),
        (Some(16384), Some(8), Some(1))
    );
    assert!(
        !format!("{:?}", sealer()).contains("data_key"),
        "Debug shows no key"
    );
}

#[test]
fn crypto_decrypt_tree_guards_its_output() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("backup");
    fs::create_dir_all(src.join("users/u1")).unwrap();
    fs::write(
        src.join("encryption.json"),
        serde_json::to_vec(&sealer().envelope()).unwrap(),
    )
    .unwrap();
    fs::write(src.join("RESTORE-README.md"), "read me").unwrap();
    fs::write(src.join("decrypt-backup.mjs"), "// script").unwrap();
    fs::write(src.join("manifest.json"), seal(sealer(), b"{}")).unwrap();
    fs::write(
        src.join("users/u1/a.jsonl.gz"),
        seal(sealer(), &data(70_000)),
    )
    .unwrap();

    // Output inside the backup, or not empty: refused before anything is written.
    let err = decrypt_tree(&src, &src.join("plain"), sealer())
        .unwrap_err()
        .to_string();
    assert!(err.contains("inside the backup"), "{err}");
    assert!(!src.join("plain").exists());
    let busy = tmp.path().join("busy");
    fs::create_dir_all(&busy).unwrap();
    fs::write(busy.join("keep"), "x").unwrap();
    let err = decrypt_tree(&src, &busy, sealer()).unwrap_err().to_string();
    assert!(err.contains("not empty"), "{err}");

    assert_eq!(read_envelope(&src).unwrap(), Some(sealer().envelope()));
    assert_eq!(
        read_envelope(tmp.path()).unwrap(),
        None,
        "no encryption.json: clear backup"
    );

    let out = tmp.path().join("out/plain");
    let report = decrypt_tree(&src, &out, sealer()).unwrap();
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.skipped.len(), 3);
    assert_eq!(report.plaintext_bytes, 70_002);
    assert_eq!(
        fs::read(out.join("users/u1/a.jsonl.gz")).unwrap(),
        data(70_000)
    );
    assert!(!out.join("encryption.json").exists() && !out.join("RESTORE-README.md").exists());

    // A damaged file: the error names it and nothing is left behind.
    let mut damaged = seal(sealer(), &data(10));
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    fs::write(src.join("users/u1/z.jsonl.gz"), damaged).unwrap();
    let out2 = tmp.path().join("out2");
    let err = decrypt_tree(&src, &out2, sealer()).unwrap_err().to_string();
    assert!(err.contains("users/u1/z.jsonl.gz"), "{err}");
    assert!(!out2.exists(), "partial output removed");
}

#[test]
fn crypto_gzip_file_cut_between_frames_fails_in_gunzip() {
    use flate2::{read::GzDecoder, write::GzEncoder, Compression};
    // Incompressible, so the gzip stream spans several frames.
    let mut plain = vec![0u8; 200_000];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut plain);
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&plain).unwrap();
    let sealed = seal(sealer(), &gz.finish().unwrap());
    assert!(frame_lengths(&sealed).len() >= 3);
    let cut = &sealed[..HEADER + 2 * FRAME];
    let mut out = Vec::new();
    let err = GzDecoder::new(sealer().open(Box::new(cut)).unwrap())
        .read_to_end(&mut out)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
}
