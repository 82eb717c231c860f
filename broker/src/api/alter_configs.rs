//! AlterConfigs (the older, whole-set form): a topic's configs become exactly those given,
//! the others back to the broker's defaults. See incremental_alter_configs.rs for the usual one.

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::ResponseError;

use super::describe_configs::{BROKER, TOPIC};
use super::{str_bytes, Ctx};
use crate::topic_config::TopicConfigs;

/// The answer for a resource that is not a topic.
pub fn refuse_resource(resource_type: i8) -> (ResponseError, String) {
    if resource_type == BROKER {
        (
            ResponseError::InvalidRequest,
            "the built-in broker's configs are set at its start, not altered".into(),
        )
    } else {
        (
            ResponseError::InvalidRequest,
            format!("unsupported resource type {resource_type}"),
        )
    }
}

pub fn handle(ctx: &Ctx<'_>, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = request
        .resources
        .into_iter()
        .map(|resource| {
            let response = AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let altered = if resource.resource_type == TOPIC {
                ctx.cluster.alter_topic_configs(
                    &resource.resource_name,
                    request.validate_only,
                    |configs| {
                        let mut replaced = TopicConfigs::default();
                        for config in &resource.configs {
                            replaced
                                .alter(&config.name, Some(config.value.as_deref().unwrap_or("")))?;
                        }
                        *configs = replaced;
                        Ok(())
                    },
                )
            } else {
                Err(refuse_resource(resource.resource_type))
            };
            match altered {
                Ok(()) => response,
                Err((err, message)) => response
                    .with_error_code(err.code())
                    .with_error_message(Some(str_bytes(&message))),
            }
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}
