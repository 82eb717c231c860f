//! Broker settings. Defaults match a single-node development Kafka.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// When the log is forced to disk with `fsync`. Every acknowledged batch is always
/// `write()`n to its segment file before the produce is answered, so it survives a crash
/// of the process; the policy decides whether it also survives a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Leave flushing to the operating system (Kafka's default: `log.flush.interval.messages` unset).
    Never,
    /// `fsync` before every produce is acknowledged: slowest, survives power loss.
    Always,
    /// `fsync` dirty segments in the background at this interval.
    Interval(Duration),
}

/// An fsync policy that is not `never`, `always` or an interval like `1000ms`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fsync policy must be never, always or an interval like 1000ms, not {0:?}")]
pub struct InvalidFsyncPolicy(pub String);

impl std::str::FromStr for FsyncPolicy {
    type Err = InvalidFsyncPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(Self::Never),
            "always" => Ok(Self::Always),
            other => other
                .strip_suffix("ms")
                .and_then(|ms| ms.parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map(|ms| Self::Interval(Duration::from_millis(ms)))
                .ok_or_else(|| InvalidFsyncPolicy(other.to_string())),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to bind; port 0 picks a free port (see `BrokerHandle::addr`).
    pub listen: SocketAddr,
    /// `host:port` given to clients in Metadata and FindCoordinator answers. Defaults to the
    /// bound address, so clients reach exactly the socket that answered them.
    pub advertised: Option<String>,
    pub node_id: i32,
    pub cluster_id: String,
    /// Partitions of a topic created implicitly (Metadata or Produce on an unknown topic).
    pub default_partitions: i32,
    pub auto_create_topics: bool,
    /// With a data directory, logs and committed offsets are written there and recovered at start.
    pub data_dir: Option<PathBuf>,
    pub fsync: FsyncPolicy,
    /// A request frame larger than this closes the connection (Kafka: `socket.request.max.bytes`).
    pub max_frame_bytes: usize,
    /// A record batch larger than this (whole, with its 12-byte log overhead) is refused with
    /// MESSAGE_TOO_LARGE and not stored (Kafka: `message.max.bytes`, default 1048588).
    pub max_message_bytes: usize,
    /// A segment file is closed and a new one started once it reaches this size.
    pub segment_bytes: u64,
    /// A segment is also closed once it is this old (Kafka: `log.roll.ms`, 7 days), so that
    /// time retention can delete a quiet partition's data.
    pub segment_ms: i64,
    /// How long a segment is kept after its newest record (Kafka: `log.retention.ms`, 7 days);
    /// a topic's `retention.ms` overrides it. -1: for ever.
    pub retention_ms: i64,
    /// Bytes a partition keeps at least, deleting its oldest segments beyond them (Kafka:
    /// `log.retention.bytes`, -1: no limit); a topic's `retention.bytes` overrides it.
    pub retention_bytes: i64,
    /// Bytes of record batches held across all partitions at most. Fetches are served from
    /// memory (with a data directory too), so past it the oldest segment of the largest
    /// partition is deleted, as retention would, until the total is under it again.
    pub max_memory_bytes: u64,
    /// Partitions across all topics at most: CreateTopics (and auto-creation) past it is
    /// refused with POLICY_VIOLATION. Each partition holds its batches in memory and, with a
    /// data directory, a folder of segment files. Kafka has no such broker-wide cap.
    pub max_partitions: usize,
    /// Segment files kept open at most, across all partitions; past it a partition opens its
    /// file for each append (see `log::segment::OpenFiles`).
    pub max_open_segments: usize,
    /// Open client connections at most; one more is closed at once (Kafka: `max.connections`).
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (Kafka: `connections.max.idle.ms`).
    pub idle_timeout: Duration,
    /// A request whose bytes do not all arrive within this time after its size closes the
    /// connection, so a slow or stalled client cannot hold a connection slot forever.
    pub request_timeout: Duration,
    /// An Empty group's committed offsets, and the group with them, are removed once it has had
    /// no members and no commits for this long (Kafka: `offsets.retention.minutes`, 7 days).
    pub offsets_retention: Duration,
    /// Request bytes held at once across all connections, from a request's size until its
    /// answer is written; a connection whose request does not fit waits (up to
    /// `request_timeout`) instead of allocating (Kafka: `queued.max.request.bytes`, unbounded
    /// by default there; bounded here so that memory is, and at least `max_frame_bytes`).
    pub queued_max_request_bytes: usize,
    /// A Fetch answer carries at most this many bytes of records, or the request's own
    /// `max_bytes` if smaller, except that the first batch found is always whole (KIP-74)
    /// (Kafka: `fetch.max.bytes`, default 57671680).
    pub fetch_max_bytes: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised: None,
            node_id: 1,
            cluster_id: "kafka-orders-embedded".to_string(),
            default_partitions: 1,
            auto_create_topics: true,
            data_dir: None,
            fsync: FsyncPolicy::Never,
            max_frame_bytes: 100 * 1024 * 1024,
            max_message_bytes: 1_048_588,
            segment_bytes: 64 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            max_memory_bytes: 1024 * 1024 * 1024,
            max_partitions: 10_000,
            max_open_segments: 256,
            max_connections: 1000,
            idle_timeout: Duration::from_secs(600),
            request_timeout: Duration::from_secs(30),
            offsets_retention: Duration::from_secs(10_080 * 60),
            queued_max_request_bytes: 100 * 1024 * 1024,
            fetch_max_bytes: 57_671_680,
        }
    }
}

impl BrokerConfig {
    /// In memory, on a free port of 127.0.0.1: what a test wants.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Self::default()
        }
    }
}
