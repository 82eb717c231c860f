//! The listener and one task per connection: read a frame, answer it, in order.
//!
//! Requests on one connection are served one at a time, as Kafka does (it mutes a channel
//! while a request is in flight), which keeps responses in request order.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::api::{self, Ctx};
use crate::cluster::{Cluster, Stats};
use crate::config::{BrokerConfig, FsyncPolicy};
use crate::error::BrokerError;
use crate::frame::{self, FrameError};
use crate::group;
use crate::read_frame::read_frame;
use crate::shutdown::{self, Shutdown};

/// Largest answer buffer a connection keeps between requests (bigger ones are dropped).
const MAX_KEPT_BUFFER: usize = 16 * 1024 * 1024;

/// How often retention and the memory budget are applied (Kafka checks retention every
/// `log.retention.check.interval.ms`, 5 minutes; the memory budget needs a tighter loop).
const RETENTION_CHECK: Duration = Duration::from_secs(1);

/// How long shutdown waits for in-flight requests (a long-polling fetch is cut short).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Broker;

#[derive(Clone)]
pub struct StatsSource(Arc<Cluster>);

impl StatsSource {
    pub fn stats(&self) -> Stats {
        self.0.stats()
    }
}

/// A running broker. Dropping it does not stop it; call [`BrokerHandle::shutdown`].
pub struct BrokerHandle {
    addr: SocketAddr,
    cluster: Arc<Cluster>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Broker {
    /// Binds the listener, recovers the data directory (if any) and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        validate(&config)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| BrokerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| BrokerError::Bind {
            addr: config.listen,
            source,
        })?;
        let (host, port) = advertised(&config, addr)?;
        // Recovery reads every segment and the offsets file, and rewrites the offsets file
        // with an fsync: it takes as long as reading the whole data directory, so tokio is
        // told that this thread blocks.
        let cluster = crate::blocking::block_in_place(|| Cluster::open(config, host, port));
        let cluster = Arc::new(cluster?);
        let (stop, shutdown) = shutdown::channel();
        let task = tokio::spawn(serve(listener, cluster.clone(), shutdown));
        tracing::info!(%addr, advertised = %format!("{}:{}", cluster.advertised_host, cluster.advertised_port), "broker listening");
        Ok(BrokerHandle {
            addr,
            cluster,
            stop,
            task,
        })
    }
}

fn validate(config: &BrokerConfig) -> Result<(), BrokerError> {
    if config.default_partitions < 1 {
        return Err(BrokerError::Config(format!(
            "partitions must be at least 1, not {}",
            config.default_partitions
        )));
    }
    // A frame is read only once the budget holds all of it: a larger one would wait forever.
    if config.max_frame_bytes > config.queued_max_request_bytes {
        return Err(BrokerError::Config(format!(
            "the request memory budget (queued.max.request.bytes, {}) must hold a frame of the \
             largest size (socket.request.max.bytes, {})",
            config.queued_max_request_bytes, config.max_frame_bytes
        )));
    }
    if config.offsets_retention.is_zero() {
        return Err(BrokerError::Config(
            "offsets retention must be longer than 0".into(),
        ));
    }
    if config.queued_max_request_bytes > Semaphore::MAX_PERMITS {
        return Err(BrokerError::Config(format!(
            "the request memory budget (queued.max.request.bytes) is at most {} bytes",
            Semaphore::MAX_PERMITS
        )));
    }
    Ok(())
}

fn advertised(config: &BrokerConfig, bound: SocketAddr) -> Result<(String, i32), BrokerError> {
    let Some(adv) = &config.advertised else {
        return Ok((bound.ip().to_string(), i32::from(bound.port())));
    };
    let bad = || BrokerError::Config(format!("advertised address must be host:port, not {adv:?}"));
    let (host, port) = adv.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let port = if port == 0 { bound.port() } else { port };
    Ok((
        host.trim_matches(|c| c == '[' || c == ']').to_string(),
        i32::from(port),
    ))
}

impl BrokerHandle {
    /// The bound socket address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` for a client's `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!(
            "{}:{}",
            self.cluster.advertised_host, self.cluster.advertised_port
        )
    }

    pub fn stats(&self) -> Stats {
        self.cluster.stats()
    }

    /// A cloneable reader of the broker's counters, for a console or metrics endpoint.
    pub fn stats_source(&self) -> StatsSource {
        StatsSource(self.cluster.clone())
    }

    /// Stops accepting, lets in-flight requests finish, flushes the logs, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn serve(listener: TcpListener, cluster: Arc<Cluster>, mut shutdown: Shutdown) {
    let mut connections = JoinSet::new();
    let budget = Arc::new(Semaphore::new(cluster.config.queued_max_request_bytes));
    let mut ticker = tokio::time::interval(group::TICK);
    let fsync_every = match cluster.config.fsync {
        FsyncPolicy::Interval(every) => every,
        _ => Duration::from_secs(3600),
    };
    let mut fsync = tokio::time::interval(fsync_every);
    let mut retention = tokio::time::interval(RETENTION_CHECK);
    loop {
        tokio::select! {
            _ = shutdown.recv() => break,
            _ = ticker.tick() => {
                cluster.groups.tick();
                cluster.txns.expire(&cluster);
            }
            _ = retention.tick() => cluster.apply_retention(),
            _ = fsync.tick(), if matches!(cluster.config.fsync, FsyncPolicy::Interval(_)) => cluster.sync_all(),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if connections.len() >= cluster.config.max_connections => {
                    tracing::warn!(%peer, limit = cluster.config.max_connections, "connection refused: too many open connections");
                    drop(stream);
                }
                Ok((stream, peer)) => {
                    cluster.connections.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(connection(stream, peer, cluster.clone(), budget.clone(), shutdown.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        connections.abort_all();
    }
    cluster.sync_all();
    tracing::info!("broker stopped");
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    cluster: Arc<Cluster>,
    budget: Arc<Semaphore>,
    mut shutdown: Shutdown,
) {
    let _ = stream.set_nodelay(true);
    // Buffered reads: a request's size and body, and often the next request, come in one
    // read call (writes pass straight through).
    let mut stream = BufReader::with_capacity(64 * 1024, stream);
    let mut out = BytesMut::new();
    let host = peer.ip().to_string();
    loop {
        let frame = tokio::select! {
            _ = shutdown.recv() => return,
            frame = read_frame(&mut stream, &cluster.config, &budget) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(reason) => {
                tracing::warn!(%peer, "closing connection: {reason}");
                return;
            }
        };
        cluster.requests.fetch_add(1, Ordering::Relaxed);
        // The frame's share of the request memory budget is held until the answer is written.
        match answer(&cluster, frame.bytes, &host, &mut out).await {
            Ok(true) => {
                if stream.write_all(&out).await.is_err() {
                    return;
                }
                // Keep the capacity for the next answer, unless one huge answer inflated it.
                if out.capacity() > MAX_KEPT_BUFFER {
                    out = BytesMut::new();
                }
            }
            Ok(false) => {}
            Err(reason) => {
                tracing::warn!(%peer, "closing connection: {reason}");
                return;
            }
        }
    }
}

/// Decodes, handles and encodes one request into `out`. `Ok(false)`: no response is due (acks=0).
pub(crate) async fn answer(
    cluster: &Arc<Cluster>,
    frame: Bytes,
    host: &str,
    out: &mut BytesMut,
) -> Result<bool, FrameError> {
    let request = match frame::decode_request(frame) {
        Ok(request) => request,
        Err(FrameError::UnsupportedVersion {
            api: ApiKey::ApiVersions,
            correlation_id,
            ..
        }) => {
            // KIP-511: answer with v0 and UNSUPPORTED_VERSION so the client can retry lower.
            let body = ResponseKind::ApiVersions(api::api_versions::unsupported());
            return Ok(
                frame::encode_response(out, ApiKey::ApiVersions, 0, correlation_id, &body).is_ok(),
            );
        }
        Err(err) => return Err(err),
    };
    let client_id = request
        .header
        .client_id
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let ctx = Ctx {
        cluster,
        version: request.version,
        client_id: &client_id,
        client_host: host,
    };
    let started = std::time::Instant::now();
    let body = api::handle(&ctx, request.body).await;
    cluster.metrics.record(request.api, started.elapsed());
    let Some(body) = body else { return Ok(false) };
    frame::encode_response(
        out,
        request.api,
        request.version,
        request.header.correlation_id,
        &body,
    )
    .map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame is read only once the request budget holds all of it, so a budget smaller than
    /// the largest frame is refused at start rather than leaving such frames waiting forever.
    #[test]
    fn the_request_budget_must_hold_the_largest_frame() {
        let config = |budget| BrokerConfig {
            max_frame_bytes: 1024 * 1024,
            queued_max_request_bytes: budget,
            ..BrokerConfig::ephemeral()
        };
        assert!(validate(&config(1024 * 1024)).is_ok());
        assert!(matches!(
            validate(&config(1024 * 1024 - 1)),
            Err(BrokerError::Config(_))
        ));
        assert!(validate(&BrokerConfig::default()).is_ok(), "the defaults");
    }
}
