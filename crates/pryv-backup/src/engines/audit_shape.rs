//! The two shapes an audit row takes in an archive. The core exports audit rows raw, each
//! audit engine in its own shape, and each of its imports reads only its own:
//! - SQLite: the `events` columns of `audit-1.0.0.sqlite` (`headId`, `streamIds`, ...), JSON
//!   columns as their text, `trashed` 0/1;
//! - PostgreSQL: the `audit_events` columns (`head_id`, `stream_ids`, ...), JSON columns
//!   parsed, `trashed` a boolean.
//!
//! Each engine writes its own shape and reads both.

/// Each field as (PostgreSQL key, SQLite key), in column order (the same in both).
pub const AUDIT_KEYS: [(&str, &str); 17] = [
    ("eventid", "eventid"),
    ("head_id", "headId"),
    ("stream_ids", "streamIds"),
    ("time", "time"),
    ("deleted", "deleted"),
    ("end_time", "endTime"),
    ("type", "type"),
    ("content", "content"),
    ("description", "description"),
    ("client_data", "clientData"),
    ("integrity", "integrity"),
    ("attachments", "attachments"),
    ("trashed", "trashed"),
    ("created", "created"),
    ("created_by", "createdBy"),
    ("modified", "modified"),
    ("modified_by", "modifiedBy"),
];

/// The fields holding JSON, by their PostgreSQL key.
pub const AUDIT_JSON: [&str; 3] = ["content", "client_data", "attachments"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditShape {
    Sqlite,
    Postgres,
}

impl AuditShape {
    /// The shape the row's keys show: a key only SQLite uses or only PostgreSQL uses
    /// decides. A row with only the keys both share is read as PostgreSQL's (its JSON
    /// parsed). A key neither uses, or keys of both, is an error saying which.
    pub fn of_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Result<AuditShape, String> {
        let (mut sqlite, mut postgres) = (None, None);
        for key in keys {
            let Some((pg, sq)) = AUDIT_KEYS.iter().find(|(pg, sq)| key == *pg || key == *sq) else {
                return Err(format!("field {key:?} is not an audit column"));
            };
            if pg != sq {
                if key == *sq {
                    sqlite.get_or_insert(key);
                } else {
                    postgres.get_or_insert(key);
                }
            }
        }
        match (sqlite, postgres) {
            (Some(s), Some(p)) => Err(format!(
                "fields {s:?} (SQLite audit) and {p:?} (PostgreSQL audit) in one row"
            )),
            (Some(_), None) => Ok(AuditShape::Sqlite),
            _ => Ok(AuditShape::Postgres),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_tell_the_shape() {
        let shape = |keys: &[&str]| AuditShape::of_keys(keys.iter().copied());
        assert_eq!(shape(&["eventid", "headId"]), Ok(AuditShape::Sqlite));
        assert_eq!(shape(&["eventid", "head_id"]), Ok(AuditShape::Postgres));
        assert_eq!(shape(&["eventid", "time"]), Ok(AuditShape::Postgres));
        assert!(shape(&["headId", "end_time"])
            .unwrap_err()
            .contains("in one row"));
        assert!(shape(&["eventid", "tags"])
            .unwrap_err()
            .contains("\"tags\""));
    }
}
