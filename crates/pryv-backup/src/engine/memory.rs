//! A user's data held in memory: a [`UserSink`] that collects and a [`UserSource`] that
//! replays. For tests, sample data and small in-process transfers, not for real backups.

use std::collections::BTreeMap;
use std::io::Read;

use super::{ItemIter, UserSink, UserSource};
use crate::model::{Collection, Item};
use crate::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryUser {
    pub collections: BTreeMap<Collection, Vec<Item>>,
    pub account: Option<Item>,
    /// file id → (event id, bytes)
    pub attachments: BTreeMap<String, (String, Vec<u8>)>,
}

impl MemoryUser {
    pub fn items_of(&self, collection: Collection) -> &[Item] {
        self.collections.get(&collection).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl UserSink for MemoryUser {
    fn item(&mut self, collection: Collection, item: &Item) -> Result<()> {
        self.collections.entry(collection).or_default().push(item.clone());
        Ok(())
    }

    fn account(&mut self, account: &Item) -> Result<()> {
        self.account = Some(account.clone());
        Ok(())
    }

    fn attachment(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes)
            .map_err(|e| Error::Other(format!("reading attachment {file_id}: {e}")))?;
        self.attachments
            .insert(file_id.to_string(), (event_id.to_string(), bytes));
        Ok(())
    }
}

impl UserSource for MemoryUser {
    fn items(&self, collection: Collection) -> Result<ItemIter<'_>> {
        Ok(Box::new(self.items_of(collection).iter().cloned().map(Ok)))
    }

    fn account(&self) -> Result<Option<Item>> {
        Ok(self.account.clone())
    }

    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn Read + '_>>> {
        Ok(self
            .attachments
            .get(file_id)
            .map(|(_, bytes)| Box::new(bytes.as_slice()) as Box<dyn Read + '_>))
    }
}
