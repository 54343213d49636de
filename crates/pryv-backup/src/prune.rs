//! Retention: which backups of a folder (or S3 prefix) of dated backups to keep, and the
//! removal of the others.
//!
//! Every generation of every backup in the folder (a base or one of its increments) is a
//! snapshot, dated by its manifest's `backupTimestamp`. The policy keeps snapshots with
//! restic's rules: `keep_last` the newest n; `keep_hourly` (daily, weekly, monthly, yearly)
//! the newest snapshot of each of the n newest hours (days, ...) that have one;
//! `keep_within` every snapshot less than that long before the newest one. A snapshot any
//! rule keeps is kept. Unlike restic, periods are UTC (the same answer on every host).
//!
//! An increment needs its base and the increments before it: those are kept with it. A
//! backup nothing keeps is removed whole; one whose newest increments nothing keeps loses
//! those. Within a backup, generations rank by sequence, never by clock: each counts as
//! written at the latest time of itself and the generations before it, so a clock stepped
//! back can never make a newer increment look older than its base.
//!
//! Generations are dated and ordered from their clear records (`chain.json`), so no key is
//! needed. Only the files the manifests list are removed (then the folders left empty);
//! an encrypted generation whose manifests cannot be opened (no key given) loses the files
//! of its layout instead (root files of the format, `users/`, `platform/`, `register/`). A
//! backup whose lock another run holds (being written) or that has no manifest yet is left
//! alone; one whose chain is broken (a lost generation), that cannot be read, or whose lock
//! cannot be taken when removing (no write access) is reported damaged and left alone. A dry
//! run looks without taking locks it cannot take, so a user with read access only can run it.
//!
//! Before removing a generation (or a whole backup), prune writes into its folder a marker,
//! [`PRUNING_MARKER`], listing the files it is about to remove, and makes it durable; the
//! marker goes last. A prune stopped half-way (signal, crash) leaves the marker, and the next
//! prune finishes that removal first, from the marker's list, manifest or not.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::{Backend, ChangeLock};
use crate::chain::{
    layout_files, listed_files_of, ChainIndex, GenerationInfo, Opener, INCREMENTS_DIR,
};
use crate::{Error, Result};

/// How many snapshots each rule keeps (`None`: the rule is not used).
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub keep_last: Option<usize>,
    pub keep_hourly: Option<usize>,
    pub keep_daily: Option<usize>,
    pub keep_weekly: Option<usize>,
    pub keep_monthly: Option<usize>,
    pub keep_yearly: Option<usize>,
    /// Milliseconds before the newest snapshot.
    pub keep_within_ms: Option<u64>,
}

impl Policy {
    /// No rule keeps anything (as in restic, a count of 0 is no rule): such a policy would
    /// remove every backup, so it is refused.
    pub fn is_empty(&self) -> bool {
        [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ]
        .iter()
        .all(|n| n.unwrap_or(0) == 0)
            && self.keep_within_ms.unwrap_or(0) == 0
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The period of a time for each bucketed rule; equal keys mean the same period.
fn period(rule: &str, time_ms: u64) -> i64 {
    let ms = time_ms as i64;
    let days = ms.div_euclid(DAY_MS);
    match rule {
        "hourly" => ms.div_euclid(HOUR_MS),
        "daily" => days,
        // The Monday starting the ISO week (1970-01-01 was a Thursday).
        "weekly" => days - (days + 3).rem_euclid(7),
        "monthly" => {
            let (y, m, _) = crate::dates::civil_from_days(days);
            y * 12 + m
        }
        _ => crate::dates::civil_from_days(days).0,
    }
}

/// For each time (any order), the rules that keep it; empty when none does.
pub fn select(times_ms: &[u64], policy: &Policy) -> Vec<Vec<String>> {
    let mut order: Vec<usize> = (0..times_ms.len()).collect();
    // Equal times: the later one (a newer generation of the same backup) ranks newer.
    order.sort_by_key(|&i| std::cmp::Reverse((times_ms[i], i)));
    let mut reasons = vec![Vec::new(); times_ms.len()];
    if let Some(n) = policy.keep_last {
        for &i in order.iter().take(n) {
            reasons[i].push("last".to_string());
        }
    }
    for (rule, count) in [
        ("hourly", policy.keep_hourly),
        ("daily", policy.keep_daily),
        ("weekly", policy.keep_weekly),
        ("monthly", policy.keep_monthly),
        ("yearly", policy.keep_yearly),
    ] {
        let Some(mut left) = count else { continue };
        let mut last = None;
        for &i in &order {
            if left == 0 {
                break;
            }
            let p = period(rule, times_ms[i]);
            if last != Some(p) {
                reasons[i].push(rule.to_string());
                last = Some(p);
                left -= 1;
            }
        }
    }
    if let (Some(within), Some(&newest)) = (policy.keep_within_ms, order.first()) {
        let from = times_ms[newest].saturating_sub(within);
        for &i in &order {
            if times_ms[i] >= from {
                reasons[i].push("within".to_string());
            }
        }
    }
    reasons
}

/// For backups given as the times of their generations (base first), why each generation
/// is kept (empty: removed): the rules, or that a later increment of its backup needs it.
pub fn plan(backups: &[Vec<u64>], policy: &Policy) -> Vec<Vec<Vec<String>>> {
    // By sequence: a generation is never older than the ones it was made after.
    let all: Vec<u64> = backups
        .iter()
        .flat_map(|generations| {
            generations.iter().scan(0, |latest, &t| {
                *latest = t.max(*latest);
                Some(*latest)
            })
        })
        .collect();
    let mut reasons = select(&all, policy).into_iter();
    backups
        .iter()
        .map(|generations| {
            let mut kept_by: Vec<Vec<String>> = generations
                .iter()
                .map(|_| reasons.next().unwrap_or_default())
                .collect();
            // An increment needs every generation before it.
            if let Some(newest) = kept_by.iter().rposition(|r| !r.is_empty()) {
                for reasons in kept_by.iter_mut().take(newest) {
                    if reasons.is_empty() {
                        reasons.push("needed by a later increment".into());
                    }
                }
            }
            kept_by
        })
        .collect()
}

/// One generation of a backup in the report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    pub dir: PathBuf,
    pub backup_timestamp: u64,
    /// The rules that keep it, or `needed by a later increment`; empty when removed.
    pub kept_by: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub kept: Vec<Generation>,
    pub removed: Vec<Generation>,
    /// Folders left alone, with why (a live lock of another run, no manifest yet).
    pub skipped: Vec<(PathBuf, String)>,
    /// Backups left alone because they are broken or cannot be read, with why (a lost
    /// generation, named): a prune that meets one has not done all it should.
    pub damaged: Vec<(PathBuf, String)>,
    /// False for a dry run: nothing was removed.
    pub applied: bool,
    pub files_removed: u64,
    /// Removals an earlier prune began and was stopped in (its marker was found), finished
    /// by this run (or, in a dry run, that it would finish).
    pub finished: Vec<PathBuf>,
}

/// The marker of a removal under way, in the folder being removed (see the module doc).
pub const PRUNING_MARKER: &str = ".pryv-backup-pruning.json";

/// Files removed between two checks for a stop request.
const REMOVAL_BATCH: usize = 64;

/// Marks `dir` as being removed (the marker lists `files`, relative to `dir`), then removes
/// the files, then the marker and the folders left empty. Returns how many files went.
fn remove_marked(backend: &Backend, dir: &Path, files: &[PathBuf]) -> Result<u64> {
    let relative: Vec<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(dir).ok())
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let text = serde_json::to_vec(&serde_json::json!({ "files": relative }))
        .map_err(|e| Error::Other(format!("cannot encode the prune marker: {e}")))?;
    crate::archive::output::write_file_durable(
        backend,
        &dir.join(PRUNING_MARKER),
        &text,
        None,
        PRUNING_MARKER.to_string(),
    )?;
    finish_marked(backend, dir, files)
}

/// Removes `files`, checking for a stop request between batches, then the marker.
fn finish_marked(backend: &Backend, dir: &Path, files: &[PathBuf]) -> Result<u64> {
    let mut removed = 0;
    for batch in files.chunks(REMOVAL_BATCH) {
        crate::interrupt::check()?;
        removed += backend.remove_listed(dir, batch)?;
        crate::interrupt::pause_point("prune-removing");
    }
    crate::interrupt::check()?;
    backend.remove_listed(dir, &[dir.join(PRUNING_MARKER)])?;
    Ok(removed)
}

/// The files the marker in `dir` lists, when there is one. A name that would leave `dir` is
/// refused: the marker is data like any other in the folder.
fn marked_files(backend: &Backend, dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    use std::io::Read;
    let path = dir.join(PRUNING_MARKER);
    let Some(mut input) = backend.open(&path)? else {
        return Ok(None);
    };
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| Error::io(&path, e))?;
    let bad = |why: String| {
        Error::Other(format!(
            "{} is not a marker this version can read ({why}): check the folder and remove it \
             by hand",
            path.display()
        ))
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let names = value
        .get("files")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| bad("no file list".into()))?;
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let name = name
            .as_str()
            .ok_or_else(|| bad("a name is not text".into()))?;
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(bad(format!("{name:?} is not a path inside the folder")));
        }
        files.push(dir.join(relative));
    }
    Ok(Some(files))
}

/// Finishes the removal an interrupted prune marked in `dir`, if it did; true when `dir`
/// had a marker (removed or, in a dry run, to be removed).
fn finish_interrupted(
    backend: &Backend,
    dir: &Path,
    apply: bool,
    report: &mut PruneReport,
) -> Result<bool> {
    let Some(files) = marked_files(backend, dir)? else {
        return Ok(false);
    };
    if apply {
        report.files_removed += finish_marked(backend, dir, &files)?;
        backend.remove_empty_dir(&dir.join(INCREMENTS_DIR));
        backend.remove_empty_dir(dir);
        remove_lock_file_of_removed(backend, dir);
    }
    report.finished.push(dir.to_path_buf());
    Ok(true)
}

/// A local backup's lock file sits beside its folder: once the folder is gone, the file is
/// removed too (still held by this run, so no backup is writing there), rather than left
/// beside nothing. S3 lock objects go when their lock is released.
fn remove_lock_file_of_removed(backend: &Backend, dir: &Path) {
    if backend.is_local() && !dir.exists() {
        let lock = crate::lock::backup_output_lock_path(dir);
        if let Err(e) = std::fs::remove_file(&lock) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("could not remove the lock file {}: {e}", lock.display());
            }
        }
    }
}

/// Finishes the removals an earlier prune was stopped in, in the backup at `dir` and its
/// increments; true when the whole backup was being removed.
fn finish_interrupted_in(
    backend: &Backend,
    dir: &Path,
    apply: bool,
    report: &mut PruneReport,
) -> Result<bool> {
    if finish_interrupted(backend, dir, apply, report)? {
        return Ok(true);
    }
    let increments = dir.join(INCREMENTS_DIR);
    if backend.is_dir(&increments)? {
        for generation in backend.list_dirs(&increments)? {
            finish_interrupted(backend, &increments.join(generation), apply, report)?;
        }
    }
    Ok(false)
}

/// Applies `policy` to the backups directly inside `root`; removes only when `apply`.
pub fn run(
    backend: &Backend,
    root: &Path,
    policy: &Policy,
    apply: bool,
    open: &Opener<'_>,
) -> Result<PruneReport> {
    if policy.is_empty() {
        return Err(Error::Other(
            "no retention rule given (--keep-last, --keep-daily, ...): nothing would be kept, \
             so nothing is removed"
                .into(),
        ));
    }
    // A backup given instead of the folder that holds backups: its own folders are no
    // backups, and nothing should be locked or looked at inside it.
    if backend.is_file(&root.join("manifest.json"))? {
        return Err(Error::Other(format!(
            "{} is a backup: give the folder that holds the dated backups",
            root.display()
        )));
    }
    let mut report = PruneReport {
        applied: apply,
        ..Default::default()
    };
    // Each backup with its lock, held until the end so no backup starts in it meanwhile.
    let mut backups = Vec::new();
    for name in backend.list_dirs(root)? {
        let dir = root.join(&name);
        let lock = match backend.lock_to_change(&dir, apply, "prune") {
            ChangeLock::Busy(why) => {
                report.skipped.push((dir, why));
                continue;
            }
            ChangeLock::Refused(why) => {
                report.damaged.push((dir, why));
                continue;
            }
            lock => lock,
        };
        // A removal an earlier prune was stopped in: finished before anything else.
        match finish_interrupted_in(backend, &dir, apply, &mut report) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                report.damaged.push((dir, format!("cannot be read: {e}")));
                continue;
            }
        }
        let dated = ChainIndex::open(backend, &dir).and_then(|index| match index {
            Some(index) => Ok(Some((crate::chain::generation_times(&index, open)?, index))),
            None => Ok(None),
        });
        match dated {
            Ok(Some((times, index))) => backups.push((dir, index, times, lock)),
            Ok(None) => report
                .skipped
                .push((dir, "no manifest.json: not a complete backup".into())),
            Err(e) => report.damaged.push((dir, e.to_string())),
        }
    }

    let times: Vec<Vec<u64>> = backups.iter().map(|(_, _, t, _)| t.clone()).collect();
    for ((dir, index, times, _lock), kept_by) in backups.iter().zip(plan(&times, policy)) {
        let newest_kept = kept_by.iter().rposition(|r| !r.is_empty());
        let mut to_remove = Vec::new();
        for (g, kept) in kept_by.into_iter().enumerate() {
            let entry = Generation {
                dir: index.generations[g].dir.clone(),
                backup_timestamp: times[g],
                kept_by: kept.clone(),
            };
            if kept.is_empty() {
                to_remove.push(g);
                report.removed.push(entry);
            } else {
                report.kept.push(entry);
            }
        }
        if !apply || to_remove.is_empty() {
            continue;
        }
        if newest_kept.is_none() {
            let mut files = Vec::new();
            for g in &index.generations {
                files.extend(generation_files(backend, g, open)?);
            }
            report.files_removed += remove_marked(backend, dir, &manifests_first(files))?;
        } else {
            // The newest first: an interrupted prune leaves a shorter, still valid chain.
            for &g in to_remove.iter().rev() {
                let g = &index.generations[g];
                let files = manifests_first(generation_files(backend, g, open)?);
                report.files_removed += remove_marked(backend, &g.dir, &files)?;
            }
        }
        backend.remove_empty_dir(&dir.join(INCREMENTS_DIR));
        backend.remove_empty_dir(dir);
        remove_lock_file_of_removed(backend, dir);
    }
    Ok(report)
}

/// The files of one generation: those its manifests list, or, when an encrypted one cannot
/// be opened (no key given), those of its layout.
fn generation_files(
    backend: &Backend,
    g: &GenerationInfo,
    open: &Opener<'_>,
) -> Result<Vec<PathBuf>> {
    match open(&g.dir) {
        Ok(reader) => listed_files_of(&reader),
        Err(_) if g.encryption != crate::chain::EncryptionRecord::NONE => {
            layout_files(backend, &g.dir)
        }
        Err(e) => Err(Error::Other(format!("{}: {e}", g.label()))),
    }
}

/// Each `manifest.json` goes first: a generation interrupted while removed is then an
/// incomplete leftover, never a complete-looking one with files missing.
fn manifests_first(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    files.sort_by_key(|f| f.file_name() != Some(std::ffi::OsStr::new("manifest.json")));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A marker is data in the folder like any other: one naming a file outside it (planted,
    /// or damaged) removes nothing.
    #[test]
    fn a_marker_naming_files_outside_its_folder_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("2026-01-01");
        std::fs::create_dir(&dir).unwrap();
        let outside = root.path().join("precious");
        std::fs::write(&outside, b"keep").unwrap();
        std::fs::write(dir.join("manifest.json"), b"{}").unwrap();
        for name in ["../precious", "/etc/passwd", "users/../../precious"] {
            std::fs::write(
                dir.join(PRUNING_MARKER),
                serde_json::json!({ "files": ["manifest.json", name] }).to_string(),
            )
            .unwrap();
            let mut report = PruneReport::default();
            let err = finish_interrupted(&Backend::Local, &dir, true, &mut report)
                .err()
                .unwrap_or_else(|| panic!("{name} was accepted"));
            assert!(err.to_string().contains("not a path inside"), "{err}");
            assert!(outside.exists() && dir.join("manifest.json").exists());
        }
        std::fs::write(
            dir.join(PRUNING_MARKER),
            serde_json::json!({ "files": ["manifest.json"] }).to_string(),
        )
        .unwrap();
        let mut report = PruneReport::default();
        assert!(finish_interrupted(&Backend::Local, &dir, true, &mut report).unwrap());
        assert!(!dir.exists() && outside.exists());
        assert_eq!(report.finished, vec![dir]);
    }

    /// Milliseconds of a UTC date-time, for readable cases.
    fn at(text: &str) -> u64 {
        // YYYY-MM-DD HH:MM
        let n = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap();
        let (y, m, d, h, min) = (n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16));
        let days = crate::dates::days_from_civil(y, m, d);
        ((days * DAY_MS) + h * HOUR_MS + min * 60_000) as u64
    }

    fn kept(times: &[&str], policy: Policy) -> Vec<String> {
        let ms: Vec<u64> = times.iter().map(|t| at(t)).collect();
        let mut out: Vec<String> = select(&ms, &policy)
            .iter()
            .zip(times)
            .filter(|(r, _)| !r.is_empty())
            .map(|(_, t)| t.to_string())
            .collect();
        out.sort();
        out
    }

    /// Snapshots as restic's tests date theirs: several a day, over weeks and years.
    const TIMES: [&str; 12] = [
        "2024-12-30 23:00",
        "2025-01-05 10:00",
        "2025-01-06 09:00",
        "2025-01-06 18:00",
        "2025-02-01 12:00",
        "2025-02-01 12:30",
        "2025-02-02 08:00",
        "2025-02-03 07:00",
        "2025-02-03 07:45",
        "2025-02-03 21:00",
        "2025-02-04 01:00",
        "2025-02-04 01:10",
    ];

    #[test]
    fn each_rule_keeps_what_restic_keeps() {
        let cases: Vec<(Policy, Vec<&str>)> = vec![
            (
                Policy {
                    keep_last: Some(3),
                    ..Default::default()
                },
                vec!["2025-02-03 21:00", "2025-02-04 01:00", "2025-02-04 01:10"],
            ),
            (
                // The newest of each of the 3 newest hours that have snapshots.
                Policy {
                    keep_hourly: Some(3),
                    ..Default::default()
                },
                vec!["2025-02-03 07:45", "2025-02-03 21:00", "2025-02-04 01:10"],
            ),
            (
                Policy {
                    keep_daily: Some(3),
                    ..Default::default()
                },
                vec!["2025-02-02 08:00", "2025-02-03 21:00", "2025-02-04 01:10"],
            ),
            (
                // ISO weeks (Monday to Sunday): 2025-02-03 is a Monday.
                Policy {
                    keep_weekly: Some(3),
                    ..Default::default()
                },
                vec!["2025-01-06 18:00", "2025-02-02 08:00", "2025-02-04 01:10"],
            ),
            (
                Policy {
                    keep_monthly: Some(2),
                    ..Default::default()
                },
                vec!["2025-01-06 18:00", "2025-02-04 01:10"],
            ),
            (
                Policy {
                    keep_yearly: Some(5),
                    ..Default::default()
                },
                vec!["2024-12-30 23:00", "2025-02-04 01:10"],
            ),
            (
                // Within 24 h of the newest (2025-02-04 01:10).
                Policy {
                    keep_within_ms: Some(24 * 3_600_000),
                    ..Default::default()
                },
                vec![
                    "2025-02-03 07:00",
                    "2025-02-03 07:45",
                    "2025-02-03 21:00",
                    "2025-02-04 01:00",
                    "2025-02-04 01:10",
                ],
            ),
            (
                // Rules add up: what any rule keeps is kept.
                Policy {
                    keep_last: Some(1),
                    keep_monthly: Some(3),
                    ..Default::default()
                },
                vec!["2024-12-30 23:00", "2025-01-06 18:00", "2025-02-04 01:10"],
            ),
        ];
        for (policy, want) in cases {
            let mut want: Vec<String> = want.into_iter().map(String::from).collect();
            want.sort();
            assert_eq!(kept(&TIMES, policy.clone()), want, "{policy:?}");
        }
    }

    /// Backups with increments: what a rule keeps, and what the kept ones need.
    #[test]
    fn kept_increments_keep_their_chain() {
        let day = |d: u64| d * DAY_MS as u64;
        // Three monthly chains of daily generations: 1970-01-01.., 1970-02-02.., 1970-03-02..
        let backups = vec![
            vec![day(0), day(1), day(2)],
            vec![day(32), day(33), day(34), day(35)],
            vec![day(60), day(61)],
        ];
        let kept = |policy: Policy| -> Vec<Vec<bool>> {
            plan(&backups, &policy)
                .into_iter()
                .map(|chain| chain.into_iter().map(|r| !r.is_empty()).collect())
                .collect()
        };
        let cases: Vec<(Policy, Vec<Vec<bool>>)> = vec![
            // The newest 3: the last chain whole, and the newest of the middle one, which
            // needs the three before it.
            (
                Policy {
                    keep_last: Some(3),
                    ..Default::default()
                },
                vec![vec![false; 3], vec![true; 4], vec![true; 2]],
            ),
            // One a month: each chain's newest, so every chain whole.
            (
                Policy {
                    keep_monthly: Some(3),
                    ..Default::default()
                },
                vec![vec![true; 3], vec![true; 4], vec![true; 2]],
            ),
            // The newest 2 months: the oldest chain goes whole.
            (
                Policy {
                    keep_monthly: Some(2),
                    ..Default::default()
                },
                vec![vec![false; 3], vec![true; 4], vec![true; 2]],
            ),
            // Within 1 day of the newest: the last chain only.
            (
                Policy {
                    keep_within_ms: Some(DAY_MS as u64),
                    ..Default::default()
                },
                vec![vec![false; 3], vec![false; 4], vec![true; 2]],
            ),
        ];
        for (policy, want) in cases {
            assert_eq!(kept(policy.clone()), want, "{policy:?}");
        }
        // Generations rank by sequence, not clock: increments dated before their base (a
        // clock stepped back) are still the newest, and the newest is never removed.
        let stepped_back = vec![vec![day(10), day(5), day(6)]];
        for keep_last in [1, 2] {
            let reasons = plan(
                &stepped_back,
                &Policy {
                    keep_last: Some(keep_last),
                    ..Default::default()
                },
            );
            assert_eq!(
                reasons[0].iter().map(|r| !r.is_empty()).collect::<Vec<_>>(),
                [true, true, true],
                "keep_last {keep_last}"
            );
            assert_eq!(
                reasons[0][2],
                ["last"],
                "the newest increment is kept by the rule"
            );
        }
        // Two chains, the newer one's increment dated before the older chain's base.
        let reasons = plan(
            &[vec![day(10)], vec![day(20), day(3)]],
            &Policy {
                keep_last: Some(1),
                ..Default::default()
            },
        );
        assert_eq!(reasons[0], [Vec::<String>::new()]);
        assert_eq!(reasons[1][1], ["last"]);
    }

    #[test]
    fn no_rule_is_refused() {
        assert!(Policy::default().is_empty());
        let zeros = Policy {
            keep_last: Some(0),
            keep_daily: Some(0),
            ..Default::default()
        };
        assert!(zeros.is_empty(), "a count of 0 keeps nothing: no rule");
        let open = |_: &Path| Err("unused".to_string());
        let err = run(
            &Backend::Local,
            Path::new("/nonexistent"),
            &Policy::default(),
            true,
            &open,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no retention rule"), "{err}");
    }

    #[test]
    fn a_backup_given_as_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        let open = |_: &Path| Err("unused".to_string());
        let policy = Policy {
            keep_last: Some(1),
            ..Default::default()
        };
        let err = run(&Backend::Local, dir.path(), &policy, true, &open).unwrap_err();
        assert!(err.to_string().contains("is a backup"), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing written"
        );
    }
}
