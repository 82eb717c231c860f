//! ConsumerGroupDescribe (KIP-848): a consumer group's epochs, state, assignor and members
//! with their current and target assignments. A classic group, or an id no group has, is
//! GROUP_ID_NOT_FOUND, as in Kafka (Kafka's admin client then falls back to DescribeGroups).

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name, Ctx};
use crate::group::{self, ConsumerGroup};

/// Kafka's `member_type` for a member that speaks the consumer protocol.
const CONSUMER_MEMBER: i8 = 1;

fn assignment(ctx: &Ctx<'_>, a: Option<&group::Assignment>) -> Assignment {
    let topic_partitions = a
        .into_iter()
        .flatten()
        .map(|(id, ps)| {
            let name = ctx.cluster.topic_by_id(*id).map(|t| t.name.clone());
            TopicPartitions::default()
                .with_topic_id(*id)
                .with_topic_name(topic_name(&name.unwrap_or_default()))
                .with_partitions(ps.iter().copied().collect())
        })
        .collect();
    Assignment::default().with_topic_partitions(topic_partitions)
}

fn describe(ctx: &Ctx<'_>, g: &ConsumerGroup) -> DescribedGroup {
    let members = g
        .members
        .values()
        .map(|m| {
            Member::default()
                .with_member_id(str_bytes(&m.id))
                .with_instance_id(m.instance_id.as_deref().map(str_bytes))
                .with_rack_id(m.rack_id.as_deref().map(str_bytes))
                .with_member_epoch(m.position.epoch)
                .with_client_id(str_bytes(&m.client_id))
                .with_client_host(str_bytes(&format!("/{}", m.client_host)))
                .with_subscribed_topic_names(m.subscribed.iter().map(|t| topic_name(t)).collect())
                .with_assignment(assignment(ctx, Some(&m.position.assigned)))
                .with_target_assignment(assignment(ctx, g.target.get(&m.id)))
                .with_member_type(CONSUMER_MEMBER)
        })
        .collect();
    DescribedGroup::default()
        .with_group_state(str_bytes(g.state()))
        .with_group_epoch(g.epoch)
        .with_assignment_epoch(g.assignment_epoch)
        .with_assignor_name(str_bytes(g.assignor.name()))
        .with_members(members)
        .with_authorized_operations(i32::MIN)
}

pub fn handle(
    ctx: &Ctx<'_>,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let groups = request
        .group_ids
        .into_iter()
        .map(|id| {
            let found = ctx
                .cluster
                .groups
                .with_existing(&id, |g| g.consumer.as_ref().map(|c| describe(ctx, c)));
            let described = match found {
                Some(Some(d)) => d,
                Some(None) => not_found(format!("Group {} is not a consumer group.", id.as_str())),
                None => not_found(format!("Group {} not found.", id.as_str())),
            };
            described.with_group_id(id)
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

fn not_found(message: String) -> DescribedGroup {
    DescribedGroup::default()
        .with_error_code(ResponseError::GroupIdNotFound.code())
        .with_error_message(Some(str_bytes(&message)))
        .with_authorized_operations(i32::MIN)
}
