//! The group APIs through their handlers, as a client's decoded requests reach them: what the
//! handlers add to the state machine (KIP-394 member ids, protocol checks, unknown groups),
//! and a JoinGroup really parked until the rest of the group rejoins.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, RequestKind, ResponseKind, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::ResponseError;

use super::state::GroupState;
use crate::api::{self, str_bytes, Ctx};
use crate::cluster::Cluster;
use crate::config::BrokerConfig;

fn broker() -> Arc<Cluster> {
    let cluster = Cluster::open(BrokerConfig::ephemeral(), "127.0.0.1".into(), 9092);
    Arc::new(cluster.expect("an in-memory broker"))
}

pub(super) async fn call(
    cluster: &Arc<Cluster>,
    version: i16,
    request: RequestKind,
) -> ResponseKind {
    let ctx = Ctx {
        cluster,
        version,
        client_id: "tester",
        client_host: "127.0.0.1",
    };
    api::handle(&ctx, request)
        .await
        .expect("group APIs always answer")
}

pub(super) fn join_request(
    member_id: &str,
    protocol_type: &str,
    protocols: &[&str],
) -> JoinGroupRequest {
    let protocols = protocols
        .iter()
        .map(|p| {
            JoinGroupRequestProtocol::default()
                .with_name(str_bytes(p))
                .with_metadata(Bytes::from(format!("{member_id}/{p}")))
        })
        .collect();
    JoinGroupRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(str_bytes(member_id))
        .with_protocol_type(str_bytes(protocol_type))
        .with_protocols(protocols)
}

pub(super) async fn join(
    cluster: &Arc<Cluster>,
    version: i16,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    match call(cluster, version, RequestKind::JoinGroup(request)).await {
        ResponseKind::JoinGroup(response) => response,
        _ => panic!("not a JoinGroup answer"),
    }
}

/// KIP-394's two steps: ask for a member id, then join with it.
async fn join_as_new_member(cluster: &Arc<Cluster>) -> String {
    let first = join(cluster, 5, join_request("", "consumer", &["range"])).await;
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    first.member_id.to_string()
}

pub(super) fn sync_request(
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> SyncGroupRequest {
    let assignments = assignments
        .iter()
        .map(|(m, a)| {
            SyncGroupRequestAssignment::default()
                .with_member_id(str_bytes(m))
                .with_assignment(Bytes::from(a.to_string()))
        })
        .collect();
    SyncGroupRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_generation_id(generation)
        .with_member_id(str_bytes(member_id))
        .with_assignments(assignments)
}

pub(super) async fn sync(cluster: &Arc<Cluster>, request: SyncGroupRequest) -> SyncGroupResponse {
    match call(cluster, 5, RequestKind::SyncGroup(request)).await {
        ResponseKind::SyncGroup(response) => response,
        _ => panic!("not a SyncGroup answer"),
    }
}

async fn heartbeat(cluster: &Arc<Cluster>, group: &str, member_id: &str, generation: i32) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_member_id(str_bytes(member_id))
        .with_generation_id(generation);
    match call(cluster, 4, RequestKind::Heartbeat(request)).await {
        ResponseKind::Heartbeat(response) => response.error_code,
        _ => panic!("not a Heartbeat answer"),
    }
}

pub(super) async fn leave(
    cluster: &Arc<Cluster>,
    version: i16,
    group: &str,
    member: &str,
) -> LeaveGroupResponse {
    let request = LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(group)));
    let request = if version < 3 {
        request.with_member_id(str_bytes(member))
    } else {
        request.with_members(vec![
            MemberIdentity::default().with_member_id(str_bytes(member))
        ])
    };
    match call(cluster, version, RequestKind::LeaveGroup(request)).await {
        ResponseKind::LeaveGroup(response) => response,
        _ => panic!("not a LeaveGroup answer"),
    }
}

fn state(cluster: &Cluster) -> Option<GroupState> {
    cluster.groups.with_existing("g", |g| g.state)
}

#[tokio::test]
async fn a_first_join_without_member_id_gets_one_with_member_id_required() {
    let cluster = broker();
    let first = join(&cluster, 5, join_request("", "consumer", &["range"])).await;
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    assert_eq!(first.generation_id, -1);
    let id = first.member_id.to_string();
    assert!(
        id.starts_with("tester-"),
        "prefixed with the client id: {id}"
    );
    assert_eq!(state(&cluster), Some(GroupState::Empty), "not a member yet");

    let second = join(&cluster, 5, join_request(&id, "consumer", &["range"])).await;
    assert_eq!(second.error_code, 0);
    assert_eq!(second.generation_id, 1);
    assert_eq!(second.member_id.as_str(), id);
    assert_eq!(second.leader.as_str(), id);
    assert_eq!(second.protocol_name.as_deref(), Some("range"));
    assert_eq!(second.members.len(), 1);
    assert_eq!(
        second.members[0].metadata,
        Bytes::from(format!("{id}/range"))
    );
    assert_eq!(state(&cluster), Some(GroupState::CompletingRebalance));
}

#[tokio::test]
async fn join_group_before_v4_assigns_the_member_id_at_once() {
    let cluster = broker();
    let response = join(&cluster, 3, join_request("", "consumer", &["range"])).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(response.generation_id, 1);
    assert!(!response.member_id.is_empty());
    assert_eq!(response.leader, response.member_id);
}

#[tokio::test]
async fn a_member_id_the_group_never_handed_out_is_unknown() {
    let cluster = broker();
    let response = join(&cluster, 5, join_request("made-up", "consumer", &["range"])).await;
    assert_eq!(response.error_code, ResponseError::UnknownMemberId.code());
}

#[tokio::test]
async fn another_protocol_type_or_no_common_assignor_is_inconsistent() {
    let cluster = broker();
    let id = join_as_new_member(&cluster).await;
    join(
        &cluster,
        5,
        join_request(&id, "consumer", &["range", "roundrobin"]),
    )
    .await;
    let inconsistent = ResponseError::InconsistentGroupProtocol.code();
    for (protocol_type, protocols) in [("consumer", &["sticky"][..]), ("connect", &["range"][..])] {
        let response = join(&cluster, 5, join_request("", protocol_type, protocols)).await;
        assert_eq!(
            response.error_code, inconsistent,
            "{protocol_type} {protocols:?}"
        );
    }
    let shared = join(
        &cluster,
        5,
        join_request("", "consumer", &["sticky", "roundrobin"]),
    )
    .await;
    assert_eq!(
        shared.error_code,
        ResponseError::MemberIdRequired.code(),
        "one assignor in common is enough"
    );
    assert_eq!(state(&cluster), Some(GroupState::CompletingRebalance));

    let wrong_name = sync_request(&id, 1, &[]).with_protocol_name(Some(str_bytes("roundrobin")));
    assert_eq!(sync(&cluster, wrong_name).await.error_code, inconsistent);
    let wrong_type = sync_request(&id, 1, &[]).with_protocol_type(Some(str_bytes("connect")));
    assert_eq!(sync(&cluster, wrong_type).await.error_code, inconsistent);
    let right = sync_request(&id, 1, &[(&id, "p0")])
        .with_protocol_type(Some(str_bytes("consumer")))
        .with_protocol_name(Some(str_bytes("range")));
    let response = sync(&cluster, right).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(response.assignment, Bytes::from("p0"));
    assert_eq!(response.protocol_name.as_deref(), Some("range"));
}

#[tokio::test]
async fn requests_for_a_group_that_does_not_exist_name_an_unknown_member() {
    let cluster = broker();
    let unknown = ResponseError::UnknownMemberId.code();
    assert_eq!(heartbeat(&cluster, "nobody", "m", 1).await, unknown);
    let request = sync_request("m", 1, &[]).with_group_id(GroupId(str_bytes("nobody")));
    assert_eq!(sync(&cluster, request).await.error_code, unknown);
    assert_eq!(leave(&cluster, 1, "nobody", "m").await.error_code, unknown);
    let batch = leave(&cluster, 3, "nobody", "m").await;
    assert_eq!(batch.error_code, 0, "v3+ reports per member");
    assert_eq!(batch.members[0].error_code, unknown);
}

#[tokio::test]
async fn a_join_is_parked_until_the_group_rejoins_then_both_get_the_new_generation() {
    let cluster = broker();
    let a = join_as_new_member(&cluster).await;
    assert_eq!(
        join(&cluster, 5, join_request(&a, "consumer", &["range"]))
            .await
            .generation_id,
        1
    );
    let synced = sync(&cluster, sync_request(&a, 1, &[(&a, "all")])).await;
    assert_eq!(synced.assignment, Bytes::from("all"));
    assert_eq!(heartbeat(&cluster, "g", &a, 1).await, 0);

    let b = join_as_new_member(&cluster).await;
    let parked = tokio::spawn({
        let (cluster, b) = (cluster.clone(), b.clone());
        async move { join(&cluster, 5, join_request(&b, "consumer", &["range"])).await }
    });
    for _ in 0..100 {
        if state(&cluster) == Some(GroupState::PreparingRebalance) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(state(&cluster), Some(GroupState::PreparingRebalance));
    assert!(!parked.is_finished(), "b waits for a to rejoin");
    assert_eq!(
        heartbeat(&cluster, "g", &a, 1).await,
        ResponseError::RebalanceInProgress.code()
    );

    let leader = join(&cluster, 5, join_request(&a, "consumer", &["range"])).await;
    let follower = parked.await.expect("b's JoinGroup task");
    assert_eq!((leader.error_code, follower.error_code), (0, 0));
    assert_eq!((leader.generation_id, follower.generation_id), (2, 2));
    assert_eq!(leader.leader.as_str(), a);
    assert_eq!(follower.leader.as_str(), a);
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());

    let gone = leave(&cluster, 3, "g", &b).await;
    assert_eq!(gone.members[0].error_code, 0);
    assert_eq!(
        heartbeat(&cluster, "g", &a, 2).await,
        ResponseError::RebalanceInProgress.code(),
        "b's leaving starts a rebalance"
    );
}
