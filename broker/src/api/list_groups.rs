//! ListGroups, optionally filtered by state (v4+) and type (v5+: "classic" or "consumer").

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{str_bytes, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: ListGroupsRequest) -> ListGroupsResponse {
    let groups = &ctx.cluster.groups;
    let wanted = |filter: &[kafka_protocol::protocol::StrBytes], value: &str| {
        filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
    };
    let listed = groups
        .group_ids()
        .into_iter()
        .filter_map(|id| {
            groups.with_existing(&id, |g| {
                let (kind, state, protocol_type) = match &g.consumer {
                    Some(c) => ("consumer", c.state(), "consumer"),
                    None => (
                        "classic",
                        g.state.name(),
                        g.protocol_type.as_deref().unwrap_or("consumer"),
                    ),
                };
                let keep =
                    wanted(&request.types_filter, kind) && wanted(&request.states_filter, state);
                keep.then(|| {
                    ListedGroup::default()
                        .with_group_id(GroupId(str_bytes(&id)))
                        .with_protocol_type(str_bytes(protocol_type))
                        .with_group_state(str_bytes(state))
                        .with_group_type(str_bytes(kind))
                })
            })?
        })
        .collect();
    ListGroupsResponse::default().with_groups(listed)
}
