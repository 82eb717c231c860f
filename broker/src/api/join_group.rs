//! JoinGroup: the request is parked until every member has (re)joined or the rebalance
//! timeout ends the join phase; then each gets the generation, and the leader the members.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;

use super::{str_bytes, Ctx};
use crate::group::{JoinOutcome, Member};

/// Kafka's defaults for `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
const SESSION_TIMEOUT_MS: std::ops::RangeInclusive<i32> = 6_000..=1_800_000;

fn error(err: ResponseError, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(err.code())
        .with_generation_id(-1)
        .with_member_id(str_bytes(member_id))
}

pub async fn handle(ctx: &Ctx<'_>, request: JoinGroupRequest) -> JoinGroupResponse {
    let group_id = request.group_id.to_string();
    if group_id.is_empty() {
        return error(ResponseError::InvalidGroupId, "");
    }
    if !SESSION_TIMEOUT_MS.contains(&request.session_timeout_ms) {
        return error(ResponseError::InvalidSessionTimeout, &request.member_id);
    }
    let session = Duration::from_millis(request.session_timeout_ms as u64);
    let rebalance = if request.rebalance_timeout_ms > 0 {
        Duration::from_millis(request.rebalance_timeout_ms as u64)
    } else {
        session
    };
    let protocols: Vec<_> = request
        .protocols
        .iter()
        // A copy: the member keeps it for its lifetime, and a slice would keep the whole
        // request frame (padding included) alive with it.
        .map(|p| (p.name.to_string(), Bytes::copy_from_slice(&p.metadata)))
        .collect();
    let protocol_type = request.protocol_type.to_string();
    let joined = ctx.cluster.groups.with_group(&group_id, |group| {
        // A consumer group with members refuses classic members (no online migration).
        if !group.accepts_classic_join() || !group.accepts_protocols(&protocol_type, &protocols) {
            return Err((
                ResponseError::InconsistentGroupProtocol,
                request.member_id.to_string(),
            ));
        }
        let member_id = if request.member_id.is_empty() {
            let prefix = if ctx.client_id.is_empty() {
                "member"
            } else {
                ctx.client_id
            };
            let id = format!("{prefix}-{}", uuid::Uuid::new_v4());
            if ctx.version >= 4 {
                // KIP-394: hand out the id first; the member joins with it in its next request.
                group.add_pending(id.clone(), session);
                return Err((ResponseError::MemberIdRequired, id));
            }
            id
        } else {
            let id = request.member_id.to_string();
            if !group.members.contains_key(&id) && !group.is_pending(&id) {
                return Err((ResponseError::UnknownMemberId, id));
            }
            id
        };
        let (tx, rx) = oneshot::channel();
        let member = Member {
            id: member_id,
            instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
            client_id: ctx.client_id.to_string(),
            client_host: ctx.client_host.to_string(),
            session_timeout: session,
            rebalance_timeout: rebalance,
            protocols,
            assignment: Default::default(),
            last_seen: Instant::now(),
            join_waiter: Some(tx),
            sync_waiter: None,
        };
        group.join(member, &protocol_type);
        Ok(rx)
    });
    let rx = match joined {
        Ok(rx) => rx,
        Err((err, member_id)) => return error(err, &member_id),
    };
    match rx.await {
        Ok(outcome) => response(outcome),
        // The member sent a newer JoinGroup, which replaced this one.
        Err(_) => error(ResponseError::RebalanceInProgress, &request.member_id),
    }
}

fn response(outcome: JoinOutcome) -> JoinGroupResponse {
    let members = outcome
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(str_bytes(&id))
                .with_group_instance_id(instance.as_deref().map(str_bytes))
                .with_metadata(metadata)
        })
        .collect();
    JoinGroupResponse::default()
        .with_error_code(outcome.error)
        .with_generation_id(outcome.generation)
        .with_protocol_type(outcome.protocol_type.as_deref().map(str_bytes))
        .with_protocol_name(outcome.protocol_name.as_deref().map(str_bytes))
        .with_leader(str_bytes(&outcome.leader))
        .with_member_id(str_bytes(&outcome.member_id))
        .with_members(members)
}
