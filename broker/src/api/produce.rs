//! Produce: validate each partition's record batches (framing, CRC, producer sequence) and
//! append them as received. acks=0 gets no response at all, as the protocol says.

use bytes::Bytes;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::cluster::Topic;
use crate::log::batch::{self, BatchError};

pub fn handle(ctx: &Ctx<'_>, request: ProduceRequest) -> Option<ProduceResponse> {
    let acks = request.acks;
    let valid_acks = matches!(acks, -1..=1);
    let mut appended = false;
    let responses = request
        .topic_data
        .into_iter()
        .map(|topic_data| {
            let topic = ctx.cluster.topic(&topic_data.name);
            let partition_responses = topic_data
                .partition_data
                .into_iter()
                .map(|data| {
                    let index = data.index;
                    let result = if valid_acks {
                        append(topic.as_deref(), data)
                    } else {
                        Err(ResponseError::InvalidRequiredAcks)
                    };
                    appended |= result.is_ok();
                    let response = PartitionProduceResponse::default()
                        .with_index(index)
                        .with_log_append_time_ms(-1);
                    match result {
                        Ok((base_offset, log_start)) => response
                            .with_base_offset(base_offset)
                            .with_log_start_offset(log_start),
                        Err(err) => response
                            .with_error_code(err.code())
                            .with_base_offset(-1)
                            .with_log_start_offset(-1),
                    }
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partition_responses)
        })
        .collect();
    if appended {
        ctx.cluster.notify_appended();
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// Appends a partition's batches; returns the first batch's base offset and the log start.
fn append(topic: Option<&Topic>, data: PartitionProduceData) -> Result<(i64, i64), ResponseError> {
    let partition = topic
        .and_then(|t| t.partition(data.index))
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let records: Bytes = data.records.ok_or(ResponseError::CorruptMessage)?;
    let batches = batch::split(&records).map_err(|err| match err {
        BatchError::Corrupt => ResponseError::CorruptMessage,
        BatchError::UnsupportedMagic => ResponseError::UnsupportedForMessageFormat,
    })?;
    let mut log = partition.log();
    let mut first = None;
    for batch in batches {
        let appended = log.append(batch)?;
        first.get_or_insert(appended.base_offset);
    }
    Ok((first.unwrap_or(-1), log.log_start_offset()))
}
