//! DescribeProducers: per partition, the idempotent and transactional producers that wrote to
//! it, as Kafka's `kafka-transactions describe-producers` shows them, with where each one's
//! open transaction begins (-1: none).

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: DescribeProducersRequest) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = ctx.cluster.topic(&wanted.name);
            let partitions = wanted
                .partition_indexes
                .iter()
                .map(|&index| {
                    let answer = PartitionResponse::default().with_partition_index(index);
                    let unknown = answer
                        .clone()
                        .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    let Some(topic) = &topic else {
                        // Kafka words only an unknown topic, not an unknown partition.
                        return unknown.with_error_message(Some(str_bytes(
                            "This server does not host this topic-partition.",
                        )));
                    };
                    let Some(partition) = topic.partition(index) else {
                        return unknown;
                    };
                    let log = partition.log();
                    let producers = log
                        .active_producers()
                        .into_iter()
                        .map(|(id, epoch, last_sequence, last_timestamp)| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(id))
                                .with_producer_epoch(i32::from(epoch))
                                .with_last_sequence(last_sequence)
                                .with_last_timestamp(last_timestamp)
                                .with_coordinator_epoch(-1)
                                .with_current_txn_start_offset(log.open_txn_since(id).unwrap_or(-1))
                        })
                        .collect();
                    answer.with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(wanted.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
