//! `events` and the derived `event_streams`.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::table::{col, json_string, Cell, Column, Kind, Kind::*, RowValues, Table};
use super::PgError;
use crate::model::{Item, ItemText};
use crate::Result;

pub const TABLE: Table = Table {
    name: "events",
    what: "events",
    columns: &[
        col("id", "id", Text),
        col("head_id", "headId", Text),
        col("stream_ids", "streamIds", Json),
        col("time", "time", Float),
        col("end_time", "endTime", Float),
        col("type", "type", Text),
        col("tags", "tags", Json),
        col("content", "content", Json),
        col("description", "description", Text),
        col("client_data", "clientData", Json),
        col("attachments", "attachments", Json),
        col("integrity", "integrity", Text),
        col("trashed", "trashed", Bool),
        col("created", "created", Float),
        col("created_by", "createdBy", Text),
        col("modified", "modified", Float),
        col("modified_by", "modifiedBy", Text),
        col("deleted", "deleted", Float),
    ],
    key: &["id"],
};

/// A row as the core exports it: NULLs dropped, but a live event keeps `endTime: null`
/// (a running period); `trashed: false` dropped.
pub fn to_item(values: RowValues) -> Item {
    let deleted_col = TABLE.column("deleted").unwrap_or(17);
    let live = values.get(deleted_col).is_none_or(Option::is_none);
    let keep: &[&str] = if live { &["end_time"] } else { &[] };
    let mut item = TABLE.to_item(values, keep);
    if item.get("trashed") == Some(&Value::Bool(false)) {
        item.shift_remove("trashed");
    }
    Value::Object(item)
}

/// Export order: every history copy (`head_id` set) before the heads. The reference's reader
/// gives an attachment file to the last event of the file listing it, and history copies list
/// their head's files: the head must come last. Chunk files are read in order, so this holds
/// across chunks. History copies keep the table's physical order: the core lists an event's
/// history `ORDER BY modified`, versions of the same millisecond in that order, and a restore
/// writes them in file order. Heads go by id.
pub const EXPORT_ORDER: &str = "(head_id IS NULL), CASE WHEN head_id IS NOT NULL THEN ctid END, id";

/// What `Cell::Default` stands for in a bulk copy (the schema's `trashed BOOLEAN DEFAULT FALSE`).
pub const COPY_DEFAULTS: &[(&str, &str)] = &[("trashed", "f")];

/// The row of an event item (without user_id). An absent `trashed` is the column default
/// (false), except on what a deletion stripped: the core's deletion modes that clear
/// `trashed` (keep-authors, keep-nothing) clear `type` with it, on the deleted event and on
/// its history copies, and leave the column NULL. An event without `type` is such a stub.
pub fn to_row(item: &Item) -> Result<Vec<Cell<'static>>, PgError> {
    refuse_nul(item)?;
    let stripped = item.get("type").is_none_or(Value::is_null);
    TABLE.row_from_item(item, &|c| absent(c, stripped))
}

/// An event's row (without user_id) from its text, parsed without building a `Value`: the
/// same row, and the same refusals, as [`to_row`] gives for the parsed item; with what its
/// derived rows come from.
pub fn from_text(text: &ItemText) -> Result<(Vec<Cell<'_>>, EventLinks<'_>)> {
    let fields = TABLE.raw_fields(text, &[])?;
    let id = fields.string(&TABLE, "id");
    // JSON can carry U+0000 only as this escape (a raw control character is invalid).
    if holds_escaped_nul(text.as_str()) {
        return Err(nul_refused(id.as_deref().unwrap_or("(without id)")).into());
    }
    let stripped = !fields.is_set(&TABLE, "type");
    let row = TABLE.row_from_fields(&fields, &|c| absent(c, stripped))?;
    let raw = |column: &str| TABLE.column(column).and_then(|i| fields.values[i]);
    let mut stream_ids: Vec<Cow<'_, str>> = Vec::new();
    if let Some(list) = raw("stream_ids").filter(|r| r.get().starts_with('[')) {
        let elements: Vec<&RawValue> = serde_json::from_str(list.get()).unwrap_or_default();
        for stream_id in elements.iter().filter_map(|e| json_string(e.get())) {
            if !stream_ids.contains(&stream_id) {
                stream_ids.push(stream_id);
            }
        }
    }
    let file_ids = match raw("attachments").filter(|r| r.get() != "null") {
        Some(list) => file_ids(&serde_json::from_str(list.get()).unwrap_or(Value::Null)),
        None => Vec::new(),
    };
    let links = EventLinks {
        id,
        history_copy: fields.is_set(&TABLE, "head_id"),
        deleted: fields.is_set(&TABLE, "deleted"),
        stream_ids,
        file_ids,
    };
    Ok((row, links))
}

fn absent(c: &Column, stripped: bool) -> Cell<'static> {
    if c.name == "trashed" && !stripped {
        Cell::Default
    } else {
        Cell::Null
    }
}

/// Whether a JSON text holds the escape `\u0000`.
fn holds_escaped_nul(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        let escape = &rest[at + 1..];
        if escape.starts_with("u0000") {
            return true;
        }
        // Skips the escaped character too: `\\u0000` is a backslash then text.
        rest = escape.get(1..).unwrap_or("");
    }
    false
}

/// PostgreSQL text and jsonb cannot hold U+0000 (error 22P05, which names no row): such
/// an event is refused by id, with why. The live core itself refuses to create one.
fn refuse_nul(item: &Item) -> Result<(), PgError> {
    fn has_nul(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(has_nul),
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if !has_nul(item) {
        return Ok(());
    }
    Err(nul_refused(
        item.get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("(without id)"),
    ))
}

fn nul_refused(id: &str) -> PgError {
    PgError::Item {
        collection: "events",
        id: id.to_string(),
        reason: "a text in it holds the character U+0000 (\\u0000), which PostgreSQL cannot \
                 store; the core refuses such events too: remove the character from the backup's \
                 event, or restore into SQLite"
            .to_string(),
    }
}

/// What an event's derived rows come from: its `event_streams` rows (a live head only, one
/// per stream) and the attachment files it owns (a head only: a history copy lists its
/// head's files, which the core stores under the head's id only).
pub struct EventLinks<'a> {
    id: Option<Cow<'a, str>>,
    history_copy: bool,
    deleted: bool,
    /// Without repeats, strings only.
    stream_ids: Vec<Cow<'a, str>>,
    file_ids: Vec<String>,
}

impl EventLinks<'_> {
    pub fn of(item: &Item) -> EventLinks<'_> {
        let is_set = |k: &str| item.get(k).is_some_and(|v| !v.is_null());
        let mut stream_ids: Vec<Cow<'_, str>> = Vec::new();
        for stream_id in item
            .get("streamIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !stream_ids.iter().any(|s| s == stream_id) {
                stream_ids.push(Cow::Borrowed(stream_id));
            }
        }
        EventLinks {
            id: item.get("id").and_then(Value::as_str).map(Cow::Borrowed),
            history_copy: is_set("headId"),
            deleted: is_set("deleted"),
            stream_ids,
            file_ids: item.get("attachments").map(file_ids).unwrap_or_default(),
        }
    }

    /// (event id, stream id, path) of each `event_streams` row, with the stream's path (or
    /// `id/` for a stream the user does not have).
    pub fn stream_rows<'s>(
        &'s self,
        paths: &'s HashMap<String, String>,
    ) -> impl Iterator<Item = (&'s str, &'s str, Cow<'s, str>)> + 's {
        let indexed = !self.history_copy && !self.deleted;
        let event_id = self.id.as_deref().filter(|_| indexed);
        event_id.into_iter().flat_map(move |event_id| {
            self.stream_ids.iter().map(move |stream_id| {
                let path = match paths.get(stream_id.as_ref()) {
                    Some(path) => Cow::Borrowed(path.as_str()),
                    None => Cow::Owned(format!("{stream_id}/")),
                };
                (event_id, stream_id.as_ref(), path)
            })
        })
    }

    /// (event id, file id) of each attachment the event owns.
    pub fn attachment_ids(&self) -> Vec<(String, String)> {
        match self.id.as_deref() {
            Some(event_id) if !self.history_copy => self
                .file_ids
                .iter()
                .map(|file_id| (event_id.to_string(), file_id.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The `id` of each entry of an `attachments` list.
fn file_ids(attachments: &Value) -> Vec<String> {
    attachments
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

pub const EVENT_STREAMS_COLUMNS: [(&str, Kind); 4] = [
    ("user_id", Text),
    ("event_id", Text),
    ("stream_id", Text),
    ("stream_path", Text),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of reading an event, the bulk one from its text and the other from the
    /// parsed item, give the same row (or the same refusal) and the same derived rows.
    fn same_both_ways(line: &str) {
        let text = ItemText::of(&serde_json::from_str::<Item>(line).unwrap());
        let raw = ItemText::of_text(line);
        let item = text.item().unwrap();
        let paths: HashMap<String, String> = [("diary".to_string(), "diary/".to_string())].into();
        let parsed = to_row(&item).map(|row| {
            let links = EventLinks::of(&item);
            let streams: Vec<_> = links
                .stream_rows(&paths)
                .map(|(e, s, p)| (e.to_string(), s.to_string(), p.into_owned()))
                .collect();
            (row, streams, links.attachment_ids())
        });
        for text in [&text, &raw] {
            let bulk = from_text(text).map(|(row, links)| {
                let streams: Vec<_> = links
                    .stream_rows(&paths)
                    .map(|(e, s, p)| (e.to_string(), s.to_string(), p.into_owned()))
                    .collect();
                let row: Vec<Cell<'static>> = row.into_iter().map(Cell::into_owned).collect();
                (row, streams, links.attachment_ids())
            });
            match (&parsed, &bulk) {
                (Ok(a), Ok(b)) => {
                    // JSON columns may differ in spelling only: jsonb reads both the same.
                    assert_eq!(a.1, b.1, "{line}");
                    assert_eq!(a.2, b.2, "{line}");
                    for (x, y) in a.0.iter().zip(&b.0) {
                        match (x, y) {
                            (Cell::Json(x), Cell::Json(y)) => assert_eq!(
                                serde_json::from_str::<Value>(x).unwrap(),
                                serde_json::from_str::<Value>(y).unwrap(),
                                "{line}"
                            ),
                            _ => assert_eq!(x, y, "{line}"),
                        }
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{line}"),
                _ => panic!("{line}: {parsed:?} but {:?}", bulk.map(|b| b.0)),
            }
        }
    }

    #[test]
    fn the_core_s_own_events_read_the_same_both_ways() {
        // Every event line of the archives open-pryv.io's bin/backup.js wrote.
        let root = testbed::fixtures_dir();
        let mut lines = 0;
        for dir in [
            root.join("live-reference/backup-by-reference-plain/users"),
            root.join("reference-archives/full-plain/users"),
        ] {
            for user in std::fs::read_dir(&dir).unwrap() {
                let events = user.unwrap().path().join("events");
                for file in std::fs::read_dir(&events).into_iter().flatten() {
                    let content = std::fs::read_to_string(file.unwrap().path()).unwrap();
                    for line in content.lines().filter(|l| !l.trim().is_empty()) {
                        same_both_ways(line);
                        lines += 1;
                    }
                }
            }
        }
        assert!(lines > 50, "only {lines} event lines found");
    }

    #[test]
    fn edge_cases_read_the_same_both_ways() {
        for line in [
            // Escapes in texts and in JSON columns, as JSON.stringify writes them.
            r#"{"id":"e\"1","streamIds":["diary","diary","d\\x"],"type":"note/txt","time":1.5,"content":"a\nb\u00e9\\u0000"}"#,
            // Numbers as the core writes them, and big ones jsonb keeps.
            r#"{"id":"e2","streamIds":[],"type":"count/generic","time":1e3,"duration":null,"content":12345678901234567890,"created":1700000000.125}"#,
            r#"{"id":"e3","type":"x/y","time":"soon"}"#,
            r#"{"id":"e4","type":"x/y","trashed":"yes"}"#,
            r#"{"id":"e5","type":"x/y","colour":"red","time":1}"#,
            r#"{"id":"e6","type":"x/y","content":{"k":"a\u0000b"}}"#,
            r#"{"id":"e7","streamIds":["diary"],"deleted":1700000000}"#,
            r#"{"id":"e8","streamIds":["diary"],"headId":"e1","type":"a/b","attachments":[{"id":"f1"},{"x":1},2]}"#,
            r#"{"id":"e9","streamIds":["other",3],"type":"a/b","attachments":[{"id":"f1"}],"trashed":true}"#,
            r#"  {"id":"e10" , "type" : "a/b", "type":"c/d", "endTime" : null }  "#,
            r#"{"\u0069d":"e11","type":"a/b"}"#,
            r#"{"id":12,"type":"a/b","time":-0}"#,
            r#"["not","an","object"]"#,
            r#""text""#,
        ] {
            same_both_ways(line);
        }
    }

    #[test]
    fn only_the_escape_of_u0000_counts_as_one() {
        assert!(holds_escaped_nul(r#"{"a":"x\u0000"}"#));
        assert!(holds_escaped_nul(r#"{"a":"\\\u0000"}"#));
        assert!(!holds_escaped_nul(r#"{"a":"\\u0000"}"#));
        assert!(!holds_escaped_nul(r#"{"a":"\u0001"}"#));
        assert!(!holds_escaped_nul(r#"{"a":"trailing \\"}"#));
    }
}
