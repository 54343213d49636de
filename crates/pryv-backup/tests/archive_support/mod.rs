//! Shared by the tests that back up and restore through the library: the test backup
//! options, a whole backup into a local folder, a local unencrypted chain opened and
//! restored.

#![allow(dead_code)]

use std::path::Path;

use pryv_backup::archive::{ArchiveReader, ArchiveWriter, Backend, WriterOptions};
use pryv_backup::backup::{self, BackupOptions};
use pryv_backup::chain::Chain;
use pryv_backup::engine::Engine;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};

/// Imports the sample platform (seed 7: its four users) into `engine`.
pub fn fill_with_sample(engine: &dyn Engine) {
    for (user, data) in pryv_backup::sample::sample_platform(7) {
        engine
            .import_user(&user, &data, &pryv_backup::engine::ImportOptions::default())
            .expect("sample import");
    }
}

/// A full backup of every user, ephemeral data included, two jobs; tests override the rest.
pub fn backup_options(engine_name: &str, domain: &str) -> BackupOptions {
    BackupOptions {
        users: Vec::new(),
        previous: None,
        include_ephemeral: true,
        jobs: 2,
        engine_name: engine_name.into(),
        domain: domain.into(),
        core_version: "test".into(),
        pii_key: None,
        clock_skew: 300.0,
        hook: None,
    }
}

/// Backs `engine` up into a new archive at `dir`.
pub fn backup_into(engine: &dyn Engine, dir: &Path, options: &BackupOptions) {
    let writer = ArchiveWriter::create(dir, WriterOptions::default()).expect("archive");
    backup::run(engine, writer, options, &Silent).expect("backup");
}

/// Backs `engine` up into the local chain at `chain_dir`: a full backup when there is none
/// yet, else the next increment, every user read (so the generation records the install's
/// users); no clock margin.
pub fn back_up_next_generation(engine: &dyn Engine, chain_dir: &Path, engine_name: &str) {
    let opened = Chain::open(&Backend::Local, chain_dir, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .expect("open");
    let (dir, previous) = match opened {
        None => (chain_dir.to_path_buf(), None),
        Some(chain) => (
            chain.next_generation_dir().expect("next"),
            Some(chain.previous_state().expect("previous state")),
        ),
    };
    let mut options = backup_options(engine_name, "https://chain.example");
    options.previous = previous;
    options.clock_skew = 0.0;
    backup_into(engine, &dir, &options);
}

/// The complete, unencrypted chain in the local folder `dir`.
pub fn open_local_chain(dir: &Path) -> Chain {
    Chain::open(&Backend::Local, dir, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .expect("open")
    .expect("complete backup")
}

/// Restores the local chain at `dir` into `engine` (checking integrity, two jobs, replacing
/// existing users if `overwrite`); the restore must complete.
pub fn restore_verified(dir: &Path, engine: &dyn Engine, overwrite: bool) {
    let chain = open_local_chain(dir);
    let report = restore::run(
        engine,
        &chain,
        dir,
        &RestoreOptions {
            overwrite,
            verify_integrity: true,
            jobs: 2,
            ..Default::default()
        },
        &Silent,
    )
    .expect("restore");
    assert!(report.is_complete(), "{report:?}");
}
