//! AddPartitionsToTxn (v0-3, the client's versions): partitions join the producer's open
//! transaction before it writes to them. Versions 4+ batch transactions for brokers verifying
//! with their coordinator; one node has no such peer.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
use kafka_protocol::ResponseError;

use super::{fenced_since, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: AddPartitionsToTxnRequest) -> AddPartitionsToTxnResponse {
    let topics = request.v3_and_below_topics;
    let unknown = |topic: &str, p: i32| {
        ctx.cluster
            .topic(topic)
            .is_none_or(|t| t.is_internal() || t.partition(p).is_none())
    };
    let any_unknown = topics
        .iter()
        .any(|t| t.partitions.iter().any(|&p| unknown(&t.name, p)));
    // As Kafka: if any partition is unknown, none is added; the others are not attempted.
    let outcome = if any_unknown {
        Err(ResponseError::OperationNotAttempted)
    } else {
        let partitions = topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.name.to_string(), p)))
            .collect();
        ctx.cluster
            .txns
            .add_partitions(
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                partitions,
            )
            .map_err(|err| fenced_since(ctx, err, 2))
    };
    let results = topics
        .into_iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|&p| {
                    let code = match outcome {
                        Ok(()) => 0,
                        Err(_) if unknown(&topic.name, p) => {
                            ResponseError::UnknownTopicOrPartition.code()
                        }
                        Err(err) => err.code(),
                    };
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(code)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic.name)
                .with_results_by_partition(partitions)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}
