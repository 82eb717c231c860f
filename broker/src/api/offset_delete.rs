//! OffsetDelete: removes a group's committed offsets of some partitions, refused for topics
//! the group's consumers subscribe to.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use kafka_protocol::ResponseError;

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let c = ctx.cluster;
    // As Kafka: partitions the broker does not have are answered here, the rest go to the
    // group coordinator.
    let exists = |topic: &str, partition: i32| {
        c.topic(topic)
            .is_some_and(|t| t.partition(partition).is_some())
    };
    let wanted: Vec<(String, Vec<i32>)> = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| p.partition_index)
                .filter(|&p| exists(&t.name, p))
                .collect();
            (t.name.to_string(), partitions)
        })
        .collect();
    let results = match c.groups.delete_offsets(&request.group_id, &wanted) {
        Ok(results) => results,
        Err(err) => return OffsetDeleteResponse::default().with_error_code(err.code()),
    };
    let topics = request
        .topics
        .into_iter()
        .zip(results)
        .map(|(topic, deleted)| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let index = p.partition_index;
                    let code = match deleted.iter().find(|(d, _)| *d == index) {
                        Some((_, err)) => err.map_or(0, |e| e.code()),
                        None => ResponseError::UnknownTopicOrPartition.code(),
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(code)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
