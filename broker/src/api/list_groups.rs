//! ListGroups, optionally filtered by state (v4+) and type (v5+; every group here is "classic").

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{str_bytes, Ctx};

pub fn handle(ctx: &Ctx<'_>, request: ListGroupsRequest) -> ListGroupsResponse {
    let groups = &ctx.cluster.groups;
    let wants_type = request.types_filter.is_empty()
        || request
            .types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case("classic"));
    let listed = groups
        .group_ids()
        .into_iter()
        .filter(|_| wants_type)
        .filter_map(|id| {
            groups.with_existing(&id, |g| {
                let state = g.state.name();
                let keep = request.states_filter.is_empty()
                    || request
                        .states_filter
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(state));
                keep.then(|| {
                    ListedGroup::default()
                        .with_group_id(GroupId(str_bytes(&id)))
                        .with_protocol_type(str_bytes(
                            g.protocol_type.as_deref().unwrap_or("consumer"),
                        ))
                        .with_group_state(str_bytes(state))
                        .with_group_type(str_bytes("classic"))
                })
            })?
        })
        .collect();
    ListGroupsResponse::default().with_groups(listed)
}
