//! Shared by postgres_live_backup.rs and sqlite_live_backup.rs: what "the core" writes while
//! a backup runs (issue #14), at which steps, and the backup and restore runs around it.

#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use pryv_backup::archive::{ArchiveReader, ArchiveWriter, Backend, WriterOptions};
use pryv_backup::backup::{self, BackupHook, BackupOptions, BackupReport, BackupStep};
use pryv_backup::chain::Chain;
use pryv_backup::engine::Engine;
use pryv_backup::model::UserRef;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};

pub const ALICE: &str = "cksamplealice0001";
pub const BOB: &str = "cksamplebobby0002";
pub const CAROL: &str = "cksamplecarol0003";
pub const DAVE: &str = "cksampledaves0004";

/// What the core does to a user's data, through its own connection, on one engine.
pub trait CoreWrites: Send + Sync {
    /// Changes one live event's content, stamped `ahead` seconds after the core's now.
    fn update_event(&self, user: &str, rank: i64, ahead: f64);
    fn create_event(&self, user: &str, new_id: &str);
    fn trash_event(&self, user: &str, rank: i64);
    /// A deletion as the live core leaves one.
    fn delete_event(&self, user: &str, rank: i64);
    fn trash_stream(&self, user: &str);
    fn rename_access(&self, user: &str);
    /// More writes inside alice's snapshot, where the engine has more to write.
    fn inside_alice(&self) {}
}

/// The hook of the test: before alice's snapshot it writes to the users not exported yet
/// (one event stamped 30 s ahead, as a core whose clock runs ahead); once inside each of
/// alice's and bob's snapshots, it writes to them and to bob while alice is exported.
/// `before_user` runs before each snapshot, after those writes (to record what the
/// snapshot must hold). Returns the hook and the users it wrote inside.
pub fn hook(
    core: Arc<dyn CoreWrites>,
    before_user: impl Fn(&UserRef) + Send + Sync + 'static,
) -> (BackupHook, Arc<Mutex<HashSet<String>>>) {
    let inside: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen = inside.clone();
    let hook = BackupHook(Arc::new(move |step: &BackupStep<'_>| match step {
        BackupStep::BeforeUser(user) => {
            if user.user_id == ALICE {
                // Users not exported yet: their snapshot must show all of this.
                core.update_event(BOB, 0, 0.0);
                core.update_event(BOB, 1, 30.0);
                core.create_event(CAROL, "ev-created-before-carol");
                core.rename_access(DAVE);
            }
            before_user(user);
        }
        BackupStep::BetweenCollections { user, .. } => {
            // Once per user, inside its snapshot: none of it is in the full backup.
            if !seen.lock().unwrap().insert(user.user_id.clone()) {
                return;
            }
            if user.user_id == ALICE {
                core.inside_alice();
                core.update_event(ALICE, 0, 0.0);
                core.create_event(ALICE, "ev-created-inside-alice");
                core.trash_stream(ALICE);
                core.rename_access(ALICE);
                // A user not exported yet, written while another is exported.
                core.trash_event(BOB, 2);
            }
            if user.user_id == BOB {
                core.delete_event(BOB, 3);
                core.create_event(BOB, "ev-created-inside-bob");
            }
        }
    }));
    (hook, inside)
}

fn options(engine_name: &str, hook: Option<BackupHook>) -> BackupOptions {
    BackupOptions {
        users: Vec::new(),
        previous: None,
        include_ephemeral: false,
        // One user at a time, so "not yet exported" means what it says.
        jobs: 1,
        engine_name: engine_name.into(),
        domain: "test".into(),
        core_version: "test".into(),
        clock_skew: 300.0,
        pii_key: None,
        hook,
    }
}

fn open_chain(dir: &Path) -> Chain {
    Chain::open(&Backend::Local, dir, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .unwrap()
    .unwrap()
}

/// A full backup of `engine` into `out`, with the hook.
pub fn full_backup(engine: &dyn Engine, out: &Path, hook: BackupHook) -> BackupReport {
    backup::run(
        engine,
        ArchiveWriter::create(out, WriterOptions::default()).unwrap(),
        &options("test", Some(hook)),
        &Silent,
    )
    .unwrap()
}

/// An incremental backup of `engine` on top of the chain in `out`.
pub fn incremental_backup(engine: &dyn Engine, out: &Path) {
    let chain = open_chain(out);
    let mut incremental = options("test", None);
    incremental.previous = Some(chain.previous_state().unwrap());
    backup::run(
        engine,
        ArchiveWriter::create(
            &chain.next_generation_dir().unwrap(),
            WriterOptions::default(),
        )
        .unwrap(),
        &incremental,
        &Silent,
    )
    .unwrap();
}

/// Restores the chain in `dir` into `engine`, every user.
pub fn restore_chain(engine: &dyn Engine, dir: &Path) {
    let chain = open_chain(dir);
    let options = RestoreOptions {
        jobs: 1,
        ..Default::default()
    };
    let report = restore::run(engine, &chain, dir, &options, &Silent).unwrap();
    assert!(report.is_complete(), "{report:?}");
}
