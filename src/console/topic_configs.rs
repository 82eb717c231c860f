//! A topic's configuration: read with DescribeConfigs (rdkafka), changed with
//! IncrementalAlterConfigs sent by the console's own protocol client ([`super::wire`]).
//! rdkafka offers only the older AlterConfigs, which replaces every config of the topic with
//! the ones sent: setting retention.ms that way would silently drop every other override.

use std::fmt;
use std::time::Duration;

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::error::KafkaError;

use super::error::{protocol_error, ConsoleError};
use super::wire::{self, Security, WireError};
use crate::kafka::{Context, Kafka};

/// Kafka's ConfigResource type of a topic, and the IncrementalAlterConfigs operations used.
const TOPIC: i8 = 2;
const SET: i8 = 0;
const DELETE: i8 = 1;
/// v1 (flexible) is served by Kafka since 2.4, 4.x included, and by the built-in broker.
const VERSION: i16 = 1;

/// One config as the broker described it.
pub struct ConfigInfo {
    pub name: String,
    /// `None` when the broker keeps it to itself (sensitive) or has no value.
    pub value: Option<String>,
    pub source: &'static str,
    pub read_only: bool,
    pub sensitive: bool,
}

/// Where a value comes from, in the words a person reading the page uses.
fn source(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::Default => "default",
        ConfigSource::DynamicTopic => "topic",
        ConfigSource::DynamicBroker => "broker (dynamic)",
        ConfigSource::DynamicDefaultBroker => "broker (cluster default)",
        ConfigSource::StaticBroker => "broker (server.properties)",
        ConfigSource::Unknown => "unknown",
    }
}

/// The topic's configs, sorted by name.
pub async fn describe(
    admin: &AdminClient<Context>,
    topic: &str,
) -> Result<Vec<ConfigInfo>, ConsoleError> {
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    let results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &options)
        .await?;
    let resource = results
        .into_iter()
        .next()
        .ok_or(KafkaError::AdminOpCreation("Kafka gave no answer".into()))?
        .map_err(KafkaError::AdminOp)?;
    let mut configs: Vec<ConfigInfo> = resource
        .entries
        .into_iter()
        .map(|e| ConfigInfo {
            source: source(&e.source),
            name: e.name,
            value: e.value,
            read_only: e.is_read_only,
            sensitive: e.is_sensitive,
        })
        .collect();
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs)
}

/// One change: set `name` to `value`, or (`None`) delete the topic's own value so the
/// default applies again.
#[derive(Debug, PartialEq)]
pub struct Edit {
    pub name: &'static str,
    pub value: Option<String>,
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{} set to {value}", self.name),
            None => write!(f, "{} back to the default", self.name),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlterError {
    /// Kafka's answer: its error code's name and its message.
    #[error("Kafka refused the change: {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Refused {
        code: String,
        message: Option<String>,
    },
    #[error("{0}")]
    Security(WireError),
    #[error("Kafka gave no answer for the topic")]
    NoAnswer,
    /// The last broker's failure; a broker that does not serve IncrementalAlterConfigs v1
    /// closes the connection, so that is said too.
    #[error("no broker took the change ({0}); a broker before Kafka 2.4 does not serve IncrementalAlterConfigs v1")]
    Unreachable(WireError),
}

/// The request that applies `edits` to `topic`.
pub fn request(topic: &str, edits: &[Edit]) -> IncrementalAlterConfigsRequest {
    let configs = edits
        .iter()
        .map(|e| {
            AlterableConfig::default()
                .with_name(StrBytes::from_static_str(e.name))
                .with_config_operation(if e.value.is_some() { SET } else { DELETE })
                .with_value(e.value.clone().map(StrBytes::from_string))
        })
        .collect();
    IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
        .with_resource_type(TOPIC)
        .with_resource_name(StrBytes::from_string(topic.to_string()))
        .with_configs(configs)])
}

fn outcome(response: &IncrementalAlterConfigsResponse) -> Result<(), AlterError> {
    let answer = response.responses.first().ok_or(AlterError::NoAnswer)?;
    match protocol_error(answer.error_code) {
        None => Ok(()),
        Some(code) => Err(AlterError::Refused {
            code,
            message: answer.error_message.as_ref().map(|m| m.to_string()),
        }),
    }
}

/// Sends the change to each broker in turn until one answers: for a topic any broker takes it
/// (and forwards it to the controller). Blocking; run it on the blocking pool.
pub fn alter(
    kafka: &Kafka,
    brokers: &[(String, i32)],
    topic: &str,
    edits: &[Edit],
) -> Result<(), AlterError> {
    let security = Security::from_kafka(kafka).map_err(AlterError::Security)?;
    let response = wire::to_any(brokers, &security, &request(topic, edits), VERSION)
        .map_err(AlterError::Unreachable)?;
    outcome(&response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;

    #[test]
    fn a_value_is_a_set_and_no_value_a_delete_of_one_topic() {
        let edits = [
            Edit {
                name: "retention.ms",
                value: Some("3600000".into()),
            },
            Edit {
                name: "retention.bytes",
                value: None,
            },
        ];
        let request = request("orders", &edits);
        assert!(!request.validate_only);
        let [resource] = &request.resources[..] else {
            panic!("one resource: {request:?}")
        };
        assert_eq!(resource.resource_type, TOPIC);
        assert_eq!(resource.resource_name.as_str(), "orders");
        let ops: Vec<_> = resource
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.as_str()),
                )
            })
            .collect();
        assert_eq!(
            ops,
            [
                ("retention.ms", SET, Some("3600000")),
                ("retention.bytes", DELETE, None)
            ]
        );
        assert_eq!(edits[0].to_string(), "retention.ms set to 3600000");
        assert_eq!(edits[1].to_string(), "retention.bytes back to the default");
    }

    #[test]
    fn kafkas_answer_becomes_its_error_name_and_message() {
        let answer = |code, message: Option<&'static str>| {
            IncrementalAlterConfigsResponse::default().with_responses(vec![
                AlterConfigsResourceResponse::default()
                    .with_error_code(code)
                    .with_error_message(message.map(StrBytes::from_static_str)),
            ])
        };
        assert!(outcome(&answer(0, None)).is_ok());
        let refused = outcome(&answer(
            40,
            Some("Invalid value abc for configuration retention.ms"),
        ));
        assert_eq!(
            refused.expect_err("refused").to_string(),
            "Kafka refused the change: INVALID_CONFIG: Invalid value abc for configuration retention.ms"
        );
        assert_eq!(
            outcome(&answer(9999, None))
                .expect_err("refused")
                .to_string(),
            "Kafka refused the change: error code 9999"
        );
        assert!(matches!(
            outcome(&IncrementalAlterConfigsResponse::default()),
            Err(AlterError::NoAnswer)
        ));
    }
}
