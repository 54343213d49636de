//! `manifest.json` (the backup's completion marker) and `user-manifest.json`, as format v1
//! defines them, plus pryv-backup's additions (extra fields that v1 readers ignore).
//!
//! Deserialization goes through [`serde_json::Value`] by hand: serde's `flatten` does not
//! work together with serde_json's `arbitrary_precision` numbers.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, Error as _, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

#[cfg(doc)]
use super::user_entries::UserEntriesBuilder;
use super::user_entries::{EntriesSeed, UserEntries};

pub const FORMAT_VERSION: u64 = 1;
/// Our addition: the generation record (see the `chain` module), sealed with the manifest so
/// that a reader holding the key can tell its clear copy (`chain.json`) was not altered.
pub const RECORD_FIELD: &str = "chain";
pub const TOOL_NAME: &str = "pryv-backup";

/// What the caller knows about the whole backup when it ends.
#[derive(Clone, Debug)]
pub struct ManifestInfo {
    pub core_version: String,
    pub config: Value,
    /// "full" or "incremental".
    pub backup_type: String,
    /// Milliseconds since the epoch.
    pub backup_timestamp: u64,
    /// Consistency cutoff, seconds since the epoch.
    pub snapshot_before: Option<f64>,
    /// The users' entries, which hold no `files` ([`UserEntriesBuilder::push`]): each user's
    /// files are listed in its own manifest, which the root's `files` lists with its hash
    /// (repeated here they made this manifest ~1.9 KB per user, 4 x the reference's).
    pub users: UserEntries,
}

/// The program that wrote a backup (our addition: `"writer": {"name", "version"}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriterInfo {
    pub name: String,
    pub version: String,
}

impl WriterInfo {
    pub fn this_tool() -> Self {
        WriterInfo {
            name: TOOL_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// One file of the backup as it is on disk (our addition): path relative to the folder of
/// the manifest that lists it, size in bytes, SHA-256 (hex) of those bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format_version: u64,
    pub core_version: String,
    pub config: Value,
    pub backup_type: String,
    pub backup_timestamp: u64,
    #[serde(serialize_with = "js_seconds")]
    pub snapshot_before: Option<f64>,
    /// One entry per user, spooled (see [`UserEntries`]).
    pub users: UserEntries,
    pub compressed: bool,
    /// Our addition; absent from reference backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<WriterInfo>,
    /// Our addition: root-level files (platform data, user manifests). Empty when absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The generation record ([`RECORD_FIELD`]), kept as its text: read as a JSON value it
    /// took ~700 bytes per user of the install in every reader's memory.
    #[serde(rename = "chain", skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<RawValue>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserManifest {
    pub user_id: String,
    pub username: String,
    pub backup_timestamp: u64,
    /// Item counts per collection, plus `attachments`.
    pub stats: SmallMap<u64>,
    /// Chunk file names of `events` and `audit`, in order.
    pub chunks: SmallMap<Vec<String>>,
    /// Our addition: every file of the user folder but `user-manifest.json`, path relative
    /// to the user folder. Empty when absent (reference backups).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
    /// Other fields (ours, such as `snapshotTime`, or unknown), kept as read.
    #[serde(flatten)]
    pub extra: SmallMap<Value>,
}

impl UserManifest {
    /// The recorded count of a collection (or `attachments`); 0 when not recorded.
    pub fn stat(&self, name: &str) -> u64 {
        self.stats.get(name).copied().unwrap_or(0)
    }
}

/// A small JSON object kept in its order: a user entry's `stats`, `chunks` and other fields.
/// Held for every user of a backup while it is read, so a vector with the format's names
/// shared rather than a map of owned strings (which took ~3 times the room).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmallMap<V>(Vec<(Cow<'static, str>, V)>);

impl<V> SmallMap<V> {
    pub fn new() -> Self {
        SmallMap(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, in its place when present, else last.
    pub fn insert(&mut self, key: &str, value: V) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((shared_name(key), value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

/// Names found in every user entry besides the collections' own: `attachments` (a count),
/// `snapshotTime` (pryv-backup's time of the user's snapshot).
const ENTRY_NAMES: [&str; 2] = ["attachments", "snapshotTime"];

/// The format's names are shared; any other is owned.
fn shared_name(key: &str) -> Cow<'static, str> {
    match crate::model::Collection::from_name(key) {
        Some(c) => Cow::Borrowed(c.name()),
        None => match ENTRY_NAMES.iter().find(|n| **n == key) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(key.to_string()),
        },
    }
}

impl From<Map<String, Value>> for SmallMap<Value> {
    /// A JSON object's fields, in order (its keys are unique already).
    fn from(fields: Map<String, Value>) -> Self {
        let mut entries = Vec::with_capacity(fields.len());
        entries.extend(fields.into_iter().map(|(k, v)| (shared_name(&k), v)));
        SmallMap(entries)
    }
}

/// Keys looked for one by one up to this many; past it (never in an entry the writers
/// make), through an index, so that a doctored object of many keys is read in linear time.
const KEYS_SEARCHED: usize = 16;

impl<V> std::ops::Index<&str> for SmallMap<V> {
    type Output = V;

    /// Panics when `key` is absent, as maps do.
    fn index(&self, key: &str) -> &V {
        self.get(key)
            .unwrap_or_else(|| panic!("no `{key}` in this object"))
    }
}

impl<V: Serialize> Serialize for SmallMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

impl<'de, V: DeserializeOwned> Deserialize<'de> for SmallMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);
        impl<'de, V: DeserializeOwned> Visitor<'de> for Entries<V> {
            type Value = SmallMap<V>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SmallMap<V>, A::Error> {
                let mut out = SmallMap::new();
                let mut index: Option<std::collections::HashMap<String, usize>> = None;
                while let Some(key) = map.next_key::<Cow<'_, str>>()? {
                    let value = map.next_value()?;
                    if index.is_none() && out.0.len() < KEYS_SEARCHED {
                        out.insert(&key, value);
                        continue;
                    }
                    let index = index.get_or_insert_with(|| {
                        (out.0.iter().enumerate())
                            .map(|(i, (k, _))| (k.to_string(), i))
                            .collect()
                    });
                    // A key given twice keeps its place and takes the later value, as
                    // `insert` does.
                    match index.get(key.as_ref()) {
                        Some(&at) => out.0[at].1 = value,
                        None => {
                            index.insert(key.to_string(), out.0.len());
                            out.0.push((shared_name(&key), value));
                        }
                    }
                }
                out.0.shrink_to_fit();
                Ok(out)
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

fn js_seconds<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(x) => crate::json::number_from_f64(*x).serialize(s),
        None => s.serialize_none(),
    }
}

/// Takes a field out of a JSON object and converts it; missing or null gives the default
/// when `required` is false.
fn take<T: DeserializeOwned + Default, E: serde::de::Error>(
    map: &mut Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<T, E> {
    // Shifted out, not swapped: the fields after it keep their order.
    match map.shift_remove(key) {
        None | Some(Value::Null) if !required => Ok(T::default()),
        None => Err(E::custom(format!("missing field `{key}`"))),
        Some(v) => serde_json::from_value(v).map_err(|e| E::custom(format!("field `{key}`: {e}"))),
    }
}

fn object<'de, D: Deserializer<'de>>(d: D, what: &str) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Object(map) => Ok(map),
        _ => Err(D::Error::custom(format!("{what} is not a JSON object"))),
    }
}

impl<'de> Deserialize<'de> for Manifest {
    /// `users` and `files`, which grow with the users, are read straight into their types
    /// (each user through a small JSON value, then spooled); the other fields through one JSON object. The
    /// whole manifest read as one JSON value first took several times its size in memory (a
    /// restore of 20,000 users peaked at 173 MB so, at 142 MB without).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = (
                Map<String, Value>,
                Option<UserEntries>,
                Option<Vec<FileEntry>>,
                Option<Box<RawValue>>,
            );

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut rest, mut users, mut files, mut record) = (Map::new(), None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "users" => users = Some(map.next_value_seed(EntriesSeed)?),
                        // Shrunk: grown by doubling, up to half of it was spare room.
                        "files" => {
                            files = map.next_value::<Option<Vec<FileEntry>>>()?;
                            files.iter_mut().for_each(Vec::shrink_to_fit);
                        }
                        RECORD_FIELD => record = Some(map.next_value()?),
                        _ => {
                            rest.insert(key, map.next_value()?);
                        }
                    }
                }
                Ok((rest, users, files, record))
            }
        }
        let (mut m, users, files, record) = d
            .deserialize_map(Fields)
            .map_err(|e| D::Error::custom(format!("manifest: {e}")))?;
        Ok(Manifest {
            format_version: take(&mut m, "formatVersion", true)?,
            core_version: take(&mut m, "coreVersion", false)?,
            config: m.remove("config").unwrap_or(Value::Null),
            backup_type: take(&mut m, "backupType", false)?,
            backup_timestamp: take(&mut m, "backupTimestamp", false)?,
            snapshot_before: take(&mut m, "snapshotBefore", false)?,
            users: users.ok_or_else(|| D::Error::custom("missing field `users`"))?,
            // Format v1 readers treat a missing `compressed` as true.
            compressed: take::<Option<bool>, _>(&mut m, "compressed", false)?.unwrap_or(true),
            writer: take(&mut m, "writer", false)?,
            files: files.unwrap_or_default(),
            extra: m,
            record,
        })
    }
}

impl<'de> Deserialize<'de> for UserManifest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut m = object(d, "user manifest")?;
        Ok(UserManifest {
            user_id: take(&mut m, "userId", true)?,
            username: take(&mut m, "username", false)?,
            backup_timestamp: take(&mut m, "backupTimestamp", false)?,
            stats: take(&mut m, "stats", false)?,
            chunks: {
                let mut chunks: SmallMap<Vec<String>> = take(&mut m, "chunks", false)?;
                chunks
                    .0
                    .iter_mut()
                    .for_each(|(_, list)| list.shrink_to_fit());
                chunks
            },
            files: take(&mut m, "files", false)?,
            extra: m.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_manifest_fields_round_trip_with_unknown_fields_kept() {
        let text = r#"{"formatVersion":1,"coreVersion":"2.0.0","config":{"a":1},"backupType":"full","backupTimestamp":1763990000123,"snapshotBefore":1763989999,"users":[{"userId":"u1","username":"x","backupTimestamp":5,"stats":{"streams":0,"events":3},"chunks":{"events":["events-0001.jsonl.gz"],"audit":[]},"future":[1.50]}],"compressed":true,"later":{"k":1e+400}}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!(m.users.get(0).unwrap().stat("events"), 3);
        assert_eq!(m.snapshot_before, Some(1763989999.0));
        let back = serde_json::to_string(&m).unwrap();
        assert_eq!(back, text, "key order, number text and unknown fields kept");
    }

    /// An object of many keys, one given twice, reads as JSON maps do: every key once, in
    /// its first place, with its later value (past the keys searched one by one).
    #[test]
    fn an_object_of_many_keys_reads_as_a_map() {
        let mut text = String::from("{");
        for i in 0..40_000 {
            text.push_str(&format!("\"k{i}\":{i},"));
        }
        text.push_str("\"k3\":-3,\"k20000\":-20000,\"events\":7}");
        let m: SmallMap<i64> = serde_json::from_str(&text).unwrap();
        assert_eq!(m.iter().count(), 40_001);
        assert_eq!(m.get("k3"), Some(&-3));
        assert_eq!(m.get("k20000"), Some(&-20000));
        assert_eq!(m.iter().nth(3), Some(("k3", &-3)));
        assert_eq!(m.iter().nth(20_000), Some(("k20000", &-20000)));
        assert_eq!(m.iter().last(), Some(("events", &7)));
    }

    #[test]
    fn the_record_is_kept_as_written() {
        let text = r#"{"formatVersion":1,"users":[],"compressed":true,"later":2,"chain":{"v":1,"users":[{"user":"ab","since":1.50}]}}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!(
            m.record.as_deref().map(RawValue::get),
            Some(r#"{"v":1,"users":[{"user":"ab","since":1.50}]}"#)
        );
        let back = serde_json::to_string(&m).unwrap();
        assert!(
            back.ends_with(r#""later":2,"chain":{"v":1,"users":[{"user":"ab","since":1.50}]}}"#),
            "{back}"
        );
    }
}
