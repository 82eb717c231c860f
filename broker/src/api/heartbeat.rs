//! Heartbeat: keeps a member's session alive and tells it when a rebalance started.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use kafka_protocol::ResponseError;

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: HeartbeatRequest) -> HeartbeatResponse {
    let result = ctx
        .cluster
        .groups
        .with_existing(&request.group_id, |g| {
            g.heartbeat(&request.member_id, request.generation_id)
        })
        .unwrap_or(Err(ResponseError::UnknownMemberId));
    HeartbeatResponse::default().with_error_code(result.err().map_or(0, |e| e.code()))
}
