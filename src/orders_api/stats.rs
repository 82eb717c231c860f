//! Order statistics kept up to date on every insert, update and delete (never by scanning).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::money::Money;
use crate::order::{Order, Status};

#[derive(Debug, Default)]
pub struct Stats {
    total_orders: u64,
    /// Revenue of orders that are not cancelled.
    revenue: Money,
    billable_orders: u64,
    by_status: BTreeMap<Status, u64>,
    total_items: u64,
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

impl Stats {
    pub fn add(&mut self, order: &Order) {
        self.total_orders += 1;
        if order.status != Status::Cancelled {
            self.revenue = self
                .revenue
                .checked_add(order.total_amount)
                .unwrap_or(self.revenue);
            self.billable_orders += 1;
        }
        *self.by_status.entry(order.status).or_default() += 1;
        self.total_items += order.item_count();
        *self
            .orders_per_user
            .entry(order.user_id.clone())
            .or_default() += 1;
    }

    pub fn remove(&mut self, order: &Order) {
        self.total_orders -= 1;
        if order.status != Status::Cancelled {
            self.revenue = Money::from_cents(self.revenue.cents() - order.total_amount.cents());
            self.billable_orders -= 1;
        }
        if let Some(n) = self.by_status.get_mut(&order.status) {
            *n -= 1;
        }
        self.total_items -= order.item_count();
        if let Some(n) = self.orders_per_user.get_mut(&order.user_id) {
            *n -= 1;
            if *n == 0 {
                self.orders_per_user.remove(&order.user_id);
            }
        }
    }

    pub fn view(&self) -> StatsView {
        StatsView {
            total_orders: self.total_orders,
            total_revenue: self.revenue,
            average_order_value: self.revenue.div_round(self.billable_orders),
            orders_by_status: Status::ALL
                .iter()
                .map(|s| (s.name(), self.by_status.get(s).copied().unwrap_or(0)))
                .collect(),
            total_items: self.total_items,
            unique_users: self.orders_per_user.len() as u64,
        }
    }
}
