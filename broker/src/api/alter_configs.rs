//! AlterConfigs (the older, whole-set form): a topic's configs become exactly those given,
//! the others back to the broker's defaults. See incremental_alter_configs.rs for the usual one.

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::describe_configs::{BROKER, TOPIC};
use super::{str_bytes, Ctx};
use crate::topic_config::TopicConfigs;

/// Alters one resource's configs with `change`, which only topics have here; the error code
/// and message for its answer (0 and none when done).
pub fn alter_resource(
    ctx: &Ctx<'_>,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    change: impl FnOnce(&mut TopicConfigs) -> Result<(), String>,
) -> (i16, Option<StrBytes>) {
    let altered = match resource_type {
        TOPIC => ctx.cluster.alter_topic_configs(name, validate_only, change),
        BROKER => Err((
            ResponseError::InvalidRequest,
            "the built-in broker's configs are set at its start, not altered".into(),
        )),
        other => Err((
            ResponseError::InvalidRequest,
            format!("unsupported resource type {other}"),
        )),
    };
    match altered {
        Ok(()) => (0, None),
        Err((err, message)) => (err.code(), Some(str_bytes(&message))),
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
            let (code, message) = alter_resource(
                ctx,
                resource.resource_type,
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
            );
            response.with_error_code(code).with_error_message(message)
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}
