//! DescribeTransactions: each asked transactional id's state, producer, timeout, start time
//! and the partitions of its open transaction (`kafka-transactions describe`).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId,
};
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: DescribeTransactionsRequest) -> DescribeTransactionsResponse {
    let all = ctx.cluster.txns.all();
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let answer = TransactionState::default().with_transactional_id(id.clone());
            let Some(txn) = all.iter().find(|t| t.id.as_str() == id.as_str()) else {
                return answer.with_error_code(ResponseError::TransactionalIdNotFound.code());
            };
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (topic, partition) in &txn.partitions {
                by_topic.entry(topic).or_default().push(*partition);
            }
            let topics = by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    TopicData::default()
                        .with_topic(topic_name(topic))
                        .with_partitions(partitions)
                })
                .collect();
            answer
                .with_transaction_state(str_bytes(txn.state.name()))
                .with_transaction_timeout_ms(txn.timeout_ms)
                .with_transaction_start_time_ms(txn.started_ms)
                .with_producer_id(ProducerId(txn.producer_id))
                .with_producer_epoch(txn.epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
