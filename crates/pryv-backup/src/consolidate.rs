//! A synthetic full backup: the latest state of a chain (base and increments, or the state
//! as of a time) written as one new full backup, without reading the install. Each user's
//! items are the ones a chain restore would write, each user keeps the snapshot time of its
//! newest generation (so an increment can follow), and the platform entries are the newest
//! generation's. Once written, the chain's generations can be pruned.

use serde::Serialize;

use crate::archive::{ArchiveWriter, ManifestInfo, UserEntriesBuilder};
use crate::chain::SNAPSHOT_TIME;
use crate::chain::{Chain, EncryptionRecord, GenerationRecord, RECORD_VERSION};
use crate::engine::UserSource;
use crate::model::{owned_attachment_ids, Collection};
use crate::progress::Progress;
use crate::{Error, Result};

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsolidateReport {
    /// Generations merged.
    pub generations: usize,
    pub users: usize,
    pub items: u64,
    pub attachments: u64,
    pub platform_entries: u64,
}

/// Writes the latest state of `chain` into `writer` as one full backup.
pub fn run(
    chain: &Chain,
    writer: ArchiveWriter,
    progress: &dyn Progress,
) -> Result<ConsolidateReport> {
    chain.refuse_lone_increment()?;
    let state = chain.latest_state()?;
    // Looked up for every user: a search of the list each time is O(users²).
    let latest_of: std::collections::HashMap<&str, usize> = state
        .users
        .ids()
        .enumerate()
        .map(|(i, (user_id, _))| (user_id, i))
        .collect();
    let users = chain.users();
    progress.start(users.len());
    let mut report = ConsolidateReport {
        generations: chain.generation_count(),
        users: users.len(),
        ..Default::default()
    };
    let mut manifests = UserEntriesBuilder::new();
    let mut records = Vec::with_capacity(users.len());
    let mut install_users = Vec::with_capacity(users.len());
    for user in &users {
        progress.user_started(user);
        let source = chain.user_source(&user.user_id)?;
        source.check()?;
        let mut out = writer.open_user(user)?;
        let mut files: Vec<String> = Vec::new();
        for collection in Collection::ALL {
            for item in source.items(collection)? {
                let item = item?;
                if collection == Collection::Events {
                    files.extend(owned_attachment_ids(&item));
                }
                out.item(collection, &item)?;
                report.items += 1;
            }
        }
        if let Some(account) = source.account()? {
            out.account(&account)?;
        }
        files.sort();
        files.dedup();
        for file_id in &files {
            if let Some(mut data) = source.attachment(file_id)? {
                out.attachment(file_id, &mut data)?;
                report.attachments += 1;
            }
        }
        let mut manifest = out.finish()?;
        // As of the newest generation holding the user: where its next increment starts.
        if let Some(&latest) = latest_of.get(user.user_id.as_str()) {
            let latest = state.users.get(latest)?;
            manifest.backup_timestamp = latest.backup_timestamp;
            if let Some(t) = latest.extra.get(SNAPSHOT_TIME) {
                manifest.extra.insert(SNAPSHOT_TIME, t.clone());
            }
        }
        records.extend(crate::backup::user_record(&manifest, None));
        install_users.push(crate::chain::user_digest(&manifest.user_id));
        manifests.push(manifest)?;
        progress.user_finished(user, true);
    }

    let mut platform = writer.platform_writer()?;
    for item in chain.platform_items()? {
        platform.item(&item?)?;
    }
    report.platform_entries = platform.finish()?;
    let newest = chain
        .generation(chain.generation_count() - 1)
        .map_or(0, |(_, t)| t);
    // A new base: its record starts a chain where the merged one stood.
    let record = serde_json::value::to_raw_value(&GenerationRecord {
        v: RECORD_VERSION,
        sequence: 0,
        previous: None,
        backup_timestamp: newest,
        snapshot_before: chain.previous_state()?.latest_snapshot.unwrap_or(0.0),
        clock_stepped_back: None,
        encryption: EncryptionRecord::of(writer.sealer().map(|s| s.as_ref())),
        users: records,
        // The merged state holds exactly these users: the deleted ones are left out.
        install_users: Some(install_users),
    })
    .map_err(|e| Error::Other(format!("cannot encode the generation record: {e}")))?;
    writer.finish_with_record(
        ManifestInfo {
            core_version: state.core_version.clone(),
            config: state.config.clone(),
            backup_type: "full".into(),
            backup_timestamp: newest,
            snapshot_before: None,
            users: manifests.finish()?,
        },
        Some(record),
    )?;
    Ok(report)
}
