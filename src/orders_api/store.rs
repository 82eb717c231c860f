//! Where the Orders API keeps orders: one interface, three implementations.
//!
//! - memory (the default, as in the seed) and SQLite (`--data-dir`, one durable process):
//!   [`LocalStore`], which answers reads and statistics from memory;
//! - PostgreSQL (`database_url`): [`PgStore`], for any number of Orders API processes on one
//!   database, where the database decides every change and keeps the statistics.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use super::local::LocalStore;
use super::postgres::PgStore;
use super::stats::StatsView;
use crate::order::{Order, Status};

use crate::database::OPERATION_TIMEOUT as TIMEOUT;

pub enum Ingested {
    Created(Order),
    /// An order with this id was already stored (a redelivery): nothing changed.
    Existing(Order),
    /// An order with this id was stored and then deleted: a redelivery does not bring it back.
    Deleted,
    /// The database holds a row with this id that is not a valid order: it is kept aside, not
    /// replaced.
    KeptAside,
}

/// The store could not carry out an operation. Nothing changed, except when the connection
/// was lost or the time ran out during the commit: then the change may have been made.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the orders database (SQLite) failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the orders database (PostgreSQL) failed: {}", crate::database::reason(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no connection to the orders database (PostgreSQL): {}", crate::database::pool_reason(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("the orders database did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("the change was interrupted: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

impl StoreError {
    /// Whether the database refused the data itself (SQLSTATE classes 22 data exception, 23
    /// integrity, 54 limit exceeded): a retry would be refused the same way.
    pub fn is_refusal(&self) -> bool {
        let code = match self {
            Self::Postgres(err) => err.code(),
            _ => None,
        };
        code.is_some_and(|c| {
            ["22", "23", "54"]
                .iter()
                .any(|class| c.code().starts_with(class))
        })
    }
}

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    #[error("no such order")]
    NotFound,
    /// The change refused the order's current state.
    #[error(transparent)]
    Rejected(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub user_id: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

#[derive(Clone)]
pub enum OrderStore {
    Local(Arc<LocalStore>),
    Postgres(PgStore),
}

/// Runs a database operation, failed after [`TIMEOUT`].
async fn bounded<T, E: From<StoreError>>(
    operation: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(TIMEOUT, operation)
        .await
        .unwrap_or(Err(StoreError::Timeout.into()))
}

impl OrderStore {
    pub fn memory() -> Self {
        Self::Local(Arc::default())
    }

    /// SQLite in `dir/orders.db`; see [`LocalStore::open`].
    pub fn sqlite(dir: &Path, sync_every_write: bool) -> anyhow::Result<Self> {
        Ok(Self::Local(Arc::new(LocalStore::open(
            dir,
            sync_every_write,
        )?)))
    }

    pub fn postgres(pool: deadpool_postgres::Pool) -> Self {
        Self::Postgres(PgStore::new(pool))
    }

    /// Stores an order once: a second ingest of the same id changes nothing.
    pub async fn ingest(&self, order: Order) -> Result<Ingested, StoreError> {
        match self {
            Self::Local(store) => store.ingest(order).await,
            Self::Postgres(store) => bounded(store.ingest(order)).await,
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        match self {
            Self::Local(store) => Ok(store.get(id)),
            Self::Postgres(store) => bounded(store.get(id)).await,
        }
    }

    /// Newest first, with the number of matching orders before paging.
    pub async fn list(&self, query: &ListQuery) -> Result<(usize, Vec<Order>), StoreError> {
        match self {
            Self::Local(store) => Ok(store.list(query)),
            Self::Postgres(store) => bounded(store.list(query)).await,
        }
    }

    /// Applies `change` to the order's current state; its error refuses the change. Two
    /// changes of one order never both decide on the same state.
    pub async fn update<E: Send + 'static>(
        &self,
        id: String,
        change: impl FnOnce(&Order) -> Result<Order, E> + Send + 'static,
    ) -> Result<Order, UpdateError<E>> {
        match self {
            Self::Local(store) => store.update(id, change).await,
            Self::Postgres(store) => bounded(store.update(&id, change)).await,
        }
    }

    /// `Ok(None)` if there is no such order. The id stays known as deleted.
    pub async fn delete(&self, id: String) -> Result<Option<Order>, StoreError> {
        match self {
            Self::Local(store) => store.delete(id).await,
            Self::Postgres(store) => bounded(store.delete(&id)).await,
        }
    }

    /// Which store this is, after checking that its database (if any) answers.
    pub async fn check(&self) -> Result<&'static str, StoreError> {
        match self {
            Self::Local(store) => store.check().await,
            Self::Postgres(store) => bounded(store.check()).await.map(|()| "postgres"),
        }
    }

    pub async fn stats(&self) -> Result<StatsView, StoreError> {
        match self {
            Self::Local(store) => Ok(store.stats()),
            Self::Postgres(store) => bounded(store.stats()).await,
        }
    }
}

/// One suite, run on each store: memory, SQLite, and PostgreSQL (`TEST_DATABASE_URL`).
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::money::Money;

    pub fn order(id: &str) -> Order {
        let value = serde_json::json!({
            "id": id, "userId": "u1", "status": "pending", "createdAt": "2026-11-27T00:00:00Z",
            "products": [{"id": "p", "name": "P", "price": 19.99, "quantity": 2}], "totalAmount": 39.98
        });
        Order::from_json(&value).expect("valid order")
    }

    fn moved(to: Status) -> impl FnOnce(&Order) -> Result<Order, Status> + Send + 'static {
        move |o| {
            if o.status != to && o.status.can_move_to(to) {
                Ok(Order {
                    status: to,
                    ..o.clone()
                })
            } else {
                Err(o.status)
            }
        }
    }

    /// A store's data, and how to open a store on it (again).
    enum Backend {
        Memory(OrderStore),
        Sqlite(tempfile::TempDir),
        Postgres(String),
    }

    impl Backend {
        async fn all() -> Vec<Backend> {
            let mut all = vec![
                Backend::Memory(OrderStore::memory()),
                Backend::Sqlite(tempfile::tempdir().expect("tempdir")),
            ];
            all.extend(
                crate::database::test_database()
                    .await
                    .map(Backend::Postgres),
            );
            all
        }

        /// A store on this data: for PostgreSQL, another instance with its own pool, as
        /// another process would have.
        async fn open(&self) -> OrderStore {
            match self {
                Backend::Memory(store) => store.clone(),
                Backend::Sqlite(dir) => OrderStore::sqlite(dir.path(), false).expect("sqlite"),
                Backend::Postgres(url) => OrderStore::postgres(
                    crate::database::connect(url, 4, None)
                        .await
                        .expect("postgres"),
                ),
            }
        }

        fn name(&self) -> &'static str {
            match self {
                Backend::Memory(_) => "memory",
                Backend::Sqlite(_) => "sqlite",
                Backend::Postgres(_) => "postgres",
            }
        }
    }

    async fn ids(store: &OrderStore, query: ListQuery) -> (usize, Vec<String>) {
        let (total, page) = store.list(&query).await.expect("list");
        (total, page.into_iter().map(|o| o.id).collect())
    }

    #[tokio::test]
    async fn each_store_keeps_an_order_once_follows_the_lifecycle_and_counts_exactly() {
        for backend in Backend::all().await {
            let name = backend.name();
            let store = backend.open().await;
            for id in ["a", "b", "c", "d"] {
                assert!(
                    matches!(store.ingest(order(id)).await, Ok(Ingested::Created(_))),
                    "{name}"
                );
            }
            assert!(
                matches!(store.ingest(order("a")).await, Ok(Ingested::Existing(_))),
                "{name}"
            );
            let shipped = store
                .update("b".into(), moved(Status::Confirmed))
                .await
                .and(store.update("b".into(), moved(Status::Shipped)).await)
                .expect("b shipped");
            assert!(
                matches!(
                    store.update("x".into(), moved(Status::Shipped)).await,
                    Err(UpdateError::NotFound)
                ),
                "{name}"
            );
            assert!(
                matches!(
                    store.update("b".into(), moved(Status::Pending)).await,
                    Err(UpdateError::Rejected(Status::Shipped))
                ),
                "{name}"
            );
            let cancelled = store
                .update("d".into(), |o| {
                    Ok::<_, ()>(Order {
                        status: Status::Cancelled,
                        user_id: "u2".into(),
                        ..o.clone()
                    })
                })
                .await
                .expect("d cancelled");
            assert!(
                store.delete("c".into()).await.expect("delete").is_some(),
                "{name}"
            );
            assert!(
                store.delete("c".into()).await.expect("delete").is_none(),
                "{name}"
            );
            assert!(
                matches!(store.ingest(order("c")).await, Ok(Ingested::Deleted)),
                "{name}: a redelivery does not bring back a deleted order"
            );
            assert_eq!(store.get("b").await.expect("get"), Some(shipped), "{name}");
            assert_eq!(store.get("c").await.expect("get"), None, "{name}");

            let all = ListQuery::default();
            assert_eq!(
                ids(&store, all.clone()).await,
                (3, vec!["d".into(), "b".into(), "a".into()]),
                "{name}: newest first"
            );
            let page = ListQuery {
                limit: Some(1),
                offset: 1,
                ..all.clone()
            };
            assert_eq!(ids(&store, page).await, (3, vec!["b".into()]), "{name}");
            let u1 = ListQuery {
                user_id: Some("u1".into()),
                ..all.clone()
            };
            assert_eq!(
                ids(&store, u1).await,
                (2, vec!["b".into(), "a".into()]),
                "{name}"
            );
            let shipped = ListQuery {
                status: Some(Status::Shipped),
                ..all.clone()
            };
            assert_eq!(ids(&store, shipped).await, (1, vec!["b".into()]), "{name}");

            let stats = store.stats().await.expect("stats");
            assert_eq!(stats.total_orders, 3, "{name}");
            assert_eq!(
                stats.total_revenue,
                Money::from_cents(7996),
                "{name}: the cancelled order is not revenue"
            );
            assert_eq!(stats.average_order_value, Money::from_cents(3998), "{name}");
            assert_eq!(stats.total_items, 6, "{name}");
            assert_eq!(stats.unique_users, 2, "{name}");
            assert_eq!(stats.orders_by_status["pending"], 1, "{name}");
            assert_eq!(stats.orders_by_status["shipped"], 1, "{name}");
            assert_eq!(stats.orders_by_status["cancelled"], 1, "{name}");
            store.delete(cancelled.id).await.expect("delete d");
            assert_eq!(
                store.stats().await.expect("stats").unique_users,
                1,
                "{name}: u2 has no order left"
            );
            assert_eq!(store.check().await.expect("check"), name);
        }
    }

    #[tokio::test]
    async fn a_durable_store_opened_again_has_every_change_and_continues_the_arrival_order() {
        for backend in Backend::all().await {
            if matches!(backend, Backend::Memory(_)) {
                continue;
            }
            let name = backend.name();
            let store = backend.open().await;
            for id in ["a", "b", "c"] {
                store.ingest(order(id)).await.expect("stored");
            }
            store
                .update("b".into(), moved(Status::Confirmed))
                .await
                .expect("confirmed");
            store.delete("c".into()).await.expect("deleted");
            let before = (
                store.list(&ListQuery::default()).await.expect("list"),
                store.stats().await.expect("stats"),
            );
            drop(store);
            let store = backend.open().await;
            let after = (
                store.list(&ListQuery::default()).await.expect("list"),
                store.stats().await.expect("stats"),
            );
            assert_eq!(after, before, "{name}");
            assert!(
                matches!(store.ingest(order("c")).await, Ok(Ingested::Deleted)),
                "{name}"
            );
            store.ingest(order("d")).await.expect("stored");
            let newest = ListQuery {
                limit: Some(1),
                ..ListQuery::default()
            };
            assert_eq!(ids(&store, newest).await.1, vec!["d".to_string()], "{name}");
        }
    }

    /// Two stores on one database (two Orders API processes) changing the same orders at
    /// the same moment: each change decides on the state the other left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_changes_through_two_stores_each_decide_on_the_latest_state() {
        for backend in Backend::all().await {
            let name = backend.name();
            // SQLite is one process's file: one store, changed from many tasks.
            let (one, other) = match backend {
                Backend::Sqlite(_) => {
                    let store = backend.open().await;
                    (store.clone(), store)
                }
                _ => (backend.open().await, backend.open().await),
            };
            const ORDERS: usize = 30;
            let mut tasks = tokio::task::JoinSet::new();
            for n in 0..ORDERS {
                for store in [one.clone(), other.clone()] {
                    tasks.spawn(async move {
                        store
                            .ingest(order(&format!("o{n}")))
                            .await
                            .map(|i| matches!(i, Ingested::Created(_)))
                    });
                }
            }
            let created = tasks
                .join_all()
                .await
                .into_iter()
                .filter(|r| *r.as_ref().expect("ingest"))
                .count();
            assert_eq!(created, ORDERS, "{name}: each order created once");
            // Both try pending → confirmed: one wins, the other sees confirmed and is refused.
            let mut tasks = tokio::task::JoinSet::new();
            for n in 0..ORDERS {
                for store in [one.clone(), other.clone()] {
                    tasks.spawn(async move {
                        store
                            .update(format!("o{n}"), moved(Status::Confirmed))
                            .await
                    });
                }
            }
            let (confirmed, refused): (Vec<_>, Vec<_>) =
                tasks.join_all().await.into_iter().partition(Result::is_ok);
            assert_eq!(
                confirmed.len(),
                ORDERS,
                "{name}: one confirmation per order"
            );
            // The other saw the confirmed order: never a deadlock or a serialization failure.
            for refusal in refused {
                assert!(
                    matches!(refusal, Err(UpdateError::Rejected(Status::Confirmed))),
                    "{name}: {refusal:?}"
                );
            }
            for store in [&one, &other] {
                let stats = store.stats().await.expect("stats");
                assert_eq!(
                    (
                        stats.total_orders,
                        stats.orders_by_status["confirmed"],
                        stats.orders_by_status["pending"]
                    ),
                    (ORDERS as u64, ORDERS as u64, 0),
                    "{name}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_postgres_row_that_is_not_an_order_is_not_served_nor_replaced() {
        let Some(url) = crate::database::test_database().await else {
            return;
        };
        let pool = crate::database::connect(&url, 2, None)
            .await
            .expect("postgres");
        pool.get()
            .await
            .expect("client")
            .execute("INSERT INTO orders (id, body, status, user_id) VALUES ('bad', '{\"id\": \"bad\"}', 'pending', 'u1')", &[])
            .await
            .expect("insert");
        let store = OrderStore::postgres(pool);
        assert_eq!(store.get("bad").await.expect("get"), None);
        assert!(matches!(
            store.ingest(order("bad")).await,
            Ok(Ingested::KeptAside)
        ));
        assert!(matches!(
            store.ingest(order("good")).await,
            Ok(Ingested::Created(_))
        ));
    }
}
