//! An install whose storages are configured apart: the base engine, plus audit, series
//! and platform data kept elsewhere (per-user SQLite audit files, InfluxDB, rqlite).
//!
//! Each user's base data stays all-or-nothing; the side stores are written after the base
//! commit, each in its own unit (they have no shared transaction with the base engine). A
//! side store failing then is an [`crate::Error::AfterCommit`]: the user is reported
//! incomplete, not rolled back.

use std::io::Read;

use super::{
    BatchSink, CollectionStore, Engine, ExportOptions, ImportOptions, ItemIter, PlatformStore,
    TextIter, UserSink, UserSource,
};
use crate::model::{Collection, Item, UserRef};
use crate::Result;

pub struct Composite {
    pub base: Box<dyn Engine>,
    pub audit: Option<Box<dyn CollectionStore>>,
    pub series: Option<Box<dyn CollectionStore>>,
    pub platform: Option<Box<dyn PlatformStore>>,
}

impl Composite {
    fn side_stores(&self) -> impl Iterator<Item = (Collection, &dyn CollectionStore)> {
        [
            (Collection::Audit, &self.audit),
            (Collection::Series, &self.series),
        ]
        .into_iter()
        .filter_map(|(c, s)| s.as_deref().map(|s| (c, s)))
    }

    /// A user's collections kept in the side stores, once its base data is committed.
    fn import_side_stores(
        &self,
        user: &UserRef,
        source: &dyn UserSource,
        options: &ImportOptions,
    ) -> Result<()> {
        for (collection, store) in self.side_stores() {
            let what = match collection {
                Collection::Audit => "audit records",
                _ => "series",
            };
            source
                .items(collection)
                .and_then(|mut items| store.import_user(user, &mut items, options.overwrite))
                .map_err(crate::Error::after_commit(what))?;
        }
        Ok(())
    }
}

impl Engine for Composite {
    fn describe(&self) -> String {
        let mut parts = vec![self.base.describe()];
        for (c, store) in self.side_stores() {
            parts.push(format!("{}: {}", c.name(), store.describe()));
        }
        if let Some(p) = &self.platform {
            parts.push(format!("platform: {}", p.describe()));
        }
        parts.join(", ")
    }

    fn users(&self) -> Result<Vec<UserRef>> {
        self.base.users()
    }

    fn lock_for_restore(&self) -> Result<Box<dyn crate::lock::Held>> {
        let lock = self.base.lock_for_restore()?;
        for store in self.audit.iter().chain(&self.series) {
            store.recover()?;
        }
        Ok(lock)
    }

    fn export_user(
        &self,
        user: &UserRef,
        options: &ExportOptions,
        sink: &mut dyn UserSink,
    ) -> Result<()> {
        self.base.export_user(user, options, sink)?;
        for (collection, store) in self.side_stores() {
            store.export_user(user, &options.window, &mut |item: &Item| {
                sink.item(collection, item)
            })?;
        }
        Ok(())
    }

    fn export_users(
        &self,
        users: &[UserRef],
        options: &dyn Fn(&UserRef) -> ExportOptions,
        out: &mut dyn BatchSink,
    ) -> Result<usize> {
        if self.side_stores().next().is_none() {
            return self.base.export_users(users, options, out);
        }
        // Side stores come after each user's base data: one user at a time.
        super::export_each(self, users, options, out)
    }

    fn find_conflict(&self, user: &UserRef) -> Result<Option<String>> {
        self.base.find_conflict(user)
    }

    fn user_exists(&self, user_id: &str) -> Result<bool> {
        self.base.user_exists(user_id)
    }

    fn import_user(
        &self,
        user: &UserRef,
        source: &dyn UserSource,
        options: &ImportOptions,
    ) -> Result<()> {
        let hidden: Vec<Collection> = self.side_stores().map(|(c, _)| c).collect();
        self.base.import_user(
            user,
            &Hiding {
                inner: source,
                hidden: &hidden,
            },
            options,
        )?;
        self.import_side_stores(user, source, options)
    }

    fn import_users_together(
        &self,
        users: &[(&UserRef, &dyn UserSource)],
        options: &ImportOptions,
    ) -> Result<Option<Vec<Result<()>>>> {
        let hidden: Vec<Collection> = self.side_stores().map(|(c, _)| c).collect();
        let hiding: Vec<Hiding<'_>> = users
            .iter()
            .map(|(_, source)| Hiding {
                inner: *source,
                hidden: &hidden,
            })
            .collect();
        let base: Vec<(&UserRef, &dyn UserSource)> = users
            .iter()
            .zip(&hiding)
            .map(|((user, _), source)| (*user, source as &dyn UserSource))
            .collect();
        let Some(mut results) = self.base.import_users_together(&base, options)? else {
            return Ok(None);
        };
        for (result, (user, source)) in results.iter_mut().zip(users) {
            if result.is_ok() {
                *result = self.import_side_stores(user, *source, options);
            }
        }
        Ok(Some(results))
    }

    fn finish_restore(&self, jobs: usize, progress: &dyn crate::progress::Progress) -> Result<()> {
        self.base.finish_restore(jobs, progress)
    }

    fn export_platform(&self, out: &mut dyn FnMut(&Item) -> Result<()>) -> Result<()> {
        match &self.platform {
            Some(p) => p.export(out),
            None => self.base.export_platform(out),
        }
    }

    fn import_platform(&self, items: &mut dyn Iterator<Item = Result<Item>>) -> Result<()> {
        match &self.platform {
            Some(p) => p.import(items),
            None => self.base.import_platform(items),
        }
    }

    fn platform_values(&self, keys: &[String]) -> Result<Vec<(String, String)>> {
        match &self.platform {
            Some(p) => p.values(keys),
            None => self.base.platform_values(keys),
        }
    }
}

/// A source whose side-store collections look empty to the base engine.
struct Hiding<'a> {
    inner: &'a dyn UserSource,
    hidden: &'a [Collection],
}

impl UserSource for Hiding<'_> {
    fn items(&self, collection: Collection) -> Result<ItemIter<'_>> {
        if self.hidden.contains(&collection) {
            return Ok(Box::new(std::iter::empty()));
        }
        self.inner.items(collection)
    }

    fn texts(&self, collection: Collection) -> Result<TextIter<'_>> {
        if self.hidden.contains(&collection) {
            return Ok(Box::new(std::iter::empty()));
        }
        self.inner.texts(collection)
    }

    fn account(&self) -> Result<Option<Item>> {
        self.inner.account()
    }

    fn attachment(&self, file_id: &str) -> Result<Option<Box<dyn Read + '_>>> {
        self.inner.attachment(file_id)
    }
}
