//! Increments that carry only the points a series gained, not the whole series again.
//!
//! A series only grows in the common case (a device uploads newer points), and copying every
//! point of it into every nightly increment made a month's chain grow with the square of the
//! series. Each generation's record (`chain.json`) keeps, for each measurement of at least
//! [`MARK_MIN_POINTS`] points, a [`SeriesMark`]: the SHA-256 of its measurement id, its point
//! count and the SHA-256 of its item as exported (the fields but `points`, then every point).
//! The next increment exports the measurement as usual and compares: when its first points
//! hash to the mark, the increment holds only the points after them, as an append item
//! (`{"appendTo": <measurement id>, "after": <count>, "points": [...], ...}`), or nothing when
//! there are none; otherwise (a point changed, one inserted before the end, no mark) the
//! whole measurement, which replaces the older ones as before.
//!
//! A chain reader puts the append items back onto the measurement they follow, checking the
//! count (see [`append_points`]), so every consumer of a chain sees whole measurements. An
//! append item has no `measurement` field: a reader that does not know it (the core's, an
//! older pryv-backup) refuses the item instead of taking the new points for the series.
//!
//! The marks are in the clear, as the record is. They name measurements by a digest of a
//! random id, give a count the files' sizes already tell, and a digest of at least
//! [`MARK_MIN_POINTS`] points, too many to guess; smaller series are copied whole, which
//! costs little.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::json::digest_line;
use crate::model::Item;

/// Measurements with fewer points get no mark and go whole into every increment.
pub const MARK_MIN_POINTS: usize = 1_000;

/// The field of an append item naming its measurement (the `measurement` of the item it
/// extends).
pub const APPEND_TO: &str = "appendTo";
/// The field of an append item giving how many points the measurement it extends holds.
pub const APPEND_AFTER: &str = "after";

const MEASUREMENT: &str = "measurement";
const POINTS: &str = "points";

/// What a generation's record says of one measurement of a user as the chain holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesMark {
    /// Hex SHA-256 of the measurement id.
    pub measurement: String,
    /// Points the chain holds for it.
    pub points: u64,
    /// Hex SHA-256 of its item (see the module's doc).
    pub sha256: String,
}

/// How an increment writes one exported measurement.
#[derive(Debug, PartialEq)]
pub enum SeriesWrite {
    /// The chain holds it as it is: nothing to write.
    Unchanged,
    /// Only these points are new: write this append item.
    Append(Item),
    /// Write the measurement whole.
    Whole,
}

/// Hex SHA-256 of a measurement id, as marks name measurements.
pub fn measurement_digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// How to write `item` (a measurement as an engine exports it) given the chain's mark for
/// it, and the mark the new generation records for it (`None` under [`MARK_MIN_POINTS`]).
/// `previous` is `None` for a full export: the item is then written whole.
pub fn plan(item: &Item, previous: Option<&SeriesMark>) -> (SeriesWrite, Option<SeriesMark>) {
    let (Some(id), Some(points)) = (
        item.get(MEASUREMENT).and_then(Value::as_str),
        item.get(POINTS).and_then(Value::as_array),
    ) else {
        return (SeriesWrite::Whole, None);
    };
    let mut hasher = Sha256::new();
    hash_header(&mut hasher, item);
    let follows = previous.and_then(|mark| {
        let known = usize::try_from(mark.points).ok()?;
        (known <= points.len()).then_some((known, mark))
    });
    let mut write = SeriesWrite::Whole;
    for (i, point) in points.iter().enumerate() {
        if let Some((known, mark)) = follows {
            if i == known {
                write = after_prefix(&hasher, mark, item, &points[known..]);
            }
        }
        digest_line(&mut hasher, point);
    }
    if let Some((known, mark)) = follows {
        if known == points.len() {
            write = after_prefix(&hasher, mark, item, &[]);
        }
    }
    let mark = (points.len() >= MARK_MIN_POINTS).then(|| SeriesMark {
        measurement: measurement_digest(id),
        points: points.len() as u64,
        sha256: hex::encode(hasher.finalize()),
    });
    (write, mark)
}

/// The write once the first points are hashed: whether they are the ones the mark saw.
fn after_prefix(hasher: &Sha256, mark: &SeriesMark, item: &Item, new: &[Value]) -> SeriesWrite {
    if hex::encode(hasher.clone().finalize()) != mark.sha256 {
        return SeriesWrite::Whole;
    }
    if new.is_empty() {
        return SeriesWrite::Unchanged;
    }
    let mut append = serde_json::Map::new();
    for (key, value) in item.as_object().into_iter().flatten() {
        match key.as_str() {
            MEASUREMENT => {
                append.insert(APPEND_TO.into(), value.clone());
                append.insert(APPEND_AFTER.into(), Value::from(mark.points));
            }
            POINTS => {
                append.insert(POINTS.into(), Value::Array(new.to_vec()));
            }
            _ => {
                append.insert(key.clone(), value.clone());
            }
        }
    }
    SeriesWrite::Append(Value::Object(append))
}

/// The fields but `points`, in their order: a change of unit or shape is a change.
fn hash_header(hasher: &mut Sha256, item: &Item) {
    for (key, value) in item.as_object().into_iter().flatten() {
        if key != POINTS {
            hasher.update(key.as_bytes());
            hasher.update(b"\0");
            digest_line(hasher, value);
        }
    }
    hasher.update(b"\0points\0");
}

/// The measurement an append item extends (its `appendTo` value) and how many points that
/// measurement must hold before it; `None` for any other item.
pub fn append_target(item: &Item) -> Option<(&Value, u64)> {
    let to = item.get(APPEND_TO)?;
    Some((
        to,
        item.get(APPEND_AFTER).and_then(Value::as_u64).unwrap_or(0),
    ))
}

/// Puts the points of `append` (an append item) after those of `measurement`, which must
/// hold exactly as many points as the append item follows; the error says what differs.
pub fn append_points(measurement: &mut Item, append: &Item) -> Result<(), String> {
    let after = append_target(append).map_or(0, |(_, after)| after);
    let new = append
        .get(POINTS)
        .and_then(Value::as_array)
        .ok_or("an append item of a series has no points")?;
    let points = measurement
        .get_mut(POINTS)
        .and_then(Value::as_array_mut)
        .ok_or("a series item has no points")?;
    if points.len() as u64 != after {
        return Err(format!(
            "points were added after point {after} of a series the older generations hold \
             {} points of",
            points.len()
        ));
    }
    points.extend(new.iter().cloned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn series(n: usize) -> Item {
        let points: Vec<Value> = (0..n).map(|i| json!({"time": i, "value": i * 2})).collect();
        json!({"measurement": "ev1", "timeUnit": "ms", "points": points})
    }

    fn mark_of(item: &Item) -> SeriesMark {
        plan(item, None).1.expect("a mark")
    }

    #[test]
    fn a_series_that_only_grew_is_written_as_its_new_points() {
        let before = series(MARK_MIN_POINTS);
        let after = series(MARK_MIN_POINTS + 3);
        let (write, mark) = plan(&after, Some(&mark_of(&before)));
        let SeriesWrite::Append(append) = write else {
            panic!("expected an append, got {write:?}");
        };
        assert_eq!(append[APPEND_TO], json!("ev1"));
        assert_eq!(append[APPEND_AFTER], json!(MARK_MIN_POINTS));
        assert_eq!(append["timeUnit"], json!("ms"));
        assert!(append.get(MEASUREMENT).is_none());
        assert_eq!(append[POINTS].as_array().map(Vec::len), Some(3));
        assert_eq!(mark, Some(mark_of(&after)));

        let mut merged = before.clone();
        append_points(&mut merged, &append).expect("follows");
        assert_eq!(merged, after);
    }

    #[test]
    fn an_unchanged_series_is_not_written_and_a_changed_point_sends_it_whole() {
        let before = series(MARK_MIN_POINTS);
        let mark = mark_of(&before);
        assert_eq!(plan(&before, Some(&mark)).0, SeriesWrite::Unchanged);

        let mut edited = series(MARK_MIN_POINTS + 1);
        edited[POINTS][10]["value"] = json!(-1);
        assert_eq!(plan(&edited, Some(&mark)).0, SeriesWrite::Whole);

        let mut other_unit = series(MARK_MIN_POINTS + 1);
        other_unit["timeUnit"] = json!("s");
        assert_eq!(plan(&other_unit, Some(&mark)).0, SeriesWrite::Whole);

        // Fewer points than the mark counted: some were removed.
        assert_eq!(plan(&series(5), Some(&mark)).0, SeriesWrite::Whole);
        // No mark: whole, and small series get none.
        assert_eq!(plan(&before, None).0, SeriesWrite::Whole);
        assert_eq!(plan(&series(MARK_MIN_POINTS - 1), None).1, None);
    }

    #[test]
    fn points_appended_to_a_series_holding_another_count_are_refused() {
        let append = json!({"appendTo": "ev1", "after": 4, "points": [{"time": 9}]});
        let mut held = series(3);
        let e = append_points(&mut held, &append).expect_err("3 points, not 4");
        assert!(e.contains("after point 4") && e.contains("3 points"), "{e}");
        assert_eq!(held, series(3));
    }
}
