//! Memory stays bounded whatever the size of a user: writes then reads back a 1 GiB user
//! (raw JSON) plus a 256 MiB attachment, and reports the process's peak RSS (VmHWM); the
//! same with 512 MiB into an S3 bucket (Garage), where chunks and the attachment are
//! multipart uploads.
//!
//! Slow; run it in release with `scripts/archive-memory.sh` (one process per test, so that
//! each peak is its own).

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use pryv_backup::archive::{
    verify_in, ArchiveReader, ArchiveWriter, Backend, ManifestInfo, UserEntries, WriterOptions,
};
use pryv_backup::model::{Collection, UserRef};
use pryv_backup::s3::{Bucket, S3Settings};
use serde_json::json;

const MIB: u64 = 1024 * 1024;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Deterministic, poorly compressible text (gzip gets ~2x, as on real data with ids/hashes).
struct Noise(u64);

impl Noise {
    fn text(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..len)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                ALPHABET[(self.0 % ALPHABET.len() as u64) as usize] as char
            })
            .collect()
    }
}

/// A blob produced on the fly, never held in memory.
struct Blob {
    left: u64,
}

impl Read for Blob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        buf[..n]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i * 31 % 251) as u8);
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
#[ignore = "writes 1.25 GiB; run scripts/archive-memory.sh"]
fn archive_memory_is_bounded_by_a_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let peak = roundtrip(&Backend::Local, dir.path(), 1024 * MIB, 256 * MIB, MIB);
    assert!(
        peak < 128 * 1024,
        "peak RSS {} MiB: memory grows with the user",
        peak >> 10
    );
}

#[test]
#[ignore = "uploads 0.5 GiB to S3; run scripts/archive-memory.sh"]
fn s3_archive_memory_is_bounded_by_upload_parts() {
    let server = testbed::s3::s3();
    let bucket = Bucket::connect(&S3Settings::self_hosted(
        &server.bucket,
        &server.endpoint,
        "garage",
        &server.key_id,
        &server.secret,
    ))
    .unwrap();
    let prefix = server.unique_prefix("archive-memory");
    let root = PathBuf::from(format!("s3://{}/{prefix}", server.bucket));
    let backend = Backend::S3(bucket.clone());
    // 50 MiB chunks (the default) gzip to ~25 MiB: multipart uploads of several parts.
    let peak = roundtrip(&backend, &root, 512 * MIB, 256 * MIB, 50 * MIB);
    backend.remove_tree(&root).unwrap();
    assert!(
        peak < 128 * 1024,
        "peak RSS {} MiB: memory grows with the user",
        peak >> 10
    );
}

/// Writes one user of `raw` bytes of JSON events and an attachment of `attachment` bytes,
/// reads and verifies it all back; returns the peak RSS in KiB.
fn roundtrip(backend: &Backend, root: &Path, raw_target: u64, attachment: u64, chunk: u64) -> u64 {
    let start = peak_rss_kib();
    let w = ArchiveWriter::create(
        root,
        WriterOptions {
            max_chunk_size: chunk,
            backend: backend.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let mut u = w
        .open_user(&UserRef {
            user_id: "big".into(),
            username: "big".into(),
        })
        .unwrap();
    let mut noise = Noise(0x9e3779b97f4a7c15);
    let (mut raw, mut count) = (0u64, 0u64);
    while raw < raw_target {
        let item = json!({"id": format!("ev-{count:010}"), "streamIds": ["s"], "time": 1763981000.125, "type": "note/txt", "content": noise.text(900)});
        raw += serde_json::to_vec(&item).unwrap().len() as u64 + 1;
        count += 1;
        u.item(Collection::Events, &item).unwrap();
    }
    u.attachment("blob", &mut Blob { left: attachment })
        .unwrap();
    let m = u.finish().unwrap();
    let chunks = m.chunks["events"].len();
    w.finish(ManifestInfo {
        core_version: "2.0.0".into(),
        config: json!({}),
        backup_type: "full".into(),
        backup_timestamp: 0,
        snapshot_before: None,
        users: UserEntries::from_vec(vec![m]).unwrap(),
    })
    .unwrap();
    let after_write = peak_rss_kib();

    let r = ArchiveReader::open_in(backend, root, None).unwrap();
    let user = r.user("big").unwrap();
    let read = user
        .items(Collection::Events)
        .unwrap()
        .map(Result::unwrap)
        .count() as u64;
    assert_eq!(read, count);
    let blob = io::copy(
        &mut user.attachment("blob").unwrap().unwrap(),
        &mut io::sink(),
    )
    .unwrap();
    assert_eq!(blob, attachment);
    let report = verify_in(backend, root, None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let after_read = peak_rss_kib();

    println!(
        "archive memory ({}): {count} events, {} MiB raw JSON in {chunks} chunks of {} KiB + {} MiB attachment; \
         peak RSS (VmHWM): {} MiB at start, {} MiB after writing, {} MiB after reading and verifying",
        root.display(),
        raw >> 20,
        chunk >> 10,
        attachment >> 20,
        start >> 10,
        after_write >> 10,
        after_read >> 10
    );
    after_read
}
