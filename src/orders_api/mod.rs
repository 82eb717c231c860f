//! The Orders API (:3003): stores orders and answers queries and statistics.

mod db;
mod list;
mod routes;
mod stats;
mod store;

use std::sync::Arc;

pub use routes::router;
pub use store::OrderStore;

use crate::config::StorageSettings;

/// The Orders API with the store the settings ask for: SQLite in `data_dir/orders-api`
/// when a data folder is set, else memory only, as in the seed.
pub fn app(storage: &StorageSettings) -> anyhow::Result<axum::Router> {
    let store = match &storage.data_dir {
        Some(dir) => OrderStore::open(&dir.join("orders-api"), storage.sync_every_write())?,
        None => OrderStore::default(),
    };
    Ok(router(Arc::new(store)))
}
