//! The Orders API's store in one process: in memory as in the seed, or, with `--data-dir`, in
//! memory backed by an SQLite database that every change is written to first.
//!
//! Reads and statistics are always answered from memory (stats are kept up to date on each
//! change, never by scanning). With a database, a change is written to it before memory
//! changes, so an answered request is on disk (in SQLite's WAL) and a failed write changes
//! nothing. At start the database is read back into memory once.
//!
//! # Locking
//!
//! Two locks, always taken in this order, never held across an `.await`:
//!
//! - `writer` serializes every change. It is held while a change reads the current state,
//!   writes the database and then updates memory, so the database and memory see changes in
//!   the same order and a change decides on the state it replaces. With a database, changes
//!   run on tokio's blocking pool (the SQLite write, with `--fsync always` an fsync, takes
//!   tens of microseconds to milliseconds), never on the async worker threads.
//! - `memory` guards the in-memory orders and statistics. It is held only for in-memory work,
//!   never during I/O, so reads never wait for the disk.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::shards::Shards;
use super::sqlite::{Db, RowState};
use super::stats::{Stats, StatsView};
use super::store::{Ingested, ListQuery, StoreError, UpdateError};
use crate::order::Order;

#[derive(Default)]
struct Memory {
    /// Arrival sequence → order; newest-first listing walks it backwards. A B-tree grows a
    /// node at a time and never moves what it holds.
    orders: BTreeMap<i64, Order>,
    /// Id → arrival sequence (see `Shards`: entries of 32 bytes, in maps that grow apart).
    ids: Shards<i64>,
    /// Ids of deleted orders, so a redelivered message does not bring one back.
    deleted: HashSet<String>,
    /// Ids of rows that failed validation at start.
    kept_aside: HashSet<String>,
    next: i64,
    stats: Stats,
}

#[derive(Default)]
pub struct LocalStore {
    /// `None`: memory only. See the module's locking rules.
    writer: Mutex<Option<Db>>,
    memory: Mutex<Memory>,
    durable: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl LocalStore {
    /// Keeps orders in `dir/orders.db`, reading back what an earlier run stored.
    /// `sync_every_write` makes each change reach the disk (fsync) before the answer;
    /// otherwise a change survives a crash of this process but not of the machine.
    pub fn open(dir: &Path, sync_every_write: bool) -> anyhow::Result<Self> {
        let (db, rows) = Db::open(dir, sync_every_write)?;
        let mut memory = Memory::default();
        for row in rows {
            memory.next = memory.next.max(row.seq + 1);
            match row.state {
                RowState::Deleted => {
                    memory.deleted.insert(row.id);
                }
                RowState::Stored(order) => memory.insert(row.seq, order),
                RowState::Invalid(why) => {
                    tracing::warn!(id = row.id, seq = row.seq, %why, "a stored order is not valid; it is kept aside in the database and not served");
                    memory.kept_aside.insert(row.id);
                }
            }
        }
        tracing::info!(
            orders = memory.orders.len(),
            deleted = memory.deleted.len(),
            kept_aside = memory.kept_aside.len(),
            "orders read back from the database"
        );
        Ok(Self {
            writer: Mutex::new(Some(db)),
            memory: Mutex::new(memory),
            durable: true,
        })
    }

    /// Runs a change: on the blocking pool when it writes to a database, else right here
    /// (memory only: no I/O, the locks are held for microseconds).
    async fn change<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        if !self.durable {
            return Ok(f(self));
        }
        let store = self.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await?)
    }

    /// Stores an order once: a second ingest of the same id changes nothing.
    pub async fn ingest(self: &Arc<Self>, order: Order) -> Result<Ingested, StoreError> {
        self.change(move |store| store.ingest_now(order)).await?
    }

    fn ingest_now(&self, order: Order) -> Result<Ingested, StoreError> {
        let writer = lock(&self.writer);
        let seq = {
            let memory = lock(&self.memory);
            if let Some(existing) = memory.get(&order.id) {
                return Ok(Ingested::Existing(existing.clone()));
            }
            if memory.deleted.contains(&order.id) {
                return Ok(Ingested::Deleted);
            }
            if memory.kept_aside.contains(&order.id) {
                return Ok(Ingested::KeptAside);
            }
            memory.next
        };
        if let Some(db) = &*writer {
            db.insert(seq, &order)?;
        }
        let mut memory = lock(&self.memory);
        memory.next = seq + 1;
        memory.insert(seq, order.clone());
        Ok(Ingested::Created(order))
    }

    pub fn get(&self, id: &str) -> Option<Order> {
        lock(&self.memory).get(id).cloned()
    }

    /// Newest first, with the number of matching orders before paging. Under the memory lock,
    /// so without work that grows with the store where it can be avoided: the count comes
    /// from the statistics for one filter or none, and the page is read lazily, so a page of
    /// 50 near the newest costs 50 orders, not millions (both filters at once still scan).
    pub fn list(&self, query: &ListQuery) -> (usize, Vec<Order>) {
        let memory = lock(&self.memory);
        let keeps = |o: &&Order| {
            query.status.is_none_or(|s| o.status == s)
                && query.user_id.as_deref().is_none_or(|u| o.user_id == u)
        };
        let newest_first = || memory.orders.values().rev().filter(keeps);
        let total = match (query.status, query.user_id.as_deref()) {
            (None, None) => memory.orders.len(),
            (Some(status), None) => memory.stats.orders_with_status(status),
            (None, Some(user)) => memory.stats.orders_of_user(user),
            (Some(_), Some(_)) => newest_first().count(),
        };
        let page = newest_first()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        (total, page)
    }

    /// Applies `change` to the order's current state; its error refuses the change.
    pub async fn update<E: Send + 'static>(
        self: &Arc<Self>,
        id: String,
        change: impl FnOnce(&Order) -> Result<Order, E> + Send + 'static,
    ) -> Result<Order, UpdateError<E>> {
        self.change(move |store| store.update_now(&id, change))
            .await?
    }

    fn update_now<E>(
        &self,
        id: &str,
        change: impl FnOnce(&Order) -> Result<Order, E>,
    ) -> Result<Order, UpdateError<E>> {
        let writer = lock(&self.writer);
        let current = lock(&self.memory)
            .get(id)
            .cloned()
            .ok_or(UpdateError::NotFound)?;
        let updated = change(&current).map_err(UpdateError::Rejected)?;
        if let Some(db) = &*writer {
            db.update(&updated).map_err(StoreError::from)?;
        }
        let mut memory = lock(&self.memory);
        memory.stats.remove(&current);
        memory.stats.add(&updated);
        if let Some(seq) = memory.ids.get(id).copied() {
            memory.orders.insert(seq, updated.clone());
        }
        Ok(updated)
    }

    /// `Ok(None)` if there is no such order.
    pub async fn delete(self: &Arc<Self>, id: String) -> Result<Option<Order>, StoreError> {
        self.change(move |store| store.delete_now(&id)).await?
    }

    fn delete_now(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let writer = lock(&self.writer);
        if !lock(&self.memory).ids.contains_key(id) {
            return Ok(None);
        }
        if let Some(db) = &*writer {
            db.delete(id)?;
        }
        let mut memory = lock(&self.memory);
        let Some(order) = memory
            .ids
            .remove(id)
            .and_then(|seq| memory.orders.remove(&seq))
        else {
            return Ok(None);
        };
        memory.stats.remove(&order);
        memory.deleted.insert(order.id.clone());
        Ok(Some(order))
    }

    /// Which store this is, after checking that its database (if any) answers.
    pub(super) async fn check(self: &Arc<Self>) -> Result<&'static str, StoreError> {
        self.change(|store| match &*lock(&store.writer) {
            Some(db) => db.check().map(|()| "sqlite").map_err(StoreError::from),
            None => Ok("memory"),
        })
        .await?
    }

    pub fn stats(&self) -> StatsView {
        lock(&self.memory).stats.view()
    }
}

impl Memory {
    fn insert(&mut self, seq: i64, order: Order) {
        self.stats.add(&order);
        self.ids.insert(order.id.clone(), seq);
        self.orders.insert(seq, order);
    }

    fn get(&self, id: &str) -> Option<&Order> {
        self.ids.get(id).and_then(|seq| self.orders.get(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders_api::store::tests::order;

    #[tokio::test]
    async fn a_row_that_is_not_a_valid_order_is_kept_aside_and_the_store_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(LocalStore::open(dir.path(), false).expect("open"));
        store.ingest(order("good")).await.expect("stored");
        drop(store);
        let conn = rusqlite::Connection::open(dir.path().join("orders.db")).expect("sqlite");
        conn.execute(
            "INSERT INTO orders (seq, id, body) VALUES (10, 'bad', '{\"id\": \"bad\"}'), (11, 'junk', 'not json')",
            [],
        )
        .expect("insert");
        drop(conn);
        let store = Arc::new(LocalStore::open(dir.path(), false).expect("opens anyway"));
        assert!(store.get("good").is_some());
        assert!(store.get("bad").is_none());
        assert!(matches!(
            store.ingest(order("bad")).await,
            Ok(Ingested::KeptAside)
        ));
        assert!(matches!(
            store.ingest(order("new")).await,
            Ok(Ingested::Created(_))
        ));
    }
}
