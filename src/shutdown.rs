//! The shutdown signal shared by the services: a `watch` channel that turns true once.

use tokio::sync::watch;

/// Resolves once shutdown was asked for (at once if it already was).
pub async fn requested(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
