//! DescribeConfigs: the settings admin tools and UIs ask for, for topics and the broker.
//! They are read-only here: what this broker does, stated in Kafka's configuration names.

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};
use crate::cluster::Topic;

/// Kafka's ConfigResource types.
pub const TOPIC: i8 = 2;
pub const BROKER: i8 = 4;
/// Kafka's ConfigSource DYNAMIC_TOPIC_CONFIG and DEFAULT_CONFIG, ConfigType STRING/INT/BOOLEAN/LONG.
const TOPIC_CONFIG: i8 = 1;
const DEFAULT_CONFIG: i8 = 5;
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;

/// (name, value, type, set on the topic rather than a default)
type Entry = (&'static str, String, i8, bool);

fn entries(ctx: &Ctx<'_>, resource_type: i8, topic: Option<&Topic>) -> Vec<Entry> {
    let c = &ctx.cluster.config;
    let default =
        |(name, value, config_type): (&'static str, String, i8)| (name, value, config_type, false);
    match resource_type {
        TOPIC => {
            let set = topic.map(|t| t.configs.entries()).unwrap_or_default();
            let topic_or = |name: &'static str, broker: String, config_type: i8| match set
                .iter()
                .find(|(n, _)| *n == name)
            {
                Some((_, value)) => (name, value.clone(), config_type, true),
                None => (name, broker, config_type, false),
            };
            vec![
                default(("cleanup.policy", "delete".into(), STRING)),
                default(("compression.type", "producer".into(), STRING)),
                topic_or("max.message.bytes", c.max_message_bytes.to_string(), INT),
                default(("message.timestamp.type", "CreateTime".into(), STRING)),
                default(("min.insync.replicas", "1".into(), INT)),
                topic_or("retention.bytes", c.retention_bytes.to_string(), LONG),
                topic_or("retention.ms", c.retention_ms.to_string(), LONG),
                topic_or("segment.bytes", c.segment_bytes.to_string(), INT),
                topic_or("segment.ms", c.segment_ms.to_string(), LONG),
            ]
        }
        _ => [
            (
                "advertised.listeners",
                format!(
                    "PLAINTEXT://{}:{}",
                    ctx.cluster.advertised_host, ctx.cluster.advertised_port
                ),
                STRING,
            ),
            (
                "auto.create.topics.enable",
                c.auto_create_topics.to_string(),
                BOOLEAN,
            ),
            ("broker.id", c.node_id.to_string(), INT),
            ("default.replication.factor", "1".into(), INT),
            ("fetch.max.bytes", c.fetch_max_bytes.to_string(), INT),
            (
                "log.dirs",
                c.data_dir
                    .as_ref()
                    .map_or("(in memory)".into(), |d| d.display().to_string()),
                STRING,
            ),
            ("log.retention.bytes", c.retention_bytes.to_string(), LONG),
            ("log.retention.ms", c.retention_ms.to_string(), LONG),
            ("log.roll.ms", c.segment_ms.to_string(), LONG),
            ("log.segment.bytes", c.segment_bytes.to_string(), INT),
            ("message.max.bytes", c.max_message_bytes.to_string(), INT),
            ("num.partitions", c.default_partitions.to_string(), INT),
            (
                "queued.max.request.bytes",
                c.queued_max_request_bytes.to_string(),
                LONG,
            ),
            (
                "socket.request.max.bytes",
                c.max_frame_bytes.to_string(),
                INT,
            ),
        ]
        .map(default)
        .into(),
    }
}

pub fn handle(ctx: &Ctx<'_>, request: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let topic = (resource.resource_type == TOPIC)
                .then(|| ctx.cluster.topic(&resource.resource_name))
                .flatten();
            let known = match resource.resource_type {
                TOPIC => topic.is_some(),
                BROKER => {
                    resource.resource_name.is_empty()
                        || *resource.resource_name == *ctx.cluster.config.node_id.to_string()
                }
                _ => false,
            };
            if !known {
                let err = if resource.resource_type == TOPIC {
                    ResponseError::UnknownTopicOrPartition
                } else {
                    ResponseError::InvalidRequest
                };
                let message = format!(
                    "no such resource: type {} name {:?}",
                    resource.resource_type,
                    resource.resource_name.as_str()
                );
                return result
                    .with_error_code(err.code())
                    .with_error_message(Some(str_bytes(&message)));
            }
            let configs = entries(ctx, resource.resource_type, topic.as_deref())
                .into_iter()
                .filter(|(name, _, _, _)| {
                    resource
                        .configuration_keys
                        .as_ref()
                        .is_none_or(|keys| keys.iter().any(|k| k.as_str() == *name))
                })
                .map(|(name, value, config_type, on_topic)| {
                    DescribeConfigsResourceResult::default()
                        .with_name(str_bytes(name))
                        .with_value(Some(str_bytes(&value)))
                        .with_read_only(true)
                        .with_config_source(if on_topic {
                            TOPIC_CONFIG
                        } else {
                            DEFAULT_CONFIG
                        })
                        .with_config_type(config_type)
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}
