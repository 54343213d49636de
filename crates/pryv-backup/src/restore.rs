//! Restore: conflicts are checked for every user before anything is written, then each
//! user is restored all-or-nothing by the engine (users in parallel), then platform data.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::chain::Chain;
use crate::engine::{Engine, ImportOptions};
use crate::model::UserRef;
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
    /// True when conflicts stopped the restore before anything was written.
    pub aborted: bool,
    pub platform_entries: u64,
    /// Where the backup went after success (deleted, moved), if anywhere.
    pub backup_disposition: Option<String>,
}

impl RestoreReport {
    /// Every selected user restored, none skipped.
    pub fn is_complete(&self) -> bool {
        !self.aborted && self.skipped.is_empty() && self.rolled_back.is_empty() && self.failed.is_empty()
    }
}

pub fn run(engine: &dyn Engine, chain: &Chain, backup_dir: &Path, options: &RestoreOptions, progress: &dyn Progress) -> Result<RestoreReport> {
    if options.skip_conflicts && options.on_success == OnSuccess::Keep {
        return Err(Error::Other(
            "--skip-conflicts needs --delete-on-success or --move-on-success (as bin/backup.js requires)".into(),
        ));
    }
    let users = crate::backup::select_users(chain.users(), &options.users)
        .map_err(|_| Error::Other(format!("the backup holds none of the users {:?}", options.users)))?;

    let mut report = RestoreReport {
        conflicts: find_conflicts(engine, &users, options.overwrite)?,
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
                progress.note(&format!("skipping {} ({}): {}", u.username, u.user_id, c.reason));
                report.skipped.push(c.clone());
            }
            conflict.is_none()
        })
        .collect();

    progress.start(to_restore.len());
    let import = ImportOptions {
        overwrite: options.overwrite,
        verify_integrity: options.verify_integrity,
    };
    for (user, result) in to_restore.iter().zip(import_users(engine, chain, &to_restore, &import, options.jobs, progress)) {
        match result {
            Ok(()) => report.restored.push(user.clone()),
            Err(e @ Error::Integrity(_)) => report.rolled_back.push(issue(user, e)),
            Err(e) => report.failed.push(issue(user, e)),
        }
    }

    // Platform entries belong to the whole platform: restored with a whole backup only.
    if options.users.is_empty() && report.failed.is_empty() {
        let mut items = chain.platform_items()?.map(|r| r.map_err(Error::from));
        let mut count = 0u64;
        let mut counted = std::iter::from_fn(|| {
            let next = items.next();
            if next.is_some() {
                count += 1;
            }
            next
        });
        engine.import_platform(&mut counted)?;
        report.platform_entries = count;
    }

    // The backup is the only copy of what failed to restore: keep it then.
    if report.failed.is_empty() && report.rolled_back.is_empty() && !report.restored.is_empty() {
        report.backup_disposition = dispose(backup_dir, &options.on_success)?;
    }
    Ok(report)
}

fn issue(user: &UserRef, error: Error) -> UserIssue {
    UserIssue {
        user: user.clone(),
        reason: error.to_string(),
    }
}

fn find_conflicts(engine: &dyn Engine, users: &[UserRef], overwrite: bool) -> Result<Vec<UserIssue>> {
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
            });
        }
    }
    Ok(conflicts)
}

fn import_users(
    engine: &dyn Engine,
    chain: &Chain,
    users: &[UserRef],
    options: &ImportOptions,
    jobs: usize,
    progress: &dyn Progress,
) -> Vec<Result<()>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<()>>>> = Mutex::new(users.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, users.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= users.len() {
                    break;
                }
                let user = &users[i];
                progress.user_started(user);
                let result = chain
                    .user_source(&user.user_id)
                    .and_then(|source| engine.import_user(user, &source, options));
                progress.user_finished(user, result.is_ok());
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(result);
                }
            });
        }
    });
    match results.into_inner() {
        Ok(slots) => slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| Err(Error::Other("not restored: a worker stopped".into()))))
            .collect(),
        Err(_) => users
            .iter()
            .map(|_| Err(Error::Other("a restore worker panicked".into())))
            .collect(),
    }
}

fn dispose(backup_dir: &Path, on_success: &OnSuccess) -> Result<Option<String>> {
    match on_success {
        OnSuccess::Keep => Ok(None),
        OnSuccess::Delete => {
            std::fs::remove_dir_all(backup_dir).map_err(|e| Error::io(backup_dir, e))?;
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
