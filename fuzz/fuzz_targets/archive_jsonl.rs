//! The archive's JSONL reader on arbitrary bytes, plain and as gzip: it must never panic
//! (errors are fine).
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pryv_backup::archive::read_jsonl;

fuzz_target!(|data: &[u8]| {
    for gzip in [false, true] {
        let lines = read_jsonl(Box::new(Cursor::new(data.to_vec())), Path::new("fuzz.jsonl"), gzip);
        for item in lines.take(10_000) {
            let _ = item;
        }
    }
});
