//! Where the Orders API keeps orders. The seed keeps them in memory; the trait leaves room
//! for a durable store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::http::Problem;
use crate::order::{Order, Status};

use super::stats::{Stats, StatsView};

pub enum Ingested {
    Created(Order),
    /// An order with this id was already stored (a redelivery): nothing changed.
    Existing(Order),
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

pub trait OrderStore: Send + Sync + 'static {
    /// Stores an order once: a second ingest of the same id changes nothing.
    fn ingest(&self, order: Order) -> Ingested;
    fn get(&self, id: &str) -> Option<Order>;
    /// Newest first.
    fn list(&self, query: &ListQuery) -> (usize, Vec<Order>);
    /// `None` if there is no such order.
    fn update(&self, id: &str, change: Change<'_>) -> Option<Result<Order, Problem>>;
    fn delete(&self, id: &str) -> Option<Order>;
    fn stats(&self) -> StatsView;
}

#[derive(Default)]
struct Inner {
    orders: HashMap<String, (u64, Order)>,
    /// Arrival sequence → id, for newest-first listing.
    arrival: BTreeMap<u64, String>,
    next: u64,
    stats: Stats,
}

#[derive(Default)]
pub struct MemoryStore(Mutex<Inner>);

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl OrderStore for MemoryStore {
    fn ingest(&self, order: Order) -> Ingested {
        let mut inner = self.lock();
        if let Some((_, existing)) = inner.orders.get(&order.id) {
            return Ingested::Existing(existing.clone());
        }
        let seq = inner.next;
        inner.next += 1;
        inner.stats.add(&order);
        inner.arrival.insert(seq, order.id.clone());
        inner.orders.insert(order.id.clone(), (seq, order.clone()));
        Ingested::Created(order)
    }

    fn get(&self, id: &str) -> Option<Order> {
        self.lock().orders.get(id).map(|(_, o)| o.clone())
    }

    fn list(&self, query: &ListQuery) -> (usize, Vec<Order>) {
        let inner = self.lock();
        let matching = inner.arrival.values().rev().filter_map(|id| inner.orders.get(id).map(|(_, o)| o)).filter(|o| {
            query.status.is_none_or(|s| o.status == s) && query.user_id.as_deref().is_none_or(|u| o.user_id == u)
        });
        let all: Vec<&Order> = matching.collect();
        let page = all.iter().skip(query.offset).take(query.limit.unwrap_or(usize::MAX)).map(|o| (*o).clone()).collect();
        (all.len(), page)
    }

    fn update(&self, id: &str, change: Change<'_>) -> Option<Result<Order, Problem>> {
        let mut inner = self.lock();
        let current = inner.orders.get(id).map(|(_, o)| o.clone())?;
        Some(change(&current).map(|updated| {
            inner.stats.remove(&current);
            inner.stats.add(&updated);
            if let Some(entry) = inner.orders.get_mut(id) {
                entry.1 = updated.clone();
            }
            updated
        }))
    }

    fn delete(&self, id: &str) -> Option<Order> {
        let mut inner = self.lock();
        let (seq, order) = inner.orders.remove(id)?;
        inner.arrival.remove(&seq);
        inner.stats.remove(&order);
        Some(order)
    }

    fn stats(&self) -> StatsView {
        self.lock().stats.view()
    }
}
