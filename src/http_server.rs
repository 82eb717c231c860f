//! Serves an axum router over HTTP/1.1 with limits, so that a flood of connections or slow
//! clients cannot starve the others:
//!
//! - at most `max_connections` open connections; one more gets a 503 problem+json and is closed;
//! - request headers must arrive within `header_timeout` (slowloris) and fit in
//!   `max_header_bytes` and 100 headers (else 431);
//! - request bodies: at most `max_body_bytes` (else 413), read within
//!   [`crate::http::BODY_TIMEOUT`] (else 408); both answered as problem+json where the body
//!   is read ([`crate::http::json_body`]).

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long in-flight requests may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// The limits every HTTP service runs with (settings `http_*`).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Open connections per service; one more is answered 503 and closed.
    #[serde(rename = "http_max_connections")]
    pub max_connections: usize,
    /// Time a client has to send a request's headers (slow clients are disconnected).
    #[serde(rename = "http_header_timeout_ms", with = "crate::config::millis")]
    pub header_timeout: Duration,
    /// Largest request head (request line and headers); larger gets 431.
    #[serde(rename = "http_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Largest request body; larger gets 413.
    #[serde(rename = "http_max_body_bytes")]
    pub max_body_bytes: usize,
}

const OVERLOADED: &str = r#"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"too many open connections; retry shortly"}"#;

/// Serves `app` until the shutdown signal, then lets in-flight requests finish (at most 10 s).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Every request body is capped here; reading past the cap fails with a LengthLimitError,
    // which json_body turns into a 413 problem.
    let max_body = limits.max_body_bytes;
    let app = app.layer(axum::middleware::map_request(
        move |request: axum::extract::Request| async move {
            request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, max_body)))
        },
    ));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_headers(100);
    loop {
        let (mut stream, peer) = tokio::select! {
            _ = crate::shutdown::requested(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "HTTP connection refused: too many open connections");
            tokio::spawn(async move {
                let head = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                    OVERLOADED.len()
                );
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    stream.write_all([head.as_bytes(), OVERLOADED.as_bytes()].concat().as_slice()),
                )
                .await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, %err, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "some HTTP requests were still running after {} s at shutdown",
            DRAIN.as_secs()
        );
    }
    Ok(())
}
