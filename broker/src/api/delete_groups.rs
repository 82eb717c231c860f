//! DeleteGroups: removes Empty groups and their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let results = request
        .groups_names
        .into_iter()
        .map(|id| {
            let code = match ctx.cluster.groups.delete_group(&id) {
                Ok(()) => {
                    tracing::info!(group = %id.as_str(), "group deleted");
                    0
                }
                Err(err) => err.code(),
            };
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
