//! The coordinator through the API table, as a transactional client drives it: init, add
//! partitions, produce, end; what `read_committed` and `read_uncommitted` fetches see; fencing,
//! timeouts and a restart in the middle.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use crate::api::{self, str_bytes, topic_name, Ctx};
use crate::cluster::Cluster;
use crate::config::BrokerConfig;
use crate::log::batch::testing;

struct Broker(Arc<Cluster>);

impl Broker {
    fn open(config: BrokerConfig) -> Self {
        let cluster = Arc::new(Cluster::open(config, "127.0.0.1".into(), 9092).expect("open"));
        if cluster.topic("t").is_none() {
            cluster.create_topic("t", 2).expect("topic");
        }
        Self(cluster)
    }

    async fn ask(&self, version: i16, request: RequestKind) -> ResponseKind {
        let ctx = Ctx {
            cluster: &self.0,
            version,
            client_id: "tester",
            client_host: "127.0.0.1",
        };
        api::handle(&ctx, request).await.expect("an answer")
    }

    async fn init(&self, id: &str, timeout_ms: i32) -> Result<(i64, i16), i16> {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(str_bytes(id).into()))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let ResponseKind::InitProducerId(r) =
            self.ask(4, RequestKind::InitProducerId(request)).await
        else {
            panic!("InitProducerId answer")
        };
        if r.error_code == 0 {
            Ok((r.producer_id.0, r.producer_epoch))
        } else {
            Err(r.error_code)
        }
    }

    async fn add(&self, id: &str, (pid, epoch): (i64, i16), partition: i32) -> i16 {
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(str_bytes(id).into())
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic_name("t"))
                .with_partitions(vec![partition])]);
        let ResponseKind::AddPartitionsToTxn(r) =
            self.ask(3, RequestKind::AddPartitionsToTxn(request)).await
        else {
            panic!("AddPartitionsToTxn answer")
        };
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
    }

    async fn produce(&self, partition: i32, records: Bytes) -> i16 {
        self.produce_at(9, partition, records).await
    }

    async fn produce_at(&self, version: i16, partition: i32, records: Bytes) -> i16 {
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name("t"))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]);
        let ResponseKind::Produce(r) = self.ask(version, RequestKind::Produce(request)).await
        else {
            panic!("Produce answer")
        };
        r.responses[0].partition_responses[0].error_code
    }

    async fn end(&self, id: &str, pid: (i64, i16), commit: bool) -> i16 {
        self.end_at(3, id, pid, commit).await.0
    }

    /// (error code, producer id and epoch answered)
    async fn end_at(
        &self,
        version: i16,
        id: &str,
        (pid, epoch): (i64, i16),
        commit: bool,
    ) -> (i16, (i64, i16)) {
        let request = EndTxnRequest::default()
            .with_transactional_id(str_bytes(id).into())
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(commit);
        let ResponseKind::EndTxn(r) = self.ask(version, RequestKind::EndTxn(request)).await else {
            panic!("EndTxn answer")
        };
        (r.error_code, (r.producer_id.0, r.producer_epoch))
    }

    /// (high watermark, last stable offset, values read, aborted transactions' first offsets)
    async fn fetch(&self, partition: i32, read_committed: bool) -> (i64, i64, usize, Vec<i64>) {
        let request = FetchRequest::default()
            .with_max_bytes(1 << 20)
            .with_isolation_level(i8::from(read_committed))
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name("t"))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_partition_max_bytes(1 << 20)])]);
        let ResponseKind::Fetch(r) = self.ask(11, RequestKind::Fetch(request)).await else {
            panic!("Fetch answer")
        };
        let p = &r.responses[0].partitions[0];
        let mut data = p.records.clone().unwrap_or_default();
        let batches =
            kafka_protocol::records::RecordBatchDecoder::decode_all(&mut data).expect("decodes");
        let records = batches
            .iter()
            .flat_map(|b| b.records.iter())
            .filter(|r| !r.control)
            .count();
        let aborted = p
            .aborted_transactions
            .iter()
            .flatten()
            .map(|a| a.first_offset)
            .collect();
        (p.high_watermark, p.last_stable_offset, records, aborted)
    }
}

fn records(pid: (i64, i16), sequence: i32, n: usize) -> Bytes {
    let values: Vec<(Option<&[u8]>, &[u8])> = (0..n).map(|_| (None, &b"v"[..])).collect();
    testing::transactional(pid.0, pid.1, sequence, &values)
}

#[tokio::test]
async fn committed_and_aborted_transactions_as_read_committed_and_uncommitted_see_them() {
    let broker = Broker::open(BrokerConfig::ephemeral());
    let p = broker.init("tx", 60_000).await.expect("init");
    assert_eq!(
        broker.produce(0, records(p, 0, 2)).await,
        ResponseError::InvalidTxnState.code(),
        "a partition not added to the transaction"
    );
    assert_eq!(broker.add("tx", p, 0).await, 0);
    assert_eq!(broker.produce(0, records(p, 0, 2)).await, 0);
    assert_eq!(
        broker.fetch(0, true).await,
        (2, 0, 0, vec![]),
        "open: nothing stable"
    );
    assert_eq!(broker.fetch(0, false).await, (2, 0, 2, vec![]));
    assert_eq!(broker.end("tx", p, true).await, 0);
    assert_eq!(broker.end("tx", p, true).await, 0, "a retried commit");
    assert_eq!(
        broker.end("tx", p, false).await,
        ResponseError::InvalidTxnState.code(),
        "an abort after the commit"
    );
    assert_eq!(
        broker.fetch(0, true).await,
        (3, 3, 2, vec![]),
        "the marker is offset 2"
    );

    assert_eq!(broker.add("tx", p, 0).await, 0);
    assert_eq!(broker.produce(0, records(p, 2, 3)).await, 0);
    assert_eq!(broker.end("tx", p, false).await, 0);
    let (hw, lso, read, aborted) = broker.fetch(0, true).await;
    assert_eq!(
        (hw, lso, aborted),
        (7, 7, vec![3]),
        "the aborted range starts at 3"
    );
    assert_eq!(
        read, 5,
        "the client gets the batches and drops the aborted ones itself"
    );

    let forged = bytes::Bytes::from(crate::log::control::marker(p.0, p.1, true, 0).data.to_vec());
    assert_eq!(
        broker.produce(1, forged).await,
        ResponseError::InvalidRecord.code(),
        "clients cannot write markers"
    );
}

#[tokio::test]
async fn a_new_producer_with_the_same_id_fences_the_old_one_and_aborts_its_transaction() {
    let broker = Broker::open(BrokerConfig::ephemeral());
    let old = broker.init("tx", 60_000).await.expect("init");
    assert_eq!(broker.add("tx", old, 1).await, 0);
    assert_eq!(broker.produce(1, records(old, 0, 4)).await, 0);
    let new = broker.init("tx", 60_000).await.expect("init again");
    assert_eq!((new.0, new.1), (old.0, old.1 + 1), "same id, bumped epoch");
    assert_eq!(broker.fetch(1, true).await, (5, 5, 4, vec![0]), "aborted");
    assert_eq!(
        broker.end("tx", old, true).await,
        ResponseError::ProducerFenced.code(),
        "the old producer is fenced"
    );
    assert_eq!(
        broker.produce(1, records(old, 4, 1)).await,
        ResponseError::InvalidProducerEpoch.code()
    );
    assert_eq!(broker.add("tx", new, 1).await, 0);
    assert_eq!(
        broker.produce(1, records(new, 0, 1)).await,
        0,
        "the new epoch starts at 0"
    );
    assert_eq!(broker.end("tx", new, true).await, 0);
    assert_eq!(broker.fetch(1, true).await.1, 7);
    assert_eq!(
        broker.init("tx", crate::txn::MAX_TIMEOUT_MS + 1).await,
        Err(ResponseError::InvalidTransactionTimeout.code())
    );
}

#[tokio::test]
async fn a_transaction_open_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let broker = Broker::open(BrokerConfig::ephemeral());
    let p = broker.init("slow", 1).await.expect("init");
    assert_eq!(broker.add("slow", p, 0).await, 0);
    assert_eq!(broker.produce(0, records(p, 0, 1)).await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    broker.0.txns.expire(&broker.0);
    assert_eq!(broker.fetch(0, true).await, (2, 2, 1, vec![0]));
    assert_eq!(
        broker.end("slow", p, true).await,
        ResponseError::ProducerFenced.code()
    );
}

#[tokio::test]
async fn an_open_transaction_survives_a_restart_and_its_commit_applies_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = BrokerConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..BrokerConfig::ephemeral()
    };
    let broker = Broker::open(config.clone());
    let p = broker.init("tx", 60_000).await.expect("init");
    assert_eq!(broker.add("tx", p, 0).await, 0);
    assert_eq!(broker.produce(0, records(p, 0, 2)).await, 0);
    drop(broker);

    let broker = Broker::open(config.clone());
    assert_eq!(broker.fetch(0, true).await, (2, 0, 0, vec![]), "still open");
    assert_eq!(
        broker.end("tx", p, true).await,
        0,
        "the same producer commits"
    );
    assert_eq!(broker.fetch(0, true).await, (3, 3, 2, vec![]));
    drop(broker);
    let broker = Broker::open(config);
    assert_eq!(
        broker.fetch(0, true).await,
        (3, 3, 2, vec![]),
        "and stays committed"
    );
    let again = broker.init("tx", 60_000).await.expect("init after restart");
    assert_eq!(again, (p.0, p.1 + 1));
}

/// Transaction version 2 (KIP-890 part 2, Kafka 4 clients): the first batch adds its
/// partition, every EndTxn bumps the epoch (a retry with the old one is answered the same), a
/// late write at the old epoch is fenced, and an abort needs no open transaction.
#[tokio::test]
async fn version_2_adds_partitions_with_their_first_batch_and_bumps_the_epoch_at_each_end() {
    let broker = Broker::open(BrokerConfig::ephemeral());
    let p = broker.init("tx", 60_000).await.expect("init");
    assert_eq!(
        broker.produce_at(11, 0, records(p, 0, 2)).await,
        ResponseError::TransactionAbortable.code(),
        "before v12 the partition must have been added"
    );
    assert_eq!(broker.produce_at(12, 0, records(p, 0, 2)).await, 0);
    assert_eq!(broker.fetch(0, true).await.1, 0, "the transaction is open");
    let (code, next) = broker.end_at(5, "tx", p, true).await;
    assert_eq!((code, next), (0, (p.0, p.1 + 1)), "committed, epoch bumped");
    assert_eq!(broker.end_at(5, "tx", p, true).await, (0, next), "a retry");
    assert_eq!(broker.fetch(0, true).await, (3, 3, 2, vec![]));
    assert_eq!(
        broker.produce_at(12, 0, records(p, 2, 1)).await,
        ResponseError::InvalidProducerEpoch.code(),
        "a late write of the ended transaction"
    );
    assert_eq!(broker.produce_at(12, 0, records(next, 0, 1)).await, 0);
    let (code, after) = broker.end_at(5, "tx", next, false).await;
    assert_eq!((code, after.1), (0, next.1 + 1));
    assert_eq!(
        broker.fetch(0, true).await.3,
        vec![3],
        "aborted at offset 3"
    );
    let (code, again) = broker.end_at(5, "tx", after, false).await;
    assert_eq!(
        (code, again.1),
        (0, after.1 + 1),
        "an abort with nothing open"
    );
    assert_eq!(
        broker.end_at(5, "tx", again, true).await.0,
        ResponseError::InvalidTxnState.code(),
        "a commit with nothing open"
    );
}

/// The epoch runs out: the last transaction's markers still carry its producer id (at the
/// last epoch), so it ends everywhere; the producer goes on with a new id at epoch 0.
#[tokio::test]
async fn a_spent_epoch_ends_its_transaction_then_moves_to_a_new_producer_id() {
    let broker = Broker::open(BrokerConfig::ephemeral());
    let mut p = broker.init("tx", 60_000).await.expect("init");
    while p.1 < i16::MAX - 2 {
        p = broker.init("tx", 60_000).await.expect("init again");
    }
    assert_eq!(broker.produce_at(12, 0, records(p, 0, 2)).await, 0);
    let (code, next) = broker.end_at(5, "tx", p, true).await;
    assert_eq!(code, 0);
    assert!(
        next.0 != p.0 && next.1 == 0,
        "a new id at epoch 0: {next:?}"
    );
    assert_eq!(
        broker.fetch(0, true).await,
        (3, 3, 2, vec![]),
        "ended: stable"
    );
    assert_eq!(broker.produce_at(12, 0, records(next, 0, 1)).await, 0);
    assert_eq!(broker.end_at(5, "tx", next, true).await.0, 0);
    assert_eq!(broker.fetch(0, true).await.1, 5);
}

/// A producer with a transaction open in a partition cannot slip a plain batch in there (it
/// could raise the partition's epoch past the coordinator's and leave the transaction stuck).
#[tokio::test]
async fn a_plain_batch_from_a_producer_with_an_open_transaction_is_refused() {
    let broker = Broker::open(BrokerConfig::ephemeral());
    let p = broker.init("tx", 60_000).await.expect("init");
    assert_eq!(broker.add("tx", p, 0).await, 0);
    assert_eq!(broker.produce(0, records(p, 0, 1)).await, 0);
    let plain = testing::encode(p.0, i16::MAX, 0, &[(None, b"v")]);
    assert_eq!(
        broker.produce(0, plain).await,
        ResponseError::InvalidTxnState.code()
    );
    assert_eq!(broker.end("tx", p, true).await, 0);
    assert_eq!(broker.fetch(0, true).await.1, 2, "the transaction ended");
}
