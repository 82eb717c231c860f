//! A member of a classic consumer group, and what it is waiting for.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

/// The answer to a JoinGroup, delivered when the rebalance completes.
#[derive(Debug, Clone, Default)]
pub struct JoinOutcome {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only: every member with its metadata for the chosen protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

/// The answer to a SyncGroup: this member's assignment, or an error code.
pub type SyncOutcome = Result<Bytes, i16>;

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub last_seen: Instant,
    pub join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    pub sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

impl Member {
    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    /// Whether the session ran out. A member whose JoinGroup is parked is not expired:
    /// the rebalance timeout governs it instead, as in Kafka.
    pub fn expired(&self, now: Instant) -> bool {
        self.join_waiter.is_none() && now.duration_since(self.last_seen) > self.session_timeout
    }
}
