//! Each generation's place in its chain, readable without any key: `chain.json`, a small
//! clear record written beside (and, sealed, inside) each generation's `manifest.json`.
//!
//! It holds what the next increment and a retention run need, and what lets a reader tell a
//! lost generation from a crashed run's leftover: the generation's sequence number, the
//! name and SHA-256 of the stored bytes of its predecessor's `manifest.json` (a digest of
//! ciphertext when encrypted, so checking needs no key), its times, its encryption mode and
//! recipient key id, and each user only as the SHA-256 of its userId with the time its
//! next increment starts from. Nothing in it is more than the backup host itself can read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::layout::{CHAIN_RECORD, MANIFEST};
use crate::archive::{ArchiveReader, Backend};
use crate::series_append::SeriesMark;
use crate::{Error, Result};

/// The version of `chain.json` this program writes; unknown fields are ignored when read.
pub const RECORD_VERSION: u64 = 1;
/// The base generation's name in records and messages.
pub const BASE_NAME: &str = ".";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationRecord {
    pub v: u64,
    /// 0 for the base, then one more for each increment made after it.
    pub sequence: u32,
    /// The generation this one was made after; `None` for a base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousLink>,
    /// The manifest's `backupTimestamp` (ms), so retention can date the generation unopened.
    pub backup_timestamp: u64,
    /// This run's cutoff (seconds, by the backup host's clock).
    pub snapshot_before: f64,
    /// Set when the host's clock read earlier than the previous generation's snapshot:
    /// every user was then exported whole (see docs/archive-format.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_stepped_back: Option<ClockStep>,
    pub encryption: EncryptionRecord,
    /// The users of this generation.
    pub users: Vec<UserRecord>,
    /// Every user the install held at this generation's snapshot, as [`user_digest`]s,
    /// when the run read them all (changed or not): a user absent from it was deleted
    /// before. `None` for a run of chosen users and in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_users: Option<Vec<Sha256Hex>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousLink {
    /// `.` for the base, else `increments/NNNN`.
    pub name: String,
    /// Hex SHA-256 of the predecessor's `manifest.json` as stored (sealed, when encrypted).
    pub manifest_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockStep {
    /// The previous generations' latest snapshot time (s).
    pub previous_snapshot: f64,
    /// This run's, earlier (s).
    pub snapshot: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionRecord {
    /// `none`, `symmetric` or `hybrid`.
    pub mode: String,
    /// Hybrid mode: the id of the recipient's public key (see [`crate::archive::FileSealer::key_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

impl EncryptionRecord {
    pub const NONE: &'static str = "none";

    /// The record of a backup sealed by `sealer` (or not sealed).
    pub fn of(sealer: Option<&dyn crate::archive::FileSealer>) -> Self {
        match sealer {
            None => EncryptionRecord {
                mode: Self::NONE.into(),
                recipient: None,
            },
            Some(s) => EncryptionRecord {
                mode: envelope_mode(Some(&s.envelope())),
                recipient: s.key_id(),
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    /// SHA-256 of the userId.
    pub user: Sha256Hex,
    /// Seconds (host clock) after which this user's changes are not in the chain yet.
    pub since: f64,
    /// The user's measurements the chain holds as the next increment may extend them
    /// (see [`crate::series_append`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesMark>,
    /// Hex SHA-256 of the user's account object and profile as the chain holds them, when
    /// the account carries a password hash: an increment leaves them out while they match,
    /// and a user with nothing else new out altogether (see docs/archive-format.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Sha256Hex>,
}

/// SHA-256 of a userId, as records name users.
pub fn user_digest(user_id: &str) -> Sha256Hex {
    Sha256Hex(Sha256::digest(user_id.as_bytes()).into())
}

/// A SHA-256 that records write as 64 hex digits, held as its 32 bytes: each generation's
/// record names every user of the install (twice, with the install's list) and a chain
/// holds the records of all its generations; as hex strings they took ~100 bytes each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(pub [u8; 32]);

impl Sha256Hex {
    pub fn finish(hasher: Sha256) -> Sha256Hex {
        Sha256Hex(hasher.finalize().into())
    }
}

impl std::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.as_bytes(), &mut bytes)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a SHA-256 in hex")))?;
        Ok(Sha256Hex(bytes))
    }
}

fn envelope_mode(envelope: Option<&serde_json::Value>) -> String {
    match envelope {
        None => EncryptionRecord::NONE.into(),
        Some(e) => e
            .get("mode")
            .and_then(|m| m.as_str())
            .unwrap_or("unknown")
            .to_string(),
    }
}

/// What the next increment starts from.
#[derive(Clone, Debug, Default)]
pub struct PreviousState {
    /// [`user_digest`] → seconds after which that user's changes are new (before the
    /// clock-skew margin). Users not in it are exported whole.
    pub since: HashMap<Sha256Hex, f64>,
    /// The latest snapshot time the chain records (s): a run whose clock reads earlier has
    /// seen the clock step back.
    pub latest_snapshot: Option<f64>,
    /// The new generation's sequence number.
    pub sequence: u32,
    /// The generation the new one is made after.
    pub previous: Option<PreviousLink>,
    /// [`user_digest`] → the marks of the user's measurements in the newest generation
    /// holding the user (see [`crate::series_append`]).
    pub series: HashMap<Sha256Hex, Vec<SeriesMark>>,
    /// [`user_digest`] → the mark of the user's account and profile in the newest
    /// generation holding the user (see [`UserRecord::account`]).
    pub accounts: HashMap<Sha256Hex, Sha256Hex>,
}

impl PreviousState {
    /// From a manifest alone (a backup that is not part of a chain this program reads).
    pub fn from_manifest(manifest: &crate::archive::Manifest) -> Result<Self> {
        let mut state = PreviousState {
            sequence: 1,
            latest_snapshot: manifest.snapshot_before,
            ..Default::default()
        };
        for u in manifest.users.iter() {
            let u = u?;
            if let Some(since) = super::user_since(&u, manifest.snapshot_before) {
                state.since.insert(user_digest(&u.user_id), since);
                state.latest_snapshot = Some(state.latest_snapshot.unwrap_or(0.0).max(since));
            }
        }
        Ok(state)
    }

    /// The time after which the changes of `user_id` are new, if the chain holds it.
    pub fn since_of(&self, user_id: &str) -> Option<f64> {
        self.since.get(&user_digest(user_id)).copied()
    }

    /// The mark of the user's account and profile as the chain holds them, if any.
    pub fn account_of(&self, user_id: &str) -> Option<Sha256Hex> {
        self.accounts.get(&user_digest(user_id)).copied()
    }

    /// The marks of the user's measurements as the chain holds them (none if unknown).
    pub fn series_of(&self, user_id: &str) -> &[SeriesMark] {
        self.series
            .get(&user_digest(user_id))
            .map_or(&[], Vec::as_slice)
    }
}

/// One complete generation, as read without any key.
#[derive(Clone, Debug)]
pub struct GenerationInfo {
    pub dir: PathBuf,
    /// [`BASE_NAME`] or `increments/NNNN`.
    pub name: String,
    pub manifest_sha256: String,
    /// `none`, or the envelope's mode.
    pub encryption: String,
    pub record: Option<GenerationRecord>,
}

impl GenerationInfo {
    /// How messages name it.
    pub fn label(&self) -> String {
        label(&self.name)
    }
}

fn label(name: &str) -> String {
    if name == BASE_NAME {
        "the base backup".into()
    } else {
        name.to_string()
    }
}

/// A backup's generations as their clear files show them, checked to form one unbroken
/// chain: no key is needed to read or check it.
#[derive(Clone, Debug)]
pub struct ChainIndex {
    pub dir: PathBuf,
    /// Base first, then the complete increments in order.
    pub generations: Vec<GenerationInfo>,
    /// Increments without `manifest.json` that no later generation was made after: a
    /// crashed run's leftovers, ignored.
    pub leftovers: Vec<String>,
}

impl ChainIndex {
    /// `None` when `dir` holds no complete base backup. An error names the generation that
    /// is missing, unreadable or out of place.
    pub fn open(backend: &Backend, dir: &Path) -> Result<Option<ChainIndex>> {
        if !backend.is_file(&dir.join(MANIFEST))? {
            return Ok(None);
        }
        let mut generations = vec![read_generation(backend, dir, BASE_NAME)?];
        let mut incomplete = Vec::new();
        for gen_dir in super::increment_dirs(backend, dir)? {
            let name = format!(
                "{}/{}",
                super::INCREMENTS_DIR,
                gen_dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
            );
            if backend.is_file(&gen_dir.join(MANIFEST))? {
                generations.push(read_generation(backend, &gen_dir, &name)?);
            } else {
                incomplete.push(name);
            }
        }
        // Sealing first: a planted clear generation is named as such.
        check_encryption(&generations)?;
        check_links(&generations, &incomplete)?;
        for name in &incomplete {
            tracing::warn!(
                "ignoring incomplete increment {} (no manifest.json): no later generation was made after it",
                dir.join(name).display()
            );
        }
        Ok(Some(ChainIndex {
            dir: dir.to_path_buf(),
            generations,
            leftovers: incomplete,
        }))
    }

    /// Whether every generation has its record (chains written before records existed do
    /// not: reading them needs the manifests, hence the key).
    pub fn fully_recorded(&self) -> bool {
        self.generations.iter().all(|g| g.record.is_some())
    }

    /// The chain's encryption mode (`none`, `symmetric`, `hybrid`), the base's.
    pub fn encryption(&self) -> &str {
        &self.generations[0].encryption
    }

    /// The recipient key id the chain's records name (hybrid mode), if any.
    pub fn recipient(&self) -> Option<&str> {
        self.generations
            .iter()
            .find_map(|g| g.record.as_ref()?.encryption.recipient.as_deref())
    }

    /// The generation a new increment is made after, and the new one's sequence number.
    pub fn next_link(&self) -> (u32, PreviousLink) {
        let (pos, last) = self
            .generations
            .iter()
            .enumerate()
            .next_back()
            .expect("a chain has its base");
        let sequence = last
            .record
            .as_ref()
            .map_or(pos as u32, |r| r.sequence)
            .saturating_add(1);
        let link = PreviousLink {
            name: last.name.clone(),
            manifest_sha256: last.manifest_sha256.clone(),
        };
        (sequence, link)
    }

    /// The [`user_digest`]s of the users older generations hold that the latest state does
    /// not (deleted from the install before the newest generation recording its users),
    /// from the records alone: no key needed. Empty when no generation records its users.
    pub fn deleted_users(&self) -> Vec<Sha256Hex> {
        let Some(newest) = self
            .generations
            .iter()
            .rposition(|g| g.record.as_ref().is_some_and(|r| r.install_users.is_some()))
        else {
            return Vec::new();
        };
        let mut present: std::collections::HashSet<Sha256Hex> = self.generations[newest]
            .record
            .as_ref()
            .and_then(|r| r.install_users.as_ref())
            .into_iter()
            .flatten()
            .copied()
            .collect();
        present.extend(users_of(&self.generations[newest + 1..]));
        let mut deleted: Vec<Sha256Hex> = users_of(&self.generations[..newest])
            .filter(|d| !present.contains(d))
            .collect();
        deleted.sort();
        deleted.dedup();
        deleted
    }

    /// What the next increment starts from, from the records alone; `None` when a
    /// generation has no record.
    pub fn state_from_records(&self) -> Option<PreviousState> {
        let (sequence, link) = self.next_link();
        let mut state = PreviousState {
            sequence,
            previous: Some(link),
            ..Default::default()
        };
        for g in &self.generations {
            let record = g.record.as_ref()?;
            // The newest generation holding a user says where it stands, even when its
            // time is earlier than an older one's (a clock stepped back).
            for u in &record.users {
                state.since.insert(u.user, u.since);
                state.series.insert(u.user, u.series.clone());
                match u.account {
                    Some(mark) => state.accounts.insert(u.user, mark),
                    None => state.accounts.remove(&u.user),
                };
            }
            state.latest_snapshot = Some(record.snapshot_before);
        }
        let newest_user = state
            .since
            .values()
            .copied()
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
        state.latest_snapshot = match (state.latest_snapshot, newest_user) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Some(state)
    }
}

/// The user digests the records of `generations` list.
fn users_of(generations: &[GenerationInfo]) -> impl Iterator<Item = Sha256Hex> + '_ {
    generations
        .iter()
        .filter_map(|g| g.record.as_ref())
        .flat_map(|r| r.users.iter().map(|u| u.user))
}

fn read_generation(backend: &Backend, dir: &Path, name: &str) -> Result<GenerationInfo> {
    let unreadable = |what: &str, e: &dyn std::fmt::Display| {
        Error::Other(format!(
            "{}: {what} cannot be read ({e}); the chain is broken from here: restore this file \
             from a copy, or consolidate the generations before it",
            label(name)
        ))
    };
    let manifest_path = dir.join(MANIFEST);
    let (_, manifest_sha256) = crate::archive::file_digest(backend, &manifest_path)?
        .ok_or_else(|| unreadable(MANIFEST, &"it is missing"))?;
    // Both read as they stream: they grow with the users (70 MB of manifest at 100,000).
    let record = match backend.open(&dir.join(CHAIN_RECORD))? {
        None => None,
        Some(input) => {
            let mut record: GenerationRecord =
                serde_json::from_reader(std::io::BufReader::new(input))
                    .map_err(|e| unreadable(CHAIN_RECORD, &e))?;
            // Grown by doubling, up to half of each was spare room.
            record.users.shrink_to_fit();
            record.install_users.iter_mut().for_each(Vec::shrink_to_fit);
            Some(record)
        }
    };
    let envelope = ArchiveReader::envelope_in(backend, dir)?;
    Ok(GenerationInfo {
        dir: dir.to_path_buf(),
        name: name.to_string(),
        manifest_sha256,
        encryption: envelope_mode(envelope.as_ref()),
        record,
    })
}

/// Each recorded generation names the one before it, by name and manifest digest.
fn check_links(generations: &[GenerationInfo], incomplete: &[String]) -> Result<()> {
    let mut recorded = generations[0].record.is_some();
    // A generation folder read on its own (an increment inspected alone) is its own base:
    // what came before it is not asked for.
    for pair in generations.windows(2) {
        let (before, g) = (&pair[0], &pair[1]);
        let Some(record) = &g.record else {
            if recorded {
                return Err(Error::Other(format!(
                    "{} has no {CHAIN_RECORD} while the generations before it have one: it \
                     was not made after them by pryv-backup (planted or copied in); move it \
                     out of {}",
                    g.label(),
                    super::INCREMENTS_DIR
                )));
            }
            continue;
        };
        recorded = true;
        let Some(link) = &record.previous else {
            return Err(Error::Other(format!(
                "{}: its {CHAIN_RECORD} names no previous generation, as a base does: it does \
                 not belong in {}",
                g.label(),
                super::INCREMENTS_DIR
            )));
        };
        if link.name != before.name && generations.iter().any(|x| x.name == link.name) {
            return Err(Error::Other(format!(
                "{} does not belong to this chain: {} was made right after {}, so {} was \
                 added later (planted or copied in); move it away",
                before.label(),
                g.label(),
                label(&link.name),
                before.label()
            )));
        }
        if link.name != before.name {
            let why = if incomplete.contains(&link.name) {
                "has no manifest.json (lost or never finished)"
            } else {
                "is missing"
            };
            return Err(Error::Other(format!(
                "generation {} is lost: {} was made after it, but it {why}. The changes it \
                 held are not in the chain, so the state from {} on cannot be restored \
                 complete; put the generation back from a copy (restore --as-of a time \
                 before it still restores the older state)",
                label(&link.name),
                g.label(),
                g.label()
            )));
        }
        if link.manifest_sha256 != before.manifest_sha256 {
            return Err(Error::Other(format!(
                "{} is not the generation {} was made after: its manifest.json differs from \
                 the one recorded (replaced or altered); put the original back from a copy",
                before.label(),
                g.label()
            )));
        }
        if let Some(prev) = &before.record {
            if record.sequence != prev.sequence.saturating_add(1) {
                return Err(Error::Other(format!(
                    "{} has sequence number {} after {} with {}: the chain was altered",
                    g.label(),
                    record.sequence,
                    before.label(),
                    prev.sequence
                )));
            }
        }
    }
    Ok(())
}

/// One chain, one encryption: every generation sealed like the base, for one recipient.
fn check_encryption(generations: &[GenerationInfo]) -> Result<()> {
    let base = &generations[0];
    let describe = |mode: &str| match mode {
        EncryptionRecord::NONE => "not encrypted".to_string(),
        m => format!("encrypted ({m})"),
    };
    let mut recipient: Option<(&str, &GenerationInfo)> = None;
    for g in generations {
        if g.encryption != base.encryption {
            return Err(Error::Other(format!(
                "{} is {} while the base backup is {}: pryv-backup never mixes encrypted and \
                 clear generations in one chain, so it was not written as part of this one; \
                 move it away",
                g.label(),
                describe(&g.encryption),
                describe(&base.encryption)
            )));
        }
        let Some(record) = &g.record else { continue };
        if record.encryption.mode != g.encryption {
            return Err(Error::Other(format!(
                "{}: its {CHAIN_RECORD} says {} but the generation is {}: altered",
                g.label(),
                describe(&record.encryption.mode),
                describe(&g.encryption)
            )));
        }
        if let Some(id) = record.encryption.recipient.as_deref() {
            match recipient {
                Some((first, from)) if first != id => {
                    return Err(Error::Other(format!(
                        "{} is encrypted for another recipient key than {}: one chain is \
                         readable with one private key; move it away",
                        g.label(),
                        from.label()
                    )))
                }
                Some(_) => {}
                None => recipient = Some((id, g)),
            }
        }
    }
    Ok(())
}

/// Refuses to add an increment sealed by `sealer` (or clear) to the chain `index` unless it
/// is sealed as the chain is: the same mode and, in hybrid mode, the same recipient key.
pub fn check_increment_sealing(
    index: &ChainIndex,
    sealer: Option<&dyn crate::archive::FileSealer>,
) -> Result<()> {
    let new = EncryptionRecord::of(sealer);
    let chain = index.encryption();
    let dir = index.dir.display();
    if new.mode != chain {
        return Err(Error::Other(match (chain, new.mode.as_str()) {
            (EncryptionRecord::NONE, _) => format!(
                "the backup in {dir} is not encrypted: its increments cannot be (one chain is \
                 never part clear, part encrypted); start an encrypted chain with a full \
                 backup into a new folder"
            ),
            ("hybrid", _) => format!(
                "the backup in {dir} is encrypted for a recipient key (hybrid mode): its \
                 increments must be too, so give --recipient-pubkey with the public key it \
                 was made for"
            ),
            ("symmetric", _) => format!(
                "the backup in {dir} is encrypted with a passphrase: its increments must be \
                 too, so give its passphrase (--encrypt-passphrase-file or \
                 --decrypt-passphrase-file, or PRYV_BACKUP_PASSPHRASE)"
            ),
            (other, _) => format!(
                "the backup in {dir} is encrypted in a mode this tool does not know ({other})"
            ),
        }));
    }
    if let (Some(chain_key), Some(new_key)) = (index.recipient(), new.recipient.as_deref()) {
        if chain_key != new_key {
            return Err(Error::Other(format!(
                "the public key given is not the one the backup in {dir} is encrypted for: \
                 changing keys within a chain (key rotation) is not supported; give the \
                 chain's public key, or start a new chain with a full backup into a new folder"
            )));
        }
    }
    Ok(())
}

/// After a decryption into `out` (a clear copy of a chain): each generation's record is
/// made true of the copy, clear and linked to its predecessor's new manifest, so that the
/// copy reads as a chain of its own.
pub fn relink_clear_copy(out: &Path) -> Result<()> {
    let mut dirs = vec![(out.to_path_buf(), BASE_NAME.to_string())];
    for d in super::increment_dirs(&Backend::Local, out)? {
        if d.join(MANIFEST).is_file() {
            let name = format!(
                "{}/{}",
                super::INCREMENTS_DIR,
                d.file_name().and_then(|n| n.to_str()).unwrap_or_default()
            );
            dirs.push((d, name));
        }
    }
    let mut previous: Option<PreviousLink> = None;
    for (dir, name) in dirs {
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let mut manifest: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Other(format!("{}: not JSON ({e})", path.display())))?;
        let mut bytes = bytes;
        if let Some(value) = manifest.get_mut(crate::archive::RECORD_FIELD) {
            let mut record: GenerationRecord =
                serde_json::from_value(value.clone()).map_err(|e| {
                    Error::Other(format!("{}: record unreadable ({e})", path.display()))
                })?;
            record.encryption = EncryptionRecord::of(None);
            if record.previous.is_some() {
                record.previous = previous.clone();
            }
            let encoded = serde_json::to_value(&record)
                .map_err(|e| Error::Other(format!("cannot encode a record: {e}")))?;
            *value = encoded.clone();
            let text = serde_json::to_vec_pretty(&encoded)
                .map_err(|e| Error::Other(format!("cannot encode a record: {e}")))?;
            let record_path = dir.join(CHAIN_RECORD);
            // New in the copy (decryption skips the sealed tree's clear record): created
            // 0600 like the rest of the copy, whatever the umask.
            crate::private_fs::create_file_with(&record_path, crate::private_fs::FILE_MODE)
                .map_err(|e| Error::io(&record_path, e))?;
            std::fs::write(&record_path, text).map_err(|e| Error::io(&record_path, e))?;
            bytes = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| Error::Other(format!("cannot encode a manifest: {e}")))?;
            std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
        }
        previous = Some(PreviousLink {
            name,
            manifest_sha256: hex::encode(Sha256::digest(&bytes)),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digests read from a record are written back as they were (lowercase hex, as every
    /// record this program writes); anything else is not a digest and not read as one.
    #[test]
    fn a_records_digests_read_back_as_written_and_only_digests_are_read() {
        let digest = user_digest("cksamplealice0001");
        let text = serde_json::to_string(&digest).unwrap();
        assert_eq!(text.len(), 66, "{text}");
        assert_eq!(serde_json::from_str::<Sha256Hex>(&text).unwrap(), digest);
        assert_eq!(format!("\"{digest}\""), text);
        for bad in ["\"abc\"", "\"zz\"", "12", &format!("\"{digest}00\"")] {
            let e = serde_json::from_str::<Sha256Hex>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("is not a SHA-256 in hex") || e.contains("invalid type"),
                "{bad}: {e}"
            );
        }
    }
}
