//! The generator against a real PostgreSQL: row counts, determinism, attachment chunks.

use pryv_backup_bench::digest::table_digests;
use pryv_backup_bench::generate::{generate, Options};

fn small(seed: u64) -> Options {
    Options {
        users: 3,
        events: 2000,
        seed,
        big_user_share: 0.5,
        attachment_bytes: 3 * 1024 * 1024 + 12_345,
        series_points: 5000,
        audit_rows: 300,
    }
}

fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).expect(sql).get(0)
}

#[test]
fn small_platform_has_expected_rows_and_is_deterministic() {
    let mut first = testbed::pg_database();
    let summary = generate(first.client(), &small(7)).expect("generate");
    let c = first.client();

    assert_eq!(count(c, "SELECT count(*) FROM users_index"), 3);
    assert_eq!(count(c, "SELECT count(*) FROM streams"), 3 * 12);
    assert_eq!(count(c, "SELECT count(*) FROM profile"), 3 * 3);
    assert_eq!(count(c, "SELECT count(*) FROM audit_events"), 300);
    assert_eq!(count(c, "SELECT count(*) FROM series_data"), 5000);
    assert_eq!(
        count(c, "SELECT count(*) FROM attachment_files"),
        summary.rows("attachment_files").unwrap_or(0) as i64
    );
    // Regular events, minus deletion records, plus history versions, attachment and series events.
    let regular = count(
        c,
        "SELECT count(*) FROM events WHERE head_id IS NULL AND (type IS NULL OR \
         (type <> 'picture/attached' AND type NOT LIKE 'series:%'))",
    );
    assert_eq!(regular, 2000);
    assert_eq!(
        count(c, "SELECT count(*) FROM events"),
        summary.rows("events").unwrap_or(0) as i64
    );
    assert_eq!(
        count(
            c,
            "SELECT count(*) FROM events WHERE type = 'series:mass/kg'"
        ),
        1
    );
    let big_user = count(
        c,
        "SELECT count(*) FROM events e JOIN users_index u ON u.user_id = e.user_id \
         WHERE u.username = 'bigcorp-health' AND e.head_id IS NULL AND e.type <> 'picture/attached' \
         AND e.type NOT LIKE 'series:%' OR (u.username = 'bigcorp-health' AND e.type IS NULL)",
    );
    assert_eq!(big_user, 1000, "the big user owns half the regular events");
    assert!(
        count(
            c,
            "SELECT count(*) FROM events WHERE integrity LIKE 'EVENT:0:sha256-%'"
        ) > 1900
    );
    assert!(count(c, "SELECT count(*) FROM events WHERE deleted IS NOT NULL") > 0);
    assert!(count(c, "SELECT count(*) FROM events WHERE head_id IS NOT NULL") > 0);
    assert_eq!(
        count(
            c,
            "SELECT count(*) FROM events WHERE head_id IS NULL AND deleted IS NULL"
        ) + count(
            c,
            "SELECT count(*) FROM events WHERE head_id IS NULL AND deleted IS NULL \
             AND type = 'blood-pressure/mmhg-bpm'"
        ),
        count(c, "SELECT count(*) FROM event_streams"),
        "one event_streams row per stream of each live head event"
    );

    // Every attachment's chunks: 1 MiB each but the last, hashing to the event's integrity.
    let files = c
        .query(
            "SELECT a->>'integrity', (a->>'size')::bigint, \
               'sha256-' || encode(sha256(string_agg(f.data, ''::bytea ORDER BY f.seq)), 'base64'), \
               sum(length(f.data)), max(f.seq) + 1, count(*) FILTER (WHERE length(f.data) <> 1048576) \
             FROM events e CROSS JOIN LATERAL jsonb_array_elements(e.attachments) a \
             JOIN attachment_files f ON f.user_id = e.user_id AND f.event_id = e.id AND f.file_id = a->>'id' \
             GROUP BY 1, 2",
            &[],
        )
        .expect("attachments");
    assert!(!files.is_empty());
    let mut total: i64 = 0;
    for f in &files {
        let (declared, size, actual, stored, chunks, short): (String, i64, String, i64, i32, i64) = (
            f.get(0),
            f.get(1),
            f.get(2),
            f.get::<_, Option<i64>>(3).unwrap_or(0),
            f.get(4),
            f.get(5),
        );
        assert_eq!(declared, actual);
        assert_eq!(size, stored);
        assert_eq!(chunks as i64, (size + 1_048_575) / 1_048_576);
        assert!(short <= 1);
        total += size;
    }
    assert_eq!(total, 3 * 1024 * 1024 + 12_345);

    // Same seed: the same rows, table by table; another seed: other events.
    let mut second = testbed::pg_database();
    generate(second.client(), &small(7)).expect("generate again");
    let a = table_digests(first.client()).expect("digest");
    let b = table_digests(second.client()).expect("digest");
    assert_eq!(a, b);
    assert!(a.iter().any(|d| d.table == "events" && d.rows > 2000));

    let mut third = testbed::pg_database();
    generate(third.client(), &small(8)).expect("generate other seed");
    let c3 = table_digests(third.client()).expect("digest");
    let events = |ds: &[pryv_backup_bench::digest::TableDigest]| {
        ds.iter()
            .find(|d| d.table == "events")
            .map(|d| d.md5.clone())
    };
    assert_ne!(events(&a), events(&c3));
}

#[test]
fn refuses_a_database_with_tables() {
    let mut db = testbed::pg_database();
    db.client()
        .batch_execute("CREATE TABLE precious (x int)")
        .expect("create");
    let err = generate(db.client(), &small(1)).expect_err("must refuse");
    assert!(err.to_string().contains("EMPTY"), "{err}");
}

/// Keys and indexes built after the load give exactly the library's schema.
#[test]
fn schema_is_the_librarys() {
    let describe = |c: &mut postgres::Client| -> Vec<String> {
        let mut out: Vec<String> = c
            .query(
                "SELECT indexname || ': ' || indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() ORDER BY 1",
                &[],
            )
            .expect("indexes")
            .iter()
            .map(|r| r.get(0))
            .collect();
        out.extend(
            c.query(
                "SELECT concat_ws(' ', table_name, ordinal_position, column_name, data_type, \
                 is_nullable, column_default) FROM information_schema.columns \
                 WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
                &[],
            )
            .expect("columns")
            .iter()
            .map(|r| r.get::<_, String>(0)),
        );
        out
    };
    let mut direct = testbed::pg_database();
    direct
        .client()
        .batch_execute(pryv_backup::engines::postgres::schema::DDL)
        .expect("library DDL");
    let mut generated = testbed::pg_database();
    generate(
        generated.client(),
        &Options {
            users: 1,
            events: 10,
            attachment_bytes: 0,
            series_points: 0,
            audit_rows: 0,
            ..small(1)
        },
    )
    .expect("generate");
    let expected = describe(direct.client());
    assert!(expected.iter().any(|l| l.starts_with("events_pkey: ")));
    assert_eq!(describe(generated.client()), expected);
}
