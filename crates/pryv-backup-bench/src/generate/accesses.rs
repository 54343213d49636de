//! Accesses (personal, app, shared; some deleted) and webhooks.

use postgres::Client;
use pryv_backup::integrity::{self, ItemKind};
use pryv_backup::model::UserRef;
use pryv_backup::platform::{row_from_item, IndexRebuild, DEFAULT_CORE_ID};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::ids::{cuid, js, rng_for, secs, Purpose, NOW_MS};
use super::plan::UserPlan;
use crate::copy_text::TableCopy;
use crate::BenchError;

struct Access {
    id: String,
    token: String,
    name: &'static str,
    kind: &'static str,
    device_name: Option<&'static str>,
    permissions: Value,
    client_data: Option<Value>,
    expires: Option<f64>,
    last_used: Option<f64>,
    calls: Option<Value>,
    created: f64,
    created_by: String,
    deleted: Option<f64>,
}

impl Access {
    /// The API object the core hashes (and a backup exports).
    fn item(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("token".into(), json!(self.token));
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind));
        match (self.device_name, self.kind) {
            (Some(d), _) => {
                m.insert("deviceName".into(), json!(d));
            }
            (None, "shared") => {
                m.insert("deviceName".into(), Value::Null);
            }
            _ => {}
        }
        m.insert("permissions".into(), self.permissions.clone());
        if let Some(c) = &self.client_data {
            m.insert("clientData".into(), c.clone());
        }
        if let Some(e) = self.expires {
            m.insert("expires".into(), js(e));
        }
        if let Some(l) = self.last_used {
            m.insert("lastUsed".into(), js(l));
        }
        if let Some(c) = &self.calls {
            m.insert("calls".into(), c.clone());
        }
        m.insert("created".into(), js(self.created));
        m.insert("createdBy".into(), json!(self.created_by));
        m.insert("modified".into(), js(self.created));
        m.insert("modifiedBy".into(), json!(self.created_by));
        if let Some(d) = self.deleted {
            m.insert("deleted".into(), js(d));
        }
        Value::Object(m)
    }
}

fn accesses_of(user: &UserPlan, rng: &mut impl Rng) -> Vec<Access> {
    let created_ms = NOW_MS - 400 * 86_400_000 + rng.gen_range(0..86_400_000);
    let base = Access {
        id: user.personal_access.clone(),
        token: cuid(rng),
        name: "pryv-browser",
        kind: "personal",
        device_name: None,
        permissions: json!([]),
        client_data: None,
        expires: None,
        last_used: Some(secs(NOW_MS - rng.gen_range(0..86_400_000))),
        calls: None,
        created: secs(created_ms),
        created_by: "system".into(),
        deleted: None,
    };
    let app = Access {
        id: user.app_access.clone(),
        token: cuid(rng),
        name: "diary-app",
        kind: "app",
        device_name: Some("phone"),
        permissions: json!([
            {"streamId": "health", "level": "contribute"},
            {"streamId": "diary", "level": "manage"},
            {"streamId": "activity", "level": "contribute"}
        ]),
        client_data: Some(json!({"app": {"version": "1.2.3"}})),
        calls: Some(
            json!({"events:create": rng.gen_range(1..100_000), "events:get": rng.gen_range(1..5000)}),
        ),
        created: secs(created_ms + 3000),
        created_by: user.personal_access.clone(),
        ..base_clone(&base)
    };
    let shared = Access {
        id: user.shared_access.clone(),
        token: cuid(rng),
        name: "doctor",
        kind: "shared",
        device_name: None,
        permissions: json!([{"streamId": "weight", "level": "read"}, {"streamId": "heart", "level": "read"}]),
        expires: Some(secs(NOW_MS + 365 * 86_400_000)),
        last_used: None,
        created: secs(created_ms + 4000),
        created_by: user.app_access.clone(),
        ..base_clone(&base)
    };
    let mut all = vec![base, app, shared];
    if user.index % 4 == 1 {
        // A revoked share: deleted accesses keep their fields.
        all.push(Access {
            id: cuid(rng),
            token: cuid(rng),
            name: "former-coach",
            kind: "shared",
            device_name: None,
            permissions: json!([{"streamId": "activity", "level": "read"}]),
            created: secs(created_ms + 5000),
            created_by: user.app_access.clone(),
            deleted: Some(secs(created_ms + 86_400_000)),
            ..base_clone(&all[0])
        });
    }
    all
}

fn base_clone(a: &Access) -> Access {
    Access {
        id: a.id.clone(),
        token: a.token.clone(),
        name: a.name,
        kind: a.kind,
        device_name: a.device_name,
        permissions: a.permissions.clone(),
        client_data: a.client_data.clone(),
        expires: a.expires,
        last_used: a.last_used,
        calls: a.calls.clone(),
        created: a.created,
        created_by: a.created_by.clone(),
        deleted: a.deleted,
    }
}

/// The platform's `access-index/<accessId>` rows of the user's accesses, as the core writes
/// one when it creates (or deletes) an access: `(key, value)`.
pub fn index_rows(seed: u64, user: &UserPlan) -> Result<Vec<(String, String)>, BenchError> {
    let rebuild = IndexRebuild {
        pii_key: None,
        core_id: DEFAULT_CORE_ID,
    };
    let owner = UserRef {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
    };
    let mut rng = rng_for(seed, user.index, Purpose::Accesses);
    let mut rows = Vec::new();
    for access in accesses_of(user, &mut rng) {
        let row = rebuild
            .access_index(&owner, &access.item())
            .map_err(|e| BenchError::Invalid(e.to_string()))?;
        rows.extend(row.and_then(|r| row_from_item(&r).ok()));
    }
    Ok(rows)
}

pub fn load_accesses(
    client: &mut Client,
    seed: u64,
    users: &[UserPlan],
) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "accesses",
        &[
            "user_id",
            "id",
            "serial",
            "head_id",
            "token",
            "name",
            "type",
            "device_name",
            "permissions",
            "client_data",
            "expires",
            "last_used",
            "calls",
            "integrity",
            "integrity_batch_code",
            "created",
            "created_by",
            "created_by_serial",
            "modified",
            "modified_by",
            "modified_by_serial",
            "deleted",
            "alias",
        ],
    )?;
    for user in users {
        let mut rng = rng_for(seed, user.index, Purpose::Accesses);
        for access in accesses_of(user, &mut rng) {
            let integrity = integrity::compute(ItemKind::Access, &access.item());
            copy.text(&user.user_id)
                .text(&access.id)
                .null()
                .null()
                .text(&access.token)
                .text(access.name)
                .text(access.kind)
                .opt_text(access.device_name)
                .json(&access.permissions)
                .opt_json(access.client_data.as_ref())
                .opt_float(access.expires)
                .opt_float(access.last_used)
                .opt_json(access.calls.as_ref())
                .text(&integrity)
                .null()
                .float(access.created)
                .text(&access.created_by)
                .null()
                .float(access.created)
                .text(&access.created_by)
                .null()
                .opt_float(access.deleted)
                .null();
            copy.end_row()?;
        }
    }
    copy.finish()
}

/// One webhook for every third user.
pub fn load_webhooks(
    client: &mut Client,
    seed: u64,
    users: &[UserPlan],
) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "webhooks",
        &[
            "user_id",
            "id",
            "access_id",
            "url",
            "state",
            "run_count",
            "fail_count",
            "last_run",
            "runs",
            "current_retries",
            "max_retries",
            "min_interval_ms",
            "created",
            "created_by",
            "modified",
            "modified_by",
            "deleted",
            "scopes",
        ],
    )?;
    for user in users.iter().filter(|u| u.index % 3 == 0) {
        let mut rng = rng_for(seed, user.index, Purpose::Webhooks);
        let created = secs(NOW_MS - 300 * 86_400_000);
        let last = secs(NOW_MS - rng.gen_range(0..86_400_000));
        let run = json!({"status": 200, "timestamp": js(last)});
        copy.text(&user.user_id)
            .text(&cuid(&mut rng))
            .text(&user.app_access)
            .text(&format!("https://hooks.example.com/{}", user.username))
            .text("active")
            .int(rng.gen_range(1..10_000))
            .int(0)
            .json(&run)
            .json(&json!([run]))
            .int(0)
            .int(5)
            .int(5000)
            .float(created)
            .text(&user.app_access)
            .float(last)
            .text("system")
            .null()
            .null();
        copy.end_row()?;
    }
    copy.finish()
}
