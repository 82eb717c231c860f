//! Where the Orders API keeps orders: in memory as in the seed, or, with `--data-dir`, in
//! memory backed by an SQLite database that every change is written to first.
//!
//! Reads and statistics are always answered from memory (stats are kept up to date on each
//! change, never by scanning). With a database, a change is written to it before memory
//! changes, so an answered request is on disk (in SQLite's WAL) and a failed write changes
//! nothing. At start the database is read back into memory once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;

use super::db::Db;
use super::stats::{Stats, StatsView};
use crate::http::Problem;
use crate::order::{Order, Status};

pub enum Ingested {
    Created(Order),
    /// An order with this id was already stored (a redelivery): nothing changed.
    Existing(Order),
    /// An order with this id was stored and then deleted: a redelivery does not bring it back.
    Deleted,
}

#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub user_id: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// A change to one order, checked against its current state while the store is locked.
pub type Change<'a> = &'a mut dyn FnMut(&Order) -> Result<Order, Problem>;

#[derive(Default)]
struct Inner {
    orders: HashMap<String, (i64, Order)>,
    /// Arrival sequence → id, for newest-first listing.
    arrival: BTreeMap<i64, String>,
    /// Ids of deleted orders, so a redelivered message does not bring one back.
    deleted: HashSet<String>,
    next: i64,
    stats: Stats,
    db: Option<Db>,
}

#[derive(Default)]
pub struct OrderStore(Mutex<Inner>);

fn unavailable(err: rusqlite::Error) -> Problem {
    tracing::error!(%err, "the orders database refused a write");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the orders database could not save the change: {err}"),
    )
    .with_retry_after(1)
}

impl OrderStore {
    /// Keeps orders in `dir/orders.db`, reading back what an earlier run stored.
    /// `sync_every_write` makes each change reach the disk (fsync) before the answer;
    /// otherwise a change survives a crash of this process but not of the machine.
    pub fn open(dir: &Path, sync_every_write: bool) -> anyhow::Result<Self> {
        let (db, rows) = Db::open(dir, sync_every_write)?;
        let mut inner = Inner::default();
        for row in rows {
            inner.next = inner.next.max(row.seq + 1);
            match row.order {
                None => {
                    inner.deleted.insert(row.id);
                }
                Some(order) => inner.insert(row.seq, order),
            }
        }
        tracing::info!(
            orders = inner.orders.len(),
            deleted = inner.deleted.len(),
            "orders read back from the database"
        );
        inner.db = Some(db);
        Ok(Self(Mutex::new(inner)))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores an order once: a second ingest of the same id changes nothing.
    pub fn ingest(&self, order: Order) -> Result<Ingested, Problem> {
        let mut inner = self.lock();
        if let Some((_, existing)) = inner.orders.get(&order.id) {
            return Ok(Ingested::Existing(existing.clone()));
        }
        if inner.deleted.contains(&order.id) {
            return Ok(Ingested::Deleted);
        }
        let seq = inner.next;
        if let Some(db) = &inner.db {
            db.insert(seq, &order).map_err(unavailable)?;
        }
        inner.next += 1;
        inner.insert(seq, order.clone());
        Ok(Ingested::Created(order))
    }

    pub fn get(&self, id: &str) -> Option<Order> {
        self.lock().orders.get(id).map(|(_, o)| o.clone())
    }

    /// Newest first, with the number of matching orders before paging.
    pub fn list(&self, query: &ListQuery) -> (usize, Vec<Order>) {
        let inner = self.lock();
        let matching = inner
            .arrival
            .values()
            .rev()
            .filter_map(|id| inner.orders.get(id).map(|(_, o)| o))
            .filter(|o| {
                query.status.is_none_or(|s| o.status == s)
                    && query.user_id.as_deref().is_none_or(|u| o.user_id == u)
            });
        let all: Vec<&Order> = matching.collect();
        let page = all
            .iter()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .map(|o| (*o).clone())
            .collect();
        (all.len(), page)
    }

    /// `None` if there is no such order.
    pub fn update(&self, id: &str, change: Change<'_>) -> Option<Result<Order, Problem>> {
        let mut inner = self.lock();
        let current = inner.orders.get(id).map(|(_, o)| o.clone())?;
        let updated = match change(&current) {
            Ok(updated) => updated,
            Err(problem) => return Some(Err(problem)),
        };
        if let Some(db) = &inner.db {
            if let Err(err) = db.update(&updated) {
                return Some(Err(unavailable(err)));
            }
        }
        inner.stats.remove(&current);
        inner.stats.add(&updated);
        if let Some(entry) = inner.orders.get_mut(id) {
            entry.1 = updated.clone();
        }
        Some(Ok(updated))
    }

    /// `Ok(None)` if there is no such order.
    pub fn delete(&self, id: &str) -> Result<Option<Order>, Problem> {
        let mut inner = self.lock();
        if !inner.orders.contains_key(id) {
            return Ok(None);
        }
        if let Some(db) = &inner.db {
            db.delete(id).map_err(unavailable)?;
        }
        let Some((seq, order)) = inner.orders.remove(id) else {
            return Ok(None);
        };
        inner.arrival.remove(&seq);
        inner.stats.remove(&order);
        inner.deleted.insert(order.id.clone());
        Ok(Some(order))
    }

    /// Which store this is, after checking that its database (if any) answers.
    pub fn check(&self) -> Result<&'static str, String> {
        match &self.lock().db {
            Some(db) => db
                .check()
                .map(|()| "sqlite")
                .map_err(|e| format!("the orders database does not answer: {e}")),
            None => Ok("memory"),
        }
    }

    pub fn stats(&self) -> StatsView {
        self.lock().stats.view()
    }
}

impl Inner {
    fn insert(&mut self, seq: i64, order: Order) {
        self.stats.add(&order);
        self.arrival.insert(seq, order.id.clone());
        self.orders.insert(order.id.clone(), (seq, order));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> Order {
        let value = serde_json::json!({
            "id": id, "userId": "u1", "status": "pending", "createdAt": "2026-11-27T00:00:00Z",
            "products": [{"id": "p", "name": "P", "price": 19.99, "quantity": 2}], "totalAmount": 39.98
        });
        Order::from_json(&value).expect("valid order")
    }

    #[test]
    fn a_reopened_database_has_every_change_and_remembers_deletions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = OrderStore::open(dir.path(), false).expect("open");
        for id in ["a", "b", "c"] {
            assert!(matches!(store.ingest(order(id)), Ok(Ingested::Created(_))));
        }
        assert!(matches!(
            store.ingest(order("a")),
            Ok(Ingested::Existing(_))
        ));
        let shipped = store
            .update("b", &mut |o| {
                Ok(Order {
                    status: Status::Shipped,
                    ..o.clone()
                })
            })
            .expect("b")
            .expect("ok");
        assert!(store.delete("c").expect("delete").is_some());
        let before = (store.list(&ListQuery::default()), store.stats());
        drop(store);

        let store = OrderStore::open(dir.path(), false).expect("reopen");
        assert_eq!((store.list(&ListQuery::default()), store.stats()), before);
        assert_eq!(store.get("b"), Some(shipped));
        assert!(
            matches!(store.ingest(order("c")), Ok(Ingested::Deleted)),
            "a redelivery does not bring back a deleted order"
        );
        assert!(matches!(store.ingest(order("d")), Ok(Ingested::Created(_))));
        let (_, newest) = store.list(&ListQuery {
            limit: Some(1),
            ..ListQuery::default()
        });
        assert_eq!(newest[0].id, "d", "arrival order continues after a restart");
    }
}
