//! IncrementalAlterConfigs (what `kafka-configs --alter` and admin clients send): set or
//! delete a topic's configs, applied at once and kept in its `meta`. Broker configs are
//! fixed at start on this broker.

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::alter_configs::alter_resource;
use super::Ctx;

const SET: i8 = 0;
const DELETE: i8 = 1;

pub fn handle(
    ctx: &Ctx<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
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
                    for config in &resource.configs {
                        let value = config.value.as_deref();
                        match config.config_operation {
                            SET => configs.alter(&config.name, Some(value.unwrap_or(""))),
                            DELETE => configs.alter(&config.name, None),
                            _ => Err(format!(
                                "Config value append is not allowed for config key: {}",
                                config.name.as_str()
                            )),
                        }?;
                    }
                    Ok(())
                },
            );
            response.with_error_code(code).with_error_message(message)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
