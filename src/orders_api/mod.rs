//! The Orders API (:3003): stores orders and answers queries and statistics.

mod routes;
mod stats;
mod store;

use std::sync::Arc;

pub use routes::router;
pub use store::{MemoryStore, OrderStore};

/// The Orders API with the seed's in-memory store.
pub fn app() -> axum::Router {
    router(Arc::new(MemoryStore::default()))
}
