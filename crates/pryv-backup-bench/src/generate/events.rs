//! Events of several types over the last year, with history versions, trashed and deleted
//! ones; events holding attachments; series events; then their attachment and series rows.

use postgres::Client;
use pryv_backup::integrity::{self, ItemKind};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::ids::{cuid, js, rng_for, secs, Purpose, NOW_MS};
use super::plan::{for_each_chunk, UserPlan};
use crate::copy_text::TableCopy;
use crate::BenchError;

const YEAR_MS: i64 = 365 * 86_400_000;
const TAGS: [&str; 7] = [
    "morning",
    "evening",
    "after-run",
    "fasting",
    "travel",
    "home",
    "clinic",
];
const WORDS: [&str; 12] = [
    "slept",
    "badly",
    "felt",
    "great",
    "headache",
    "after",
    "lunch",
    "walked",
    "ünïcødé",
    "with",
    "tab\tand",
    "line\nbreak",
];

/// One `events` row; `None` fields are NULL.
struct Event {
    id: String,
    head_id: Option<String>,
    stream_ids: Option<Value>,
    time: Option<f64>,
    end_time: Option<f64>,
    kind: Option<&'static str>,
    tags: Option<Value>,
    content: Option<Value>,
    description: Option<String>,
    client_data: Option<Value>,
    attachments: Option<Value>,
    trashed: bool,
    created: Option<f64>,
    created_by: Option<String>,
    modified: Option<f64>,
    modified_by: Option<String>,
    deleted: Option<f64>,
}

impl Event {
    fn live(id: String, time: f64, kind: &'static str, streams: &[&str], by: &str) -> Event {
        Event {
            id,
            head_id: None,
            stream_ids: Some(json!(streams)),
            time: Some(time),
            end_time: Some(time),
            kind: Some(kind),
            tags: Some(json!([])),
            content: None,
            description: None,
            client_data: None,
            attachments: None,
            trashed: false,
            created: Some(time),
            created_by: Some(by.to_string()),
            modified: Some(time),
            modified_by: Some(by.to_string()),
            deleted: None,
        }
    }

    /// The API object a backup exports and the core hashes.
    fn item(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("id", Some(json!(self.id)));
        put("headId", self.head_id.as_ref().map(|h| json!(h)));
        put("streamIds", self.stream_ids.clone());
        put("time", self.time.map(js));
        put(
            "endTime",
            Some(self.end_time.map(js).unwrap_or(Value::Null)),
        );
        put("type", self.kind.map(|k| json!(k)));
        put("tags", self.tags.clone());
        put("content", self.content.clone());
        put("description", self.description.as_ref().map(|d| json!(d)));
        put("clientData", self.client_data.clone());
        put("attachments", self.attachments.clone());
        put("trashed", self.trashed.then_some(Value::Bool(true)));
        put("created", self.created.map(js));
        put("createdBy", self.created_by.as_ref().map(|c| json!(c)));
        put("modified", self.modified.map(js));
        put("modifiedBy", self.modified_by.as_ref().map(|c| json!(c)));
        put("deleted", self.deleted.map(js));
        Value::Object(m)
    }

    fn write(&self, user_id: &str, copy: &mut TableCopy<'_>) -> Result<(), BenchError> {
        // Deletion records carry no integrity here (which fields the core keeps on deletion
        // depends on its deletion mode).
        let integrity = self
            .deleted
            .is_none()
            .then(|| integrity::compute_as_stored(ItemKind::Event, &self.item()));
        copy.text(user_id)
            .text(&self.id)
            .opt_text(self.head_id.as_deref())
            .opt_json(self.stream_ids.as_ref())
            .opt_float(self.time)
            .opt_float(self.end_time)
            .opt_text(self.kind)
            .opt_json(self.tags.as_ref())
            .opt_json(self.content.as_ref())
            .opt_text(self.description.as_deref())
            .opt_json(self.client_data.as_ref())
            .opt_json(self.attachments.as_ref())
            .opt_text(integrity.as_deref())
            // The core's deletion leaves a tombstone's trashed NULL.
            .opt_boolean(self.deleted.is_none().then_some(self.trashed))
            .opt_float(self.created)
            .opt_text(self.created_by.as_deref())
            .opt_float(self.modified)
            .opt_text(self.modified_by.as_deref())
            .opt_float(self.deleted);
        copy.end_row()
    }
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A regular event of a type drawn with realistic frequencies.
fn regular_event(rng: &mut impl Rng, user: &UserPlan, n: u64, time_ms: i64) -> Event {
    let time = secs(time_ms);
    let by = &user.app_access;
    let roll = rng.gen_range(0..100);
    let mut event = match roll {
        0..=29 => {
            let words = rng.gen_range(3..40);
            let mut text = format!("note {n}");
            for _ in 0..words {
                text.push(' ');
                text.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
            }
            let mut e = Event::live(cuid(rng), time, "note/txt", &["notes"], by);
            e.content = Some(json!(text));
            e
        }
        30..=54 => {
            let mut e = Event::live(cuid(rng), time, "mass/kg", &["weight"], by);
            e.content = Some(js(two_decimals(rng.gen_range(40.0..120.0))));
            e
        }
        55..=69 => {
            let mut e = Event::live(cuid(rng), time, "position/wgs84", &["position"], by);
            e.content = Some(json!({
                "latitude": js(rng.gen_range(45.8..47.8)),
                "longitude": js(rng.gen_range(5.9..10.5)),
                "altitude": js(two_decimals(rng.gen_range(200.0..3000.0))),
            }));
            e
        }
        70..=81 => {
            let mut e = Event::live(cuid(rng), time, "count/steps", &["steps"], by);
            e.content = Some(json!(rng.gen_range(0..20_000)));
            e
        }
        82..=89 => {
            let mut e = Event::live(cuid(rng), time, "frequency/bpm", &["heart-rate"], by);
            e.content = Some(json!(rng.gen_range(50..180)));
            e
        }
        90..=95 => {
            let mut e = Event::live(
                cuid(rng),
                time,
                "blood-pressure/mmhg-bpm",
                &["blood-pressure", "heart-rate"],
                by,
            );
            e.content = Some(json!({
                "systolic": rng.gen_range(100..160),
                "diastolic": rng.gen_range(60..100),
                "rate": rng.gen_range(50..120),
            }));
            e
        }
        _ => {
            // A period: no content, an end time hours later.
            let mut e = Event::live(cuid(rng), time, "activity/plain", &["sleep"], by);
            e.end_time = Some(secs(time_ms + rng.gen_range(3_600_000..36_000_000)));
            e
        }
    };
    if rng.gen_bool(0.4) {
        let count = rng.gen_range(1..=3);
        let tags: Vec<&str> = (0..count)
            .map(|_| TAGS[rng.gen_range(0..TAGS.len())])
            .collect();
        event.tags = Some(json!(tags));
    }
    if rng.gen_bool(0.05) {
        event.description = Some("Measured at home, before breakfast".to_string());
    }
    if rng.gen_bool(0.03) {
        event.client_data = Some(json!({"source": {"device": "scale-x1", "fw": "2.4.1"}}));
    }
    event.trashed = rng.gen_bool(0.02);
    if rng.gen_bool(0.1) {
        event.modified = Some(secs(time_ms + rng.gen_range(1_000..86_400_000)));
        event.modified_by = Some(user.personal_access.clone());
    }
    event
}

/// The previous state of `current`, kept as a history version under a fresh id.
fn history_of(current: &Event, rng: &mut impl Rng) -> Event {
    let mut previous = Event::live(
        cuid(rng),
        current.time.unwrap_or(0.0),
        current.kind.unwrap_or("note/txt"),
        &[],
        current.created_by.as_deref().unwrap_or("system"),
    );
    previous.head_id = Some(current.id.clone());
    previous.stream_ids = current.stream_ids.clone();
    previous.end_time = current.end_time;
    previous.tags = current.tags.clone();
    previous.content = Some(json!("previous value"));
    previous
}

/// A deletion record: only the id and the deletion time remain.
fn deletion_record(id: String, deleted_ms: i64) -> Event {
    Event {
        id,
        head_id: None,
        stream_ids: None,
        time: None,
        end_time: None,
        kind: None,
        tags: None,
        content: None,
        description: None,
        client_data: None,
        attachments: None,
        trashed: false,
        created: None,
        created_by: None,
        modified: None,
        modified_by: None,
        deleted: Some(secs(deleted_ms)),
    }
}

pub fn load_events(client: &mut Client, seed: u64, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "events",
        &[
            "user_id",
            "id",
            "head_id",
            "stream_ids",
            "time",
            "end_time",
            "type",
            "tags",
            "content",
            "description",
            "client_data",
            "attachments",
            "integrity",
            "trashed",
            "created",
            "created_by",
            "modified",
            "modified_by",
            "deleted",
        ],
    )?;
    for user in users {
        let mut rng = rng_for(seed, user.index, Purpose::Events);
        let start_ms = NOW_MS - YEAR_MS;
        let step_ms = (YEAR_MS / user.events.max(1) as i64).max(1);
        for n in 0..user.events {
            let time_ms = start_ms + n as i64 * step_ms + rng.gen_range(0..step_ms);
            if rng.gen_bool(0.005) {
                deletion_record(cuid(&mut rng), time_ms + 60_000)
                    .write(&user.user_id, &mut copy)?;
                continue;
            }
            let event = regular_event(&mut rng, user, n, time_ms);
            if rng.gen_bool(0.01) {
                history_of(&event, &mut rng).write(&user.user_id, &mut copy)?;
            }
            event.write(&user.user_id, &mut copy)?;
        }
        for (k, file) in user.files.iter().enumerate() {
            let time = secs(NOW_MS - 30 * 86_400_000 + k as i64 * 60_000);
            let mut event = Event::live(
                file.event_id.clone(),
                time,
                "picture/attached",
                &["photos"],
                &user.app_access,
            );
            event.attachments = Some(json!([{
                "id": file.file_id,
                "fileName": file.file_name,
                "type": file.mime,
                "size": file.size,
                "integrity": file.integrity,
            }]));
            event.write(&user.user_id, &mut copy)?;
        }
        for (k, series) in user.series.iter().enumerate() {
            let time = secs(NOW_MS - 7 * 86_400_000 + k as i64 * 3_600_000);
            let event = Event::live(
                series.event_id.clone(),
                time,
                "series:mass/kg",
                &["weight"],
                &user.app_access,
            );
            event.write(&user.user_id, &mut copy)?;
        }
    }
    copy.finish()
}

/// One row per 1 MiB chunk of every planned file.
pub fn load_attachment_files(client: &mut Client, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "attachment_files",
        &["user_id", "event_id", "file_id", "seq", "data"],
    )?;
    for user in users {
        for file in &user.files {
            let mut seq = 0;
            for_each_chunk(file.bytes_seed, file.size, |chunk| {
                copy.text(&user.user_id)
                    .text(&file.event_id)
                    .text(&file.file_id)
                    .int(seq)
                    .bytea(chunk);
                seq += 1;
                copy.end_row()
            })?;
        }
    }
    copy.finish()
}

/// Points every half second, keyed as the live core keys them (`user.<username>`,
/// `event.<eventId>`): `delta_time` in nanoseconds, `point_time` the same value.
pub fn load_series(client: &mut Client, seed: u64, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "series_data",
        &["user_id", "event_id", "point_time", "delta_time", "fields"],
    )?;
    for user in users {
        let mut rng = rng_for(seed, user.index, Purpose::Series);
        for series in &user.series {
            let mut weight: f64 = rng.gen_range(50.0..90.0);
            for k in 0..series.points {
                let delta_ns = k as i64 * 500_000_000;
                weight = (weight + rng.gen_range(-0.3..0.3)).clamp(30.0, 150.0);
                let value = (weight * 10.0).round() / 10.0;
                copy.text(&format!("user.{}", user.username))
                    .text(&format!("event.{}", series.event_id))
                    .float(delta_ns as f64)
                    .int(delta_ns)
                    .json(&json!({ "value": js(value) }));
                copy.end_row()?;
            }
        }
    }
    copy.finish()
}
