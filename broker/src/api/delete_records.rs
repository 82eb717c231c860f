//! DeleteRecords: moves partitions' log start forward (`kafka-delete-records`, an admin
//! client's `deleteRecords`); what is before it can no longer be fetched, and whole segments
//! before it leave the disk. Offset -1 means the high watermark, as in Kafka.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = ctx.cluster.topic(&wanted.name);
            let partitions = wanted
                .partitions
                .into_iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index);
                    let deleted = match &topic {
                        // As Kafka: only the broker itself changes an internal topic.
                        Some(t) if t.is_internal() => Err(ResponseError::InvalidTopicException),
                        _ => topic
                            .as_ref()
                            .and_then(|t| t.partition(p.partition_index))
                            .ok_or(ResponseError::UnknownTopicOrPartition)
                            .and_then(|partition| partition.log().delete_records(p.offset)),
                    };
                    match deleted {
                        Ok(low_watermark) => result.with_low_watermark(low_watermark),
                        Err(err) => result.with_low_watermark(-1).with_error_code(err.code()),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(wanted.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
