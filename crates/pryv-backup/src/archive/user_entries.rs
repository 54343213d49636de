//! The user entries of a `manifest.json`, one per user of the backup: the part of a manifest
//! that grows with the install. Held parsed, they took ~880 bytes a user in every reader
//! (88 MB at 100,000 users); here only each user's id and name stay in memory, and each
//! entry's compact JSON text goes to a spool, parsed again when asked for. Past a few hundred
//! KiB the spool is an unnamed temporary file, sealed with a key that lives only in this
//! process: an encrypted backup's entries (usernames) are never on disk in the clear.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{ArchiveError, UserManifest};

/// Entries kept in memory up to this many bytes of JSON (about 800 users); a spool file past it.
const KEPT_IN_MEMORY: usize = 256 << 10;
const TAG_BYTES: usize = 16;

/// The user entries of a manifest, in their order.
#[derive(Clone, Default)]
pub struct UserEntries {
    /// Every entry's userId then username, one after the other.
    names: String,
    slots: Vec<Slot>,
    store: Arc<Store>,
}

/// Where entry `i` is: its names end at `id_end` and `name_end` in `names` (they start where
/// the entry before ends), its text is `len` bytes at `at` in the store.
#[derive(Clone, Copy)]
struct Slot {
    id_end: u32,
    name_end: u32,
    at: u64,
    len: u32,
}

enum Store {
    Memory(Vec<u8>),
    /// Each entry sealed (AES-256-GCM, its index as nonce) and followed by its tag.
    File {
        file: File,
        cipher: Box<Aes256Gcm>,
    },
}

impl Default for Store {
    fn default() -> Self {
        Store::Memory(Vec::new())
    }
}

fn nonce(index: usize) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
    bytes.into()
}

fn spool_error(e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Invalid(format!(
        "cannot keep the manifest's user entries in a temporary file of {} ({e}): give TMPDIR a folder with room this user can write to",
        std::env::temp_dir().display()
    ))
}

impl std::fmt::Debug for UserEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

impl UserEntries {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer's entries (see [`UserEntriesBuilder::push`]).
    pub fn from_vec(users: Vec<UserManifest>) -> Result<Self, ArchiveError> {
        let mut entries = UserEntriesBuilder::new();
        for user in users {
            entries.push(user)?;
        }
        entries.finish()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn start(&self, i: usize) -> usize {
        i.checked_sub(1)
            .map_or(0, |before| self.slots[before].name_end as usize)
    }

    /// The userId of entry `i` (panics past the end, as slices do).
    pub fn user_id(&self, i: usize) -> &str {
        &self.names[self.start(i)..self.slots[i].id_end as usize]
    }

    pub fn username(&self, i: usize) -> &str {
        let slot = self.slots[i];
        &self.names[slot.id_end as usize..slot.name_end as usize]
    }

    /// (userId, username) of every entry, without parsing them.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        (0..self.len()).map(|i| (self.user_id(i), self.username(i)))
    }

    /// Entry `i`, parsed.
    pub fn get(&self, i: usize) -> Result<UserManifest, ArchiveError> {
        if i >= self.len() {
            return Err(ArchiveError::Invalid(format!(
                "no user entry {i}: the manifest lists {}",
                self.len()
            )));
        }
        serde_json::from_slice(&self.text(i)?)
            .map_err(|e| spool_error(format!("entry {i} reads back unlike it was kept: {e}")))
    }

    /// Every entry, parsed one at a time.
    pub fn iter(&self) -> impl Iterator<Item = Result<UserManifest, ArchiveError>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Every entry, parsed (for small lists: tests, tools).
    pub fn to_vec(&self) -> Result<Vec<UserManifest>, ArchiveError> {
        self.iter().collect()
    }

    /// The entries whose userId `keep` accepts, in order.
    pub fn retain_ids(&self, keep: impl Fn(&str) -> bool) -> Result<Self, ArchiveError> {
        let mut kept = UserEntriesBuilder::new();
        for i in 0..self.len() {
            if keep(self.user_id(i)) {
                kept.push_text(self.user_id(i), self.username(i), &self.text(i)?)?;
            }
        }
        kept.finish()
    }

    fn text(&self, i: usize) -> Result<Vec<u8>, ArchiveError> {
        let slot = self.slots[i];
        match self.store.as_ref() {
            Store::Memory(bytes) => Ok(bytes[slot.at as usize..][..slot.len as usize].to_vec()),
            Store::File { file, cipher } => {
                let mut sealed = vec![0u8; slot.len as usize + TAG_BYTES];
                file.read_exact_at(&mut sealed, slot.at)
                    .map_err(spool_error)?;
                let tag = Tag::clone_from_slice(&sealed[slot.len as usize..]);
                sealed.truncate(slot.len as usize);
                cipher
                    .decrypt_in_place_detached(&nonce(i), b"", &mut sealed, &tag)
                    .map_err(|_| spool_error(format!("entry {i} was altered")))?;
                Ok(sealed)
            }
        }
    }
}

impl Serialize for UserEntries {
    /// Each entry as its compact text.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for i in 0..self.len() {
            let text = self.text(i).map_err(S::Error::custom)?;
            let text = String::from_utf8(text).map_err(S::Error::custom)?;
            let raw = RawValue::from_string(text).map_err(S::Error::custom)?;
            seq.serialize_element(&raw)?;
        }
        seq.end()
    }
}

/// A writer's entry encoded as [`UserEntriesBuilder::push`] keeps it, for a writer that
/// lists its users in their order once all are done: a third of the room of the parsed entry.
pub struct EncodedEntry {
    user_id: Box<str>,
    username: Box<str>,
    text: Box<[u8]>,
}

/// An entry's text as the spool keeps it (compact JSON), appended to `out`.
fn encode(user: &UserManifest, out: &mut Vec<u8>) -> Result<(), ArchiveError> {
    serde_json::to_writer(out, user)
        .map_err(|e| ArchiveError::Invalid(format!("cannot encode a user entry: {e}")))
}

impl EncodedEntry {
    pub fn new(mut user: UserManifest) -> Result<Self, ArchiveError> {
        user.files = Vec::new();
        let mut text = Vec::new();
        encode(&user, &mut text)?;
        Ok(EncodedEntry {
            user_id: user.user_id.into(),
            username: user.username.into(),
            text: text.into(),
        })
    }
}

/// Builds [`UserEntries`] one entry at a time.
pub struct UserEntriesBuilder {
    entries: UserEntries,
    memory: Vec<u8>,
    spool: Option<Spool>,
    scratch: Vec<u8>,
}

struct Spool {
    out: BufWriter<File>,
    cipher: Box<Aes256Gcm>,
    written: u64,
}

impl Default for UserEntriesBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl UserEntriesBuilder {
    pub fn new() -> Self {
        UserEntriesBuilder {
            entries: UserEntries::new(),
            memory: Vec::new(),
            spool: None,
            scratch: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a user's entry as a writer lists it: without its `files`, which its own manifest
    /// lists (see [`super::ManifestInfo::users`]).
    pub fn push(&mut self, mut user: UserManifest) -> Result<(), ArchiveError> {
        user.files = Vec::new();
        self.push_as_read(&user)
    }

    /// Adds an entry [`EncodedEntry::new`] encoded.
    pub fn push_encoded(&mut self, entry: &EncodedEntry) -> Result<(), ArchiveError> {
        self.push_text(&entry.user_id, &entry.username, &entry.text)
    }

    /// Adds an entry as read, whatever it holds.
    fn push_as_read(&mut self, user: &UserManifest) -> Result<(), ArchiveError> {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        encode(user, &mut text)?;
        let pushed = self.push_text(&user.user_id, &user.username, &text);
        self.scratch = text;
        pushed
    }

    fn push_text(
        &mut self,
        user_id: &str,
        username: &str,
        text: &[u8],
    ) -> Result<(), ArchiveError> {
        let too_many = || spool_error("more than 4 GiB of user ids and names");
        let names = &mut self.entries.names;
        names.push_str(user_id);
        let id_end = u32::try_from(names.len()).map_err(|_| too_many())?;
        names.push_str(username);
        let name_end = u32::try_from(names.len()).map_err(|_| too_many())?;
        let len = u32::try_from(text.len())
            .map_err(|_| spool_error(format!("the entry of user {user_id} is over 4 GiB")))?;
        if self.spool.is_none() && self.memory.len() + text.len() > KEPT_IN_MEMORY {
            self.spill()?;
        }
        let at = match self.spool.as_mut() {
            None => {
                self.memory.extend_from_slice(text);
                (self.memory.len() - text.len()) as u64
            }
            Some(spool) => spool.write(self.entries.slots.len(), text)?,
        };
        self.entries.slots.push(Slot {
            id_end,
            name_end,
            at,
            len,
        });
        Ok(())
    }

    /// Moves the entries kept so far to a new spool file, which takes the next ones.
    fn spill(&mut self) -> Result<(), ArchiveError> {
        let file = tempfile::tempfile().map_err(spool_error)?;
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let cipher = Box::new(Aes256Gcm::new(&key.into()));
        zeroize::Zeroize::zeroize(&mut key);
        let mut spool = Spool {
            out: BufWriter::with_capacity(64 << 10, file),
            cipher,
            written: 0,
        };
        let memory = std::mem::take(&mut self.memory);
        for (i, slot) in self.entries.slots.iter_mut().enumerate() {
            slot.at = spool.write(i, &memory[slot.at as usize..][..slot.len as usize])?;
        }
        self.spool = Some(spool);
        Ok(())
    }

    pub fn finish(mut self) -> Result<UserEntries, ArchiveError> {
        self.entries.names.shrink_to_fit();
        self.entries.slots.shrink_to_fit();
        self.entries.store = Arc::new(match self.spool {
            None => {
                self.memory.shrink_to_fit();
                Store::Memory(self.memory)
            }
            Some(spool) => Store::File {
                file: spool.out.into_inner().map_err(|e| spool_error(e.error()))?,
                cipher: spool.cipher,
            },
        });
        Ok(self.entries)
    }
}

impl Spool {
    /// Appends entry `index` sealed; returns where it starts.
    fn write(&mut self, index: usize, text: &[u8]) -> Result<u64, ArchiveError> {
        let mut sealed = text.to_vec();
        let tag = self
            .cipher
            .encrypt_in_place_detached(&nonce(index), b"", &mut sealed)
            .map_err(|_| spool_error("cannot seal an entry"))?;
        let at = self.written;
        self.out
            .write_all(&sealed)
            .and_then(|()| self.out.write_all(&tag))
            .map_err(spool_error)?;
        self.written += (sealed.len() + TAG_BYTES) as u64;
        Ok(at)
    }
}

thread_local! {
    /// Why the entries being read could not be kept (the temporary folder, say): serde
    /// carries only text out of a parse, and the reader must not take this for damage or a
    /// wrong key.
    static KEEPING_FAILED: std::cell::RefCell<Option<ArchiveError>> =
        const { std::cell::RefCell::new(None) };
}

/// Why the last manifest read on this thread could not keep its entries, if it could not.
pub(super) fn keeping_failure() -> Option<ArchiveError> {
    KEEPING_FAILED.with(|f| f.borrow_mut().take())
}

/// Reads a manifest's `users` array straight into [`UserEntries`], an entry at a time.
pub(super) struct EntriesSeed;

impl<'de> DeserializeSeed<'de> for EntriesSeed {
    type Value = UserEntries;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<UserEntries, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = UserEntries;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of user entries")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UserEntries, A::Error> {
                let kept = |e: ArchiveError| {
                    let error = A::Error::custom(&e);
                    KEEPING_FAILED.with(|f| *f.borrow_mut() = Some(e));
                    error
                };
                let mut entries = UserEntriesBuilder::new();
                while let Some(user) = seq.next_element::<UserManifest>()? {
                    entries.push_as_read(&user).map_err(kept)?;
                }
                entries.finish().map_err(kept)
            }
        }
        d.deserialize_seq(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> UserManifest {
        serde_json::from_str(&format!(
            r#"{{"userId":"u{i:06}","username":"name{i}","backupTimestamp":{i},"stats":{{"events":{i},"attachments":0}},"chunks":{{"events":["events-0001.jsonl.gz"],"audit":[]}},"snapshotTime":1.50,"future":[1e+400]}}"#
        ))
        .unwrap()
    }

    /// Past the memory bound, entries go to the sealed spool file and read back as given.
    #[test]
    fn entries_read_back_as_given_in_memory_and_spooled() {
        for count in [3, 5_000] {
            let users: Vec<UserManifest> = (0..count).map(entry).collect();
            let entries = UserEntries::from_vec(users.clone()).unwrap();
            assert_eq!(
                matches!(entries.store.as_ref(), Store::File { .. }),
                count > 1_000
            );
            assert_eq!(entries.len(), count);
            assert!(entries.get(count).is_err());
            for (i, user) in users.iter().enumerate() {
                assert_eq!(entries.user_id(i), user.user_id);
                assert_eq!(entries.username(i), user.username);
                let back = entries.get(i).unwrap();
                assert_eq!(
                    serde_json::to_string(&back).unwrap(),
                    serde_json::to_string(user).unwrap()
                );
            }
            let text = serde_json::to_string(&entries).unwrap();
            assert_eq!(text, serde_json::to_string(&users).unwrap());
            let kept = entries.retain_ids(|id| id.ends_with('1')).unwrap();
            assert_eq!(kept.len(), count.div_ceil(10));
            assert!(kept.ids().all(|(id, _)| id.ends_with('1')));
        }
    }

    /// A spool file altered behind the reader's back is refused, not read as entries.
    #[test]
    fn an_altered_spool_is_refused() {
        let entries = UserEntries::from_vec((0..5_000).map(entry).collect()).unwrap();
        let Store::File { file, .. } = entries.store.as_ref() else {
            panic!("spooled")
        };
        file.write_all_at(b"X", 10).unwrap();
        let err = entries.get(0).unwrap_err().to_string();
        assert!(err.contains("altered"), "{err}");
        assert!(entries.get(1).is_ok());
    }
}
