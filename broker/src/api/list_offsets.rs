//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), or the first offset at or
//! after a timestamp (at batch granularity: records are not decoded).

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::log::partition::LEADER_EPOCH;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

pub fn handle(ctx: &Ctx<'_>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = ctx.cluster.topic(&wanted.name);
            let partitions = wanted
                .partitions
                .into_iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    let Some(partition) =
                        topic.as_ref().and_then(|t| t.partition(p.partition_index))
                    else {
                        return response
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let log = partition.log();
                    let (offset, timestamp) = match p.timestamp {
                        // A read_committed consumer's end is the last stable offset.
                        LATEST if read_committed => (log.last_stable_offset(), -1),
                        LATEST => (log.high_watermark(), -1),
                        EARLIEST | EARLIEST_LOCAL => (log.log_start_offset(), -1),
                        MAX_TIMESTAMP => log
                            .offset_for_timestamp(i64::MIN)
                            .map_or((-1, -1), |(o, t)| (o, t)),
                        ts if ts >= 0 => log.offset_for_timestamp(ts).unwrap_or((-1, -1)),
                        _ => return response.with_error_code(ResponseError::InvalidRequest.code()),
                    };
                    let response = response.with_offset(offset).with_timestamp(timestamp);
                    // The field exists from v4; an older answer must leave it at its default.
                    if ctx.version >= 4 {
                        response.with_leader_epoch(LEADER_EPOCH)
                    } else {
                        response
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(wanted.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
