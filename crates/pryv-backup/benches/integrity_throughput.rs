//! Single-core throughput of the integrity hash (canonical text + SHA-256) on event items
//! shaped like the bench platform's: what `--verify-integrity` computes for every event.
//! `cargo bench -p pryv-backup --bench integrity_throughput`; PRYV_BENCH_EVENTS sets the
//! count (default 200 000).

use std::time::Instant;

use pryv_backup::integrity::{self, ItemKind};
use serde_json::{json, Value};

/// Events of the kinds the generator writes most: notes with unicode, tabs and newlines;
/// scalar measures; positions.
fn event(i: usize) -> Value {
    let t = 1_700_000_000.0 + i as f64 * 0.731;
    let (kind, content) = match i % 3 {
        0 => (
            "note/txt",
            json!(format!(
                "Note {i}: température 37,{} °C\tressenti « bien »\nvu le Dr Müller — ok",
                i % 10
            )),
        ),
        1 => ("mass/kg", json!(60.0 + (i % 400) as f64 / 10.0)),
        _ => (
            "position/wgs84",
            json!({"latitude": 46.5 + (i % 100) as f64 / 1e4, "longitude": 6.6, "altitude": 372}),
        ),
    };
    json!({
        "id": format!("c{i:024x}"),
        "streamIds": [format!("stream-{}", i % 12)],
        "type": kind,
        "content": content,
        "time": t,
        "tags": [],
        "created": t,
        "createdBy": format!("acc-{}", i % 3),
        "modified": t,
        "modifiedBy": format!("acc-{}", i % 3),
        "integrity": "EVENT:0:sha256-placeholder",
    })
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not, and then a quick
    // smoke run (unoptimized) is enough.
    let benching = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("PRYV_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 200_000 } else { 1_000 });
    let events: Vec<Value> = (0..count).map(event).collect();

    let mut best = f64::INFINITY;
    let mut checksum = 0usize;
    for _ in 0..5 {
        let start = Instant::now();
        for e in &events {
            checksum = checksum.wrapping_add(integrity::compute(ItemKind::Event, e).len());
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "integrity::compute, {count} events: best of 5 {:.3} s, {:.0} events/s, {:.2} µs/event (checksum {checksum})",
        best,
        count as f64 / best,
        best * 1e6 / count as f64
    );
}
