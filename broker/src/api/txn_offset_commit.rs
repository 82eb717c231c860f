//! TxnOffsetCommit: offsets a transaction commits for a group (added by AddOffsetsToTxn, or
//! from v5 by this request), staged until EndTxn; an abort discards them. From v3 (KIP-447) the consumer's member id
//! and generation are checked as OffsetCommit checks them, so a zombie is fenced by its group.

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use kafka_protocol::ResponseError;

use super::offset_commit::metadata_too_large;
use super::{fenced_since, Ctx};
use crate::txn::{PendingOffset, TxnVersion};

/// The OffsetCommit version whose checks a transactional commit gets: a consumer group's
/// member is checked by its epoch at any TxnOffsetCommit version, as Kafka checks it.
const MEMBER_EPOCH_AWARE: i16 = 9;

pub fn handle(ctx: &Ctx<'_>, request: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let group = request.group_id.to_string();
    let member = request.member_id.to_string();
    let checked = if group.is_empty() {
        Err(ResponseError::InvalidGroupId)
    } else if member.is_empty() && request.generation_id < 0 {
        Ok(()) // v0-2, or a producer that is not a group member
    } else {
        ctx.cluster
            .groups
            // As OffsetCommit checks it (a consumer group: the member and its epoch).
            .with_existing(&group, |g| {
                g.check_offset_commit(&member, request.generation_id, MEMBER_EPOCH_AWARE)
            })
            .unwrap_or(Err(ResponseError::UnknownMemberId))
    };
    // Per partition: refused on its own (unknown, metadata too large), or staged with the rest.
    let mut staged = Vec::new();
    let mut own_errors = Vec::new();
    for topic in &request.topics {
        let known = ctx.cluster.topic(&topic.name);
        for p in &topic.partitions {
            let error = if known
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_none()
            {
                Some(ResponseError::UnknownTopicOrPartition)
            } else if metadata_too_large(p.committed_metadata.as_deref()) {
                Some(ResponseError::OffsetMetadataTooLarge)
            } else {
                staged.push(PendingOffset {
                    group: group.clone(),
                    topic: topic.name.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                });
                None
            };
            own_errors.push(error);
        }
    }
    let outcome = checked.and_then(|()| {
        ctx.cluster
            .txns
            .stage_offsets(
                &request.transactional_id,
                (request.producer_id.0, request.producer_epoch),
                &group,
                staged,
                TxnVersion::of(ctx.version, 5),
            )
            .map_err(|err| fenced_since(ctx, err, 3))
    });
    let mut own_errors = own_errors.into_iter();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let own = own_errors.next().flatten();
                    let code = own.or(outcome.err()).map_or(0, |e| e.code());
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
