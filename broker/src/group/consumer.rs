//! A KIP-848 consumer group (`group.protocol=consumer`): members heartbeat with their member
//! epoch; the coordinator keeps a group epoch (bumped by every change of membership, of a
//! subscription, or of a subscribed topic's partitions), a target assignment per group epoch
//! computed by a server-side assignor, and moves each member to it (`reconcile`).
//!
//! Where this differs from Apache Kafka 4.1:
//! - membership is not persisted: after a restart the committed offsets are back but the
//!   members are not, and a member's next heartbeat gets UNKNOWN_MEMBER_ID (it then rejoins);
//!   until one joins, the group is listed and described as an Empty classic group;
//! - no static membership: `instance.id` is recorded and described, never used to keep an
//!   assignment, and a static leave (epoch -2) is an ordinary leave; no UNRELEASED_INSTANCE_ID;
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
use super::reconcile::{self, MemberState, Position};

/// Kafka's `group.consumer.heartbeat.interval.ms` default.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(5_000);
/// Kafka's `group.consumer.session.timeout.ms` default.
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(45_000);

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
    previous_epoch: i32,
    last_seen: Instant,
    /// Set while revoking: a member that has not revoked by then is removed, as in Kafka.
    revoke_deadline: Option<Instant>,
}

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
            self.remove(&id)
                .ok_or_else(|| unknown_member(&id))
                .map(|_| tracing::debug!(member = %id, "member left the consumer group"))?;
            return Ok(BeatOutcome {
                member_id: id,
                epoch: beat.epoch,
                assignment: None,
            });
        }
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
    fn remove(&mut self, id: &str) -> Option<ConsumerMember> {
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

/// What a member holds: its assigned partitions and those it is still revoking.
fn owned_partitions(position: &Position) -> impl Iterator<Item = (uuid::Uuid, i32)> + '_ {
    position
        .assigned
        .iter()
        .chain(&position.revoking)
        .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
}

fn unknown_member(id: &str) -> Refusal {
    Refusal::new(
        ResponseError::UnknownMemberId,
        format!("Member {id} is not a member of the group."),
    )
}

/// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`: a newer epoch is fenced; an older one
/// only if it is not the previous epoch with a subset of the assignment (the response that
/// bumped it may have been lost).
fn check_epoch(
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
    fn new(id: &str, now: Instant) -> Self {
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
    fn update(&mut self, beat: &Beat, now: Instant) -> bool {
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
