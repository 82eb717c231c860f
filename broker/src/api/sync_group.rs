//! SyncGroup: the leader's assignments are handed to every member of the generation.

use bytes::Bytes;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;

use super::{str_bytes, Ctx};

pub async fn handle(ctx: &Ctx<'_>, request: SyncGroupRequest) -> SyncGroupResponse {
    let member_id = request.member_id.to_string();
    let assignments = request
        .assignments
        .into_iter()
        // Copies, kept by the group: not slices holding the request frame alive.
        .map(|a| {
            (
                a.member_id.to_string(),
                Bytes::copy_from_slice(&a.assignment),
            )
        })
        .collect();
    let (tx, rx) = oneshot::channel();
    let found = ctx
        .cluster
        .groups
        .with_existing(&request.group_id, |group| {
            let (protocol_type, protocol) = (group.protocol_type.clone(), group.protocol.clone());
            let mismatch = |asked: &Option<kafka_protocol::protocol::StrBytes>,
                            have: &Option<String>| {
                asked
                    .as_ref()
                    .is_some_and(|a| have.as_deref() != Some(a.as_str()))
            };
            if mismatch(&request.protocol_type, &protocol_type)
                || mismatch(&request.protocol_name, &protocol)
            {
                let _ = tx.send(Err(ResponseError::InconsistentGroupProtocol.code()));
            } else {
                group.sync(&member_id, request.generation_id, assignments, tx);
            }
            (protocol_type, protocol)
        });
    let Some((protocol_type, protocol)) = found else {
        return SyncGroupResponse::default().with_error_code(ResponseError::UnknownMemberId.code());
    };
    let response = SyncGroupResponse::default()
        .with_protocol_type(protocol_type.as_deref().map(str_bytes))
        .with_protocol_name(protocol.as_deref().map(str_bytes));
    match rx.await {
        Ok(Ok(assignment)) => response.with_assignment(assignment),
        Ok(Err(code)) => response.with_error_code(code),
        Err(_) => response.with_error_code(ResponseError::RebalanceInProgress.code()),
    }
}
