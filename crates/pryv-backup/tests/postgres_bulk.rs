//! Timing of a larger user (ignored by default: `cargo test -p pryv-backup --test postgres_bulk
//! -- --ignored --nocapture`).

mod postgres_support;

use std::time::Instant;

use postgres_support::*;
use pryv_backup::engine::{Engine, ImportOptions, MemoryUser};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::model::Collection;

#[test]
#[ignore]
fn postgres_bulk_export_and_import_timing() {
    const EVENTS: usize = 100_000;
    let mut source_db = testbed::pg_database();
    pryv_backup::engines::postgres::schema::create(source_db.client()).unwrap();
    insert_user(source_db.client(), "cbulk0000001", "bulk", EVENTS);
    let source = PgEngine::connect(source_db.conn_str(), None).unwrap();
    let user = source.users().unwrap().remove(0);

    let started = Instant::now();
    let mut data = MemoryUser::default();
    source.export_user(&user, &everything(), &mut data).unwrap();
    let export = started.elapsed();
    assert_eq!(data.items_of(Collection::Events).len(), EVENTS + 4);

    let (target_db, target) = empty_engine();
    let started = Instant::now();
    target
        .import_user(&user, &data, &ImportOptions::default())
        .unwrap();
    let import = started.elapsed();
    println!("{EVENTS} events: export {export:?}, import {import:?}");
    // The platform's entries are not restored here.
    assert_same(
        &without(dump(&mut source_db.connect()), &["platform_kv"]),
        &without(dump(&mut target_db.connect()), &["platform_kv"]),
    );
}
