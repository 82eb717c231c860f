//! CreatePartitions: a topic's partition count only grows, within the broker's
//! `max_partitions`, with Kafka's (KRaft controller's) error codes and messages.

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};
use crate::cluster::PartitionsError;

/// Kafka's answer to a refusal.
fn refusal(
    ctx: &Ctx<'_>,
    wanted: &CreatePartitionsTopic,
    err: PartitionsError,
) -> (ResponseError, Option<String>) {
    let name = wanted.name.as_str();
    match err {
        PartitionsError::UnknownTopic => (ResponseError::UnknownTopicOrPartition, None),
        PartitionsError::NotAnIncrease { current } if current == wanted.count => (
            ResponseError::InvalidPartitions,
            Some(format!("Topic already has {current} partition(s).")),
        ),
        PartitionsError::NotAnIncrease { current } => (
            ResponseError::InvalidPartitions,
            Some(format!(
                "The topic {name} currently has {current} partition(s); {} would not be an increase.",
                wanted.count
            )),
        ),
        PartitionsError::TooMany { added } => (
            ResponseError::PolicyViolation,
            Some(format!(
                "{added} more partitions would pass the broker's limit of {} (max_partitions)",
                ctx.cluster.config.max_partitions
            )),
        ),
        PartitionsError::Internal => (
            ResponseError::InvalidTopicException,
            Some(crate::cluster::INTERNAL_TOPIC_REFUSAL.to_string()),
        ),
        PartitionsError::Storage => (
            ResponseError::KafkaStorageError,
            Some(format!("the new partitions of '{name}' could not be stored")),
        ),
    }
}

/// Checks in Kafka's order (topic, increase, assignments), then grows the topic; the first
/// two are checked again under the topics lock by `add_partitions`.
fn grow(
    ctx: &Ctx<'_>,
    wanted: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), (ResponseError, Option<String>)> {
    let c = ctx.cluster;
    let refused = |err| refusal(ctx, wanted, err);
    let topic = c
        .topic(&wanted.name)
        .ok_or_else(|| refused(PartitionsError::UnknownTopic))?;
    let current = topic.partitions.len() as i32;
    if wanted.count <= current {
        return Err(refused(PartitionsError::NotAnIncrease { current }));
    }
    if let Some(assignments) = &wanted.assignments {
        let added = wanted.count - current;
        if assignments.len() != added as usize {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                Some(format!("Attempted to add {added} additional partition(s), but only {} assignment(s) were specified.", assignments.len())),
            ));
        }
        // One broker: a new partition's replicas can only be this node.
        let node = c.config.node_id;
        if let Some(bad) = assignments
            .iter()
            .flat_map(|a| a.broker_ids.iter())
            .find(|b| b.0 != node)
        {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                Some(format!("The manual partition assignment includes broker {}, but no such broker is registered.", bad.0)),
            ));
        }
    }
    c.add_partitions(&wanted.name, wanted.count, validate_only)
        .map_err(refused)
}

pub fn handle(ctx: &Ctx<'_>, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let duplicated = super::duplicated(request.topics.iter().map(|t| t.name.as_str()));
    let mut results: Vec<CreatePartitionsTopicResult> = duplicated
        .iter()
        .map(|name| {
            CreatePartitionsTopicResult::default()
                .with_name(super::topic_name(name))
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(Some(str_bytes("Duplicate topic name.")))
        })
        .collect();
    results.extend(
        request
            .topics
            .iter()
            .filter(|t| !duplicated.contains(t.name.as_str()))
            .map(|wanted| {
                let result = CreatePartitionsTopicResult::default().with_name(wanted.name.clone());
                match grow(ctx, wanted, request.validate_only) {
                    Ok(()) => result,
                    Err((err, message)) => result
                        .with_error_code(err.code())
                        .with_error_message(message.as_deref().map(str_bytes)),
                }
            }),
    );
    CreatePartitionsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kafka_protocol::messages::{CreatePartitionsRequest, TopicName};

    use super::*;
    use crate::cluster::Cluster;
    use crate::config::BrokerConfig;

    fn grow_to(cluster: &Arc<Cluster>, topic: &str, count: i32) -> CreatePartitionsTopicResult {
        let ctx = Ctx {
            cluster,
            version: 3,
            client_id: "tester",
            client_host: "127.0.0.1",
        };
        let request =
            CreatePartitionsRequest::default().with_topics(vec![CreatePartitionsTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_count(count)
                .with_assignments(None)]);
        handle(&ctx, request).results.remove(0)
    }

    /// A produce that looked the topic up before the partitions were added appends to the
    /// very partition the new topic serves, not to a copy that would be lost.
    #[test]
    fn the_grown_topic_shares_its_old_partitions_and_the_limit_holds() {
        let config = BrokerConfig {
            max_partitions: 5,
            ..BrokerConfig::ephemeral()
        };
        let cluster = Arc::new(Cluster::open(config, "127.0.0.1".into(), 9092).expect("broker"));
        let old = cluster.create_topic("t", 2).expect("created");
        let grown = grow_to(&cluster, "t", 4);
        assert_eq!(grown.error_code, 0, "{grown:?}");
        let new = cluster.topic("t").expect("still there");
        assert_eq!(new.partitions.len(), 4);
        assert_eq!(old.partitions.len(), 2);
        for (before, after) in old.partitions.iter().zip(&new.partitions) {
            assert!(Arc::ptr_eq(before, after));
        }
        let refused = grow_to(&cluster, "t", 6);
        assert_eq!(refused.error_code, ResponseError::PolicyViolation.code());
        assert_eq!(cluster.topic("t").expect("topic").partitions.len(), 4);
    }
}
