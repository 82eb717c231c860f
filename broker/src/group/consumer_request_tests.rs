//! KIP-848 through the request handlers: ConsumerGroupHeartbeat's checks, a group id held by
//! one protocol refusing the other, and the offset APIs' member epoch checks.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    GroupId, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, RequestKind, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::request_tests::{call, join, join_request};
use crate::api::{str_bytes, topic_name};
use crate::cluster::Cluster;
use crate::config::BrokerConfig;

fn broker() -> Arc<Cluster> {
    let cluster = Cluster::open(BrokerConfig::ephemeral(), "127.0.0.1".into(), 9092);
    let cluster = Arc::new(cluster.expect("an in-memory broker"));
    cluster.create_topic("t", 4).expect("topic");
    cluster
}

fn joining(member_id: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes("g")))
        .with_member_id(str_bytes(member_id))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic_name("t")]))
        .with_topic_partitions(Some(Vec::new()))
}

async fn heartbeat(
    cluster: &Arc<Cluster>,
    version: i16,
    r: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    match call(cluster, version, RequestKind::ConsumerGroupHeartbeat(r)).await {
        ResponseKind::ConsumerGroupHeartbeat(response) => response,
        _ => panic!("not a ConsumerGroupHeartbeat answer"),
    }
}

#[tokio::test]
async fn heartbeat_requests_are_checked_as_kafka_does() {
    let cluster = broker();
    let invalid = ResponseError::InvalidRequest.code();
    let cases = [
        (1, joining(""), invalid),
        (1, joining("m").with_rebalance_timeout_ms(-1), invalid),
        (1, joining("m").with_topic_partitions(None), invalid),
        (1, joining("m").with_subscribed_topic_names(None), invalid),
        (1, joining("m").with_member_epoch(-3), invalid),
        (1, joining("m").with_member_epoch(-2), invalid),
        (
            1,
            joining("m").with_server_assignor(Some(str_bytes("sticky"))),
            ResponseError::UnsupportedAssignor.code(),
        ),
        (
            1,
            joining("m").with_member_epoch(3),
            ResponseError::UnknownMemberId.code(),
        ),
    ];
    for (version, request, code) in cases {
        let response = heartbeat(&cluster, version, request.clone()).await;
        assert_eq!(response.error_code, code, "{request:?}");
        assert!(response.error_message.is_some());
    }
    // v0: the coordinator names the member; range is asked for and used.
    let joined = heartbeat(
        &cluster,
        0,
        joining("").with_server_assignor(Some(str_bytes("range"))),
    )
    .await;
    assert_eq!((joined.error_code, joined.member_epoch), (0, 1));
    assert!(joined.member_id.as_deref().is_some_and(|id| !id.is_empty()));
    let partitions = &joined.assignment.expect("assigned").topic_partitions;
    assert_eq!(partitions[0].partitions, [0, 1, 2, 3]);
    assert_eq!(joined.heartbeat_interval_ms, 5_000);

    let request = ConsumerGroupDescribeRequest::default()
        .with_group_ids(vec![GroupId(str_bytes("g")), GroupId(str_bytes("none"))]);
    let ResponseKind::ConsumerGroupDescribe(described) =
        call(&cluster, 1, RequestKind::ConsumerGroupDescribe(request)).await
    else {
        panic!("not a ConsumerGroupDescribe answer");
    };
    let (g, none) = (&described.groups[0], &described.groups[1]);
    assert_eq!(
        (g.error_code, g.group_state.as_str(), g.group_epoch),
        (0, "Stable", 1)
    );
    assert_eq!((g.assignor_name.as_str(), g.members.len()), ("range", 1));
    assert_eq!(
        g.members[0].assignment.topic_partitions[0]
            .topic_name
            .as_str(),
        "t"
    );
    assert_eq!(none.error_code, ResponseError::GroupIdNotFound.code());
}

#[tokio::test]
async fn a_group_with_members_of_one_protocol_refuses_the_other() {
    let cluster = broker();
    let member = heartbeat(&cluster, 1, joining("m")).await;
    assert_eq!(member.error_code, 0);
    let classic = join(&cluster, 5, join_request("x", "consumer", &["range"])).await;
    assert_eq!(
        classic.error_code,
        ResponseError::InconsistentGroupProtocol.code()
    );

    let listed = match call(
        &cluster,
        5,
        RequestKind::ListGroups(ListGroupsRequest::default()),
    )
    .await
    {
        ResponseKind::ListGroups(r) => r.groups,
        _ => panic!("not a ListGroups answer"),
    };
    assert_eq!(listed[0].group_type.as_str(), "consumer");
    let filtered = ListGroupsRequest::default().with_types_filter(vec![str_bytes("classic")]);
    match call(&cluster, 5, RequestKind::ListGroups(filtered)).await {
        ResponseKind::ListGroups(r) => assert!(r.groups.is_empty()),
        _ => panic!("not a ListGroups answer"),
    }

    // Once the member left, the id may serve a classic group, and then refuses KIP-848.
    let left = heartbeat(&cluster, 1, joining("m").with_member_epoch(-1)).await;
    assert_eq!((left.error_code, left.member_epoch), (0, -1));
    assert_eq!(left.heartbeat_interval_ms, 0);
    let first = join(&cluster, 5, join_request("", "consumer", &["range"])).await;
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    let refused = heartbeat(&cluster, 1, joining("n")).await;
    assert_eq!(refused.error_code, ResponseError::GroupIdNotFound.code());
}

#[tokio::test]
async fn offsets_are_checked_against_the_member_epoch() {
    let cluster = broker();
    assert_eq!(heartbeat(&cluster, 1, joining("m")).await.member_epoch, 1);
    let commit = |member: &str, epoch: i32| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes("g")))
            .with_member_id(str_bytes(member))
            .with_generation_id_or_member_epoch(epoch)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name("t"))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(7)])])
    };
    let cases = [
        (9, commit("m", 1), 0),
        (9, commit("m", 0), ResponseError::StaleMemberEpoch.code()),
        (9, commit("x", 1), ResponseError::UnknownMemberId.code()),
        (9, commit("", -1), ResponseError::UnknownMemberId.code()),
        (8, commit("m", 1), ResponseError::UnsupportedVersion.code()),
    ];
    for (version, request, code) in cases {
        match call(&cluster, version, RequestKind::OffsetCommit(request)).await {
            ResponseKind::OffsetCommit(r) => assert_eq!(r.topics[0].partitions[0].error_code, code),
            _ => panic!("not an OffsetCommit answer"),
        }
    }
    for (member, epoch, code) in [
        (Some("m"), 1, 0),
        (None, -1, 0),
        (Some("m"), 2, ResponseError::StaleMemberEpoch.code()),
        (Some("x"), 1, ResponseError::UnknownMemberId.code()),
    ] {
        let group = OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(str_bytes("g")))
            .with_member_id(member.map(str_bytes))
            .with_member_epoch(epoch)
            .with_topics(None);
        let request = OffsetFetchRequest::default().with_groups(vec![group]);
        match call(&cluster, 9, RequestKind::OffsetFetch(request)).await {
            ResponseKind::OffsetFetch(r) => {
                assert_eq!(r.groups[0].error_code, code, "{member:?} {epoch}");
                let committed = r.groups[0]
                    .topics
                    .first()
                    .map(|t| t.partitions[0].committed_offset);
                assert_eq!(committed, (code == 0).then_some(7));
            }
            _ => panic!("not an OffsetFetch answer"),
        }
    }
}
