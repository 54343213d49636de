//! Changes a share of the live events as an app would (new content, new `modified`, integrity
//! recomputed), to measure incremental backups.

use std::time::{SystemTime, UNIX_EPOCH};

use postgres::Client;
use pryv_backup::integrity::{self, ItemKind};
use serde_json::{json, Value};

use crate::copy_text::TableCopy;
use crate::BenchError;

/// Live head events of these types are picked; their content has no nested nulls, so the
/// API object can be rebuilt from the row in SQL.
const TYPES: &str = "'note/txt', 'mass/kg', 'count/steps', 'frequency/bpm', 'position/wgs84'";

/// Updates about `percent` % of the events (picked by a hash of their id, so the same ones
/// every run); returns how many were changed.
pub fn touch_events(client: &mut Client, percent: u32) -> Result<u64, BenchError> {
    if percent == 0 || percent > 100 {
        return Err(BenchError::Invalid("--percent must be 1 to 100".into()));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or(0.0);
    // NULL columns are left out (as in an export); endTime is always present.
    let sql = format!(
        "SELECT user_id, jsonb_strip_nulls(jsonb_build_object(\
           'id', id, 'streamIds', stream_ids, 'time', time, 'type', type, 'tags', tags, \
           'content', content, 'description', description, 'clientData', client_data, \
           'attachments', attachments, 'created', created, 'createdBy', created_by, \
           'modified', modified, 'modifiedBy', modified_by)) \
           || jsonb_build_object('endTime', end_time) \
           || CASE WHEN trashed THEN '{{\"trashed\": true}}'::jsonb ELSE '{{}}'::jsonb END \
         FROM events \
         WHERE head_id IS NULL AND deleted IS NULL AND type IN ({TYPES}) \
           AND abs(hashtext(user_id || id)) % 100 < {percent}"
    );
    let rows = client.query(&sql, &[])?;
    let mut changed = Vec::with_capacity(rows.len());
    for row in rows {
        let user_id: String = row.get(0);
        let mut item: Value = row.get(1);
        let new_content = match (
            item.get("type").and_then(Value::as_str),
            item.get("content"),
        ) {
            (Some("note/txt"), Some(Value::String(text))) => json!(format!("{text} (edited)")),
            (Some("position/wgs84"), Some(content)) => content.clone(),
            (_, Some(Value::Number(n))) => json!(n.as_f64().map_or(0, |x| x as i64) + 1),
            (_, other) => other.cloned().unwrap_or(Value::Null),
        };
        let Some(object) = item.as_object_mut() else {
            continue;
        };
        object.insert("content".into(), new_content.clone());
        object.insert("modified".into(), pryv_backup::json::number_from_f64(now));
        let integrity = integrity::compute(ItemKind::Event, &item);
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        changed.push((user_id, id, new_content, integrity));
    }

    let mut tx = client.transaction()?;
    tx.batch_execute(
        "CREATE TEMP TABLE touched (user_id TEXT, id TEXT, content JSONB, integrity TEXT) ON COMMIT DROP",
    )?;
    {
        let mut copy = TableCopy::start(
            &mut tx,
            "touched",
            &["user_id", "id", "content", "integrity"],
        )?;
        for (user_id, id, content, integrity) in &changed {
            copy.text(user_id).text(id).json(content).text(integrity);
            copy.end_row()?;
        }
        copy.finish()?;
    }
    let updated = tx.execute(
        "UPDATE events e SET content = t.content, integrity = t.integrity, modified = $1 \
         FROM touched t WHERE e.user_id = t.user_id AND e.id = t.id",
        &[&now],
    )?;
    tx.commit()?;
    Ok(updated)
}
