//! Which protocol a group id belongs to. A group is classic until a ConsumerGroupHeartbeat
//! joins it while it has no classic members; it is a consumer group until a classic JoinGroup
//! arrives while it has no consumer members. Committed offsets stay with the id either way,
//! as in Kafka, where an empty group of one type is replaced by one of the other.
//!
//! Kafka 4.1 would also convert a group that has members (online migration, policy
//! `group.consumer.migration.policy`); here a group with members of one protocol refuses the
//! other: a ConsumerGroupHeartbeat gets GROUP_ID_NOT_FOUND ("not a consumer group", as Kafka
//! answers with migration disabled), a JoinGroup INCONSISTENT_GROUP_PROTOCOL.

use std::time::Instant;

use kafka_protocol::ResponseError;

use super::consumer::{Beat, BeatOutcome, ConsumerGroup, Refusal};
use super::state::{Group, GroupState};
use super::{Coordinator, TopicMeta};

impl Group {
    /// No members of either protocol (and, for a classic group, not rebalancing).
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty
            && self.consumer.as_ref().is_none_or(|c| c.members.is_empty())
    }

    /// The group as a consumer group, turning an empty classic group into one.
    fn as_consumer_group(&mut self) -> Result<&mut ConsumerGroup, Refusal> {
        if self.consumer.is_none() {
            if self.state != GroupState::Empty || self.has_pending() {
                let message = format!("Group {} is not a consumer group.", self.id);
                return Err(Refusal::new(ResponseError::GroupIdNotFound, message));
            }
            self.protocol_type = None;
            self.protocol = None;
            self.leader = None;
        }
        Ok(self.consumer.get_or_insert_with(ConsumerGroup::default))
    }

    /// Makes way for a classic JoinGroup: an empty consumer group becomes a classic one.
    pub fn accepts_classic_join(&mut self) -> bool {
        match &self.consumer {
            Some(c) if !c.members.is_empty() => false,
            Some(_) => {
                self.consumer = None;
                true
            }
            None => true,
        }
    }

    /// OffsetCommit's check, for the group's protocol. A consumer group's member must commit
    /// with OffsetCommit v9+ (which carries its member epoch), as Kafka requires.
    pub fn check_offset_commit(
        &self,
        member_id: &str,
        epoch: i32,
        version: i16,
    ) -> Result<(), ResponseError> {
        let Some(consumer) = &self.consumer else {
            return self.check_commit(member_id, epoch);
        };
        if version < 9 && consumer.members.contains_key(member_id) {
            return Err(ResponseError::UnsupportedVersion);
        }
        consumer.check_commit(member_id, epoch).map_err(|r| r.error)
    }

    /// OffsetFetch v9's check: only consumer groups check the member (Kafka answers classic
    /// groups without one).
    pub fn check_offset_fetch(
        &self,
        member_id: Option<&str>,
        epoch: i32,
    ) -> Result<(), ResponseError> {
        match &self.consumer {
            Some(consumer) => consumer.check_fetch(member_id, epoch).map_err(|r| r.error),
            None => Ok(()),
        }
    }
}

impl Coordinator {
    /// A ConsumerGroupHeartbeat. A join (epoch 0) creates the group if needed; anything else
    /// needs a known member, and an unknown one gets UNKNOWN_MEMBER_ID so that it rejoins
    /// (Kafka answers GROUP_ID_NOT_FOUND for a group it does not have, which only a restart
    /// without the group's membership, as here, could produce).
    pub fn consumer_heartbeat(
        &self,
        group_id: &str,
        beat: Beat,
        lookup: impl Fn(&str) -> Option<TopicMeta>,
    ) -> Result<BeatOutcome, Refusal> {
        let now = Instant::now();
        // Names the group in what the consumer group logs.
        let _group = tracing::info_span!("consumer_group", group = group_id).entered();
        if beat.epoch == 0 {
            return self.with_group(group_id, |group| {
                group.as_consumer_group()?.heartbeat(beat, lookup, now)
            });
        }
        let member_id = beat.member_id.clone();
        self.with_existing(group_id, |group| match &mut group.consumer {
            Some(consumer) => consumer.heartbeat(beat, lookup, now),
            None => Err(unknown(&member_id)),
        })
        .unwrap_or_else(|| Err(unknown(&member_id)))
    }
}

fn unknown(member_id: &str) -> Refusal {
    Refusal::new(
        ResponseError::UnknownMemberId,
        format!("Member {member_id} is not a member of the group."),
    )
}
