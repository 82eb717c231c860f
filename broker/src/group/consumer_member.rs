//! A member of a KIP-848 consumer group: what it sent, where it stands, and the checks made on
//! its requests (member epoch on heartbeats, Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`;
//! member epoch on OffsetCommit and OffsetFetch, Kafka's `validateOffsetCommit`/`validateOffsetFetch`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;

use super::assignor::{Assignment, Assignor};
use super::consumer::{unknown_member, Beat, ConsumerGroup, Refusal, SESSION_TIMEOUT};
use super::reconcile::Position;

#[derive(Debug)]
pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed: BTreeSet<String>,
    pub server_assignor: Option<Assignor>,
    pub rebalance_timeout: Duration,
    pub position: Position,
    pub(super) previous_epoch: i32,
    pub(super) last_seen: Instant,
    /// Set while revoking: a member that has not revoked by then is removed, as in Kafka.
    pub(super) revoke_deadline: Option<Instant>,
}

impl ConsumerGroup {
    /// Whether an OffsetCommit may be stored, as Kafka's `ConsumerGroup.validateOffsetCommit`:
    /// epoch -1 (admin, or a consumer without group management) only while the group is empty.
    pub fn check_commit(&self, member_id: &str, epoch: i32) -> Result<(), Refusal> {
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        self.check_member(member_id, epoch)
    }

    /// Whether an OffsetFetch (v9+) is answered, as Kafka's `validateOffsetFetch`: one without
    /// a member id and with epoch -1 always is.
    pub fn check_fetch(&self, member_id: Option<&str>, epoch: i32) -> Result<(), Refusal> {
        match member_id {
            None if epoch < 0 => Ok(()),
            id => self.check_member(id.unwrap_or_default(), epoch),
        }
    }

    fn check_member(&self, member_id: &str, epoch: i32) -> Result<(), Refusal> {
        let member = self
            .members
            .get(member_id)
            .ok_or_else(|| unknown_member(member_id))?;
        if member.position.epoch != epoch {
            return Err(Refusal::new(
                ResponseError::StaleMemberEpoch,
                format!(
                    "The received member epoch {epoch} does not match the expected member epoch {}.",
                    member.position.epoch
                ),
            ));
        }
        Ok(())
    }
}

/// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`: a newer epoch is fenced; an older one
/// only if it is not the previous epoch with a subset of the assignment (the response that
/// bumped it may have been lost).
pub(super) fn check_epoch(
    member: &ConsumerMember,
    epoch: i32,
    owned: Option<&Assignment>,
) -> Result<(), Refusal> {
    let known = member.position.epoch;
    let subset = owned.is_some_and(|o| {
        o.iter().all(|(t, ps)| {
            ps.iter().all(|p| {
                member
                    .position
                    .assigned
                    .get(t)
                    .is_some_and(|a| a.contains(p))
            })
        })
    });
    if epoch > known || (epoch < known && (epoch != member.previous_epoch || !subset)) {
        let relation = if epoch > known { "greater" } else { "smaller" };
        return Err(Refusal::new(
            ResponseError::FencedMemberEpoch,
            format!("The consumer group member has a {relation} member epoch ({epoch}) than the one known by the group coordinator ({known}). The member must abandon all its partitions and rejoin."),
        ));
    }
    Ok(())
}

impl ConsumerMember {
    pub(super) fn new(id: &str, now: Instant) -> Self {
        Self {
            id: id.to_string(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            subscribed: BTreeSet::new(),
            server_assignor: None,
            rebalance_timeout: SESSION_TIMEOUT,
            position: Position::default(),
            previous_epoch: -1,
            last_seen: now,
            revoke_deadline: None,
        }
    }

    /// Takes the fields the heartbeat sent; true if the subscription or assignor changed.
    pub(super) fn update(&mut self, beat: &Beat, now: Instant) -> bool {
        self.last_seen = now;
        self.client_id.clone_from(&beat.client_id);
        self.client_host.clone_from(&beat.client_host);
        if beat.instance_id.is_some() {
            self.instance_id.clone_from(&beat.instance_id);
        }
        if beat.rack_id.is_some() {
            self.rack_id.clone_from(&beat.rack_id);
        }
        if beat.rebalance_timeout_ms > 0 {
            self.rebalance_timeout = Duration::from_millis(beat.rebalance_timeout_ms as u64);
        }
        let mut changed = false;
        if let Some(topics) = &beat.subscribed {
            changed |= *topics != self.subscribed;
            self.subscribed.clone_from(topics);
        }
        if beat.server_assignor.is_some() && beat.server_assignor != self.server_assignor {
            self.server_assignor = beat.server_assignor;
            changed = true;
        }
        changed
    }
}
