//! `manifest.json` parsing on arbitrary bytes: a reader or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pryv_backup::archive::ArchiveReader;

fuzz_target!(|data: &[u8]| {
    // One folder per fuzzing process, rewritten on each input.
    let dir = std::env::temp_dir().join(format!("pryv-backup-fuzz-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(dir.join("manifest.json"), data).is_ok() {
        let _ = ArchiveReader::open(&dir, None);
    }
});
