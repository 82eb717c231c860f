//! The Orders API's store on PostgreSQL, shared by any number of Orders API processes.
//!
//! The database decides: a change reads the order with `SELECT … FOR UPDATE` and writes it in
//! the same transaction, so two processes changing one order take turns, each deciding on the
//! state the other left. The statistics (`order_totals`, `user_orders`, see the migration) change
//! in that transaction too, so they are exact across processes.
//!
//! Every change locks the order's row first, then the statistics' rows in one statement
//! whose shape is the same for every change ([`count_clauses`]), each list sorted: two changes
//! take shared rows in the same order, so they wait for each other rather than deadlock
//! (the concurrency test checks that no change fails that way).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use deadpool_postgres::{Object, Pool, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::IsolationLevel;

use super::stats::{StatsView, Totals};
use super::store::{Ingested, ListQuery, StoreError, UpdateError};
use crate::money::Money;
use crate::order::{Order, Status};

/// Slots per status in `order_totals`.
const SLOTS: u64 = 8;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

/// A stored body read back: an order, or why it is not one.
fn parse(body: &str) -> Result<Order, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|err| format!("not JSON: {err}"))?;
    Order::from_json(&value).map_err(|errors| {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        format!("invalid field(s): {}", fields.join(", "))
    })
}

/// A stored body that should be an order; one that is not is left out and said.
fn served(id: &str, body: &str) -> Option<Order> {
    parse(body)
        .inspect_err(
            |why| tracing::warn!(id, %why, "a stored order is not valid; it is not served"),
        )
        .ok()
}

fn json(order: &Order) -> String {
    serde_json::to_string(order).unwrap_or_default()
}

/// How the statistics change: totals by (status, slot) and orders by (user, slot), each key
/// once and sorted, so that every statement locks their rows in the same order.
#[derive(Default)]
struct Changes {
    totals: BTreeMap<(&'static str, i16), (i64, i64, i64)>,
    users: BTreeMap<(String, i16), i64>,
}

/// The statistics' upserts as `WITH` clauses of a statement that changes an order, fed by the
/// arrays of [`Changes::params`] from parameter `$first` on, applied only when `condition`
/// holds. One statement: the rows are locked for the shortest time, until the commit.
fn count_clauses(first: usize, condition: &str) -> String {
    let p = |n: usize| format!("${}", first + n);
    format!(
        "totals AS (
            INSERT INTO order_totals (status, slot, orders, cents, items)
            SELECT * FROM unnest({}::TEXT[], {}::INT2[], {}::INT8[], {}::INT8[], {}::INT8[])
            WHERE {condition}
            ON CONFLICT (status, slot) DO UPDATE SET
                orders = order_totals.orders + EXCLUDED.orders,
                cents = order_totals.cents + EXCLUDED.cents,
                items = order_totals.items + EXCLUDED.items
        ), users AS (
            INSERT INTO user_orders (user_id, slot, orders)
            SELECT * FROM unnest({}::TEXT[], {}::INT2[], {}::INT8[])
            WHERE {condition}
            ON CONFLICT (user_id, slot) DO UPDATE SET orders = user_orders.orders + EXCLUDED.orders
        )",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7)
    )
}

/// Stores an order unless its id is known, counting it only then.
static INGEST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH new AS (
            INSERT INTO orders (id, body, status, user_id) VALUES ($1, $2, $3, $4)
            ON CONFLICT (id) DO NOTHING RETURNING seq
        ), {}
        SELECT seq FROM new",
        count_clauses(5, "EXISTS (SELECT 1 FROM new)")
    )
});
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {} UPDATE orders SET body = $2, status = $3, user_id = $4 WHERE id = $1",
        count_clauses(5, "TRUE")
    )
});
/// Keeps the row without its order: a tombstone.
static DELETE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {} UPDATE orders SET body = NULL, status = NULL, user_id = NULL WHERE id = $1",
        count_clauses(2, "TRUE")
    )
});

/// The arrays [`count_clauses`] reads.
struct Columns {
    statuses: Vec<&'static str>,
    slots: Vec<i16>,
    orders: Vec<i64>,
    cents: Vec<i64>,
    items: Vec<i64>,
    users: Vec<String>,
    user_slots: Vec<i16>,
    user_orders: Vec<i64>,
}

impl Columns {
    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.statuses,
            &self.slots,
            &self.orders,
            &self.cents,
            &self.items,
            &self.users,
            &self.user_slots,
            &self.user_orders,
        ]
    }
}

impl Changes {
    /// Counts `order` `sign` times: 1 when it is stored, -1 when it leaves. Its slot is chosen
    /// by its id; any slot would do, as readers add them up.
    fn count(mut self, order: &Order, sign: i64) -> Self {
        let mut hasher = DefaultHasher::new();
        order.id.hash(&mut hasher);
        let slot = (hasher.finish() % SLOTS) as i16;
        let share = Totals::of(order);
        let entry = self.totals.entry((order.status.name(), slot)).or_default();
        entry.0 += sign * share.orders as i64;
        entry.1 += sign * share.revenue.cents();
        entry.2 += sign * share.items as i64;
        *self.users.entry((order.user_id.clone(), slot)).or_default() += sign;
        self
    }

    fn columns(self) -> Columns {
        let totals = self.totals.into_iter().filter(|(_, t)| *t != (0, 0, 0));
        let (keys, values): (Vec<_>, Vec<_>) = totals.unzip();
        let (statuses, slots) = keys.into_iter().unzip();
        let users = self.users.into_iter().filter(|(_, n)| *n != 0);
        let ((users, user_slots), user_orders) = users.unzip();
        Columns {
            statuses,
            slots,
            orders: values.iter().map(|v| v.0).collect(),
            cents: values.iter().map(|v| v.1).collect(),
            items: values.iter().map(|v| v.2).collect(),
            users,
            user_slots,
            user_orders,
        }
    }
}

/// A transaction at READ COMMITTED whatever the server's default: a row locked with
/// `FOR UPDATE` is then read as the last change left it, where a stricter level would refuse
/// the change (a serialization failure) instead.
async fn read_committed(client: &mut Object) -> Result<Transaction<'_>, tokio_postgres::Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
}

/// A read-only transaction whose queries all see one snapshot.
async fn snapshot(client: &mut Object) -> Result<Transaction<'_>, tokio_postgres::Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
}

impl PgStore {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    pub async fn ingest(&self, order: Order) -> Result<Ingested, StoreError> {
        // One statement, committed on its own: a concurrent ingest of the same id waits for
        // the first to commit, then inserts nothing and counts nothing.
        let counted = Changes::default().count(&order, 1).columns();
        let (body, status) = (json(&order), order.status.name());
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&order.id, &body, &status, &order.user_id];
        params.extend(counted.params());
        let client = self.client().await?;
        let statement = client.prepare_cached(&INGEST).await?;
        if client.query_opt(&statement, &params).await?.is_some() {
            return Ok(Ingested::Created(order));
        }
        let existing = client
            .prepare_cached("SELECT body FROM orders WHERE id = $1")
            .await?;
        let body: Option<String> = client.query_one(&existing, &[&order.id]).await?.get(0);
        Ok(match body {
            None => Ingested::Deleted,
            Some(body) => match parse(&body) {
                Ok(existing) => Ingested::Existing(existing),
                Err(why) => {
                    tracing::warn!(id = order.id, %why, "a stored order is not valid; it is kept aside, not replaced");
                    Ingested::KeptAside
                }
            },
        })
    }

    pub async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT body FROM orders WHERE id = $1 AND body IS NOT NULL")
            .await?;
        let row = client.query_opt(&statement, &[&id]).await?;
        Ok(row.and_then(|row| served(id, row.get(0))))
    }

    pub async fn list(&self, query: &ListQuery) -> Result<(usize, Vec<Order>), StoreError> {
        let status = query.status.map(Status::name);
        let limit = query.limit.map(|n| n as i64);
        let offset = query.offset as i64;
        let mut client = self.client().await?;
        // The count and the page from one snapshot.
        let tx = snapshot(&mut client).await?;
        const MATCHING: &str = "FROM orders WHERE body IS NOT NULL
            AND ($1::TEXT IS NULL OR status = $1) AND ($2::TEXT IS NULL OR user_id = $2)";
        let total: i64 = tx
            .query_one(
                &format!("SELECT COUNT(*) {MATCHING}"),
                &[&status, &query.user_id],
            )
            .await?
            .get(0);
        let rows = tx
            .query(
                &format!("SELECT id, body {MATCHING} ORDER BY seq DESC LIMIT $3 OFFSET $4"),
                &[&status, &query.user_id, &limit, &offset],
            )
            .await?;
        tx.commit().await?;
        let page = rows
            .iter()
            .filter_map(|row| served(row.get(0), row.get(1)))
            .collect();
        Ok((total as usize, page))
    }

    /// The order's current body, locked until the transaction ends.
    async fn locked(tx: &Transaction<'_>, id: &str) -> Result<Option<Order>, StoreError> {
        let statement = tx
            .prepare_cached("SELECT body FROM orders WHERE id = $1 AND body IS NOT NULL FOR UPDATE")
            .await?;
        let row = tx.query_opt(&statement, &[&id]).await?;
        Ok(row.and_then(|row| served(id, row.get(0))))
    }

    pub async fn update<E>(
        &self,
        id: &str,
        change: impl FnOnce(&Order) -> Result<Order, E>,
    ) -> Result<Order, UpdateError<E>> {
        let mut client = self.client().await?;
        let tx = read_committed(&mut client)
            .await
            .map_err(StoreError::from)?;
        let current = Self::locked(&tx, id).await?.ok_or(UpdateError::NotFound)?;
        // Refused: the transaction is dropped, which rolls it back.
        let updated = change(&current).map_err(UpdateError::Rejected)?;
        let changed = Changes::default()
            .count(&current, -1)
            .count(&updated, 1)
            .columns();
        let (body, status) = (json(&updated), updated.status.name());
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &body, &status, &updated.user_id];
        params.extend(changed.params());
        let write = async {
            let statement = tx.prepare_cached(&UPDATE).await?;
            tx.execute(&statement, &params).await?;
            tx.commit().await
        };
        write.await.map_err(StoreError::from)?;
        Ok(updated)
    }

    pub async fn delete(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let mut client = self.client().await?;
        let tx = read_committed(&mut client).await?;
        let Some(current) = Self::locked(&tx, id).await? else {
            return Ok(None);
        };
        // The row stays, without its order: a tombstone.
        let counted = Changes::default().count(&current, -1).columns();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id];
        params.extend(counted.params());
        let statement = tx.prepare_cached(&DELETE).await?;
        tx.execute(&statement, &params).await?;
        tx.commit().await?;
        Ok(Some(current))
    }

    pub async fn check(&self) -> Result<(), StoreError> {
        self.client().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    pub async fn stats(&self) -> Result<StatsView, StoreError> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let rows = tx
            .query(
                "SELECT status, SUM(orders)::BIGINT,
                    LEAST(GREATEST(SUM(cents), -9223372036854775808), 9223372036854775807)::BIGINT,
                    LEAST(SUM(items), 9223372036854775807)::BIGINT
                 FROM order_totals GROUP BY status",
                &[],
            )
            .await?;
        let users: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM (SELECT 1 FROM user_orders GROUP BY user_id HAVING SUM(orders) > 0) AS counted",
                &[],
            )
            .await?
            .get(0);
        tx.commit().await?;
        let by_status = rows
            .iter()
            .filter_map(|row| {
                let status = Status::parse(row.get(0))?;
                let totals = Totals {
                    orders: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                    revenue: Money::from_cents(row.get(2)),
                    items: u64::try_from(row.get::<_, i64>(3)).unwrap_or(0),
                };
                Some((status, totals))
            })
            .collect();
        Ok(StatsView::new(&by_status, users as u64))
    }
}
