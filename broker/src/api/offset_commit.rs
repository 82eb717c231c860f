//! OffsetCommit: store a group's consumed positions, checked against its generation.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::group::Committed;

pub fn handle(ctx: &Ctx<'_>, request: OffsetCommitRequest) -> OffsetCommitResponse {
    let c = ctx.cluster;
    let group_id = request.group_id.to_string();
    let topics = c.groups.with_group(&group_id, |group| {
        let allowed = if group_id.is_empty() {
            Err(ResponseError::InvalidGroupId)
        } else {
            group.check_commit(&request.member_id, request.generation_id_or_member_epoch)
        };
        request
            .topics
            .into_iter()
            .map(|topic| {
                let known = c.topic(&topic.name);
                let partitions = topic
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let result = allowed.and_then(|()| {
                            known
                                .as_ref()
                                .and_then(|t| t.partition(p.partition_index))
                                .ok_or(ResponseError::UnknownTopicOrPartition)?;
                            let committed = Committed {
                                offset: p.committed_offset,
                                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                            };
                            c.groups
                                .store_offset(group, &topic.name, p.partition_index, committed)
                                .map_err(|err| {
                                    tracing::error!(%err, "cannot persist a committed offset");
                                    ResponseError::KafkaStorageError
                                })
                        });
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(result.err().map_or(0, |e| e.code()))
                    })
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name)
                    .with_partitions(partitions)
            })
            .collect()
    });
    OffsetCommitResponse::default().with_topics(topics)
}
