//! Admin changes to groups: DeleteGroups and OffsetDelete, with the checks Kafka's classic
//! group coordinator makes. Each removed offset is a tombstone in the offsets log, so a
//! restart does not bring it back.

use bytes::Buf;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;
use kafka_protocol::ResponseError;

use super::state::Group;
use super::Coordinator;

/// Per requested partition: its index and why its offset was kept, if it was.
pub type PartitionOutcomes = Vec<(i32, Option<ResponseError>)>;

impl Coordinator {
    /// Deletes an Empty group with its committed offsets. Kafka: NON_EMPTY_GROUP while it has
    /// members, GROUP_ID_NOT_FOUND for a group it does not know (or one already Dead).
    pub fn delete_group(&self, id: &str) -> Result<(), ResponseError> {
        self.with_existing(id, |group| {
            if !group.is_empty() {
                return Err(ResponseError::NonEmptyGroup);
            }
            // A member id handed out with MEMBER_ID_REQUIRED would keep the group alive; the
            // client that got it joins a new group of that name.
            group.forget_pending();
            self.drop_offsets(group, |_, _| true);
            Ok(())
        })
        .unwrap_or(Err(ResponseError::GroupIdNotFound))
    }

    /// Deletes the group's committed offsets of `topics` (name, partitions). Per topic: the
    /// partitions' error, GROUP_SUBSCRIBED_TO_TOPIC for a topic a member subscribes to (those
    /// offsets are kept); a partition without an offset is answered as deleted, as in Kafka.
    pub fn delete_offsets(
        &self,
        id: &str,
        topics: &[(String, Vec<i32>)],
    ) -> Result<Vec<PartitionOutcomes>, ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        self.with_existing(id, |group| {
            // Kafka refuses a group with members unless it is a consumer group, whose
            // subscriptions say which topics are in use.
            if !group.is_empty()
                && group.consumer.is_none()
                && group.protocol_type.as_deref() != Some("consumer")
            {
                return Err(ResponseError::NonEmptyGroup);
            }
            let subscribed = subscribed_topics(group);
            Ok(topics
                .iter()
                .map(|(topic, partitions)| {
                    if subscribed.contains(topic) {
                        let refused = Some(ResponseError::GroupSubscribedToTopic);
                        return partitions.iter().map(|&p| (p, refused)).collect();
                    }
                    self.drop_offsets(group, |t, p| t == topic && partitions.contains(&p));
                    partitions.iter().map(|&p| (p, None)).collect()
                })
                .collect())
        })
        .unwrap_or(Err(ResponseError::GroupIdNotFound))
    }
}

/// The topics the members of a consumer group subscribe to, from the metadata they sent for
/// the group's protocol (Kafka's `ConsumerProtocolSubscription`: a version, then the body).
/// Metadata that does not decode subscribes to nothing, as in Kafka.
fn subscribed_topics(group: &Group) -> Vec<String> {
    if let Some(consumer) = &group.consumer {
        let members = consumer.members.values();
        return members.flat_map(|m| m.subscribed.iter().cloned()).collect();
    }
    let Some(protocol) = group.protocol.as_deref() else {
        return Vec::new();
    };
    let mut topics = Vec::new();
    for member in group.members.values() {
        let mut metadata = member.metadata_for(protocol);
        if metadata.remaining() < 2 {
            continue;
        }
        // Newer versions only add fields; decode them as the highest version known here.
        let version = metadata.get_i16().clamp(0, 3);
        if let Ok(subscription) = ConsumerProtocolSubscription::decode(&mut metadata, version) {
            topics.extend(subscription.topics.iter().map(|t| t.to_string()));
        }
    }
    topics
}
