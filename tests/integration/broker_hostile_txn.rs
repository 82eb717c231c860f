//! Transaction requests no well-behaved client sends, as raw frames: each gets the error
//! Apache Kafka 4.1 answers (the same test runs on both brokers). A transactional batch for a
//! partition not in the transaction is refused (KIP-890's defence against hanging
//! transactions): INVALID_TXN_STATE, from Produce v11 TRANSACTION_ABORTABLE.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;

use crate::common::wire::{plaintext, request};
use crate::common::{create_topic, TestBroker};

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

async fn init(addr: &str, id: &str, timeout_ms: i32) -> InitProducerIdResponse {
    let ask = InitProducerIdRequest::default()
        .with_transactional_id(Some(s(id).into()))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    request(addr, &ask, 4).await
}

/// The error code of each topic's partition, in the order asked (Kafka answers in its own).
async fn add(addr: &str, id: &str, pid: (i64, i16), topics: &[(&str, i32)]) -> Vec<i16> {
    let ask = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(s(id).into())
        .with_v3_and_below_producer_id(ProducerId(pid.0))
        .with_v3_and_below_producer_epoch(pid.1)
        .with_v3_and_below_topics(
            topics
                .iter()
                .map(|(t, p)| {
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partitions(vec![*p])
                })
                .collect(),
        );
    let answer = request(addr, &ask, 3).await;
    topics
        .iter()
        .map(|(name, _)| {
            let topic = answer
                .results_by_topic_v3_and_below
                .iter()
                .find(|t| t.name.as_str() == *name)
                .expect("every topic answered");
            topic.results_by_partition[0].partition_error_code
        })
        .collect()
}

async fn end(addr: &str, id: &str, pid: (i64, i16), commit: bool) -> i16 {
    let ask = EndTxnRequest::default()
        .with_transactional_id(s(id).into())
        .with_producer_id(ProducerId(pid.0))
        .with_producer_epoch(pid.1)
        .with_committed(commit);
    request(addr, &ask, 4).await.error_code
}

/// A one-record batch from `pid`, transactional and maybe a control batch.
fn batch(pid: (i64, i16), control: bool) -> Bytes {
    let record = Record {
        transactional: true,
        control,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: pid.0,
        producer_epoch: pid.1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: if control { -1 } else { 0 },
        timestamp: 1_000,
        key: control.then(|| Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
    };
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut out, [record].iter(), &options).expect("encode");
    out.freeze()
}

async fn produce(addr: &str, topic: &str, id: &str, records: Bytes, version: i16) -> i16 {
    let ask = ProduceRequest::default()
        .with_transactional_id(Some(s(id).into()))
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let answer = request(addr, &ask, version).await;
    answer.responses[0].partition_responses[0].error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_transaction_requests_get_kafkas_errors() {
    let broker = TestBroker::start().await;
    if !plaintext() {
        return; // raw frames speak plaintext only; the SASL_SSL cluster is covered by clients
    }
    let addr = broker.bootstrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("hostile-txn-{suffix}");
    create_topic(&addr, &topic, 1).await;
    let id = format!("hostile-{suffix}");
    let code = |e: ResponseError| e.code();

    // A Kafka that never served a transaction creates its transaction state topic when a client
    // first looks for a transaction coordinator (FindCoordinator), and answers NOT_COORDINATOR
    // or COORDINATOR_NOT_AVAILABLE until it is loaded: as a client does, look, then ask.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let find = FindCoordinatorRequest::default()
            .with_key_type(1)
            .with_coordinator_keys(vec![s(&id)]);
        request(&addr, &find, 4).await;
        let code = init(&addr, &format!("warm-up-{suffix}"), 60_000)
            .await
            .error_code;
        if code == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the transaction coordinator never became available: {code}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let mut seen = Vec::new();
    for timeout in [0, -1, 900_001] {
        seen.push((
            format!("init, timeout {timeout}"),
            init(&addr, &id, timeout).await.error_code,
        ));
    }
    let granted = init(&addr, &id, 60_000).await;
    assert_eq!(granted.error_code, 0);
    let pid = (granted.producer_id.0, granted.producer_epoch);
    let stale = (pid.0, pid.1 - 1);
    let other = (pid.0 + 1_000_000, pid.1);

    seen.push((
        "end, unknown id".into(),
        end(&addr, "never-initialized", pid, true).await,
    ));
    seen.push(("end, nothing open".into(), end(&addr, &id, pid, true).await));
    seen.push((
        "add, stale epoch".into(),
        add(&addr, &id, stale, &[(&topic, 0)]).await[0],
    ));
    seen.push((
        "add, another producer id".into(),
        add(&addr, &id, other, &[(&topic, 0)]).await[0],
    ));
    let codes = add(&addr, &id, pid, &[(&topic, 0), ("no-such-topic-here", 0)]).await;
    seen.push(("add, with an unknown topic: the known one".into(), codes[0]));
    seen.push((
        "add, with an unknown topic: the unknown one".into(),
        codes[1],
    ));
    for version in [10, 11] {
        seen.push((
            format!("produce v{version}, partition not added"),
            produce(&addr, &topic, &id, batch(pid, false), version).await,
        ));
    }
    assert_eq!(add(&addr, &id, pid, &[(&topic, 0)]).await, [0]);
    seen.push((
        "produce, a control batch".into(),
        produce(&addr, &topic, &id, batch(pid, true), 11).await,
    ));
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(s(&id).into())
        .with_group_id(GroupId(s(&format!("g-{suffix}"))))
        .with_producer_id(ProducerId(pid.0))
        .with_producer_epoch(pid.1)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s(&topic)))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(0)])]);
    // Likewise the group coordinator: a fresh Kafka creates its offsets topic when a group's
    // coordinator is first looked for, and answers COORDINATOR_NOT_AVAILABLE (15),
    // NOT_COORDINATOR (16) or COORDINATOR_LOAD_IN_PROGRESS (14) until it is loaded.
    let find = FindCoordinatorRequest::default()
        .with_key_type(0)
        .with_coordinator_keys(vec![s(&format!("g-{suffix}"))]);
    let committed = loop {
        request(&addr, &find, 4).await;
        let answer = request(&addr, &commit, 3).await;
        let code = answer.topics[0].partitions[0].error_code;
        if !(14..=16).contains(&code) || std::time::Instant::now() > deadline {
            break code;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    seen.push(("txn offset commit v3, group not added".into(), committed));
    seen.push((
        "abort the open transaction".into(),
        end(&addr, &id, pid, false).await,
    ));

    let expected = vec![
        (
            "init, timeout 0",
            code(ResponseError::InvalidTransactionTimeout),
        ),
        (
            "init, timeout -1",
            code(ResponseError::InvalidTransactionTimeout),
        ),
        (
            "init, timeout 900001",
            code(ResponseError::InvalidTransactionTimeout),
        ),
        (
            "end, unknown id",
            code(ResponseError::InvalidProducerIdMapping),
        ),
        ("end, nothing open", code(ResponseError::InvalidTxnState)),
        ("add, stale epoch", code(ResponseError::ProducerFenced)),
        (
            "add, another producer id",
            code(ResponseError::InvalidProducerIdMapping),
        ),
        (
            "add, with an unknown topic: the known one",
            code(ResponseError::OperationNotAttempted),
        ),
        (
            "add, with an unknown topic: the unknown one",
            code(ResponseError::UnknownTopicOrPartition),
        ),
        (
            "produce v10, partition not added",
            code(ResponseError::InvalidTxnState),
        ),
        (
            "produce v11, partition not added",
            code(ResponseError::TransactionAbortable),
        ),
        (
            "produce, a control batch",
            code(ResponseError::InvalidRecord),
        ),
        (
            "txn offset commit v3, group not added",
            code(ResponseError::InvalidTxnState),
        ),
        ("abort the open transaction", 0),
    ];
    let seen: Vec<(&str, i16)> = seen.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    assert_eq!(seen, expected);
    broker.stop().await;
}
