//! Distinct keys for a table loaded without its primary key.
//!
//! A restore into a schema it created builds the big tables' primary keys after the load
//! (maintaining them row by row is most of a COPY's server time). Each user must still be
//! refused, before its commit, when two of its rows share a key. [`KeyGuard`] proves the keys
//! distinct as the rows go by, from their order: pryv-backup's backups list rows in at most
//! two runs (events: history copies, then heads; see `events::EXPORT_ORDER`). Rows that are
//! strictly ascending within each run are distinct there, and a merge of the second run
//! against the first (kept while it fits in [`FIRST_RUN_BYTES`]) finds any key the two share.
//! In a table with `head_id`, the history copies come first in the source's physical order
//! (which the core's history reads keep), not in key order: their keys are kept, sorted and
//! checked when the first head arrives. When the rows follow no such order, the guard asks
//! the database instead, with a query that groups the user's rows by key: exact, only slower.

use std::cmp::Ordering;

use super::pool::Session;
use super::table::{Cell, Inserter};
use super::PgError;

/// Keys of the first run kept for the merge: beyond this, a second run is checked by the
/// database instead. About 300 000 event ids.
const FIRST_RUN_BYTES: usize = 8 << 20;

pub struct KeyGuard {
    table: String,
    /// Key columns (`user_id` left out: every row is the user's) and their places in a row.
    columns: Vec<&'static str>,
    positions: Vec<usize>,
    /// Where `head_id` is in a row, for tables with history copies.
    head_at: Option<usize>,
    phase: Phase,
    /// The previous row's key, encoded (see [`encode`]; never empty once a row was seen).
    last: Vec<u8>,
    key: Vec<u8>,
    /// The first run's keys, each after its length (u32, little-endian), ascending.
    first_run: Vec<u8>,
    /// The first run outgrew `first_run`.
    first_run_cut: bool,
    /// Where the merge stands in `first_run`.
    cursor: usize,
}

/// How a user's keys were found distinct.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proof {
    ByOrder,
    /// By a query that read the whole table.
    ByDatabase,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    FirstRun,
    SecondRun,
    /// Keys the order cannot prove distinct: [`KeyGuard::finish`] asks the database.
    Unproven,
}

impl KeyGuard {
    /// A guard for the rows `inserter` describes (its key, without `user_id`).
    pub fn for_inserter(inserter: &Inserter<'_>) -> Self {
        let names: Vec<&str> = inserter.columns().iter().map(|(n, _)| *n).collect();
        let columns: Vec<&'static str> = inserter
            .key()
            .iter()
            .copied()
            .filter(|c| *c != "user_id")
            .collect();
        // A key column the rows lack (none does) finds no cell: the database then checks.
        let positions = columns
            .iter()
            .map(|c| names.iter().position(|n| n == c).unwrap_or(usize::MAX))
            .collect();
        let head_at = names.iter().position(|n| *n == "head_id");
        KeyGuard {
            table: inserter.table().to_string(),
            columns,
            positions,
            head_at,
            phase: Phase::FirstRun,
            last: Vec::new(),
            key: Vec::new(),
            first_run: Vec::new(),
            first_run_cut: false,
            cursor: 0,
        }
    }

    /// Takes the next row's key. `Err` when it repeats a key already seen.
    pub fn observe(&mut self, row: &[Cell<'_>]) -> Result<(), PgError> {
        if self.phase == Phase::Unproven {
            return Ok(());
        }
        self.key.clear();
        for &at in &self.positions {
            if !encode(row.get(at), &mut self.key) {
                self.phase = Phase::Unproven;
                return Ok(());
            }
        }
        if let Some(at) = self.head_at {
            let history = matches!(row.get(at), Some(Cell::Text(_)));
            match (self.phase, history) {
                // History copies, in any order: kept, checked when the heads begin.
                (Phase::FirstRun, true) => {
                    self.keep_in_first_run();
                    if self.first_run_cut {
                        self.phase = Phase::Unproven;
                    }
                    return Ok(());
                }
                (Phase::FirstRun, false) => {
                    self.sort_history_run();
                    if self.phase == Phase::Unproven {
                        return Ok(());
                    }
                    self.phase = Phase::SecondRun;
                }
                (Phase::SecondRun, true) => {
                    self.phase = Phase::Unproven;
                    return Ok(());
                }
                _ => {}
            }
        }
        if !self.last.is_empty() {
            match self.key.as_slice().cmp(self.last.as_slice()) {
                Ordering::Equal => return Err(self.duplicate(row)),
                Ordering::Less => {
                    // A new run: the second, which the merge can check, or a third.
                    if self.phase == Phase::FirstRun && !self.first_run_cut {
                        self.phase = Phase::SecondRun;
                    } else {
                        self.phase = Phase::Unproven;
                        return Ok(());
                    }
                }
                Ordering::Greater => {}
            }
        }
        match self.phase {
            Phase::FirstRun => self.keep_in_first_run(),
            Phase::SecondRun => self.merge(row)?,
            Phase::Unproven => {}
        }
        std::mem::swap(&mut self.last, &mut self.key);
        Ok(())
    }

    fn keep_in_first_run(&mut self) {
        if self.first_run_cut {
            return;
        }
        if self.first_run.len() + 4 + self.key.len() > FIRST_RUN_BYTES {
            self.first_run_cut = true;
            self.first_run = Vec::new();
            return;
        }
        // Shorter than FIRST_RUN_BYTES, as checked above.
        let len = self.key.len() as u32;
        self.first_run.extend_from_slice(&len.to_le_bytes());
        self.first_run.extend_from_slice(&self.key);
    }

    /// Sorts the kept history keys for the merge; two equal ones leave the proof (and the
    /// error naming them) to the database.
    fn sort_history_run(&mut self) {
        let mut keys = Vec::new();
        let mut at = 0;
        while let Some(key) = entry(&self.first_run, at) {
            at += 4 + key.len();
            keys.push(key);
        }
        keys.sort_unstable();
        if keys.windows(2).any(|pair| pair[0] == pair[1]) {
            self.phase = Phase::Unproven;
            return;
        }
        let mut sorted = Vec::with_capacity(self.first_run.len());
        for key in keys {
            sorted.extend_from_slice(&(key.len() as u32).to_le_bytes());
            sorted.extend_from_slice(key);
        }
        self.first_run = sorted;
    }

    /// Moves through the first run up to the current key: `Err` if it holds it.
    fn merge(&mut self, row: &[Cell<'_>]) -> Result<(), PgError> {
        while let Some(kept) = entry(&self.first_run, self.cursor) {
            match kept.cmp(self.key.as_slice()) {
                Ordering::Less => self.cursor += 4 + kept.len(),
                Ordering::Equal => return Err(self.duplicate(row)),
                Ordering::Greater => break,
            }
        }
        Ok(())
    }

    /// Once the user's rows are written: when their order proved nothing, the database
    /// groups them by key. `Err` when two share one; else whether the order proved it.
    pub fn finish(mut self, tx: &mut Session<'_>, user_id: &str) -> Result<Proof, PgError> {
        if self.head_at.is_some() && self.phase == Phase::FirstRun {
            // History copies only: their keys are checked here.
            self.sort_history_run();
        }
        if self.phase != Phase::Unproven {
            return Ok(Proof::ByOrder);
        }
        tracing::debug!(
            "{}: rows of {user_id} not in key order, checking their keys in the database",
            self.table
        );
        let key = self.columns.join(", ");
        let sql = format!(
            "SELECT ({key})::text FROM {} WHERE user_id = $1 GROUP BY {key} \
             HAVING count(*) > 1 LIMIT 1",
            self.table
        );
        let Some(row) = tx.query_opt(sql.as_str(), &[&user_id])? else {
            return Ok(Proof::ByDatabase);
        };
        // A row of several columns comes as text in parentheses already.
        let value: String = row.try_get(0)?;
        let value = match self.columns.len() {
            1 => format!("({value})"),
            _ => value,
        };
        Err(PgError::DuplicateKey {
            table: self.table,
            key: format!("({key}) = {value}"),
        })
    }

    fn duplicate(&self, row: &[Cell<'_>]) -> PgError {
        let values: Vec<String> = self
            .positions
            .iter()
            .map(|&at| match row.get(at) {
                Some(Cell::Text(text)) => text.to_string(),
                Some(Cell::Float(x)) => x.to_string(),
                _ => String::new(),
            })
            .collect();
        PgError::DuplicateKey {
            table: self.table.clone(),
            key: format!("({}) = ({})", self.columns.join(", "), values.join(", ")),
        }
    }
}

/// The kept key at `at` in `first_run`, if any.
fn entry(first_run: &[u8], at: usize) -> Option<&[u8]> {
    let len = first_run.get(at..at + 4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    first_run.get(at + 4..at + 4 + len)
}

/// Appends a key column so that byte order of the encodings is the order of the keys, and
/// equal encodings are the keys PostgreSQL takes for equal: texts by their bytes (a
/// deterministic collation calls equal only the same bytes; they hold no NUL, which ends
/// them), floats with -0 as 0 and every NaN as one, above +∞ (the guarded keys hold no
/// other kind). `false` for a value of another kind (the guard then leaves the check to the
/// database).
fn encode(cell: Option<&Cell<'_>>, out: &mut Vec<u8>) -> bool {
    match cell {
        Some(Cell::Text(text)) => {
            out.extend_from_slice(text.as_bytes());
            out.push(0);
        }
        Some(Cell::Float(x)) => {
            let x = if *x == 0.0 {
                0.0
            } else if x.is_nan() {
                f64::NAN
            } else {
                *x
            };
            let bits = x.to_bits();
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits | 1 << 63
            };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::postgres::table::Kind;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn guard() -> KeyGuard {
        let inserter = Inserter::new(
            "events",
            vec![("user_id", Kind::Text), ("id", Kind::Text)],
            vec!["user_id", "id"],
        );
        KeyGuard::for_inserter(&inserter)
    }

    fn run(ids: &[&str]) -> Result<Phase, PgError> {
        let mut g = guard();
        for id in ids {
            g.observe(&[Cell::Text("u".into()), Cell::Text((*id).into())])?;
        }
        Ok(g.phase)
    }

    /// The order pryv-backup's backups give (history copies by id, then heads by id) is
    /// proven; a key the two runs share, or one repeated within a run, is refused.
    #[test]
    fn two_ascending_runs_prove_distinct_keys() {
        assert_eq!(run(&["a", "c", "e"]).unwrap(), Phase::FirstRun);
        assert_eq!(run(&["b", "d", "a", "c", "e"]).unwrap(), Phase::SecondRun);
        assert_eq!(run(&[]).unwrap(), Phase::FirstRun);
        assert!(matches!(
            run(&["b", "d", "a", "d"]),
            Err(PgError::DuplicateKey { .. })
        ));
        assert!(matches!(
            run(&["a", "b", "b"]),
            Err(PgError::DuplicateKey { .. })
        ));
        assert!(matches!(
            run(&["x", "a", "x"]),
            Err(PgError::DuplicateKey { .. })
        ));
        // "a" then "ab": a prefix is a different, smaller key.
        assert_eq!(run(&["ab", "a", "abc"]).unwrap(), Phase::SecondRun);
    }

    fn run_with_history(rows: &[(&str, bool)]) -> Result<Phase, PgError> {
        let inserter = Inserter::new(
            "events",
            vec![
                ("user_id", Kind::Text),
                ("id", Kind::Text),
                ("head_id", Kind::Text),
            ],
            vec!["user_id", "id"],
        );
        let mut g = KeyGuard::for_inserter(&inserter);
        for (id, history) in rows {
            let head = if *history {
                Cell::Text("h".into())
            } else {
                Cell::Null
            };
            g.observe(&[Cell::Text("u".into()), Cell::Text((*id).into()), head])?;
        }
        if g.phase == Phase::FirstRun {
            g.sort_history_run();
        }
        Ok(g.phase)
    }

    /// History copies in the source's physical order (any key order), then heads by key:
    /// proven; a key they share is refused; a repeated history key is left to the database.
    #[test]
    fn history_copies_in_any_order_then_ascending_heads_prove_distinct_keys() {
        let h = |id| (id, true);
        let head = |id| (id, false);
        assert_eq!(
            run_with_history(&[h("z"), h("b"), head("a"), head("c")]).unwrap(),
            Phase::SecondRun
        );
        assert_eq!(
            run_with_history(&[h("z"), h("b")]).unwrap(),
            Phase::FirstRun
        );
        assert!(matches!(
            run_with_history(&[h("z"), h("b"), head("a"), head("z")]),
            Err(PgError::DuplicateKey { .. })
        ));
        assert_eq!(
            run_with_history(&[h("z"), h("z"), head("a")]).unwrap(),
            Phase::Unproven
        );
        assert_eq!(
            run_with_history(&[h("z"), h("z")]).unwrap(),
            Phase::Unproven
        );
        assert_eq!(
            run_with_history(&[head("a"), h("b")]).unwrap(),
            Phase::Unproven
        );
        assert_eq!(
            run_with_history(&[head("b"), head("a")]).unwrap(),
            Phase::Unproven
        );
    }

    /// Rows in no such order (bin/backup.js's archives) are left to the database.
    #[test]
    fn other_orders_are_left_to_the_database() {
        assert_eq!(run(&["c", "b", "a"]).unwrap(), Phase::Unproven);
        assert_eq!(run(&["b", "a", "c", "a"]).unwrap(), Phase::Unproven);
    }

    /// Floats compare as PostgreSQL's float8 does: -0 equals 0, NaN equals NaN and sorts
    /// above everything.
    #[test]
    fn floats_encode_in_postgres_order() {
        let enc = |x: f64| {
            let mut out = Vec::new();
            assert!(encode(Some(&Cell::Float(x)), &mut out));
            out
        };
        let ordered = [
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -1e-300,
            0.0,
            1e-300,
            2.0,
            f64::INFINITY,
        ];
        for pair in ordered.windows(2) {
            assert!(enc(pair[0]) < enc(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(enc(-0.0), enc(0.0));
        assert_eq!(enc(f64::NAN), enc(-f64::NAN));
        assert!(enc(f64::NAN) > enc(f64::INFINITY));
    }

    /// Past the first run's budget, a second run cannot be merged: the database checks.
    #[test]
    fn a_first_run_too_long_to_keep_is_left_to_the_database() {
        let mut g = guard();
        let long = "x".repeat(1 << 20);
        for i in 0..9 {
            let id = format!("{i}{long}");
            g.observe(&[Cell::Text("u".into()), Cell::Text(id.into())])
                .unwrap();
        }
        assert_eq!(g.phase, Phase::FirstRun);
        g.observe(&[Cell::Text("u".into()), Cell::Text("0".into())])
            .unwrap();
        assert_eq!(g.phase, Phase::Unproven);
    }

    proptest! {
        /// Whatever the order: a key the guard refuses is repeated, and keys it calls
        /// proven are distinct (the rest goes to the database).
        #[test]
        fn the_guard_never_errs_either_way(
            first in proptest::collection::vec("[a-d]{1,3}", 0..12),
            second in proptest::collection::vec("[a-d]{1,3}", 0..12),
            sorted in any::<bool>(),
        ) {
            let (mut first, mut second) = (first, second);
            if sorted {
                first.sort();
                first.dedup();
                second.sort();
                second.dedup();
            }
            let ids: Vec<&str> = first.iter().chain(&second).map(String::as_str).collect();
            let distinct = ids.iter().collect::<HashSet<_>>().len() == ids.len();
            match run(&ids) {
                Err(_) => prop_assert!(!distinct),
                Ok(Phase::Unproven) => {}
                Ok(_) => prop_assert!(distinct),
            }
        }
    }
}
