//! The admin APIs Kafka's tools use, driven by rdkafka's admin client where it has the call
//! and by raw frames where it does not; every test passes on the built-in broker and on
//! Apache Kafka (`KAFKA_BROKERS`), the reference for each answer.

use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, DeleteGroupsRequest, DescribeAclsRequest,
    DescribeClusterRequest, DescribeProducersRequest, GroupId, ListTransactionsRequest,
    MetadataRequest, OffsetDeleteRequest, OffsetDeleteResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::common::{create_topic, eventually, wire, TestBroker};

/// A name no earlier run on the same real Kafka used.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    crate::common::client_config(bootstrap)
        .create()
        .expect("admin")
}

fn group_client(bootstrap: &str, group: &str) -> BaseConsumer {
    crate::common::group_config(bootstrap, group)
        .create()
        .expect("consumer")
}

/// Commits `offset` for each partition as a client outside the group's membership.
fn commit(client: &BaseConsumer, topic: &str, partitions: &[i32], offset: i64) {
    let mut list = TopicPartitionList::new();
    for &p in partitions {
        list.add_partition_offset(topic, p, Offset::Offset(offset))
            .expect("offset");
    }
    client.commit(&list, CommitMode::Sync).expect("commit");
}

/// The group's committed offsets of `topic`'s `partitions` (None: nothing committed).
fn committed(client: &BaseConsumer, topic: &str, partitions: &[i32]) -> Vec<Option<i64>> {
    let mut list = TopicPartitionList::new();
    for &p in partitions {
        list.add_partition(topic, p);
    }
    let got = client
        .committed_offsets(list, Duration::from_secs(10))
        .expect("OffsetFetch");
    partitions
        .iter()
        .map(
            |&p| match got.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            },
        )
        .collect()
}

/// Subscribes a member to `topic` and waits until it has the partitions and a record.
async fn subscribed_member(bootstrap: &str, group: &str, topic: &str) -> BaseConsumer {
    let producer: FutureProducer = crate::common::client_config(bootstrap)
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to(topic).key("k").payload("v"),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    let member = group_client(bootstrap, group);
    member.subscribe(&[topic]).expect("subscribe");
    tokio::task::block_in_place(|| loop {
        match member.poll(Duration::from_millis(500)) {
            Some(Ok(msg)) => {
                assert_eq!(msg.payload(), Some(&b"v"[..]));
                member
                    .commit_message(&msg, CommitMode::Sync)
                    .expect("commit");
                break;
            }
            Some(Err(err)) => panic!("consumer error: {err}"),
            None => {}
        }
    });
    member
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_groups_refuses_a_group_with_members_and_deletes_an_empty_one_with_its_offsets() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let (topic, group) = (unique("t-delgroup"), unique("g-delgroup"));
    create_topic(&bootstrap, &topic, 1).await;
    let admin = admin(&bootstrap);
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));

    let member = subscribed_member(&bootstrap, &group, &topic).await;
    let refused = admin
        .delete_groups(&[&group], &options)
        .await
        .expect("DeleteGroups");
    assert_eq!(
        refused,
        vec![Err((group.clone(), RDKafkaErrorCode::NonEmptyGroup))]
    );
    tokio::task::block_in_place(|| member.unsubscribe());
    drop(member);

    // The member's LeaveGroup empties the group: now it goes, with its committed offset.
    let deleted = eventually(20, || {
        let admin = &admin;
        let (group, options) = (&group, &options);
        async move {
            let got = admin.delete_groups(&[group], options).await.ok()?;
            (got[0] != Err((group.clone(), RDKafkaErrorCode::NonEmptyGroup))).then_some(got)
        }
    })
    .await;
    assert_eq!(deleted, vec![Ok(group.clone())]);
    let again = admin
        .delete_groups(&[&group], &options)
        .await
        .expect("DeleteGroups");
    assert_eq!(
        again,
        vec![Err((group.clone(), RDKafkaErrorCode::GroupIdNotFound))]
    );
    let probe = group_client(&bootstrap, &group);
    let offsets = tokio::task::block_in_place(|| committed(&probe, &topic, &[0]));
    assert_eq!(
        offsets,
        vec![None],
        "the committed offset went with the group"
    );
    drop(probe);
    broker.stop().await;
}

/// A deleted group stays deleted after a restart, not brought back by the offsets log.
/// Always the built-in broker: this is about its own files (and restarting the shared real
/// Kafka would disturb the tests running on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_group_stays_deleted_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::embedded_in(dir.path()).await;
    let bootstrap = broker.bootstrap();
    let (topic, group, kept) = (unique("t-delrestart"), unique("g-gone"), unique("g-kept"));
    create_topic(&bootstrap, &topic, 2).await;
    let gone_client = group_client(&bootstrap, &group);
    let kept_client = group_client(&bootstrap, &kept);
    tokio::task::block_in_place(|| {
        commit(&gone_client, &topic, &[0, 1], 5);
        commit(&kept_client, &topic, &[0, 1], 7);
    });
    drop((gone_client, kept_client));
    let deleted = admin(&bootstrap)
        .delete_groups(&[&group], &AdminOptions::new())
        .await
        .expect("DeleteGroups");
    assert_eq!(deleted, vec![Ok(group.clone())]);

    broker.pause().await;
    broker.resume().await;
    let (gone_client, kept_client) = (
        group_client(&bootstrap, &group),
        group_client(&bootstrap, &kept),
    );
    let (gone, kept) = eventually(60, || {
        let got = tokio::task::block_in_place(|| {
            let mut list = TopicPartitionList::new();
            list.add_partition(&topic, 0);
            // Wait until the restarted broker answers OffsetFetch at all.
            kept_client
                .committed_offsets(list, Duration::from_secs(5))
                .ok()?;
            Some((
                committed(&gone_client, &topic, &[0, 1]),
                committed(&kept_client, &topic, &[0, 1]),
            ))
        });
        async move { got }
    })
    .await;
    assert_eq!(gone, vec![None, None]);
    assert_eq!(kept, vec![Some(7), Some(7)]);
    drop((gone_client, kept_client));
    broker.stop().await;
}

fn offset_delete(group: &str, topic: &str, partitions: &[i32]) -> OffsetDeleteRequest {
    let partitions = partitions
        .iter()
        .map(|&p| OffsetDeleteRequestPartition::default().with_partition_index(p))
        .collect();
    OffsetDeleteRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(partitions)])
}

/// (partition, error code) of the one topic in the answer.
fn partition_codes(response: &OffsetDeleteResponse) -> Vec<(i32, i16)> {
    let mut codes: Vec<_> = response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
        })
        .collect();
    codes.sort_unstable();
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_delete_removes_offsets_except_of_subscribed_topics() {
    if !wire::plaintext() {
        return;
    }
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let (free, used, group) = (unique("t-free"), unique("t-used"), unique("g-offdel"));
    create_topic(&bootstrap, &free, 2).await;
    create_topic(&bootstrap, &used, 1).await;

    let unknown = wire::request(
        &bootstrap,
        &offset_delete(&unique("g-none"), &free, &[0]),
        0,
    )
    .await;
    assert_eq!(unknown.error_code, ResponseError::GroupIdNotFound.code());

    // An Empty group: any of its offsets may go.
    let client = group_client(&bootstrap, &group);
    tokio::task::block_in_place(|| commit(&client, &free, &[0, 1], 3));
    let answer = wire::request(&bootstrap, &offset_delete(&group, &free, &[0]), 0).await;
    assert_eq!(answer.error_code, 0);
    assert_eq!(partition_codes(&answer), vec![(0, 0)]);
    // A partition without a committed offset: nothing to delete, no error either.
    let again = wire::request(&bootstrap, &offset_delete(&group, &free, &[0]), 0).await;
    assert_eq!(
        (again.error_code, partition_codes(&again)),
        (0, vec![(0, 0)])
    );
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    let nowhere = unique("t-none");
    let missing = wire::request(&bootstrap, &offset_delete(&group, &nowhere, &[0]), 0).await;
    assert_eq!(partition_codes(&missing), vec![(0, unknown)]);
    // (Last, as the built-in broker removes a group left with no offsets at once.)
    let beyond = wire::request(&bootstrap, &offset_delete(&group, &free, &[1, 9]), 0).await;
    assert_eq!(partition_codes(&beyond), vec![(1, 0), (9, unknown)]);
    let left = tokio::task::block_in_place(|| committed(&client, &free, &[0, 1]));
    assert_eq!(left, vec![None, None]);
    drop(client);

    // With a member subscribed to `used`: its offsets stay, those of `free` may go.
    let member = subscribed_member(&bootstrap, &group, &used).await;
    let refused = wire::request(&bootstrap, &offset_delete(&group, &used, &[0]), 0).await;
    assert_eq!(refused.error_code, 0);
    assert_eq!(
        partition_codes(&refused),
        vec![(0, ResponseError::GroupSubscribedToTopic.code())]
    );
    tokio::task::block_in_place(|| commit(&member, &free, &[1], 4));
    let allowed = wire::request(&bootstrap, &offset_delete(&group, &free, &[1]), 0).await;
    assert_eq!(partition_codes(&allowed), vec![(1, 0)]);
    let left = tokio::task::block_in_place(|| {
        (
            committed(&member, &free, &[0, 1]),
            committed(&member, &used, &[0]),
        )
    });
    assert_eq!(left, (vec![None, None], vec![Some(1)]));
    drop(member);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_cluster_acls_and_transactions_answer_as_a_kafka_without_authorizer() {
    if !wire::plaintext() {
        return;
    }
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();

    let cluster = wire::request(
        &bootstrap,
        &DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        1,
    )
    .await;
    assert_eq!(cluster.error_code, 0, "{cluster:?}");
    assert!(!cluster.cluster_id.is_empty());
    assert_eq!(cluster.brokers.len(), 1, "{cluster:?}");
    assert_eq!(cluster.controller_id, cluster.brokers[0].broker_id);
    // Every cluster operation, as Kafka reports them without an authorizer.
    assert_eq!(cluster.cluster_authorized_operations, 8096);
    let controllers = wire::request(
        &bootstrap,
        &DescribeClusterRequest::default().with_endpoint_type(2),
        1,
    )
    .await;
    assert_eq!(
        controllers.error_code,
        ResponseError::MismatchedEndpointType.code(),
        "{controllers:?}"
    );

    // Every ACL, as `kafka-acls --list` asks (1: ANY for each filter; Kafka closes the
    // connection on UNKNOWN, the default 0).
    let any = DescribeAclsRequest::default()
        .with_resource_type_filter(1)
        .with_pattern_type_filter(1)
        .with_operation(1)
        .with_permission_type(1);
    let acls = wire::request(&bootstrap, &any, 3).await;
    assert_eq!(acls.error_code, ResponseError::SecurityDisabled.code());
    assert_eq!(
        acls.error_message.as_deref(),
        Some("No Authorizer is configured on the broker")
    );

    let filters = ["Ongoing", "NoSuchState"].map(StrBytes::from_static_str);
    let transactions = wire::request(
        &bootstrap,
        &ListTransactionsRequest::default().with_state_filters(filters.to_vec()),
        1,
    )
    .await;
    assert_eq!(transactions.error_code, 0);
    assert!(
        transactions.transaction_states.is_empty(),
        "{transactions:?}"
    );
    assert_eq!(transactions.unknown_state_filters, vec![filters[1].clone()]);
    broker.stop().await;
}

/// The partition count of `topic` as Metadata tells it.
fn partition_count(client: &BaseConsumer, topic: &str) -> usize {
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("Metadata");
    metadata.topics()[0].partitions().len()
}

/// Produces `value` to `partition` of `topic` with a new producer (which learns the
/// partition count afresh) and reads it back from there.
async fn round_trip(bootstrap: &str, topic: &str, partition: i32, value: &str) {
    let producer: FutureProducer = crate::common::client_config(bootstrap)
        .create()
        .expect("producer");
    let delivery = producer
        .send(
            FutureRecord::to(topic)
                .partition(partition)
                .key("k")
                .payload(value),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered to the new partition");
    assert_eq!(delivery.partition, partition);
    let reader = group_client(bootstrap, &unique("g-reader"));
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Beginning)
        .expect("offset");
    reader.assign(&list).expect("assign");
    let read = tokio::task::block_in_place(|| loop {
        match reader.poll(Duration::from_millis(500)) {
            Some(Ok(msg)) => break msg.payload().map(<[u8]>::to_vec),
            Some(Err(err)) => panic!("consumer error: {err}"),
            None => {}
        }
    });
    assert_eq!(read.as_deref(), Some(value.as_bytes()));
}

fn grow(topic: &str, count: i32) -> CreatePartitionsTopic {
    CreatePartitionsTopic::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
        .with_count(count)
        .with_assignments(None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_partitions_grows_a_topic_and_refuses_to_shrink_it() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topic = unique("t-grow");
    create_topic(&bootstrap, &topic, 2).await;
    let admin = admin(&bootstrap);
    let grown = admin
        .create_partitions(&[NewPartitions::new(&topic, 4)], &AdminOptions::new())
        .await
        .expect("CreatePartitions");
    assert_eq!(grown, vec![Ok(topic.clone())]);
    let probe = group_client(&bootstrap, &unique("g-probe"));
    let count = eventually(20, || {
        let n = tokio::task::block_in_place(|| partition_count(&probe, &topic));
        async move { (n == 4).then_some(n) }
    })
    .await;
    assert_eq!(count, 4);
    round_trip(&bootstrap, &topic, 3, "in a new partition").await;

    if wire::plaintext() {
        let missing = unique("t-none");
        let request = CreatePartitionsRequest::default()
            .with_topics(vec![grow(&topic, 4), grow(&topic, 3), grow(&missing, 2)])
            .with_timeout_ms(10_000);
        // The same topic twice: both refused as one duplicate.
        let answer = wire::request(&bootstrap, &request, 3).await;
        let codes: Vec<_> = answer
            .results
            .iter()
            .map(|r| {
                (
                    r.name.to_string(),
                    r.error_code,
                    r.error_message.as_deref().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                (
                    topic.clone(),
                    ResponseError::InvalidRequest.code(),
                    Some("Duplicate topic name.".into())
                ),
                (
                    missing.clone(),
                    ResponseError::UnknownTopicOrPartition.code(),
                    None
                ),
            ]
        );
        for (count, message) in [
            (4, "Topic already has 4 partition(s).".to_string()),
            (
                3,
                format!(
                    "The topic {topic} currently has 4 partition(s); 3 would not be an increase."
                ),
            ),
        ] {
            let request = CreatePartitionsRequest::default()
                .with_topics(vec![grow(&topic, count)])
                .with_timeout_ms(10_000);
            let answer = wire::request(&bootstrap, &request, 3).await;
            assert_eq!(
                answer.results[0].error_code,
                ResponseError::InvalidPartitions.code()
            );
            assert_eq!(
                answer.results[0].error_message.as_deref(),
                Some(message.as_str())
            );
        }
        let check = CreatePartitionsRequest::default()
            .with_topics(vec![grow(&topic, 6)])
            .with_timeout_ms(10_000)
            .with_validate_only(true);
        let answer = wire::request(&bootstrap, &check, 3).await;
        assert_eq!(answer.results[0].error_code, 0, "{answer:?}");
    }
    let after = tokio::task::block_in_place(|| partition_count(&probe, &topic));
    assert_eq!(
        after, 4,
        "validate_only and refused requests change nothing"
    );
    drop(probe);
    broker.stop().await;
}

/// Added partitions, and what was written to them, are there after a restart. Always the
/// built-in broker: this is about its own files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_partitions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::embedded_in(dir.path()).await;
    let bootstrap = broker.bootstrap();
    let topic = unique("t-growrestart");
    create_topic(&bootstrap, &topic, 1).await;
    let grown = admin(&bootstrap)
        .create_partitions(&[NewPartitions::new(&topic, 3)], &AdminOptions::new())
        .await
        .expect("CreatePartitions");
    assert_eq!(grown, vec![Ok(topic.clone())]);
    round_trip(&bootstrap, &topic, 2, "kept").await;

    broker.pause().await;
    broker.resume().await;
    let probe = group_client(&bootstrap, &unique("g-probe"));
    let count = tokio::task::block_in_place(|| partition_count(&probe, &topic));
    assert_eq!(count, 3);
    let reader = group_client(&bootstrap, &unique("g-reader"));
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(&topic, 2, Offset::Beginning)
        .expect("offset");
    reader.assign(&list).expect("assign");
    let read = tokio::task::block_in_place(|| loop {
        if let Some(msg) = reader.poll(Duration::from_millis(500)) {
            break msg
                .expect("no consumer error")
                .payload()
                .map(<[u8]>::to_vec);
        }
    });
    assert_eq!(read.as_deref(), Some(&b"kept"[..]));
    drop((probe, reader));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_producers_shows_the_idempotent_producer_of_a_partition() {
    if !wire::plaintext() {
        return;
    }
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topic = unique("t-producers");
    create_topic(&bootstrap, &topic, 2).await;
    let producer: FutureProducer = crate::common::client_config(&bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for i in 0..3 {
        let value = format!("v{i}");
        producer
            .send(
                FutureRecord::to(&topic)
                    .partition(0)
                    .key("k")
                    .payload(&value),
                Duration::from_secs(10),
            )
            .await
            .expect("delivered");
    }
    let name = |n: &str| TopicName(StrBytes::from_string(n.to_string()));
    let missing = unique("t-none");
    let request = DescribeProducersRequest::default().with_topics(vec![
        TopicRequest::default()
            .with_name(name(&topic))
            .with_partition_indexes(vec![0, 1, 7]),
        TopicRequest::default()
            .with_name(name(&missing))
            .with_partition_indexes(vec![0]),
    ]);
    let answer = wire::request(&bootstrap, &request, 0).await;
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    let errors: Vec<Vec<(i32, i16, Option<String>)>> = answer
        .topics
        .iter()
        .map(|t| {
            t.partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.error_code,
                        p.error_message.as_deref().map(str::to_string),
                    )
                })
                .collect()
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            vec![(0, 0, None), (1, 0, None), (7, unknown, None)],
            vec![(
                0,
                unknown,
                Some("This server does not host this topic-partition.".into())
            )],
        ]
    );
    let written = &answer.topics[0].partitions[0].active_producers;
    assert_eq!(written.len(), 1, "{written:?}");
    let state = &written[0];
    assert!(state.producer_id.0 >= 0, "{state:?}");
    assert_eq!(
        (
            state.producer_epoch,
            state.last_sequence,
            state.coordinator_epoch,
            state.current_txn_start_offset
        ),
        (0, 2, -1, -1),
        "{state:?}"
    );
    assert!(state.last_timestamp > 0, "{state:?}");
    assert!(answer.topics[0].partitions[1].active_producers.is_empty());
    drop(producer);
    broker.stop().await;
}

/// Requests no well-behaved admin client sends: an empty group id, replica assignments that
/// do not fit the cluster. Same codes and messages on both brokers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_with_bad_arguments_get_kafkas_errors() {
    if !wire::plaintext() {
        return;
    }
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let empty = GroupId(StrBytes::from_static_str(""));
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![empty.clone()]);
    // On a fresh Apache Kafka the group coordinator is not there yet: FindCoordinator creates
    // its offsets topic, and the group requests are retried until it is loaded, as a real
    // client does.
    let find = kafka_protocol::messages::FindCoordinatorRequest::default()
        .with_coordinator_keys(vec![StrBytes::from_static_str("")]);
    let deleted = crate::common::eventually(30, || async {
        wire::request(&bootstrap, &find, 4).await;
        let answer = wire::request(&bootstrap, &delete, 2).await;
        let code = answer.results[0].error_code;
        let not_ready = [
            ResponseError::CoordinatorLoadInProgress.code(),
            ResponseError::CoordinatorNotAvailable.code(),
            ResponseError::NotCoordinator.code(),
        ];
        (!not_ready.contains(&code)).then_some(answer)
    })
    .await;
    assert_eq!(
        deleted.results[0].error_code,
        ResponseError::GroupIdNotFound.code(),
        "no group has the empty id: Kafka does not check it here, unlike OffsetDelete"
    );
    let offsets = wire::request(&bootstrap, &offset_delete("", "t", &[0]), 0).await;
    assert_eq!(offsets.error_code, ResponseError::InvalidGroupId.code());

    let topic = unique("t-assign");
    create_topic(&bootstrap, &topic, 1).await;
    let node = wire::request(&bootstrap, &DescribeClusterRequest::default(), 0)
        .await
        .brokers[0]
        .broker_id;
    let on = |ids: &[i32]| {
        CreatePartitionsAssignment::default()
            .with_broker_ids(ids.iter().map(|&b| BrokerId(b)).collect())
    };
    for (assignments, message) in [
        (
            vec![on(&[node.0])],
            "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.".to_string(),
        ),
        (
            vec![on(&[node.0]), on(&[node.0 + 1000])],
            format!("The manual partition assignment includes broker {}, but no such broker is registered.", node.0 + 1000),
        ),
    ] {
        let request = CreatePartitionsRequest::default()
            .with_topics(vec![grow(&topic, 3).with_assignments(Some(assignments))])
            .with_timeout_ms(10_000);
        let answer = wire::request(&bootstrap, &request, 3).await;
        assert_eq!(
            (answer.results[0].error_code, answer.results[0].error_message.as_deref()),
            (ResponseError::InvalidReplicaAssignment.code(), Some(message.as_str()))
        );
    }
    // Kafka checks the topic and the increase before the assignments.
    let missing = unique("t-none");
    let first = CreatePartitionsRequest::default()
        .with_topics(vec![
            grow(&missing, 3).with_assignments(Some(vec![])),
            grow(&topic, 1).with_assignments(Some(vec![])),
        ])
        .with_timeout_ms(10_000);
    let answer = wire::request(&bootstrap, &first, 3).await;
    // By name: Apache Kafka does not always answer in the order asked.
    let code_of = |name: &str| {
        answer
            .results
            .iter()
            .find(|r| r.name.as_str() == name)
            .map(|r| r.error_code)
    };
    assert_eq!(
        (code_of(&missing), code_of(&topic)),
        (
            Some(ResponseError::UnknownTopicOrPartition.code()),
            Some(ResponseError::InvalidPartitions.code())
        )
    );
    let placed = CreatePartitionsRequest::default()
        .with_topics(vec![
            grow(&topic, 2).with_assignments(Some(vec![on(&[node.0])]))
        ])
        .with_timeout_ms(10_000);
    let answer = wire::request(&bootstrap, &placed, 3).await;
    assert_eq!(answer.results[0].error_code, 0, "{answer:?}");
    broker.stop().await;
}

/// `__consumer_offsets` as Kafka shows it once a group has committed: listed as internal (the
/// Java consumer subscribing by pattern skips it: tests/clients/java; librdkafka does not);
/// producing to it and DeleteRecords on it are INVALID_TOPIC_EXCEPTION (only the broker
/// writes there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offsets_topic_is_listed_as_internal_and_refuses_writes() {
    const OFFSETS: &str = "__consumer_offsets";
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topic = unique("pattern");
    create_topic(&bootstrap, &topic, 1).await;
    let committer = subscribed_member(&bootstrap, &unique("committer"), &topic).await;
    drop(committer);

    if wire::plaintext() {
        let all = MetadataRequest::default().with_topics(None);
        let metadata = wire::request(&bootstrap, &all, 9).await;
        let internal: Vec<(String, bool)> = metadata
            .topics
            .iter()
            .filter_map(|t| Some((t.name.as_ref()?.to_string(), t.is_internal)))
            .filter(|(name, _)| name == OFFSETS || *name == topic)
            .collect();
        assert_eq!(
            internal.len(),
            2,
            "both listed: {:?}",
            metadata.topics.len()
        );
        for (name, is_internal) in internal {
            assert_eq!(is_internal, name == OFFSETS, "{name}");
        }
    }

    let producer: FutureProducer = crate::common::client_config(&bootstrap)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer");
    let refused = producer
        .send(
            FutureRecord::to(OFFSETS).partition(0).key("k").payload("v"),
            Duration::from_secs(10),
        )
        .await
        .expect_err("a produce to the offsets topic is refused");
    assert_eq!(
        refused.0.rdkafka_error_code(),
        Some(RDKafkaErrorCode::InvalidTopic)
    );
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(OFFSETS, 0, Offset::Offset(0))
        .expect("offset");
    let deleted = admin(&bootstrap)
        .delete_records(&list, &AdminOptions::new())
        .await
        .expect("DeleteRecords answered");
    let element = deleted.find_partition(OFFSETS, 0).expect("partition 0");
    assert_eq!(
        element.error().expect_err("refused").rdkafka_error_code(),
        Some(RDKafkaErrorCode::InvalidTopic)
    );
    broker.stop().await;
}
