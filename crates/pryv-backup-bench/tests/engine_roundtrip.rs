//! Generated rows are rows the library's PostgreSQL engine reads back as valid items: every
//! integrity hash checks (also after `touch`), and an export imported into another empty
//! database gives the same tables.

use pryv_backup::engine::MemoryUser;
use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::integrity::{check, Check, ItemKind};
use pryv_backup::model::Collection;
use pryv_backup_bench::digest::table_digests;
use pryv_backup_bench::generate::{generate, Options};
use pryv_backup_bench::touch::touch_events;

#[test]
fn generated_platform_round_trips_through_the_engine() {
    let mut source = testbed::pg_database();
    let options = Options {
        users: 3,
        events: 1500,
        seed: 11,
        big_user_share: 0.5,
        attachment_bytes: 2 * 1024 * 1024 + 7,
        series_points: 3000,
        audit_rows: 200,
    };
    generate(source.client(), &options).expect("generate");
    let touched = touch_events(source.client(), 5).expect("touch");
    assert!(touched > 20, "touched {touched}");

    let engine = PgEngine::connect(source.conn_str(), None).expect("connect source");
    let export = ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: false,
    };
    let target = testbed::pg_database();
    let restored = PgEngine::connect(target.conn_str(), None).expect("connect target");
    restored.ensure_schema().expect("schema");

    let users = engine.users().expect("users");
    assert_eq!(users.len(), 3);
    for user in &users {
        let mut data = MemoryUser::default();
        engine
            .export_user(user, &export, &mut data)
            .expect("export");
        for (collection, kind) in [
            (Collection::Events, ItemKind::Event),
            (Collection::Accesses, ItemKind::Access),
        ] {
            for item in data.items_of(collection) {
                match check(kind, item) {
                    Check::Valid => {}
                    Check::Absent if item.get("deleted").is_some() => {}
                    other => panic!("{collection:?} item {item}: {other:?}"),
                }
            }
        }
        let import = ImportOptions {
            overwrite: false,
            verify_integrity: true,
        };
        restored.import_user(user, &data, &import).expect("import");
    }
    let mut platform = Vec::new();
    engine
        .export_platform(&mut |item| {
            platform.push(item.clone());
            Ok(())
        })
        .expect("export platform");
    restored
        .import_platform(&mut platform.into_iter().map(Ok))
        .expect("import platform");

    let mut target = target;
    let before = table_digests(source.client()).expect("digest source");
    let after = table_digests(target.client()).expect("digest target");
    let differing: Vec<String> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("{} ({} rows vs {})", a.table, a.rows, b.rows))
        .collect();
    let mut samples = Vec::new();
    for (a, _) in before.iter().zip(&after).filter(|(a, b)| a != b) {
        samples.extend(rows_only_in(source.client(), target.client(), &a.table));
    }
    assert!(
        differing.is_empty(),
        "tables differ after a round trip: {differing:?}; e.g.\n{}",
        samples.join("\n")
    );
}

/// A few rows of `table` (as text) found in one database and not the other.
fn rows_only_in(a: &mut postgres::Client, b: &mut postgres::Client, table: &str) -> Vec<String> {
    let sql = format!("SELECT t::text FROM {table} t");
    let rows = |c: &mut postgres::Client| -> std::collections::BTreeSet<String> {
        c.query(&sql, &[])
            .expect("rows")
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let (ra, rb) = (rows(a), rows(b));
    let mut out: Vec<String> = ra
        .difference(&rb)
        .take(3)
        .map(|r| format!("source: {r}"))
        .collect();
    out.extend(rb.difference(&ra).take(3).map(|r| format!("target: {r}")));
    out
}
