//! One classic consumer group: its membership state machine and committed offsets.
//!
//! Empty ─join─▶ PreparingRebalance ─all joined / rebalance timeout─▶ CompletingRebalance
//!   ▲                 ▲                                                    │ leader's SyncGroup
//!   └─last leaves─────┴───────── join, leave, session expiry ◀── Stable ◀──┘
//!
//! Where this differs from Apache Kafka's classic group coordinator (pinned by the tests in
//! `state_tests` and `request_tests` where they touch it):
//! - every JoinGroup from a known member starts a rebalance; Kafka answers a follower that
//!   rejoins with unchanged metadata from the current generation, without one;
//! - the join phase ends once every member rejoined, even while ids handed out with
//!   MEMBER_ID_REQUIRED are pending; Kafka waits for those too (up to the rebalance timeout),
//!   so here the newcomer's join starts a second rebalance;
//! - no `group.initial.rebalance.delay.ms`: the first member's join completes at once;
//! - an empty group accepts an empty protocol type or protocol list (Kafka:
//!   INCONSISTENT_GROUP_PROTOCOL);
//! - OffsetCommit with generation -1 and no member id while the group has members gets
//!   ILLEGAL_GENERATION (Kafka: UNKNOWN_MEMBER_ID), and one with generation -1 and a member id
//!   on an empty group UNKNOWN_MEMBER_ID (Kafka stores it);
//! - a member parked in SyncGroup can be evicted by its session timeout (Kafka keeps members
//!   awaiting sync alive), and there is no timeout on the sync phase itself;
//! - no static membership: `group.instance.id` is recorded and reported, never used to fence.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::consumer::ConsumerGroup;
use super::expiry::Upkeep;
use super::member::{JoinOutcome, Member, SyncOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: i64,
    pub metadata: Option<String>,
}

#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, valid until this deadline.
    pending: HashMap<String, Instant>,
    rebalance_deadline: Option<Instant>,
    pub offsets: BTreeMap<(String, i32), Committed>,
    /// Set while the group id belongs to a KIP-848 consumer group (see `protocol`); the
    /// classic fields then stay Empty.
    pub consumer: Option<ConsumerGroup>,
    /// The coordinator's retention clock and schedules; the state machine never touches it.
    pub(super) upkeep: Upkeep,
}

fn code(err: ResponseError) -> i16 {
    err.code()
}

impl Group {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            rebalance_deadline: None,
            offsets: BTreeMap::new(),
            consumer: None,
            upkeep: Upkeep::default(),
        }
    }

    pub fn is_pending(&self, member_id: &str) -> bool {
        self.pending.contains_key(member_id)
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn forget_pending(&mut self) {
        self.pending.clear();
    }

    pub fn add_pending(&mut self, member_id: String, session_timeout: Duration) {
        self.pending
            .insert(member_id, Instant::now() + session_timeout);
    }

    /// Adds or refreshes a member that sent JoinGroup, and starts or continues a rebalance.
    pub fn join(&mut self, mut member: Member, protocol_type: &str) {
        self.pending.remove(&member.id);
        if let Some(old) = self.members.remove(&member.id) {
            member.assignment = old.assignment;
        }
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_string());
        }
        self.members.insert(member.id.clone(), member);
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance();
        }
        self.try_complete_join();
    }

    /// The protocols every member supports, in the first member's order of preference.
    pub fn accepts_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type
            .as_deref()
            .is_none_or(|t| t == protocol_type)
            && protocols
                .iter()
                .any(|(name, _)| self.members.values().all(|m| m.supports(name)))
    }

    fn prepare_rebalance(&mut self) {
        self.state = GroupState::PreparingRebalance;
        let longest = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(Instant::now() + longest);
        for member in self.members.values_mut() {
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send(Err(code(ResponseError::RebalanceInProgress)));
            }
        }
    }

    fn try_complete_join(&mut self) {
        if self.state == GroupState::PreparingRebalance
            && self.members.values().all(|m| m.join_waiter.is_some())
        {
            self.complete_join();
        }
    }

    /// Ends the join phase: members that did not rejoin are dropped, a protocol is chosen by
    /// vote, the generation moves on, and every parked JoinGroup is answered.
    fn complete_join(&mut self) {
        self.members.retain(|_, m| m.join_waiter.is_some());
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.protocol = self.choose_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = GroupState::CompletingRebalance;
        let protocol = self.protocol.clone().unwrap_or_default();
        let everyone: Vec<_> = self
            .members
            .values()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata_for(&protocol),
                )
            })
            .collect();
        let leader = self.leader.clone().unwrap_or_default();
        let now = Instant::now();
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
            member.last_seen = now;
            let outcome = JoinOutcome {
                error: 0,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol.clone(),
                leader: leader.clone(),
                member_id: member.id.clone(),
                members: if member.id == leader {
                    everyone.clone()
                } else {
                    Vec::new()
                },
            };
            if let Some(waiter) = member.join_waiter.take() {
                let _ = waiter.send(outcome);
            }
        }
    }

    fn choose_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| self.members.values().all(|m| m.supports(n)))
            .collect();
        // Each member votes for the candidate it lists first; ties go to the first listed.
        let votes = |name: &String| {
            self.members
                .values()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .map(|(n, _)| n)
                        .find(|n| candidates.contains(n))
                        == Some(name)
                })
                .count()
        };
        let mut best: Option<(&String, usize)> = None;
        for name in &candidates {
            let v = votes(name);
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((name, v));
            }
        }
        best.map(|(n, _)| n.clone())
    }

    /// Checks that a request comes from a current member of this generation.
    pub fn check_member(&self, member_id: &str, generation: i32) -> Result<(), ResponseError> {
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// SyncGroup: the leader's call hands out the assignments; others wait for it.
    /// `waiter` is answered now, or once the leader's assignments arrive.
    pub fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        waiter: tokio::sync::oneshot::Sender<SyncOutcome>,
    ) {
        fn answer(waiter: tokio::sync::oneshot::Sender<SyncOutcome>, outcome: SyncOutcome) {
            let _ = waiter.send(outcome);
        }
        if let Err(err) = self.check_member(member_id, generation) {
            return answer(waiter, Err(err.code()));
        }
        match self.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
                answer(waiter, Err(code(ResponseError::RebalanceInProgress)))
            }
            GroupState::Stable => answer(
                waiter,
                Ok(self
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default()),
            ),
            GroupState::CompletingRebalance => {
                if let Some(member) = self.members.get_mut(member_id) {
                    member.last_seen = Instant::now();
                    member.sync_waiter = Some(waiter);
                }
                if self.leader.as_deref() == Some(member_id) {
                    let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                    for member in self.members.values_mut() {
                        member.assignment = given.remove(&member.id).unwrap_or_default();
                        if let Some(w) = member.sync_waiter.take() {
                            let _ = w.send(Ok(member.assignment.clone()));
                        }
                    }
                    self.state = GroupState::Stable;
                }
            }
        }
    }

    pub fn heartbeat(&mut self, member_id: &str, generation: i32) -> Result<(), ResponseError> {
        self.check_member(member_id, generation)?;
        if let Some(member) = self.members.get_mut(member_id) {
            member.last_seen = Instant::now();
        }
        match self.state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    pub fn leave(&mut self, member_id: &str) -> Result<(), ResponseError> {
        let member = self
            .members
            .remove(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        tracing::debug!(group = %self.id, member = %member.id, "member left");
        self.rebalance_after_removal();
        Ok(())
    }

    fn rebalance_after_removal(&mut self) {
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance();
        }
        self.try_complete_join();
    }

    /// Evicts members whose session ran out and ends an overdue join phase.
    pub fn tick(&mut self, now: Instant) {
        if let Some(consumer) = &mut self.consumer {
            let _group = tracing::info_span!("consumer_group", group = %self.id).entered();
            consumer.tick(now);
        }
        self.pending.retain(|_, deadline| *deadline > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.expired(now))
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            tracing::info!(group = %self.id, member = %id, "member evicted: no heartbeat within its session timeout");
            self.members.remove(id);
        }
        if !expired.is_empty() {
            self.rebalance_after_removal();
        }
        if self.state == GroupState::PreparingRebalance
            && self.rebalance_deadline.is_some_and(|d| d <= now)
        {
            self.complete_join();
        }
    }

    /// Whether an OffsetCommit from this member and generation may be stored.
    pub fn check_commit(&self, member_id: &str, generation: i32) -> Result<(), ResponseError> {
        if generation < 0 && member_id.is_empty() {
            // A consumer that only uses Kafka to store offsets (no group membership).
            return if self.members.is_empty() {
                Ok(())
            } else {
                Err(ResponseError::IllegalGeneration)
            };
        }
        self.check_member(member_id, generation)?;
        if self.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }
}
