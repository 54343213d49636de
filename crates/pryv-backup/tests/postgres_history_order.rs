//! History versions of one event made in the same millisecond (creating an event with an
//! attachment makes two): the core lists an event's history `ORDER BY modified`, ties in
//! the table's physical order. A restore must give them back in the order the source gives.

mod postgres_support;

use postgres_support::*;
use pryv_backup::engine::{Engine, ImportOptions};

/// The core's history read (open-pryv.io f773ccb6, `getHistory` of its PostgreSQL events).
fn history_as_the_core_reads_it(client: &mut postgres::Client, uid: &str) -> Vec<String> {
    client
        .query(
            "SELECT id FROM events WHERE user_id = $1 AND head_id = $2 ORDER BY modified ASC",
            &[&uid, &"ev-1"],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn postgres_history_versions_of_the_same_millisecond_keep_their_order() {
    let uid = "chistoryorder0001";
    let (mut source_db, source) = empty_engine();
    source.ensure_schema().unwrap();
    insert_user(source_db.client(), uid, "hana", 3);
    // Written in this order, ids against it: an id order would swap them.
    source_db
        .client()
        .batch_execute(&format!(
            "INSERT INTO events (user_id, id, head_id, stream_ids, time, type, content, integrity, trashed, created, created_by, modified, modified_by) VALUES
             ('{uid}', 'ev-hist-z', 'ev-1', '[\"weight\"]', 1763981037.125, 'note/txt', '\"second version\"', 'EVENT:0:z', false, 1763981037, 'acc-app', 1763981100.5, 'acc-app');
             INSERT INTO events (user_id, id, head_id, stream_ids, time, type, content, integrity, trashed, created, created_by, modified, modified_by) VALUES
             ('{uid}', 'ev-hist-a', 'ev-1', '[\"weight\"]', 1763981037.125, 'note/txt', '\"third version\"', 'EVENT:0:a', false, 1763981037, 'acc-app', 1763981100.5, 'acc-app');"
        ))
        .unwrap();
    let in_source = history_as_the_core_reads_it(source_db.client(), uid);
    assert_eq!(in_source, ["ev-hist-1", "ev-hist-z", "ev-hist-a"]);

    let (mut target_db, target) = empty_engine();
    for (user, data) in export_all(&source) {
        target
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }
    assert_eq!(
        history_as_the_core_reads_it(target_db.client(), uid),
        in_source
    );
}
