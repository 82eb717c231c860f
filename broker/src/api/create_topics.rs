//! CreateTopics, with Kafka's error codes for bad names, counts and duplicates.

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};
use crate::cluster::{valid_topic_name, Cluster, MAX_PARTITIONS_PER_REQUEST};
use crate::topic_config::TopicConfigs;
use crate::topic_store::TopicSpec;

/// The configs the request sets on the topic. Configs this broker does not apply are accepted
/// and ignored (it keeps everything until retention, compacts nothing).
fn configs(wanted: &CreatableTopic) -> Result<TopicConfigs, String> {
    let mut configs = TopicConfigs::default();
    for config in &wanted.configs {
        configs.set(&config.name, config.value.as_deref().unwrap_or_default())?;
    }
    Ok(configs)
}

/// The partitions a topic of the request asks for: its count, its assignments, or the default.
fn partitions_of(c: &Cluster, wanted: &CreatableTopic) -> i32 {
    match (wanted.num_partitions, wanted.assignments.len()) {
        (-1, 0) => c.config.default_partitions,
        (-1, n) => i32::try_from(n).unwrap_or(i32::MAX),
        (n, _) => n,
    }
}

pub fn handle(ctx: &Ctx<'_>, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let c = ctx.cluster;
    let duplicated = super::duplicated(request.topics.iter().map(|t| t.name.as_str()));
    // KAFKA-17870: more than 10,000 partitions in one request fails every topic in it.
    let requested: i64 = request
        .topics
        .iter()
        .map(|t| i64::from(partitions_of(c, t)).max(0))
        .sum();
    let too_many = requested > MAX_PARTITIONS_PER_REQUEST;
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let name = wanted.name.to_string();
            let partitions = partitions_of(c, &wanted);
            let result = CreatableTopicResult::default().with_name(wanted.name.clone());
            let fail = |err: ResponseError, message: String| {
                result
                    .clone()
                    .with_error_code(err.code())
                    .with_error_message(Some(str_bytes(&message)))
            };
            if too_many {
                return fail(
                    ResponseError::PolicyViolation,
                    format!("{requested} partitions in one request: at most {MAX_PARTITIONS_PER_REQUEST}"),
                );
            }
            if duplicated.contains(&name) {
                return fail(
                    ResponseError::InvalidRequest,
                    format!("topic '{name}' appears more than once in the request"),
                );
            }
            if !valid_topic_name(&name) {
                return fail(
                    ResponseError::InvalidTopicException,
                    format!("'{name}' is not a legal topic name: use 1-249 of a-z A-Z 0-9 . _ -"),
                );
            }
            if !matches!(wanted.replication_factor, -1 | 1) {
                return fail(
                    ResponseError::InvalidReplicationFactor,
                    format!(
                        "replication factor {} is larger than the 1 available broker",
                        wanted.replication_factor
                    ),
                );
            }
            if partitions < 1 {
                return fail(
                    ResponseError::InvalidPartitions,
                    format!("number of partitions must be at least 1, not {partitions}"),
                );
            }
            if request.validate_only {
                return match c.topic(&name) {
                    Some(_) => fail(
                        ResponseError::TopicAlreadyExists,
                        format!("topic '{name}' already exists"),
                    ),
                    None => result
                        .with_num_partitions(partitions)
                        .with_replication_factor(1),
                };
            }
            let configs = match configs(&wanted) {
                Ok(configs) => configs,
                Err(message) => return fail(ResponseError::InvalidConfig, message),
            };
            let spec = TopicSpec {
                partitions,
                configs,
            };
            match c.create_topic_with(&name, spec) {
                Ok(topic) => result
                    .with_topic_id(topic.id)
                    .with_num_partitions(partitions)
                    .with_replication_factor(1),
                Err(ResponseError::TopicAlreadyExists) => fail(
                    ResponseError::TopicAlreadyExists,
                    format!("topic '{name}' already exists"),
                ),
                Err(ResponseError::PolicyViolation) => fail(
                    ResponseError::PolicyViolation,
                    format!(
                        "{partitions} more partitions would pass the broker's limit of {} (max_partitions)",
                        c.config.max_partitions
                    ),
                ),
                Err(ResponseError::InvalidPartitions) => fail(
                    ResponseError::InvalidPartitions,
                    format!("number of partitions must be 1 to {MAX_PARTITIONS_PER_REQUEST}, not {partitions}"),
                ),
                Err(err) => fail(err, format!("cannot create topic '{name}': {err}")),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}
