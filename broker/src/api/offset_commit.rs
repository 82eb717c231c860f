//! OffsetCommit: store a group's consumed positions, checked against its generation (classic
//! groups) or its member's epoch (consumer groups, v9+).

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::group::Committed;

/// Kafka's `offset.metadata.max.bytes` default. Kafka compares it with the metadata string's
/// `length()`, which counts UTF-16 code units, so this does too (a string's UTF-8 length is
/// never below that count, so short strings are not counted again).
pub const OFFSET_METADATA_MAX: usize = 4096;

pub fn metadata_too_large(metadata: Option<&str>) -> bool {
    metadata.is_some_and(|m| {
        m.len() > OFFSET_METADATA_MAX && m.encode_utf16().count() > OFFSET_METADATA_MAX
    })
}

pub fn handle(ctx: &Ctx<'_>, request: OffsetCommitRequest) -> OffsetCommitResponse {
    let c = ctx.cluster;
    let group_id = request.group_id.to_string();
    let topics = c.groups.with_group(&group_id, |group| {
        let allowed = if group_id.is_empty() {
            Err(ResponseError::InvalidGroupId)
        } else {
            group.check_offset_commit(
                &request.member_id,
                request.generation_id_or_member_epoch,
                ctx.version,
            )
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
                            if metadata_too_large(p.committed_metadata.as_deref()) {
                                return Err(ResponseError::OffsetMetadataTooLarge);
                            }
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

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::GroupId;

    use super::*;
    use crate::api::{str_bytes, topic_name};
    use crate::cluster::Cluster;
    use crate::config::BrokerConfig;

    /// Metadata over Kafka's 4096 (in UTF-16 code units, as Kafka counts) is refused for its
    /// partition alone and nothing is stored for it; the other partitions are committed.
    #[test]
    fn metadata_over_the_limit_is_refused_for_its_partition_only() {
        let cluster = std::sync::Arc::new(
            Cluster::open(BrokerConfig::ephemeral(), "127.0.0.1".into(), 9092)
                .expect("in-memory broker"),
        );
        cluster.create_topic("t", 4).expect("topic");
        let ctx = Ctx {
            cluster: &cluster,
            version: 8,
            client_id: "tester",
            client_host: "127.0.0.1",
        };
        let metadata = [
            "x".repeat(80 * 1024),
            "x".repeat(OFFSET_METADATA_MAX),
            "é".repeat(OFFSET_METADATA_MAX),
            "😀".repeat(OFFSET_METADATA_MAX / 2 + 1),
        ];
        let partitions = metadata
            .iter()
            .enumerate()
            .map(|(i, m)| {
                OffsetCommitRequestPartition::default()
                    .with_partition_index(i as i32)
                    .with_committed_offset(5)
                    .with_committed_metadata(Some(str_bytes(m)))
            })
            .collect();
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes("g")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name("t"))
                .with_partitions(partitions)]);
        let response = handle(&ctx, request);
        let codes: Vec<i16> = response.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        let too_large = ResponseError::OffsetMetadataTooLarge.code();
        assert_eq!(codes, [too_large, 0, 0, too_large]);
        let stored: Vec<i32> = cluster
            .groups
            .with_existing("g", |g| g.offsets.keys().map(|(_, p)| *p).collect())
            .expect("group");
        assert_eq!(stored, [1, 2], "nothing stored for the refused partitions");
    }
}
