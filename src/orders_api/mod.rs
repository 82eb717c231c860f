//! The Orders API (:3003): stores orders and answers queries and statistics.

mod list;
mod local;
mod postgres;
mod routes;
mod shards;
mod sqlite;
mod stats;
mod store;

use std::sync::Arc;

pub use routes::router;
pub use store::OrderStore;

use crate::config::StorageSettings;

/// The Orders API with the store the settings ask for: PostgreSQL when `database` is given
/// (`database_url`), else SQLite in `data_dir/orders-api` when a data folder is set, else
/// memory only, as in the seed.
pub fn app(
    storage: &StorageSettings,
    database: Option<&deadpool_postgres::Pool>,
) -> anyhow::Result<axum::Router> {
    let store = match (database, &storage.data_dir) {
        (Some(pool), _) => OrderStore::postgres(pool.clone()),
        (None, Some(dir)) => {
            OrderStore::sqlite(&dir.join("orders-api"), storage.sync_every_write())?
        }
        (None, None) => OrderStore::memory(),
    };
    Ok(router(Arc::new(store)))
}
