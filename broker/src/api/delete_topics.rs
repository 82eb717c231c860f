//! DeleteTopics, by name (all versions) or by id (v6).

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::ResponseError;

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let c = ctx.cluster;
    let wanted: Vec<(Option<TopicName>, uuid::Uuid)> = if ctx.version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), uuid::Uuid::nil()))
            .collect()
    };
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let name = name
                .map(|n| n.to_string())
                .or_else(|| c.topic_by_id(id).map(|t| t.name.clone()));
            let result =
                DeletableTopicResult::default().with_name(name.as_deref().map(super::topic_name));
            match name.as_deref().map(|n| c.delete_topic(n)) {
                Some(Ok(id)) => result.with_topic_id(id),
                Some(Err(err)) => result.with_error_code(err.code()),
                None => result
                    .with_topic_id(id)
                    .with_error_code(ResponseError::UnknownTopicId.code()),
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
