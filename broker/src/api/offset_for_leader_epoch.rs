//! OffsetForLeaderEpoch: a consumer checks for log truncation after a leader change.
//! There is one leader epoch (0) for ever, ending at the high watermark.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::log::partition::LEADER_EPOCH;

pub fn handle(ctx: &Ctx<'_>, request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = ctx.cluster.topic(&wanted.topic);
            let partitions = wanted
                .partitions
                .into_iter()
                .map(|p| {
                    let answer = EpochEndOffset::default().with_partition(p.partition);
                    let Some(partition) = topic.as_ref().and_then(|t| t.partition(p.partition))
                    else {
                        return answer
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if p.current_leader_epoch > LEADER_EPOCH {
                        return answer.with_error_code(ResponseError::UnknownLeaderEpoch.code());
                    }
                    if p.leader_epoch > LEADER_EPOCH {
                        return answer.with_leader_epoch(-1).with_end_offset(-1);
                    }
                    answer
                        .with_leader_epoch(LEADER_EPOCH)
                        .with_end_offset(partition.log().high_watermark())
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(wanted.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
