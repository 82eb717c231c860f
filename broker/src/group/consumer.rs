//! A KIP-848 consumer group (`group.protocol=consumer`): members heartbeat with their member
//! epoch; the coordinator keeps a group epoch (bumped by every change of membership, of a
//! subscription, or of a subscribed topic's partitions), a target assignment per group epoch
//! computed by a server-side assignor, and moves each member to it (`reconcile`). Static
//! members (`group.instance.id`) are in `static_member`.
//!
//! Where this differs from Apache Kafka 4.1:
//! - membership is not persisted: after a restart the committed offsets are back but the
//!   members are not, and a member's next heartbeat gets UNKNOWN_MEMBER_ID (it then rejoins);
//!   until one joins, the group is listed and described as an Empty classic group;
//! - no regular-expression subscriptions (`SubscribedTopicRegex`): refused with INVALID_REQUEST;
//! - no classic members in a consumer group (Kafka's online migration): a group id belongs to
//!   one protocol while it has members;
//! - a known member that rejoins with epoch 0 (after UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH,
//!   say) is taken back with its current assignment; Kafka's coordinator (as its 4.0 source
//!   reads) checks epoch 0 against the known member's epoch like any other and fences it;
//! - subscribed topics are looked up on every heartbeat (Kafka: every
//!   `group.consumer.metadata.refresh.interval.ms`), and a target assignment is computed as soon
//!   as the group epoch moves, in the heartbeat that moved it or in the next one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;

use super::assignor::{Assignment, Assignor, Subscriber, TopicMeta, Topics};
use super::consumer_member::{check_epoch, ConsumerMember};
use super::reconcile::{self, MemberState, Position};

/// Kafka's `group.consumer.heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(5_000);
/// Kafka's `group.consumer.session.timeout.ms` default.
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(45_000);

#[derive(Debug, Default)]
pub struct ConsumerGroup {
    pub epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: Assignor,
    pub members: BTreeMap<String, ConsumerMember>,
    pub target: BTreeMap<String, Assignment>,
    /// The subscribed topics as last looked up: a change bumps the group epoch.
    topics: Topics,
}

/// A ConsumerGroupHeartbeat as the group sees it (checked for required fields already).
#[derive(Debug, Clone, Default)]
pub struct Beat {
    pub member_id: String,
    pub epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1 when not sent.
    pub rebalance_timeout_ms: i32,
    pub subscribed: Option<BTreeSet<String>>,
    pub server_assignor: Option<Assignor>,
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BeatOutcome {
    pub member_id: String,
    pub epoch: i32,
    /// Sent on a full request or when the member's assignment changed, as Kafka does.
    pub assignment: Option<Assignment>,
}

/// A refused request: Kafka's error code and its message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct Refusal {
    pub error: ResponseError,
    pub message: String,
}

impl Refusal {
    pub fn new(error: ResponseError, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }
}

impl ConsumerGroup {
    /// Kafka's consumer group states, as ListGroups and ConsumerGroupDescribe name them.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.epoch > self.assignment_epoch {
            "Assigning"
        } else if self.members.values().any(|m| {
            m.position.epoch != self.assignment_epoch || m.position.state != MemberState::Stable
        }) {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    pub fn heartbeat(
        &mut self,
        beat: Beat,
        lookup: impl Fn(&str) -> Option<TopicMeta>,
        now: Instant,
    ) -> Result<BeatOutcome, Refusal> {
        let id = beat.member_id.clone();
        if beat.epoch < 0 {
            return self.leave(beat);
        }
        self.admit_static(&beat)?;
        let mut bump = false;
        if beat.epoch == 0 && !self.members.contains_key(&id) {
            self.members
                .insert(id.clone(), ConsumerMember::new(&id, now));
            bump = true;
        }
        let member = self
            .members
            .get_mut(&id)
            .ok_or_else(|| unknown_member(&id))?;
        if beat.epoch != 0 {
            check_epoch(member, beat.epoch, beat.owned.as_ref())?;
        }
        bump |= member.update(&beat, now);
        let topics = self.lookup_topics(lookup);
        if topics != self.topics {
            self.topics = topics;
            bump = true;
        }
        if bump {
            self.epoch += 1;
        }
        if self.epoch > self.assignment_epoch {
            self.assign();
        }
        let before = self.members[&id].position.assigned.clone();
        self.reconcile(&id, beat.owned.as_ref(), now);
        let member = &self.members[&id];
        let full = beat.epoch == 0
            || (beat.rebalance_timeout_ms != -1
                && beat.subscribed.is_some()
                && beat.owned.is_some());
        Ok(BeatOutcome {
            member_id: id,
            epoch: member.position.epoch,
            assignment: (full || before != member.position.assigned)
                .then(|| member.position.assigned.clone()),
        })
    }

    /// The subscribed topics that exist now.
    fn lookup_topics(&self, lookup: impl Fn(&str) -> Option<TopicMeta>) -> Topics {
        let names: BTreeSet<&String> = self.members.values().flat_map(|m| &m.subscribed).collect();
        names
            .into_iter()
            .filter_map(|name| Some((name.clone(), lookup(name)?)))
            .collect()
    }

    /// A new target assignment for the group epoch, by the assignor most members ask for.
    fn assign(&mut self) {
        let mut votes: BTreeMap<&'static str, (usize, Assignor)> = BTreeMap::new();
        for assignor in self.members.values().filter_map(|m| m.server_assignor) {
            votes.entry(assignor.name()).or_insert((0, assignor)).0 += 1;
        }
        self.assignor = votes
            .into_values()
            .max_by_key(|(n, a)| (*n, *a == Assignor::default()))
            .map_or_else(Assignor::default, |(_, a)| a);
        let subscribers: Vec<Subscriber<'_>> = self
            .members
            .values()
            .map(|m| Subscriber {
                id: &m.id,
                topics: &m.subscribed,
                previous: self.target.get(&m.id),
            })
            .collect();
        self.target = self.assignor.assign(&subscribers, &self.topics);
        self.assignment_epoch = self.epoch;
        tracing::info!(
            epoch = self.epoch,
            assignor = self.assignor.name(),
            members = self.members.len(),
            "consumer group: new target assignment"
        );
    }

    fn reconcile(&mut self, id: &str, owned: Option<&Assignment>, now: Instant) {
        let taken: BTreeSet<(uuid::Uuid, i32)> = self
            .members
            .values()
            .filter(|m| m.id != id)
            .flat_map(|m| owned_partitions(&m.position))
            .collect();
        let empty = Assignment::new();
        let target = self.target.get(id).unwrap_or(&empty);
        let Some(member) = self.members.get_mut(id) else {
            return;
        };
        let next = reconcile::next(
            &member.position,
            self.assignment_epoch,
            target,
            owned,
            |t, p| taken.contains(&(t, p)),
        );
        if next.epoch != member.position.epoch {
            member.previous_epoch = member.position.epoch;
        }
        member.revoke_deadline = match next.state {
            MemberState::UnrevokedPartitions => Some(
                member
                    .revoke_deadline
                    .unwrap_or(now + member.rebalance_timeout),
            ),
            _ => None,
        };
        member.position = next;
    }

    /// Removes a member; its partitions are free at once and the group epoch moves on.
    pub(super) fn remove(&mut self, id: &str) -> Option<ConsumerMember> {
        let member = self.members.remove(id)?;
        self.target.remove(id);
        let still: BTreeSet<&String> = self.members.values().flat_map(|m| &m.subscribed).collect();
        self.topics.retain(|name, _| still.contains(name));
        self.epoch += 1;
        Some(member)
    }

    /// Removes the members whose session ran out or who did not revoke within their
    /// rebalance timeout; the next heartbeat computes the new target.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                now.duration_since(m.last_seen) > SESSION_TIMEOUT
                    || m.revoke_deadline.is_some_and(|d| d <= now)
            })
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(member = %id, "consumer group member removed: session or rebalance timeout");
            self.remove(&id);
        }
    }
}

/// What a member holds: its assigned partitions and those it is still revoking.
fn owned_partitions(position: &Position) -> impl Iterator<Item = (uuid::Uuid, i32)> + '_ {
    position
        .assigned
        .iter()
        .chain(&position.revoking)
        .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
}

pub(super) fn unknown_member(id: &str) -> Refusal {
    Refusal::new(
        ResponseError::UnknownMemberId,
        format!("Member {id} is not a member of the group."),
    )
}
