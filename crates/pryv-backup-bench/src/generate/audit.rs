//! Audit log rows, in the storage's snake_case shape (one per API call).

use postgres::Client;
use rand::Rng;
use serde_json::json;

use super::ids::{cuid, rng_for, secs, Purpose, NOW_MS};
use super::plan::UserPlan;
use crate::copy_text::TableCopy;
use crate::BenchError;

const ACTIONS: [&str; 5] = [
    "events.get",
    "events.create",
    "events.update",
    "streams.get",
    "accesses.get",
];

pub fn load(client: &mut Client, seed: u64, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "audit_events",
        &[
            "user_id",
            "eventid",
            "head_id",
            "stream_ids",
            "time",
            "deleted",
            "end_time",
            "type",
            "content",
            "description",
            "client_data",
            "integrity",
            "attachments",
            "trashed",
            "created",
            "created_by",
            "modified",
            "modified_by",
        ],
    )?;
    for user in users {
        let mut rng = rng_for(seed, user.index, Purpose::Audit);
        let span_ms: i64 = 30 * 86_400_000;
        let step_ms = (span_ms / user.audit_rows.max(1) as i64).max(1);
        for n in 0..user.audit_rows {
            let time = secs(NOW_MS - span_ms + n as i64 * step_ms + rng.gen_range(0..step_ms));
            let action = ACTIONS[rng.gen_range(0..ACTIONS.len())];
            let access = if rng.gen_bool(0.8) {
                &user.app_access
            } else {
                &user.personal_access
            };
            let content = json!({
                "source": {"name": "http", "ip": format!("10.0.{}.{}", rng.gen_range(0..255), rng.gen_range(1..255))},
                "action": action,
                "query": {"limit": rng.gen_range(1..100)},
            });
            copy.text(&user.user_id)
                .text(&cuid(&mut rng))
                .null()
                .text(&format!("access-{access} action-{action} :_audit:"))
                .float(time)
                .null()
                .float(time)
                .text("audit-log/pryv-api")
                .json(&content)
                .null()
                .null()
                .null()
                .null()
                .boolean(false)
                .float(time)
                .text("system")
                .float(time)
                .text("system");
            copy.end_row()?;
        }
    }
    copy.finish()
}
