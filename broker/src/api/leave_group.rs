//! LeaveGroup: one member (v0-2) or a batch of members (v3+) leave, and the rest rebalance.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use kafka_protocol::ResponseError;

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, request: LeaveGroupRequest) -> LeaveGroupResponse {
    let groups = &ctx.cluster.groups;
    let leave = |member: &str| {
        groups
            .with_existing(&request.group_id, |g| g.leave(member))
            .unwrap_or(Err(ResponseError::UnknownMemberId))
    };
    if ctx.version < 3 {
        let code = leave(&request.member_id).err().map_or(0, |e| e.code());
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let members = request
        .members
        .into_iter()
        .map(|m| {
            let code = leave(&m.member_id).err().map_or(0, |e| e.code());
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(code)
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}
