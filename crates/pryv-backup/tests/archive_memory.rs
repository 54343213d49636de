//! Memory stays bounded whatever the size of a user: writes then reads back a 1 GiB user
//! (raw JSON) plus a 256 MiB attachment, and reports the process's peak RSS (VmHWM).
//!
//! Slow; run it in release with `scripts/archive-memory.sh`.

use std::io::{self, Read};

use pryv_backup::archive::{verify, ArchiveReader, ArchiveWriter, ManifestInfo, WriterOptions};
use pryv_backup::model::{Collection, UserRef};
use serde_json::json;

const RAW_BYTES: u64 = 1024 * 1024 * 1024;
const ATTACHMENT_BYTES: u64 = 256 * 1024 * 1024;
const CHUNK: u64 = 1024 * 1024;

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
    let start = peak_rss_kib();
    let w = ArchiveWriter::create(
        dir.path(),
        WriterOptions {
            max_chunk_size: CHUNK,
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
    while raw < RAW_BYTES {
        let item = json!({"id": format!("ev-{count:010}"), "streamIds": ["s"], "time": 1763981000.125, "type": "note/txt", "content": noise.text(900)});
        raw += serde_json::to_vec(&item).unwrap().len() as u64 + 1;
        count += 1;
        u.item(Collection::Events, &item).unwrap();
    }
    u.attachment(
        "blob",
        &mut Blob {
            left: ATTACHMENT_BYTES,
        },
    )
    .unwrap();
    let m = u.finish().unwrap();
    let chunks = m.chunks["events"].len();
    w.finish(ManifestInfo {
        core_version: "2.0.0".into(),
        config: json!({}),
        backup_type: "full".into(),
        backup_timestamp: 0,
        snapshot_before: None,
        users: vec![m],
    })
    .unwrap();
    let after_write = peak_rss_kib();

    let r = ArchiveReader::open(dir.path(), None).unwrap();
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
    assert_eq!(blob, ATTACHMENT_BYTES);
    let report = verify(dir.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let after_read = peak_rss_kib();

    println!(
        "archive memory: {count} events, {} MiB raw JSON in {chunks} chunks of {} KiB + {} MiB attachment; \
         peak RSS (VmHWM): {} MiB at start, {} MiB after writing, {} MiB after reading and verifying",
        raw >> 20,
        CHUNK >> 10,
        ATTACHMENT_BYTES >> 20,
        start >> 10,
        after_write >> 10,
        after_read >> 10
    );
    assert!(
        after_read < 128 * 1024,
        "peak RSS {} MiB: memory grows with the user",
        after_read >> 10
    );
}
