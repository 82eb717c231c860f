//! Order statistics kept up to date on every insert, update and delete (never by scanning):
//! in memory for the local store, in tables for PostgreSQL. Both keep the same totals per
//! status and make the same view of them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::money::Money;
use crate::order::{Order, Status};

/// What the orders of one status add up to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub orders: u64,
    pub revenue: Money,
    pub items: u64,
}

impl Totals {
    /// One order's share.
    pub fn of(order: &Order) -> Self {
        Self {
            orders: 1,
            revenue: order.total_amount,
            items: order.item_count(),
        }
    }

    fn add(&mut self, other: Totals) {
        self.orders += other.orders;
        self.revenue = self
            .revenue
            .checked_add(other.revenue)
            .unwrap_or(self.revenue);
        self.items += other.items;
    }

    fn subtract(&mut self, other: Totals) {
        self.orders -= other.orders;
        self.revenue = Money::from_cents(self.revenue.cents() - other.revenue.cents());
        self.items -= other.items;
    }
}

/// The local store's statistics.
#[derive(Debug, Default)]
pub struct Stats {
    by_status: BTreeMap<Status, Totals>,
    orders_per_user: HashMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    pub total_orders: u64,
    pub total_revenue: Money,
    pub average_order_value: Money,
    pub orders_by_status: BTreeMap<&'static str, u64>,
    pub total_items: u64,
    pub unique_users: u64,
}

impl StatsView {
    /// The statistics of these per-status totals: revenue and the average leave cancelled
    /// orders out.
    pub fn new(by_status: &BTreeMap<Status, Totals>, unique_users: u64) -> Self {
        let mut all = Totals::default();
        let mut billable = Totals::default();
        for (status, totals) in by_status {
            all.add(*totals);
            if *status != Status::Cancelled {
                billable.add(*totals);
            }
        }
        Self {
            total_orders: all.orders,
            total_revenue: billable.revenue,
            average_order_value: billable.revenue.div_round(billable.orders),
            orders_by_status: Status::ALL
                .iter()
                .map(|s| (s.name(), by_status.get(s).map_or(0, |t| t.orders)))
                .collect(),
            total_items: all.items,
            unique_users,
        }
    }
}

impl Stats {
    pub fn add(&mut self, order: &Order) {
        self.by_status
            .entry(order.status)
            .or_default()
            .add(Totals::of(order));
        *self
            .orders_per_user
            .entry(order.user_id.clone())
            .or_default() += 1;
    }

    pub fn remove(&mut self, order: &Order) {
        if let Some(totals) = self.by_status.get_mut(&order.status) {
            totals.subtract(Totals::of(order));
        }
        if let Some(n) = self.orders_per_user.get_mut(&order.user_id) {
            *n -= 1;
            if *n == 0 {
                self.orders_per_user.remove(&order.user_id);
            }
        }
    }

    pub fn orders_with_status(&self, status: Status) -> usize {
        self.by_status.get(&status).map_or(0, |t| t.orders as usize)
    }

    pub fn orders_of_user(&self, user: &str) -> usize {
        self.orders_per_user.get(user).copied().unwrap_or(0) as usize
    }

    pub fn view(&self) -> StatsView {
        StatsView::new(&self.by_status, self.orders_per_user.len() as u64)
    }
}
