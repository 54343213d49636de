//! Each user's stream tree (three levels deep), as a health app would build it.

use postgres::Client;
use rand::Rng;
use serde_json::json;

use super::ids::{rng_for, secs, Purpose, NOW_MS};
use super::plan::UserPlan;
use crate::copy_text::TableCopy;
use crate::BenchError;

/// (id, name, parent id) — parents before children.
pub const TREE: [(&str, &str, Option<&str>); 12] = [
    ("health", "Health", None),
    ("weight", "Weight", Some("health")),
    ("heart", "Heart", Some("health")),
    ("heart-rate", "Heart rate", Some("heart")),
    ("blood-pressure", "Blood pressure", Some("heart")),
    ("position", "Position", Some("health")),
    ("diary", "Diary ✓ ünïcødé", None),
    ("notes", "Notes", Some("diary")),
    ("photos", "Photos", Some("diary")),
    ("activity", "Activity", None),
    ("steps", "Steps", Some("activity")),
    ("sleep", "Sleep", Some("activity")),
];

/// `path` as the core stores it: ancestors' ids then the stream's own, each followed by `/`.
pub fn path_of(id: &str) -> String {
    let mut chain = vec![id];
    let mut current = id;
    while let Some(parent) = TREE
        .iter()
        .find(|(sid, _, _)| *sid == current)
        .and_then(|(_, _, parent)| *parent)
    {
        chain.push(parent);
        current = parent;
    }
    chain.iter().rev().map(|s| format!("{s}/")).collect()
}

pub fn load(client: &mut Client, seed: u64, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(
        client,
        "streams",
        &[
            "user_id",
            "id",
            "name",
            "parent_id",
            "path",
            "client_data",
            "single_activity",
            "trashed",
            "created",
            "created_by",
            "modified",
            "modified_by",
            "deleted",
        ],
    )?;
    for user in users {
        let mut rng = rng_for(seed, user.index, Purpose::Streams);
        let created_ms = NOW_MS - 400 * 86_400_000 + rng.gen_range(0..86_400_000);
        for (k, (id, name, parent)) in TREE.iter().enumerate() {
            let created = secs(created_ms + k as i64 * 1000);
            let color = json!({ "color": format!("#{:06x}", rng.gen_range(0..0xFF_FFFF)) });
            copy.text(&user.user_id)
                .text(id)
                .text(name)
                .opt_text(*parent)
                .text(&path_of(id))
                .opt_json(rng.gen_bool(0.5).then_some(&color))
                .boolean(*id == "sleep")
                .boolean(false)
                .float(created)
                .text(&user.personal_access)
                .float(created)
                .text(&user.personal_access)
                .null();
            copy.end_row()?;
        }
    }
    copy.finish()
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn paths_follow_parents() {
        assert_eq!(path_of("health"), "health/");
        assert_eq!(path_of("heart-rate"), "health/heart/heart-rate/");
    }
}
