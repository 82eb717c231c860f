//! Offsets retention through the group APIs' handlers: Empty groups expire with their offsets
//! (ListGroups, DescribeGroups and OffsetFetch agree), groups with members do not, a restart
//! neither brings an expired group back nor restarts the clock, and groups with nothing to
//! keep take no memory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    DescribeGroupsRequest, GroupId, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
    RequestKind, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::expiry::EXPIRED_PER_TICK;
use super::lock;
use super::request_tests::{call, join, join_request, leave, sync, sync_request};
use crate::api::{str_bytes, topic_name};
use crate::cluster::Cluster;
use crate::config::BrokerConfig;

/// Long enough that nothing expires between two steps of a test unless the test says when.
const LONG: Duration = Duration::from_secs(600);
/// Short enough to wait for, for the tests that run the broker's own tick.
const SHORT: Duration = Duration::from_millis(20);

fn broker(retention: Duration, data_dir: Option<&Path>) -> Arc<Cluster> {
    let config = BrokerConfig {
        offsets_retention: retention,
        data_dir: data_dir.map(Path::to_path_buf),
        ..BrokerConfig::ephemeral()
    };
    let cluster = Cluster::open(config, "127.0.0.1".into(), 9092).expect("a broker");
    if cluster.topic("t").is_none() {
        cluster.create_topic("t", 1).expect("topic t");
    }
    Arc::new(cluster)
}

/// Commits `offset` for t/0; a member id and generation of `("", -1)` commit without
/// membership, as a consumer using `assign` does.
async fn commit_to(
    cluster: &Arc<Cluster>,
    group: &str,
    topic: &str,
    member: (&str, i32),
    offset: i64,
) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_member_id(str_bytes(member.0))
        .with_generation_id_or_member_epoch(member.1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    match call(cluster, 8, RequestKind::OffsetCommit(request)).await {
        ResponseKind::OffsetCommit(response) => response.topics[0].partitions[0].error_code,
        _ => panic!("not an OffsetCommit answer"),
    }
}

async fn commit(cluster: &Arc<Cluster>, group: &str, member: (&str, i32), offset: i64) {
    assert_eq!(commit_to(cluster, group, "t", member, offset).await, 0);
}

/// The group's committed offset for t/0, -1 if none.
async fn fetch(cluster: &Arc<Cluster>, group: &str) -> i64 {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(str_bytes(group)))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name("t"))
            .with_partition_indexes(vec![0])]));
    match call(cluster, 7, RequestKind::OffsetFetch(request)).await {
        ResponseKind::OffsetFetch(response) => response.topics[0].partitions[0].committed_offset,
        _ => panic!("not an OffsetFetch answer"),
    }
}

async fn listed(cluster: &Arc<Cluster>) -> Vec<String> {
    let request = RequestKind::ListGroups(ListGroupsRequest::default());
    match call(cluster, 4, request).await {
        ResponseKind::ListGroups(response) => response
            .groups
            .iter()
            .map(|g| g.group_id.to_string())
            .collect(),
        _ => panic!("not a ListGroups answer"),
    }
}

async fn described(cluster: &Arc<Cluster>, group: &str) -> String {
    let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(group))]);
    match call(cluster, 5, RequestKind::DescribeGroups(request)).await {
        ResponseKind::DescribeGroups(response) => response.groups[0].group_state.to_string(),
        _ => panic!("not a DescribeGroups answer"),
    }
}

/// A member that joins `group` (JoinGroup v3: the id at once), leads it to Stable and commits
/// `offset`; returns its member id.
async fn consume(cluster: &Arc<Cluster>, group: &str, offset: i64) -> String {
    let request = join_request("", "consumer", &["range"]).with_group_id(GroupId(str_bytes(group)));
    let joined = join(cluster, 3, request).await;
    let member = joined.member_id.to_string();
    let request = sync_request(&member, joined.generation_id, &[(&member, "t-0")])
        .with_group_id(GroupId(str_bytes(group)));
    assert_eq!(sync(cluster, request).await.error_code, 0);
    commit(cluster, group, (&member, joined.generation_id), offset).await;
    member
}

#[tokio::test]
async fn an_empty_group_with_offsets_is_gone_after_the_retention() {
    let cluster = broker(SHORT, None);
    let start = SystemTime::now();
    commit(&cluster, "simple", ("", -1), 5).await;
    let member = consume(&cluster, "consumer", 7).await;
    assert_eq!(leave(&cluster, 1, "consumer", &member).await.error_code, 0);

    cluster
        .groups
        .expire(start + SHORT - Duration::from_millis(1));
    assert_eq!(listed(&cluster).await, ["consumer", "simple"], "not yet");
    assert_eq!(described(&cluster, "consumer").await, "Empty");
    assert_eq!(
        (
            fetch(&cluster, "simple").await,
            fetch(&cluster, "consumer").await
        ),
        (5, 7)
    );

    tokio::time::sleep(SHORT * 3).await;
    cluster.groups.tick();
    assert!(listed(&cluster).await.is_empty());
    for group in ["simple", "consumer"] {
        assert_eq!(described(&cluster, group).await, "Dead", "{group}");
        assert_eq!(fetch(&cluster, group).await, -1, "{group}");
    }
}

#[tokio::test]
async fn a_group_with_members_keeps_its_offsets_however_old() {
    let cluster = broker(SHORT, None);
    commit(&cluster, "g", ("", -1), 1).await;
    let member = consume(&cluster, "g", 7).await;
    tokio::time::sleep(SHORT * 3).await;
    cluster.groups.tick();
    cluster.groups.expire(SystemTime::now() + LONG);
    assert_eq!(described(&cluster, "g").await, "Stable");
    assert_eq!(fetch(&cluster, "g").await, 7);

    let before_leaving = SystemTime::now();
    assert_eq!(leave(&cluster, 1, "g", &member).await.error_code, 0);
    cluster
        .groups
        .expire(before_leaving + SHORT - Duration::from_millis(1));
    assert_eq!(
        fetch(&cluster, "g").await,
        7,
        "the clock starts when the last member leaves"
    );
    cluster.groups.expire(SystemTime::now() + SHORT);
    assert_eq!(fetch(&cluster, "g").await, -1);
}

/// The clock of a group without members runs from its last commit, not its first.
#[tokio::test]
async fn a_commit_without_members_restarts_the_clock() {
    let cluster = broker(LONG, None);
    commit(&cluster, "g", ("", -1), 1).await;
    let after_first = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    commit(&cluster, "g", ("", -1), 2).await;
    cluster.groups.expire(after_first + LONG);
    assert_eq!(fetch(&cluster, "g").await, 2);
    cluster.groups.expire(SystemTime::now() + LONG);
    assert_eq!(fetch(&cluster, "g").await, -1);
}

#[tokio::test]
async fn a_restart_does_not_bring_an_expired_group_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = broker(LONG, Some(dir.path()));
    commit(&cluster, "gone", ("", -1), 3).await;
    let between = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    commit(&cluster, "kept", ("", -1), 5).await;
    cluster.groups.expire(between + LONG);
    assert_eq!(listed(&cluster).await, ["kept"]);
    drop(cluster);

    let restarted = broker(LONG, Some(dir.path()));
    assert_eq!(listed(&restarted).await, ["kept"]);
    assert_eq!(fetch(&restarted, "gone").await, -1);
    assert_eq!(fetch(&restarted, "kept").await, 5);
}

/// A restarted broker counts from when each group became Empty or last committed, as recorded,
/// not from its own start; a group that had members when the broker stopped counts from the start.
#[tokio::test]
async fn a_restart_keeps_each_groups_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = broker(LONG, Some(dir.path()));
    commit(&cluster, "idle", ("", -1), 3).await;
    consume(&cluster, "busy", 4).await;
    let before_restart = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(cluster);

    let restarted = broker(LONG, Some(dir.path()));
    restarted.groups.expire(before_restart + LONG);
    assert_eq!(
        fetch(&restarted, "idle").await,
        -1,
        "idle since before the restart"
    );
    assert_eq!(
        fetch(&restarted, "busy").await,
        4,
        "Empty only since the restart"
    );
    restarted.groups.expire(SystemTime::now() + LONG);
    assert_eq!(fetch(&restarted, "busy").await, -1);
}

/// A client joining and leaving, or committing nothing to, ever new groups leaves none of them
/// in memory; one committing to ever new groups leaves them for the retention, and the tick
/// checks none of them but the ones due.
#[tokio::test]
async fn groups_with_nothing_to_keep_are_removed_at_once() {
    let cluster = broker(LONG, None);
    for i in 0..300 {
        let group = format!("hostile-{i}");
        let id = GroupId(str_bytes(&group));
        let joined = join(
            &cluster,
            3,
            join_request("", "consumer", &["range"]).with_group_id(id.clone()),
        )
        .await;
        assert_eq!(
            leave(&cluster, 1, &group, &joined.member_id)
                .await
                .error_code,
            0
        );
        let unknown = join(
            &cluster,
            5,
            join_request("made-up", "consumer", &["range"]).with_group_id(id),
        )
        .await;
        assert_eq!(unknown.error_code, ResponseError::UnknownMemberId.code());
        let refused = commit_to(&cluster, &group, "no-such-topic", ("", -1), 1).await;
        assert_eq!(refused, ResponseError::UnknownTopicOrPartition.code());
        assert_eq!(fetch(&cluster, &group).await, -1);
    }
    assert!(cluster.groups.group_ids().is_empty());
    assert!(lock(&cluster.groups.ticking).is_empty());
    assert!(lock(&cluster.groups.expiries).is_empty());

    // A member id handed out (JoinGroup v4+) keeps its group until the id expires unused.
    let id = GroupId(str_bytes("pending"));
    let first = join(
        &cluster,
        5,
        join_request("", "consumer", &["range"]).with_group_id(id),
    )
    .await;
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    assert_eq!(cluster.groups.group_ids(), ["pending"]);
    let later = std::time::Instant::now() + Duration::from_secs(60);
    cluster.groups.with_existing("pending", |g| g.tick(later));
    assert!(cluster.groups.group_ids().is_empty());
    assert!(lock(&cluster.groups.ticking).is_empty());

    let committed = EXPIRED_PER_TICK + 1;
    for i in 0..committed {
        commit(&cluster, &format!("simple-{i}"), ("", -1), 1).await;
    }
    assert_eq!(cluster.groups.group_ids().len(), committed);
    assert!(
        lock(&cluster.groups.ticking).is_empty(),
        "no timeouts to check"
    );
    assert_eq!(lock(&cluster.groups.expiries).len(), committed);
    let due = SystemTime::now() + LONG;
    cluster.groups.expire(due);
    assert_eq!(
        cluster.groups.group_ids().len(),
        1,
        "at most {EXPIRED_PER_TICK} a tick"
    );
    cluster.groups.expire(due);
    assert!(cluster.groups.group_ids().is_empty());
    assert!(lock(&cluster.groups.expiries).is_empty());
}

/// Deleting a topic removes its offsets; a group left Empty with none is removed with them.
#[tokio::test]
async fn deleting_a_topic_removes_the_groups_it_leaves_without_offsets() {
    let cluster = broker(LONG, None);
    cluster.create_topic("u", 1).expect("topic u");
    commit(&cluster, "only-t", ("", -1), 1).await;
    commit(&cluster, "t-and-u", ("", -1), 1).await;
    assert_eq!(commit_to(&cluster, "t-and-u", "u", ("", -1), 2).await, 0);
    let member = consume(&cluster, "member", 3).await;
    cluster.delete_topic("t").expect("delete t");
    assert_eq!(listed(&cluster).await, ["member", "t-and-u"]);
    assert_eq!(described(&cluster, "member").await, "Stable");
    assert_eq!(leave(&cluster, 1, "member", &member).await.error_code, 0);
    assert_eq!(listed(&cluster).await, ["t-and-u"]);
}
