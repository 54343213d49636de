//! Parallel jobs on one PgEngine: each user gets its own connection, so two exports run at
//! the same time instead of one after the other.

mod postgres_support;

use std::io::Read;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres_support::*;
use pryv_backup::engine::{Engine, ImportOptions, MemoryUser, UserSink};
use pryv_backup::model::{Collection, Item};
use pryv_backup::sample::sample_platform;

/// Where both exports must be at once: each waits (up to a timeout, so a serialised engine
/// fails instead of hanging) until the other has arrived too.
#[derive(Default)]
struct Meeting {
    arrived: Mutex<usize>,
    all_here: Condvar,
}

impl Meeting {
    /// Whether the other export arrived while this one was still inside its export.
    fn meet(&self, expected: usize) -> bool {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, _) = self
            .all_here
            .wait_timeout_while(arrived, Duration::from_secs(20), |n| *n < expected)
            .unwrap();
        *arrived >= expected
    }
}

/// Collects like MemoryUser, and stops at the meeting on its first item.
struct MeetingSink<'m> {
    meeting: &'m Meeting,
    met: Option<bool>,
    data: MemoryUser,
}

impl UserSink for MeetingSink<'_> {
    fn item(&mut self, collection: Collection, item: &Item) -> pryv_backup::Result<()> {
        if self.met.is_none() {
            self.met = Some(self.meeting.meet(2));
        }
        self.data.item(collection, item)
    }

    fn account(&mut self, account: &Item) -> pryv_backup::Result<()> {
        self.data.account(account)
    }

    fn attachment(
        &mut self,
        event_id: &str,
        file_id: &str,
        data: &mut dyn Read,
    ) -> pryv_backup::Result<()> {
        self.data.attachment(event_id, file_id, data)
    }
}

#[test]
fn postgres_exports_two_users_at_the_same_time() {
    let (_db, engine) = empty_engine();
    let platform = sample_platform(3);
    for (user, data) in &platform {
        engine
            .import_user(user, data, &ImportOptions::default())
            .unwrap();
    }
    let meeting = Meeting::default();
    let results: Vec<(bool, MemoryUser)> = std::thread::scope(|s| {
        let jobs: Vec<_> = platform[..2]
            .iter()
            .map(|(user, _)| {
                let (engine, meeting) = (&engine, &meeting);
                s.spawn(move || {
                    let mut sink = MeetingSink {
                        meeting,
                        met: None,
                        data: MemoryUser::default(),
                    };
                    engine.export_user(user, &everything(), &mut sink).unwrap();
                    (sink.met == Some(true), sink.data)
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    for ((met, exported), (user, data)) in results.iter().zip(&platform) {
        assert!(
            met,
            "{} was exported alone: the exports ran one after the other",
            user.username
        );
        assert_eq!(
            exported.items_of(Collection::Events).len(),
            data.items_of(Collection::Events).len(),
            "{}",
            user.username
        );
    }

    // The connections went back to the pool and still work.
    let mut again = MemoryUser::default();
    engine
        .export_user(&platform[0].0, &everything(), &mut again)
        .unwrap();
    assert_eq!(
        again.items_of(Collection::Events),
        results[0].1.items_of(Collection::Events)
    );
}
