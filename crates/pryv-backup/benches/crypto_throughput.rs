//! Single-core throughput of the encrypted write and read paths on JSONL-like data:
//! gzip + PRYVBKE1 seal, and PRYVBKE1 open + gunzip (plus each cipher step alone).
//! `cargo bench -p pryv-backup --bench crypto_throughput`; PRYV_BENCH_MIB sets the size
//! (default 256 MiB of plaintext JSONL).

use std::io::{self, Read, Write};
use std::time::Instant;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use pryv_backup::archive::FileSealer;
use pryv_backup::crypto::Pryvbke1;

const MIB: usize = 1024 * 1024;

/// About one MiB of event-like JSONL lines, varying with `block`.
fn jsonl_block(block: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(MIB + 512);
    let mut i = block * 5000;
    while out.len() < MIB {
        let t = 1_700_000_000.0 + i as f64 * 0.731;
        writeln!(
            out,
            r#"{{"id":"ck{i:020x}","streamIds":["weight-{}"],"type":"mass/kg","content":{:.2},"time":{t},"created":{t},"createdBy":"acc-{}","modified":{t},"modifiedBy":"acc-{}","integrity":"EVENT:0:sha256-{:044x}"}}"#,
            i % 7,
            60.0 + (i % 400) as f64 / 10.0,
            i % 3,
            i % 3,
            (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        )
        .unwrap_or(());
        i += 1;
    }
    out
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / MIB as f64 / seconds
}

/// Counts what is written to it, keeping nothing.
struct Count(usize);
impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not, and then a quick
    // smoke run (unoptimized) is enough.
    let benching = std::env::args().any(|a| a == "--bench");
    let mib: usize = std::env::var("PRYV_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 256 } else { 2 });
    let sealer = Pryvbke1::with_passphrase("bench passphrase").expect("sealer");
    // 16 distinct blocks reused: generating JSON must not dominate the measure.
    let blocks: Vec<Vec<u8>> = (0..16).map(jsonl_block).collect();
    let plain_len: usize = (0..mib).map(|i| blocks[i % 16].len()).sum();

    // gzip + encrypt, into memory.
    let start = Instant::now();
    let mut sealed = Vec::new();
    {
        let writer = sealer.seal(Box::new(&mut sealed)).expect("seal");
        let mut gz = GzEncoder::new(writer, Compression::default());
        for i in 0..mib {
            gz.write_all(&blocks[i % 16]).expect("write");
        }
        gz.finish().expect("gzip").finish().expect("finish");
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "gzip+encrypt : {:7.1} MB/s of JSONL ({} MiB -> {:.1} MiB sealed, {seconds:.2} s)",
        mb_per_s(plain_len, seconds),
        plain_len / MIB,
        sealed.len() as f64 / MIB as f64
    );

    // decrypt + gunzip.
    let start = Instant::now();
    let reader = sealer.open(Box::new(sealed.as_slice())).expect("open");
    let mut count = Count(0);
    io::copy(&mut GzDecoder::new(reader), &mut count).expect("decrypt+gunzip");
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(count.0, plain_len);
    println!(
        "decrypt+gunzip: {:7.1} MB/s of JSONL ({seconds:.2} s)",
        mb_per_s(plain_len, seconds)
    );

    // The cipher alone, on the same plaintext volume (what attachments cost).
    let start = Instant::now();
    let mut raw_sealed = Vec::with_capacity(plain_len + plain_len / 1000 + 1024);
    {
        let mut writer = sealer.seal(Box::new(&mut raw_sealed)).expect("seal");
        for i in 0..mib {
            writer.write_all(&blocks[i % 16]).expect("write");
        }
        writer.finish().expect("finish");
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "encrypt only  : {:7.1} MB/s ({seconds:.2} s)",
        mb_per_s(plain_len, seconds)
    );
    let start = Instant::now();
    let mut reader = sealer.open(Box::new(raw_sealed.as_slice())).expect("open");
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).expect("decrypt");
        if n == 0 {
            break;
        }
        total += n;
    }
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(total, plain_len);
    println!(
        "decrypt only  : {:7.1} MB/s ({seconds:.2} s)",
        mb_per_s(plain_len, seconds)
    );
}
