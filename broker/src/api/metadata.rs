//! Metadata: this node as the only broker, controller and leader of every partition.
//! Unknown topics are created here when the client and the broker both allow it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name, Ctx};
use crate::cluster::Topic;
use crate::log::partition::LEADER_EPOCH;

fn describe(topic: &Topic, node: BrokerId) -> MetadataResponseTopic {
    let partitions = (0..topic.partitions.len() as i32)
        .map(|index| {
            MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(node)
                .with_leader_epoch(LEADER_EPOCH)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_partitions(partitions)
        .with_topic_authorized_operations(i32::MIN)
}

pub fn handle(ctx: &Ctx<'_>, request: MetadataRequest) -> MetadataResponse {
    let c = ctx.cluster;
    let node = BrokerId(c.config.node_id);
    // Before v4 a client could not say whether it wants auto-creation: it always got it.
    let allow_create = ctx.version < 4 || request.allow_auto_topic_creation;
    let topics = match request.topics {
        // v0 asks for all topics with an empty list; v1+ with null.
        None => c.all_topics().iter().map(|t| describe(t, node)).collect(),
        Some(list) if list.is_empty() && ctx.version == 0 => {
            c.all_topics().iter().map(|t| describe(t, node)).collect()
        }
        Some(list) => list
            .into_iter()
            .map(|wanted| {
                let found = match &wanted.name {
                    Some(name) => c.topic_or_create(name, allow_create),
                    None => c
                        .topic_by_id(wanted.topic_id)
                        .ok_or(ResponseError::UnknownTopicId),
                };
                match found {
                    Ok(topic) => describe(&topic, node),
                    Err(err) => MetadataResponseTopic::default()
                        .with_error_code(err.code())
                        .with_name(wanted.name)
                        .with_topic_id(wanted.topic_id),
                }
            })
            .collect(),
    };
    let broker = MetadataResponseBroker::default()
        .with_node_id(node)
        .with_host(str_bytes(&c.advertised_host))
        .with_port(c.advertised_port);
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_cluster_id(Some(str_bytes(&c.config.cluster_id)))
        .with_controller_id(node)
        .with_topics(topics)
        .with_cluster_authorized_operations(i32::MIN)
}
