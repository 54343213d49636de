//! A manifest's user entries, which grow with the install, are not held parsed by its
//! readers: the heap a read manifest keeps is counted by this test binary's allocator.
//! The entries copy those pryv-backup writes for a generated install (stats of every
//! collection, two chunk lists, `snapshotTime`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pryv_backup::archive::Manifest;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USERS: usize = 50_000;

fn manifest_text() -> String {
    let mut text = String::from(
        r#"{"formatVersion":1,"coreVersion":"1.9.3","config":{},"backupType":"full","backupTimestamp":1796694577976,"snapshotBefore":1796694577.5,"users":["#,
    );
    for i in 0..USERS {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"userId":"c{i:024}","username":"user{i:06}","backupTimestamp":1796694577976,"stats":{{"streams":12,"accesses":3,"profile":3,"webhooks":1,"events":10,"audit":2,"series":0,"attachments":0}},"chunks":{{"events":["events-0001.jsonl.gz"],"audit":["audit-0001.jsonl.gz"]}},"snapshotTime":1796694877.976}}"#
        ));
    }
    text.push_str(r#"],"compressed":true}"#);
    text
}

#[test]
fn a_read_manifest_keeps_its_user_entries_off_the_heap() {
    let text = manifest_text();
    let before = LIVE.load(Ordering::Relaxed);
    let manifest: Manifest = serde_json::from_str(&text).unwrap();
    let held = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(manifest.users.len(), USERS);
    let last = manifest.users.get(USERS - 1).unwrap();
    assert_eq!(last.username, format!("user{:06}", USERS - 1));
    assert_eq!(last.stat("events"), 10);
    // Parsed, the entries took ~880 bytes a user; ids and names plus where each entry is
    // spooled take under 100.
    assert!(
        held < USERS * 100,
        "the manifest holds {held} bytes for {USERS} users ({} a user)",
        held / USERS
    );
}
