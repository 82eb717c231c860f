//! DescribeGroups: state, protocol and members (with client id, host and assignment).

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{str_bytes, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            let described = ctx.cluster.groups.with_existing(&id, |g| {
                // Kafka describes a consumer group here as it does an unknown one (below);
                // ConsumerGroupDescribe is its API.
                if g.consumer.is_some() {
                    return None;
                }
                let protocol = g.protocol.clone().unwrap_or_default();
                let members = g
                    .members
                    .values()
                    .map(|m| {
                        DescribedGroupMember::default()
                            .with_member_id(str_bytes(&m.id))
                            .with_group_instance_id(m.instance_id.as_deref().map(str_bytes))
                            .with_client_id(str_bytes(&m.client_id))
                            .with_client_host(str_bytes(&format!("/{}", m.client_host)))
                            .with_member_metadata(m.metadata_for(&protocol))
                            .with_member_assignment(m.assignment.clone())
                    })
                    .collect();
                Some(
                    DescribedGroup::default()
                        .with_group_state(str_bytes(g.state.name()))
                        .with_protocol_type(str_bytes(g.protocol_type.as_deref().unwrap_or("")))
                        .with_protocol_data(str_bytes(&protocol))
                        .with_members(members)
                        .with_authorized_operations(i32::MIN),
                )
            });
            // Kafka describes a group it does not know as "Dead" with no error.
            described
                .flatten()
                .unwrap_or_else(|| {
                    DescribedGroup::default()
                        .with_group_state(str_bytes("Dead"))
                        .with_authorized_operations(i32::MIN)
                })
                .with_group_id(id)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
