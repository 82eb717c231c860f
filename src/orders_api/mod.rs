//! The Orders API (:3003): stores orders and answers queries and statistics.

mod db;
mod routes;
mod stats;
mod store;

use std::sync::Arc;

pub use routes::router;
pub use store::OrderStore;

use crate::config::Settings;

/// The Orders API with the store the settings ask for: SQLite in `data_dir/orders-api`
/// when a data folder is set, else memory only, as in the seed.
pub fn app(settings: &Settings) -> anyhow::Result<axum::Router> {
    let store = match &settings.data_dir {
        Some(dir) => OrderStore::open(
            &dir.join("orders-api"),
            settings.fsync_policy()? == broker::FsyncPolicy::Always,
        )?,
        None => OrderStore::default(),
    };
    Ok(router(Arc::new(store)))
}
