//! Restore: conflicts are checked for every user before anything is written, then each
//! user is restored all-or-nothing by the engine (users in parallel), then platform data.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::chain::Chain;
use crate::config::PiiKey;
use crate::engine::{Engine, ImportOptions, UserSource};
use crate::model::{Collection, Item, UserRef};
use crate::platform::{is_index_row, IndexRebuild, PlatformOwners, DEFAULT_CORE_ID};
use crate::platform_plan::{unique_field_of, PlatformPlan};
use crate::progress::Progress;
use crate::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Only these users (userId or username); all users of the backup when empty.
    pub users: Vec<String>,
    /// Replace the data of users that already exist in the target.
    pub overwrite: bool,
    /// Restore the other users when some conflict, instead of aborting.
    pub skip_conflicts: bool,
    /// Check event and access integrity hashes before committing each user.
    pub verify_integrity: bool,
    pub jobs: usize,
    /// What to do with the backup directory once every selected user is restored.
    pub on_success: OnSuccess,
    /// The target's hashed-PII pepper (`platform:piiHmacKey`), when it uses that mode:
    /// platform entries then name users by token, and are recognised by it.
    pub pii_key: Option<PiiKey>,
    /// The target core's id (`core:id`; the core's default when `None`): the value of the
    /// `user-core/` rows rebuilt for archives that do not carry them.
    pub core_id: Option<String>,
    /// Find the conflicts and the users that would be restored, write nothing (no lock is
    /// taken: a journaled SQLite swap left by a killed run is not finished either).
    pub dry_run: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum OnSuccess {
    #[default]
    Keep,
    Delete,
    MoveTo(PathBuf),
}

#[derive(Clone, Debug, Serialize)]
pub struct UserIssue {
    #[serde(flatten)]
    pub user: UserRef,
    pub reason: String,
    /// The target engine that cannot hold some of the user's items, when that is why
    /// (another engine may take them: the backup is not damaged).
    #[serde(rename = "engineLimit", skip_serializing_if = "Option::is_none")]
    pub engine_limit: Option<&'static str>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub restored: Vec<UserRef>,
    /// Users left alone because they conflict (with --skip-conflicts).
    pub skipped: Vec<UserIssue>,
    pub conflicts: Vec<UserIssue>,
    /// Users whose integrity check failed: their restore was undone.
    pub rolled_back: Vec<UserIssue>,
    /// Users whose restore failed for another reason: also undone.
    pub failed: Vec<UserIssue>,
    /// Users whose base data is committed but whose attachments, audit or series kept
    /// apart could not all be written: in place but incomplete (restore again with
    /// --overwrite).
    pub incomplete: Vec<UserIssue>,
    /// True when conflicts stopped the restore before anything was written.
    pub aborted: bool,
    pub platform_entries: u64,
    /// Why the platform entries (unique and indexed account fields) were not restored.
    pub platform_error: Option<String>,
    /// Set when the backup's entries name users under another `platform:piiHmacKey` (or
    /// PII mode) than the target's: the users' rows were re-derived under the target's.
    pub platform_rederived: Option<PlatformRederived>,
    /// Why the work that ends a restore failed (PostgreSQL: confirming that the users'
    /// commits are on disk, or building the indexes of the schema it created). The message
    /// says what to do; the backup is kept.
    pub finish_error: Option<String>,
    /// Where the backup went after success (deleted, moved), or why it stayed although
    /// --delete-on-success or --move-on-success asked otherwise.
    pub backup_disposition: Option<String>,
    /// A dry run: the users that would be restored (nothing was written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_restore: Option<Vec<UserRef>>,
}

/// The backup's platform entries were made with another key or PII mode than the target's.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformRederived {
    pub reason: String,
    /// The backup's entries naming users, left out: the target could not find them.
    pub backup_entries_left_out: u64,
}

/// Keys asked of the target's platform DB per request.
const LOOKUP_BATCH: usize = 500;

impl RestoreReport {
    /// Every selected user restored, none skipped, the platform entries too.
    pub fn is_complete(&self) -> bool {
        !self.aborted
            && self.skipped.is_empty()
            && self.rolled_back.is_empty()
            && self.failed.is_empty()
            && self.incomplete.is_empty()
            && self.platform_error.is_none()
            && self.finish_error.is_none()
    }
}

pub fn run(
    engine: &dyn Engine,
    chain: &Chain,
    backup_dir: &Path,
    options: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreReport> {
    chain.refuse_lone_increment()?;
    if options.skip_conflicts && options.on_success == OnSuccess::Keep {
        return Err(Error::Other(
            "--skip-conflicts needs --delete-on-success or --move-on-success (as bin/backup.js requires)".into(),
        ));
    }
    if matches!(options.on_success, OnSuccess::MoveTo(_)) && !chain.backend().is_local() {
        return Err(Error::Other(
            "--move-on-success moves a local directory; for a backup in S3 use --delete-on-success, or keep it".into(),
        ));
    }
    if let OnSuccess::MoveTo(target) = &options.on_success {
        check_move_target(backup_dir, target)?;
    }
    let backup_users = chain.users();
    let backup_user_count = backup_users.len();
    let users = crate::backup::select_users(backup_users, &options.users).map_err(|_| {
        Error::Other(format!(
            "not every user of {:?} is in this backup (give userIds or usernames it lists; see `pryv-backup inspect`)",
            options.users
        ))
    })?;

    // Held until the run ends, conflicts checked under it: a concurrent restore cannot
    // take the same user between the check and the write. A dry run writes nothing.
    let _lock = if options.dry_run {
        None
    } else {
        Some(engine.lock_for_restore()?)
    };
    let rebuild = IndexRebuild {
        pii_key: options.pii_key.as_ref(),
        core_id: options.core_id.as_deref().unwrap_or(DEFAULT_CORE_ID),
    };
    // A platform file that cannot be read is reported when its entries are imported (the
    // users restore without them); its unique values cannot be checked before.
    let plan = PlatformPlan::read(chain, &rebuild).ok();
    let mut conflicts = find_conflicts(engine, &users, options.overwrite)?;
    if let Some(plan) = &plan {
        for (user, reason) in unique_value_conflicts(engine, chain, &users, plan, &rebuild)? {
            match conflicts.iter_mut().find(|c| c.user == user) {
                Some(c) => c.reason = format!("{}; {reason}", c.reason),
                None => conflicts.push(UserIssue {
                    user,
                    reason,
                    engine_limit: None,
                }),
            }
        }
    }
    let mut report = RestoreReport {
        conflicts,
        ..Default::default()
    };
    if !report.conflicts.is_empty() && !options.skip_conflicts {
        report.aborted = true;
        return Ok(report);
    }
    let to_restore: Vec<UserRef> = users
        .into_iter()
        .filter(|u| {
            let conflict = report.conflicts.iter().find(|c| c.user == *u);
            if let Some(c) = conflict {
                progress.note(&format!(
                    "skipping {} ({}): {}",
                    u.username, u.user_id, c.reason
                ));
                report.skipped.push(c.clone());
            }
            conflict.is_none()
        })
        .collect();

    if options.dry_run {
        report.would_restore = Some(to_restore);
        return Ok(report);
    }
    progress.phase("restoring the users");
    progress.start(to_restore.len());
    let item_counts = chain.item_counts()?;
    let items_of = |u: &UserRef| item_counts.get(u.user_id.as_str()).copied().unwrap_or(0);
    progress.expect_items(to_restore.iter().map(items_of).sum());
    let import = ImportOptions {
        overwrite: options.overwrite,
        verify_integrity: options.verify_integrity,
    };
    // Tests cut the store here, once everything before the users was read from it.
    crate::interrupt::pause_point("restore-manifests-read");
    let mut outage = None;
    let results = import_users(
        engine,
        chain,
        &to_restore,
        &items_of,
        &import,
        options.jobs,
        progress,
    );
    // Moved into the report, not copied: a user's names are held once (at 100,000 users,
    // each copy of the list was ~13 MB).
    for (user, result) in to_restore.into_iter().zip(results) {
        match result.map_err(|e| *e) {
            Ok(()) => report.restored.push(user),
            Err(e) if e.is_unreachable() && !matches!(e, Error::AfterCommit { .. }) => {
                outage.get_or_insert(e);
            }
            Err(e @ Error::Integrity(_)) => report.rolled_back.push(issue(&user, e)),
            Err(e @ Error::AfterCommit { .. }) => report.incomplete.push(issue(&user, e)),
            Err(e) => report.failed.push(issue(&user, e)),
        }
    }
    // Stopped by a signal: each user is whole (committed or untouched); nothing more starts.
    crate::interrupt::check()?;
    if let Some(outage) = outage {
        return Err(stopped_by_outage(
            engine,
            &report,
            options.jobs,
            progress,
            outage,
        ));
    }

    // The users are committed by now: a platform failure goes in the report, not over it.
    // Incomplete users are committed too: their entries belong with them.
    // The restored users, lent to the platform's import and given back below.
    let restored = report.restored.len();
    let mut committed = std::mem::take(&mut report.restored);
    committed.extend(report.incomplete.iter().map(|i| i.user.clone()));
    if !committed.is_empty() {
        progress.phase("restoring the platform entries");
        // Every user of the backup committed: all its entries belong to restored users, even
        // those naming users by a token made with a pepper this install does not know.
        let all_committed = options.users.is_empty() && committed.len() == backup_user_count;
        let whole_backup = options.users.is_empty();
        let owners = PlatformOwners::new(
            &committed,
            options.pii_key.as_ref(),
            all_committed,
            whole_backup,
        )?;
        let result = match plan.as_ref().filter(|p| p.rederive) {
            Some(plan) => {
                report.platform_rederived = Some(PlatformRederived {
                    reason: "the backup's platform entries name users under another \
                             platform.piiHmacKey (or PII mode) than this install's: each \
                             restored user's unique and indexed fields, user-core and \
                             access-index rows were re-derived under this install's, from its \
                             account fields and accesses"
                        .into(),
                    backup_entries_left_out: plan.user_entries(),
                });
                import_rederived_entries(engine, chain, plan, &owners, &committed, &rebuild)
            }
            None => import_platform_entries(engine, chain, &owners, &committed, &rebuild),
        };
        match result {
            Ok(count) => report.platform_entries = count,
            Err(e) => report.platform_error = Some(e.to_string()),
        }
    }
    committed.truncate(restored);
    report.restored = committed;

    // Whatever became of the users: indexes put off for the load must exist after the run.
    if let Err(e) = engine.finish_restore(options.jobs, progress) {
        report.finish_error = Some(e.to_string());
    }

    // The backup is the only copy of what failed to restore: keep it then. Skipped
    // (conflicting) users travel with a moved backup, but a deleted one would lose them.
    let kept_for = if report.restored.is_empty() {
        Some("no user was restored".to_string())
    } else if report.platform_error.is_some() {
        Some("its platform entries were not restored".to_string())
    } else if report.finish_error.is_some() {
        Some("the end of the restore failed".to_string())
    } else if !report.failed.is_empty()
        || !report.rolled_back.is_empty()
        || !report.incomplete.is_empty()
    {
        Some(format!(
            "{} user(s) failed, were rolled back or are incomplete",
            report.failed.len() + report.rolled_back.len() + report.incomplete.len()
        ))
    } else if options.on_success == OnSuccess::Delete && !report.skipped.is_empty() {
        Some(format!(
            "it is the only copy of {} skipped user(s)",
            report.skipped.len()
        ))
    } else {
        None
    };
    match kept_for {
        None => report.backup_disposition = dispose(chain, backup_dir, &options.on_success)?,
        Some(reason) if options.on_success != OnSuccess::Keep => {
            let kept = format!("kept at {}: {reason}", backup_dir.display());
            progress.note(&format!("backup {kept}"));
            report.backup_disposition = Some(kept);
        }
        Some(_) => {}
    }
    Ok(report)
}

/// Platform entries (account fields indexed platform-wide) of the restored users only: a
/// skipped user's entries would overwrite those of the target's user of the same name, a
/// rolled-back user's would claim unique values for nobody. Entries naming no user belong
/// to the whole platform and come with a whole-backup restore only. An archive without the
/// users' `user-core/` and `access-index/` rows (the core's own) gets them rebuilt from the
/// restored users and accesses.
fn import_platform_entries(
    engine: &dyn Engine,
    chain: &Chain,
    owners: &PlatformOwners,
    committed: &[UserRef],
    rebuild: &IndexRebuild<'_>,
) -> Result<u64> {
    // An archive with user fields but no index rows comes from a writer that leaves them
    // out (the core's); one with no platform entries at all has no platform to rebuild.
    // Both are known once the archive's entries are read, in the one pass that imports them.
    let (mut has_entries, mut carries_index) = (false, false);
    let mut items = chain.platform_items()?.map(|r| r.map_err(Error::from));
    let mut rebuilt: Option<Box<dyn Iterator<Item = Result<Item>>>> = None;
    let mut count = 0u64;
    let mut wanted = std::iter::from_fn(|| loop {
        if let Some(rows) = rebuilt.as_mut() {
            let next = rows.next()?;
            count += u64::from(next.is_ok());
            return Some(next);
        }
        let item = match items.next() {
            Some(Ok(item)) => item,
            Some(Err(e)) => return Some(Err(e)),
            None if has_entries && !carries_index => {
                rebuilt = Some(Box::new(rebuilt_index_rows(chain, committed, rebuild)));
                continue;
            }
            None => return None,
        };
        has_entries = true;
        carries_index |= is_index_row(&item);
        if owners.keeps(&item) {
            count += 1;
            return Some(Ok(item));
        }
    });
    engine.import_platform(&mut wanted)?;
    Ok(count)
}

/// The entries naming no user (with a whole-backup restore), then each committed user's
/// rows re-derived under the target's naming; the backup's user entries are left out.
fn import_rederived_entries(
    engine: &dyn Engine,
    chain: &Chain,
    plan: &PlatformPlan,
    owners: &PlatformOwners,
    committed: &[UserRef],
    rebuild: &IndexRebuild<'_>,
) -> Result<u64> {
    let unnamed = chain
        .platform_items()?
        .map(|r| r.map_err(Error::from))
        .filter(|item| item.as_ref().map_or(true, |i| owners.keeps_unnamed(i)));
    let derived = committed.iter().flat_map(|user| {
        let rows = chain
            .user_source(&user.user_id)
            .and_then(|source| plan.rederived_rows(user, &source, rebuild));
        let rows: Vec<Result<Item>> = match rows {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        rows
    });
    let mut count = 0u64;
    let mut rows = unnamed
        .chain(derived)
        .inspect(|row| count += u64::from(row.is_ok()));
    engine.import_platform(&mut rows)?;
    drop(rows);
    Ok(count)
}

/// Users whose unique values (email, ...) another user already holds: in the target (its
/// `user-unique/` row names someone else), or earlier in this restore. Overwriting such a
/// row would silently take the value from its owner, so it is a conflict, whatever
/// --overwrite says.
fn unique_value_conflicts(
    engine: &dyn Engine,
    chain: &Chain,
    users: &[UserRef],
    plan: &PlatformPlan,
    rebuild: &IndexRebuild<'_>,
) -> Result<Vec<(UserRef, String)>> {
    let mut claims: Vec<(&UserRef, String, String)> = Vec::new();
    for user in users {
        let source =
            || -> Result<Box<dyn UserSource>> { Ok(Box::new(chain.user_source(&user.user_id)?)) };
        // A user whose backup cannot be read fails its own import, and is reported there.
        let Ok(rows) = plan.unique_rows(user, &source, rebuild) else {
            continue;
        };
        for (key, owner) in rows {
            claims.push((user, key, owner));
        }
    }
    let mut keys: Vec<String> = claims.iter().map(|(_, key, _)| key.clone()).collect();
    keys.sort();
    keys.dedup();
    let mut held = std::collections::HashMap::new();
    for batch in keys.chunks(LOOKUP_BATCH) {
        held.extend(engine.platform_values(batch)?);
    }
    // The target's users by the name its rows hold, to say whose the value is.
    let mut names: Option<std::collections::HashMap<String, String>> = None;
    let mut first_claim: std::collections::HashMap<&str, &UserRef> = Default::default();
    let mut conflicts = Vec::new();
    for (user, key, owner) in &claims {
        let field = unique_field_of(key).unwrap_or("unique field");
        if let Some(holder) = held.get(key).filter(|holder| *holder != owner) {
            if names.is_none() {
                let mut by_name = std::collections::HashMap::new();
                for target_user in engine.users()? {
                    by_name.insert(rebuild.stored_name(&target_user)?, target_user.username);
                }
                names = Some(by_name);
            }
            let who = match names.as_ref().and_then(|n| n.get(holder)) {
                Some(name) => format!("user \"{name}\""),
                None => "another user".to_string(),
            };
            conflicts.push((
                (*user).clone(),
                format!(
                    "its {field} (unique) is already registered to {who} in the target: \
                     restoring it would take the {field} from them (change theirs first, or \
                     restore the others with --skip-conflicts)"
                ),
            ));
        } else if let Some(first) = first_claim
            .get(key.as_str())
            .filter(|first| first.user_id != user.user_id)
        {
            conflicts.push((
                (*user).clone(),
                format!(
                    "its {field} (unique) is also the {field} of \"{}\" in this backup",
                    first.username
                ),
            ));
        } else {
            first_claim.insert(key, user);
        }
    }
    Ok(conflicts)
}

/// The `user-core/` row and the `access-index/` rows of each user, read user by user from
/// the archive's accesses (as restored), so memory does not grow with the platform.
fn rebuilt_index_rows<'a>(
    chain: &'a Chain,
    users: &'a [UserRef],
    rebuild: &'a IndexRebuild<'a>,
) -> impl Iterator<Item = Result<Item>> + 'a {
    users.iter().flat_map(move |user| {
        let rows = (|| -> Result<Vec<Item>> {
            let mut rows = vec![rebuild.user_core(user)?];
            let source = chain.user_source(&user.user_id)?;
            for access in source.items(Collection::Accesses)? {
                if let Some(row) = rebuild.access_index(user, &access?)? {
                    rows.push(row);
                }
            }
            Ok(rows)
        })();
        let rows: Vec<Result<Item>> = match rows {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        rows
    })
}

/// The restore's end when the backup's store became unreachable: the users that were not
/// committed were rolled back (none is called damaged), those committed before stay, and
/// the indexes put off for the load are built. The store's error is the run's.
fn stopped_by_outage(
    engine: &dyn Engine,
    report: &RestoreReport,
    jobs: usize,
    progress: &dyn Progress,
    outage: Error,
) -> Error {
    if let Err(e) = engine.finish_restore(jobs, progress) {
        progress.note(&format!("finishing the restore failed too: {e}"));
    }
    let (restored, incomplete) = (report.restored.len(), report.incomplete.len());
    if restored + incomplete > 0 {
        progress.note(&format!(
            "{restored} user(s) were restored and {incomplete} left incomplete before the \
             backup's store became unreachable, without their platform entries: once it is \
             back, run this restore again with --overwrite"
        ));
    }
    outage
}

fn issue(user: &UserRef, error: Error) -> UserIssue {
    UserIssue {
        user: user.clone(),
        engine_limit: error.engine_limit(),
        reason: error.to_string(),
    }
}

fn find_conflicts(
    engine: &dyn Engine,
    users: &[UserRef],
    overwrite: bool,
) -> Result<Vec<UserIssue>> {
    let mut conflicts = Vec::new();
    for user in users {
        let reason = match engine.find_conflict(user)? {
            Some(reason) => Some(reason),
            None if !overwrite && engine.user_exists(&user.user_id)? => Some(format!(
                "userId {} already has data in the target; use --overwrite to replace it",
                user.user_id
            )),
            None => None,
        };
        if let Some(reason) = reason {
            conflicts.push(UserIssue {
                user: user.clone(),
                reason,
                engine_limit: None,
            });
        }
    }
    Ok(conflicts)
}

/// Users with at most this many items are restored in batches ([`Engine::import_users_together`]):
/// their cost is in the statements per user, not in their rows.
const SMALL_USER_ITEMS: u64 = 1_000;
/// A batch's bounds: its rows are the memory held, and one user at fault makes every user
/// of its batch restore again alone.
const BATCH_ITEMS: u64 = 20_000;
const BATCH_USERS: usize = 200;

/// Imports `users`, the ones with the most items first (`items_of`), so that a big user
/// does not start last and leave the other jobs idle at the end; the small ones in batches.
/// Results are in `users`' order.
fn import_users(
    engine: &dyn Engine,
    chain: &Chain,
    users: &[UserRef],
    items_of: &dyn Fn(&UserRef) -> u64,
    options: &ImportOptions,
    jobs: usize,
    progress: &dyn Progress,
) -> Vec<Result<(), Box<Error>>> {
    let mut order: Vec<usize> = (0..users.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(items_of(&users[i])));
    let mut units: Vec<Vec<usize>> = Vec::new();
    // Whether the last unit is a batch of small users, and its items.
    let (mut batching, mut batch_items) = (false, 0);
    for &i in &order {
        let items = items_of(&users[i]);
        let small = items <= SMALL_USER_ITEMS;
        match units.last_mut() {
            Some(unit)
                if small
                    && batching
                    && unit.len() < BATCH_USERS
                    && batch_items + items <= BATCH_ITEMS =>
            {
                unit.push(i);
                batch_items += items;
            }
            _ => {
                units.push(vec![i]);
                (batching, batch_items) = (small, items);
            }
        }
    }
    let restore = UserRestore {
        engine,
        chain,
        options,
        progress,
    };
    // One per user of the restore, kept until all are done: an error boxed, an outcome takes
    // 16 bytes, not the 56 of an error in place.
    let mut results: Vec<Option<Result<(), Box<Error>>>> = users.iter().map(|_| None).collect();
    // An unreachable store stops the taking of new users: each would only wait for it.
    let done = crate::workers::in_parallel(
        &units,
        jobs,
        |_: &Vec<Option<Result<(), Box<Error>>>>| true,
        |unit: &Vec<usize>| {
            let unit_users: Vec<&UserRef> = unit.iter().map(|&i| &users[i]).collect();
            let outcomes = restore.unit(&unit_users);
            let outage = outcomes.iter().any(is_outage);
            let outcomes = (outcomes.into_iter())
                .map(|o| o.map(|r| r.map_err(Box::new)))
                .collect();
            if outage {
                Err(outcomes)
            } else {
                Ok(outcomes)
            }
        },
    );
    match done {
        Ok(slots) => {
            for (unit, slot) in units.iter().zip(slots) {
                let Some(Ok(outcomes) | Err(outcomes)) = slot else {
                    continue;
                };
                for (&i, outcome) in unit.iter().zip(outcomes) {
                    results[i] = outcome;
                }
            }
        }
        Err(e) => {
            for slot in &mut results {
                *slot = Some(Err(Box::new(Error::Other(e.to_string()))));
            }
        }
    }
    results
        .into_iter()
        .map(|s| {
            s.unwrap_or_else(|| {
                Err(Box::new(Error::Other(
                    "not restored: a worker stopped".into(),
                )))
            })
        })
        .collect()
}

/// A user's result that stops the run: the store became unreachable.
fn is_outage(result: &Option<Result<()>>) -> bool {
    matches!(result, Some(Err(e)) if e.is_unreachable())
}

/// What restores users, alone or in a batch.
struct UserRestore<'a> {
    engine: &'a dyn Engine,
    chain: &'a Chain,
    options: &'a ImportOptions,
    progress: &'a dyn Progress,
}

impl UserRestore<'_> {
    /// Restores a unit of users (one, or a batch of small ones), telling the progress of
    /// each; the results are in `users`' order, `None` for a user not taken (the store
    /// became unreachable, or a stop was asked for): nothing of it was written.
    fn unit(&self, users: &[&UserRef]) -> Vec<Option<Result<()>>> {
        let results = match users {
            [user] => {
                self.progress.user_started(user);
                vec![Some(self.alone(user))]
            }
            _ => self.together(users),
        };
        for (user, result) in users.iter().zip(&results) {
            // A user cut short by a stop request did not fail: the run's stop message says so.
            if let Some(result) = result {
                if result.is_ok() || crate::interrupt::requested().is_none() {
                    self.progress.user_finished(user, result.is_ok());
                }
            }
        }
        results
    }

    fn alone(&self, user: &UserRef) -> Result<()> {
        self.opened(user)
            .and_then(|source| self.import_one(user, &source))
            .map_err(|e| self.outage_of(e))
    }

    /// The user's backup, checked: nothing of a user whose files do not match the
    /// manifests is written. Integrity hashes (--verify-integrity) are checked by the engine
    /// on what it wrote, before its commit: a tampered backup writes nothing either, and the
    /// backup is read once.
    fn opened(&self, user: &UserRef) -> Result<OpenedUser> {
        let source = self.chain.user_source(&user.user_id)?;
        source.check()?;
        let account = source.account()?;
        if !has_account_data(account.as_ref()) {
            return Err(Error::NoAccount);
        }
        Ok(OpenedUser { source, account })
    }

    fn import_one(&self, user: &UserRef, source: &dyn UserSource) -> Result<()> {
        self.engine.import_user(
            user,
            &CountingSource {
                inner: source,
                progress: self.progress,
            },
            self.options,
        )
    }

    /// A batch: the users whose backup opens are restored together when the engine can;
    /// when that fails, nothing of them was written, and each is restored alone. An
    /// unreachable store ends the batch at once: the users it reaches are not taken.
    fn together(&self, users: &[&UserRef]) -> Vec<Option<Result<()>>> {
        let mut results: Vec<Option<Result<()>>> = users.iter().map(|_| None).collect();
        let mut opened = Vec::with_capacity(users.len());
        for (at, user) in users.iter().enumerate() {
            if crate::interrupt::requested().is_some() {
                return results;
            }
            self.progress.user_started(user);
            match self.opened(user).map_err(|e| self.outage_of(e)) {
                Ok(source) => opened.push((at, source)),
                Err(e) => {
                    let outage = e.is_unreachable();
                    results[at] = Some(Err(e));
                    if outage {
                        return results;
                    }
                }
            }
        }
        let counting: Vec<CountingSource<'_>> = opened
            .iter()
            .map(|(_, source)| CountingSource {
                inner: source,
                progress: self.progress,
            })
            .collect();
        let batch: Vec<(&UserRef, &dyn UserSource)> = opened
            .iter()
            .zip(&counting)
            .map(|((at, _), source)| (users[*at], source as &dyn UserSource))
            .collect();
        let together = match batch.len() {
            0 => Ok(Some(Vec::new())),
            _ => self.engine.import_users_together(&batch, self.options),
        };
        match together.map_err(|e| self.outage_of(e)) {
            Ok(Some(outcomes)) => {
                for ((at, _), outcome) in opened.iter().zip(outcomes) {
                    results[*at] = Some(outcome.map_err(|e| self.outage_of(e)));
                }
            }
            // Said once, for the batch's first user: the others were not written either.
            Err(e) if e.is_unreachable() => {
                if let Some((at, _)) = opened.first() {
                    results[*at] = Some(Err(e));
                }
            }
            Ok(None) | Err(_) => {
                for (at, source) in &opened {
                    if crate::interrupt::requested().is_some() {
                        break;
                    }
                    let result = self
                        .import_one(users[*at], source)
                        .map_err(|e| self.outage_of(e));
                    let outage = result.as_ref().is_err_and(Error::is_unreachable);
                    results[*at] = Some(result);
                    if outage {
                        break;
                    }
                }
            }
        }
        results
    }

    /// A local backup folder gone mid-run makes every file read as missing: that is its
    /// outage, not the user's damage.
    fn outage_of(&self, e: Error) -> Error {
        if e.is_unreachable() {
            return e;
        }
        match crate::archive::ArchiveError::folder_gone(self.chain.backend(), self.chain.dir()) {
            Some(gone) => gone.into(),
            None => e,
        }
    }
}

/// Whether a user's account object holds anything (a password, an account field, a
/// store key-value). Every user the core creates has one; a backup made while the user was
/// being deleted (by a version that did not leave such users out) may hold none.
fn has_account_data(account: Option<&Item>) -> bool {
    account.is_some_and(|account| {
        ["passwords", "accountFields", "storeKeyValues"]
            .iter()
            .any(|list| {
                account
                    .get(*list)
                    .and_then(|v| v.as_array())
                    .is_some_and(|items| !items.is_empty())
            })
    })
}

/// A user's backup once checked, with its account object, read for the check, kept for
/// the engine.
struct OpenedUser {
    source: crate::chain::ChainUser,
    account: Option<Item>,
}

impl UserSource for OpenedUser {
    fn items(&self, collection: Collection) -> Result<crate::engine::ItemIter<'_>> {
        self.source.items(collection)
    }

    fn texts(&self, collection: Collection) -> Result<crate::engine::TextIter<'_>> {
        self.source.texts(collection)
    }

    fn account(&self) -> Result<Option<Item>> {
        Ok(self.account.clone())
    }

    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn std::io::Read + '_>>> {
        self.source.attachment(file_id)
    }
}

/// Passes a user's backup on to the engine, telling the progress how much was read.
struct CountingSource<'a> {
    inner: &'a dyn UserSource,
    progress: &'a dyn Progress,
}

impl UserSource for CountingSource<'_> {
    fn items(&self, collection: Collection) -> Result<crate::engine::ItemIter<'_>> {
        let progress = self.progress;
        Ok(Box::new(self.inner.items(collection)?.inspect(
            move |item| {
                if item.is_ok() {
                    progress.items_done(1, 0);
                }
            },
        )))
    }

    fn texts(&self, collection: Collection) -> Result<crate::engine::TextIter<'_>> {
        let progress = self.progress;
        Ok(Box::new(self.inner.texts(collection)?.inspect(
            move |text| {
                if text.is_ok() {
                    progress.items_done(1, 0);
                }
            },
        )))
    }

    fn account(&self) -> Result<Option<Item>> {
        self.inner.account()
    }

    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn std::io::Read + '_>>> {
        Ok(self.inner.attachment(file_id)?.map(|data| {
            Box::new(CountingReader {
                inner: data,
                progress: self.progress,
            }) as Box<dyn std::io::Read + '_>
        }))
    }
}

struct CountingReader<'a> {
    inner: Box<dyn std::io::Read + 'a>,
    progress: &'a dyn Progress,
}

impl std::io::Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.items_done(0, n as u64);
        Ok(n)
    }
}

/// Checked before anything is restored, so a move that cannot happen stops the run first:
/// the target must be new (or an empty folder), outside the backup, on the same filesystem
/// (a move is a rename).
fn check_move_target(backup_dir: &Path, target: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: &str| {
        Err(Error::Other(format!(
            "--move-on-success {}: {why}; nothing was restored",
            target.display()
        )))
    };
    match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => {
            let empty = std::fs::read_dir(target)
                .map_err(|e| Error::io(target, e))?
                .next()
                .is_none();
            if !empty {
                return refuse("is a folder that is not empty (name a new path)");
            }
        }
        Ok(_) => return refuse("already exists and is not a folder (name a new path)"),
        Err(_) => {}
    }
    let backup = backup_dir
        .canonicalize()
        .map_err(|e| Error::io(backup_dir, e))?;
    let landing = crate::paths::resolve_missing(target).map_err(|e| Error::io(target, e))?;
    if landing.starts_with(&backup) {
        return refuse("is inside the backup it would move");
    }
    let dev = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.dev())
            .map_err(|e| Error::io(p, e))
    };
    // The deepest part of the target that exists says which filesystem it would land on.
    let existing = landing
        .ancestors()
        .find(|a| a.exists())
        .unwrap_or(Path::new("/"));
    if dev(existing)? != dev(&backup)? {
        return refuse(
            "is on another filesystem than the backup (a move renames it; copy it instead)",
        );
    }
    Ok(())
}

fn dispose(chain: &Chain, backup_dir: &Path, on_success: &OnSuccess) -> Result<Option<String>> {
    match on_success {
        OnSuccess::Keep => Ok(None),
        OnSuccess::Delete => {
            // Only what the manifests account for: a file someone put beside the backup's
            // files (or a folder the backup was wrongly written into) is never deleted.
            let files = chain.listed_files()?;
            let removed = chain.backend().remove_listed(backup_dir, &files)?;
            if chain.backend().is_local() && backup_dir.exists() {
                return Ok(Some(format!(
                    "deleted the backup's {removed} files from {}; other files there were kept",
                    backup_dir.display()
                )));
            }
            Ok(Some(format!("deleted {}", backup_dir.display())))
        }
        OnSuccess::MoveTo(target) => {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            std::fs::rename(backup_dir, target).map_err(|e| {
                Error::Other(format!(
                    "restore succeeded but moving the backup to {} failed ({e}); it is still at {}",
                    target.display(),
                    backup_dir.display()
                ))
            })?;
            Ok(Some(format!("moved to {}", target.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_move_target;

    #[test]
    fn a_move_that_cannot_happen_is_refused_before_the_restore() {
        let root = tempfile::tempdir().unwrap();
        let backup = root.path().join("backup");
        std::fs::create_dir_all(backup.join("users")).unwrap();
        let refused = |target: &std::path::Path| {
            let e = check_move_target(&backup, target).unwrap_err().to_string();
            assert!(e.contains("nothing was restored"), "{e}");
            e
        };

        let full = root.path().join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("x"), "x").unwrap();
        assert!(refused(&full).contains("not empty"));
        let file = root.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(refused(&file).contains("not a folder"));
        assert!(refused(&backup.join("users/moved")).contains("inside the backup"));
        assert!(refused(&backup).contains("not empty"));

        check_move_target(&backup, &root.path().join("new/deeper")).unwrap();
        let empty = root.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        check_move_target(&backup, &empty).unwrap();
    }
}
