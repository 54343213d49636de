//! A small, deterministic Pryv.io platform with every kind of data a backup carries, in the
//! core's export shapes: for demos and round-trip tests.
//!
//! Events and accesses carry real integrity hashes (so `--verify-integrity` passes on them);
//! attachment-level `integrity` strings are well-formed placeholders.
//! Events carry no `tags` (the core's SQLite schema cannot store them, see docs §9.3).

use serde_json::{json, Value};

use crate::engine::MemoryUser;
use crate::integrity::{self, ItemKind};
use crate::json::number_from_f64;
use crate::model::{Collection, Item, UserRef};

/// Seconds; every timestamp of the sample is after this.
const T0: f64 = 1_763_980_000.0;

/// The sample users: (userId, username, how much data).
const USERS: [(&str, &str, Richness); 4] = [
    ("cksamplealice0001", "alice", Richness::Full),
    ("cksamplebobby0002", "bob", Richness::Full),
    ("cksamplecarol0003", "carol", Richness::Small),
    ("cksampledaves0004", "dave", Richness::Empty),
];

#[derive(Clone, Copy, PartialEq)]
enum Richness {
    Full,
    Small,
    Empty,
}

/// The platform: 4 users, two with everything, one with a little, one with only an account.
pub fn sample_platform(seed: u64) -> Vec<(UserRef, MemoryUser)> {
    USERS
        .iter()
        .enumerate()
        .map(|(i, (user_id, username, richness))| {
            let mut rng = Rng::new(seed.wrapping_add(i as u64 * 7919));
            let user = UserRef {
                user_id: user_id.to_string(),
                username: username.to_string(),
            };
            let mut data = sample_user(&user, *richness, language_of(seed, i), &mut rng);
            seal_integrity(&mut data);
            (user, data)
        })
        .collect()
}

/// Replaces each event's and access's placeholder `integrity` by the hash the core would store.
fn seal_integrity(data: &mut MemoryUser) {
    for (collection, kind) in [
        (Collection::Events, ItemKind::Event),
        (Collection::Accesses, ItemKind::Access),
    ] {
        for item in data.collections.get_mut(&collection).into_iter().flatten() {
            if item.get("integrity").is_some_and(|v| v.is_string()) {
                let hash = integrity::compute(kind, item);
                item["integrity"] = Value::String(hash);
            }
        }
    }
}

/// Platform-wide entries (unique and indexed account fields), as the platform DB exports them.
pub fn sample_platform_entries(seed: u64) -> Vec<Item> {
    let mut out = Vec::new();
    for (_, username, _) in USERS {
        out.push(json!({"username": username, "field": "email", "value": format!("{username}@example.com"), "isUnique": true}));
    }
    for (i, (_, username, _)) in USERS.iter().enumerate() {
        let language = language_of(seed, i);
        out.push(json!({"username": username, "field": "language", "value": language, "isUnique": false}));
    }
    out
}

/// The user's current language (the last entry of its `language` account field history).
fn language_of(seed: u64, user_index: usize) -> &'static str {
    const LANGUAGES: [&str; 4] = ["fr", "en", "de", "it"];
    LANGUAGES[(seed as usize).wrapping_add(user_index) % LANGUAGES.len()]
}

fn sample_user(user: &UserRef, richness: Richness, language: &str, rng: &mut Rng) -> MemoryUser {
    let mut data = MemoryUser {
        account: Some(account(user, language)),
        ..MemoryUser::default()
    };
    let personal = json!({"id": "acc-personal", "token": format!("tok-personal-{}", user.user_id),
        "name": "pryv-browser", "type": "personal", "permissions": [],
        "created": n(T0), "createdBy": "system", "modified": n(T0), "modifiedBy": "system",
        "integrity": placeholder_integrity("ACCESS", rng)});
    data.collections
        .insert(Collection::Accesses, vec![personal]);
    if richness == Richness::Empty {
        return data;
    }
    data.collections.insert(Collection::Streams, streams());
    data.collections
        .insert(Collection::Profile, profile(user, rng));
    let mut events = events(user, rng, if richness == Richness::Full { 24 } else { 4 });
    if richness == Richness::Full {
        data.collections
            .entry(Collection::Accesses)
            .or_default()
            .extend(more_accesses(user, rng));
        data.collections
            .insert(Collection::Webhooks, webhooks(user));
        events.extend(special_events(user, rng, &mut data));
        data.collections.insert(
            Collection::Series,
            vec![series("ev-series-1", rng), series("event.ev-series-1", rng)],
        );
        data.collections.insert(Collection::Audit, audit(rng));
    }
    data.collections.insert(Collection::Events, events);
    data
}

fn streams() -> Vec<Item> {
    vec![
        json!({"id": "health", "name": "Health", "parentId": null,
            "created": n(T0), "createdBy": "acc-personal", "modified": n(T0), "modifiedBy": "acc-personal"}),
        json!({"id": "weight", "name": "Weight", "parentId": "health", "clientData": {"color": "#ff0000"},
            "created": n(T0 + 1.0), "createdBy": "acc-personal", "modified": n(T0 + 1.0), "modifiedBy": "acc-personal"}),
        json!({"id": "weight-morning", "name": "Morning ✓ ünïcødé", "parentId": "weight",
            "created": n(T0 + 1.5), "createdBy": "acc-app", "modified": n(T0 + 1.5), "modifiedBy": "acc-app"}),
        json!({"id": "notes", "name": "Notes", "parentId": null, "trashed": true,
            "created": n(T0 + 2.0), "createdBy": "acc-app", "modified": n(T0 + 50.0), "modifiedBy": "acc-app"}),
        json!({"id": "old-stream", "deleted": n(T0 + 60.25)}),
    ]
}

fn more_accesses(user: &UserRef, rng: &mut Rng) -> Vec<Item> {
    vec![
        json!({"id": "acc-app", "token": format!("tok-app-{}", user.user_id), "name": "diary-app", "type": "app",
            "deviceName": "phone",
            "permissions": [{"streamId": "health", "level": "contribute"}, {"streamId": "notes", "level": "manage"}],
            "clientData": {"app": {"version": "1.2.3"}},
            "created": n(T0 + 3.0), "createdBy": "acc-personal", "modified": n(T0 + 3.0), "modifiedBy": "acc-personal",
            "lastUsed": n(T0 + 100.0), "calls": {"events:create": 12, "events:get": 40},
            "integrity": placeholder_integrity("ACCESS", rng)}),
        json!({"id": "acc-app-v0", "headId": "acc-app", "token": format!("tok-app-{}", user.user_id),
            "name": "diary-app", "type": "app", "deviceName": "phone",
            "permissions": [{"streamId": "health", "level": "read"}],
            "created": n(T0 + 3.0), "createdBy": "acc-personal", "modified": n(T0 + 2.5), "modifiedBy": "acc-personal"}),
        json!({"id": "acc-shared", "token": format!("tok-shared-{}", user.user_id), "name": "doctor", "type": "shared",
            "deviceName": "clinic", "permissions": [{"streamId": "weight", "level": "read"}], "expires": n(T0 + 31_536_000.0),
            "created": n(T0 + 4.0), "createdBy": "acc-app", "modified": n(T0 + 4.0), "modifiedBy": "acc-app",
            "integrity": placeholder_integrity("ACCESS", rng)}),
        json!({"id": "acc-gone", "token": format!("tok-gone-{}", user.user_id), "name": "old", "type": "shared",
            "deviceName": "laptop", "permissions": [{"streamId": "*", "level": "read"}],
            "created": n(T0 + 5.0), "createdBy": "acc-personal", "modified": n(T0 + 5.0), "modifiedBy": "acc-personal",
            "deleted": n(T0 + 70.5)}),
    ]
}

fn profile(user: &UserRef, rng: &mut Rng) -> Vec<Item> {
    vec![
        json!({"id": "public", "data": {"displayName": user.username.to_uppercase()}}),
        json!({"id": "private", "data": {"language": "fr", "weightGoal": n(rng.value(50.0, 90.0))}}),
        json!({"id": "diary-app", "data": {"theme": "dark", "big": Value::Number("12345678901234567000".parse().unwrap_or(0.into()))}}),
    ]
}

fn webhooks(user: &UserRef) -> Vec<Item> {
    vec![
        json!({"id": "wh-1", "accessId": "acc-app", "url": format!("https://hooks.example.com/{}", user.username),
            "state": "active", "runCount": 3, "failCount": 0,
            "lastRun": {"status": 200, "timestamp": n(T0 + 80.0)}, "runs": [{"status": 200, "timestamp": n(T0 + 80.0)}],
            "currentRetries": 0, "maxRetries": 5, "minIntervalMs": 5000,
            "created": n(T0 + 6.0), "createdBy": "acc-app", "modified": n(T0 + 80.0), "modifiedBy": "system"}),
        json!({"id": "wh-old", "deleted": n(T0 + 90.0)}),
    ]
}

/// Plain live events of several types; a few trashed or described.
fn events(user: &UserRef, rng: &mut Rng, count: usize) -> Vec<Item> {
    (0..count)
        .map(|i| {
            let t = n(T0 + 1000.0 + i as f64 * 37.125);
            let (stream, kind, content) = match i % 3 {
                0 => ("weight", "mass/kg", n(rng.value(40.0, 120.0))),
                1 => ("health", "position/wgs84", json!({"latitude": n(rng.value(46.0, 48.0) + 0.000001),
                    "longitude": n(rng.value(6.0, 8.0) + 0.0000003), "altitude": n(372.5)})),
                _ => ("weight-morning", "note/txt", json!(format!("note {i} of {} ✓", user.username))),
            };
            let mut event = json!({"id": format!("ev-{}-{i:04}", user.username), "streamIds": [stream],
                "time": t, "endTime": t, "type": kind, "content": content,
                "created": t, "createdBy": "acc-app", "modified": t, "modifiedBy": "acc-app",
                "integrity": placeholder_integrity("EVENT", rng)});
            if i % 7 == 3 {
                event["trashed"] = json!(true);
            }
            if i % 5 == 4 {
                event["description"] = json!("edited");
                event["clientData"] = json!({"source": "sample", "rank": i});
            }
            event
        })
        .collect()
}

/// A running event, a deletion, a version with headId, an event with two attachments and a
/// series event; attachment bytes go into `data.attachments`.
fn special_events(user: &UserRef, rng: &mut Rng, data: &mut MemoryUser) -> Vec<Item> {
    let photo: Vec<u8> = (0..5000).map(|_| rng.next() as u8).collect();
    let report = format!("%PDF-1.4 report for {}\n", user.username).into_bytes();
    let photo_id = format!("att-{}-1", user.username);
    let report_id = format!("att-{}-2", user.username);
    let ev_files = "ev-with-files";
    data.attachments
        .insert(photo_id.clone(), (ev_files.to_string(), photo.clone()));
    data.attachments
        .insert(report_id.clone(), (ev_files.to_string(), report.clone()));
    let head = format!("ev-{}-0000", user.username);
    vec![
        json!({"id": "ev-running", "streamIds": ["health"], "time": n(T0 + 5.0), "endTime": null,
            "type": "activity/plain", "created": n(T0 + 5.0), "createdBy": "acc-app", "modified": n(T0 + 5.0),
            "modifiedBy": "acc-app", "integrity": placeholder_integrity("EVENT", rng)}),
        json!({"id": "ev-hist-1", "headId": head, "streamIds": ["weight"], "time": n(T0 + 1000.0), "endTime": n(T0 + 1000.0),
            "type": "mass/kg", "content": n(70.1), "created": n(T0 + 999.0), "createdBy": "acc-app",
            "modified": n(T0 + 999.0), "modifiedBy": "acc-app"}),
        json!({"id": "ev-deleted", "deleted": n(T0 + 90.75)}),
        json!({"id": ev_files, "streamIds": ["health", "notes"], "time": n(T0 + 7.0), "endTime": n(T0 + 7.0),
            "type": "picture/attached",
            "attachments": [
                {"id": photo_id, "fileName": "photo.jpg", "type": "image/jpeg", "size": photo.len(),
                 "integrity": placeholder_integrity("sha256", rng)},
                {"id": report_id, "fileName": "report.pdf", "type": "application/pdf", "size": report.len(),
                 "integrity": placeholder_integrity("sha256", rng)}],
            "created": n(T0 + 7.0), "createdBy": "acc-app", "modified": n(T0 + 7.0), "modifiedBy": "acc-app",
            "integrity": placeholder_integrity("EVENT", rng)}),
        json!({"id": "ev-series-1", "streamIds": ["weight"], "time": n(T0 + 8.0), "endTime": n(T0 + 8.0),
            "type": "series:mass/kg", "created": n(T0 + 8.0), "createdBy": "acc-app",
            "modified": n(T0 + 8.0), "modifiedBy": "acc-app", "integrity": placeholder_integrity("EVENT", rng)}),
    ]
}

/// Points of a series event; `event.<id>` is how the HF server names its measurements.
fn series(measurement: &str, rng: &mut Rng) -> Item {
    // A point every half second; times in milliseconds, as the core's engines export them.
    let points: Vec<Value> = (0..20)
        .map(|i| json!({"time": n(i as f64 * 500.0), "value": n(rng.value(0.0, 100.0))}))
        .collect();
    crate::series_time::measurement_item(measurement.to_string(), points)
}

/// Audit rows in the PostgreSQL raw shape (docs §4).
fn audit(rng: &mut Rng) -> Vec<Item> {
    (0..6)
        .map(|i| {
            let t = n(T0 + 2000.0 + i as f64);
            json!({"eventid": format!("audit-{i}-{}", rng.next() % 100_000), "head_id": null,
                "stream_ids": "access-acc-app action-events.get ..", "time": t, "deleted": null, "end_time": t,
                "type": "audit-log/pryv-api",
                "content": {"source": {"name": "http", "ip": "127.0.0.1"}, "action": "events.get", "query": {"limit": 20}},
                "description": null, "client_data": null, "integrity": null, "attachments": null, "trashed": false,
                "created": t, "created_by": "system", "modified": t, "modified_by": "system"})
        })
        .collect()
}

fn account(user: &UserRef, language: &str) -> Item {
    json!({
        "passwords": [
            {"time": n(T0), "hash": "$2b$10$abcdefghijklmnopqrstuuJ3xQ9m1N0o2p3q4r5s6t7u8v9w0x1y2", "createdBy": "system"},
            {"time": n(T0 + 500.5), "hash": "$2b$10$zyxwvutsrqponmlkjihgfeK3xQ9m1N0o2p3q4r5s6t7u8v9w0x1y2", "createdBy": "acc-personal"}
        ],
        "storeKeyValues": [
            {"storeId": "local", "key": "lastSync", "value": {"t": n(T0 + 10.0)}},
            {"storeId": "local", "key": "plain", "value": "text"}
        ],
        "accountFields": [
            {"field": "email", "value": format!("{}@example.com", user.username), "time": n(T0), "createdBy": "system"},
            {"field": "language", "value": "en", "time": n(T0), "createdBy": "system"},
            {"field": "language", "value": language, "time": n(T0 + 400.0), "createdBy": "acc-personal"}
        ]
    })
}

fn placeholder_integrity(kind: &str, rng: &mut Rng) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..32).map(|_| rng.next() as u8).collect();
    let digest = base64::engine::general_purpose::STANDARD.encode(bytes);
    if kind == "sha256" {
        format!("sha256-{digest}")
    } else {
        format!("{kind}:0:sha256-{digest}")
    }
}

/// A JavaScript-formatted number.
fn n(x: f64) -> Value {
    number_from_f64(x)
}

/// xorshift64*: tiny, stable across versions and platforms.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in [lo, hi) with two decimals, as a person would type it.
    fn value(&mut self, lo: f64, hi: f64) -> f64 {
        let x = lo + (self.next() % 10_000) as f64 / 10_000.0 * (hi - lo);
        (x * 100.0).round() / 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_sample_is_deterministic_and_seeded() {
        assert_eq!(sample_platform(5), sample_platform(5));
        assert_ne!(sample_platform(5), sample_platform(6));
        assert_eq!(sample_platform_entries(5).len(), 8);
        let users = sample_platform(5);
        assert_eq!(users.len(), 4);
        let alice = &users[0].1;
        for c in Collection::ALL.iter().filter(|c| !c.is_ephemeral()) {
            assert!(!alice.items_of(*c).is_empty(), "{}", c.name());
        }
    }
}
