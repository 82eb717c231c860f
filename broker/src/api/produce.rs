//! Produce: validate each partition's record batches (framing, CRC, producer sequence) and
//! append them as received. acks=0 gets no response at all, as the protocol says.

use bytes::Bytes;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::ResponseError;

use super::Ctx;
use crate::cluster::Topic;
use crate::config::FsyncPolicy;
use crate::log::batch::{self, Batch, BatchError};
use crate::txn::TxnVersion;

pub fn handle(ctx: &Ctx<'_>, request: ProduceRequest) -> Option<ProduceResponse> {
    let acks = request.acks;
    let valid_acks = matches!(acks, -1..=1);
    let mut appended = false;
    let responses = request
        .topic_data
        .into_iter()
        .map(|topic_data| {
            let topic = ctx.cluster.topic(&topic_data.name);
            let partition_responses = topic_data
                .partition_data
                .into_iter()
                .map(|data| {
                    let index = data.index;
                    let result = if valid_acks {
                        append(ctx, topic.as_deref(), data)
                    } else {
                        Err(ResponseError::InvalidRequiredAcks)
                    };
                    appended |= result.is_ok();
                    let response = PartitionProduceResponse::default()
                        .with_index(index)
                        .with_log_append_time_ms(-1);
                    match result {
                        Ok((base_offset, log_start)) => response
                            .with_base_offset(base_offset)
                            .with_log_start_offset(log_start),
                        Err(err) => response
                            .with_error_code(err.code())
                            .with_base_offset(-1)
                            .with_log_start_offset(-1),
                    }
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partition_responses)
        })
        .collect();
    if appended {
        ctx.cluster.notify_appended();
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// Appends a partition's batches; returns the first batch's base offset and the log start.
/// They are written (and with `FsyncPolicy::Always` synced) before this returns, so before the
/// produce is answered.
fn append(
    ctx: &Ctx<'_>,
    topic: Option<&Topic>,
    data: PartitionProduceData,
) -> Result<(i64, i64), ResponseError> {
    let topic = topic.ok_or(ResponseError::UnknownTopicOrPartition)?;
    let index = data.index;
    if topic.is_internal() {
        return Err(ResponseError::InvalidTopicException); // as Kafka: only it writes there
    }
    let partition = topic
        .partition(index)
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let records: Bytes = data.records.ok_or(ResponseError::CorruptMessage)?;
    let batches = batch::split(&records).map_err(|err| match err {
        BatchError::Corrupt => ResponseError::CorruptMessage,
        BatchError::UnsupportedMagic => ResponseError::UnsupportedForMessageFormat,
    })?;
    let max_message_bytes = topic.configs.max_message_bytes(&ctx.cluster.config);
    for batch in &batches {
        check(ctx, max_message_bytes, batch)?;
    }
    // Transactional batches go in only while their transaction holds this partition, checked
    // under the coordinator's lock for as long as the append takes (see `txn`).
    let transactional: Vec<(i64, i16)> = batches
        .iter()
        .filter(|b| b.is_transactional())
        .map(|b| (b.producer_id(), b.producer_epoch()))
        .collect();
    let append_all = || {
        let mut log = partition.log();
        let mut first = None;
        for batch in batches {
            let appended = log.append(batch)?;
            first.get_or_insert(appended.base_offset);
        }
        Ok((first.unwrap_or(-1), log.log_start_offset()))
    };
    let write = || {
        if transactional.is_empty() {
            append_all()
        } else {
            let checked = ctx.cluster.txns.append_checked(
                &transactional,
                (&topic.name, index),
                TxnVersion::of(ctx.version, 12),
                append_all,
            );
            checked.map_err(|err| match err {
                // From v11 the client aborts on it (KIP-890), as Kafka answers.
                ResponseError::InvalidTxnState if ctx.version >= 11 => {
                    ResponseError::TransactionAbortable
                }
                other => other,
            })
        }
    };
    let config = &ctx.cluster.config;
    if config.fsync == FsyncPolicy::Always && config.data_dir.is_some() {
        // Every append fsyncs (milliseconds), under the partition lock: other producers of
        // this partition wait for the lock meanwhile. Waiting for the lock and the fsync
        // both happen inside block_in_place, so neither stalls the tasks that share this
        // worker thread. The answer still waits for them, exactly as before.
        crate::blocking::block_in_place(write)
    } else {
        // Without an fsync per append the lock is held for a copy into the page cache
        // (see SegmentWriter::append for measurements): cheaper than a thread handoff.
        write()
    }
}

/// Kafka's checks of a batch before it is appended; one failing refuses the partition's data.
fn check(ctx: &Ctx<'_>, max_message_bytes: usize, batch: &Batch) -> Result<(), ResponseError> {
    // The topic's `max.message.bytes`, else the broker's `message.max.bytes`.
    if batch.len() > max_message_bytes {
        return Err(ResponseError::MessageTooLarge);
    }
    // Offsets are assigned from lastOffsetDelta, so a batch claiming more offsets than records
    // would leave holes (or, near i32::MAX, race offsets towards overflow). Kafka's
    // LogValidator refuses it with INVALID_RECORD ("inner record count must match").
    if i64::from(batch.last_offset_delta()) + 1 != i64::from(batch.record_count()) {
        return Err(ResponseError::InvalidRecord);
    }
    // Markers are the coordinator's to write ("clients are not allowed to write control
    // records", Kafka's LogValidator).
    if batch.is_control() {
        return Err(ResponseError::InvalidRecord);
    }
    // A transactional batch needs an id its transactional id holds.
    if batch.is_transactional() && batch.producer_id() < 0 {
        return Err(ResponseError::InvalidRecord);
    }
    // Only ids this broker issued (InitProducerId): a made-up id would claim sequence state,
    // and after a restart a huge one would push the id counter towards overflow. Kafka does
    // not check this for idempotent producers; UNKNOWN_PRODUCER_ID makes librdkafka and the
    // Java client ask for a new id.
    if batch.producer_id() >= 0 && !ctx.cluster.producer_ids.was_issued(batch.producer_id()) {
        return Err(ResponseError::UnknownProducerId);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kafka_protocol::messages::produce_request::TopicProduceData;
    use kafka_protocol::messages::{RequestKind, ResponseKind};

    use super::*;
    use crate::api::{self, topic_name};
    use crate::cluster::Cluster;
    use crate::config::BrokerConfig;

    fn records(key: &str) -> Bytes {
        batch_of(key, b"v")
    }

    fn batch_of(key: &str, value: &[u8]) -> Bytes {
        crate::log::batch::testing::encode(-1, -1, -1, &[(Some(key.as_bytes()), value)])
    }

    /// The broker's answer to `request`, through the API table as a connection sends it.
    async fn answer(cluster: &Arc<Cluster>, request: ProduceRequest) -> ProduceResponse {
        let ctx = Ctx {
            cluster,
            version: 9,
            client_id: "tester",
            client_host: "127.0.0.1",
        };
        match api::handle(&ctx, RequestKind::Produce(request)).await {
            Some(ResponseKind::Produce(response)) => response,
            _ => panic!("acks other than 0 get a produce answer"),
        }
    }

    async fn produce(cluster: &Arc<Cluster>, key: &str) -> i64 {
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name("t"))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records(key)))])]);
        let response = answer(cluster, request).await;
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!(partition.error_code, 0);
        partition.base_offset
    }

    /// A batch over `max_message_bytes` gets MESSAGE_TOO_LARGE and is not stored; one of
    /// exactly that size, and the other partitions of the same request, are appended.
    #[tokio::test]
    async fn a_batch_over_max_message_bytes_is_refused_and_not_stored() {
        let exact = batch_of("k", &[7; 1000]).len();
        let config = BrokerConfig {
            max_message_bytes: exact,
            ..BrokerConfig::ephemeral()
        };
        let cluster = Arc::new(Cluster::open(config, "127.0.0.1".into(), 9092).expect("open"));
        cluster.create_topic("t", 2).expect("create topic");
        let data = |index, records| {
            PartitionProduceData::default()
                .with_index(index)
                .with_records(Some(records))
        };
        let request = ProduceRequest::default().with_acks(1).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic_name("t"))
                .with_partition_data(vec![
                    data(0, batch_of("k", &[7; 1001])),
                    data(1, batch_of("k", &[7; 1000])),
                ]),
        ]);
        let response = answer(&cluster, request).await;
        let codes: Vec<i16> = response.responses[0]
            .partition_responses
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(codes, [ResponseError::MessageTooLarge.code(), 0]);
        let topic = cluster.topic("t").expect("topic");
        let stored = |p| {
            topic
                .partition(p)
                .expect("partition")
                .log()
                .high_watermark()
        };
        assert_eq!((stored(0), stored(1)), (0, 1));
    }

    /// `FsyncPolicy::Always` on a multi-thread runtime, where appends go through
    /// `block_in_place`: concurrent producers to one partition get distinct offsets, every
    /// acknowledged batch is in the files (several segments, as they roll), in offset order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fsync_always_appends_are_on_disk_in_offset_order_when_acknowledged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = BrokerConfig {
            data_dir: Some(dir.path().to_path_buf()),
            fsync: FsyncPolicy::Always,
            segment_bytes: 400,
            ..BrokerConfig::ephemeral()
        };
        let open =
            || Arc::new(Cluster::open(config.clone(), "127.0.0.1".into(), 9092).expect("open"));
        let cluster = open();
        cluster.create_topic("t", 1).expect("create topic");
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let cluster = cluster.clone();
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    for i in 0..10 {
                        acknowledged.push(produce(&cluster, &format!("p{p}-{i}")).await);
                    }
                    acknowledged
                })
            })
            .collect();
        let mut offsets = Vec::new();
        for producer in producers {
            let acknowledged = producer.await.expect("producer task");
            assert!(
                acknowledged.windows(2).all(|w| w[0] < w[1]),
                "one producer's batches keep their order"
            );
            offsets.extend(acknowledged);
        }
        offsets.sort_unstable();
        assert_eq!(offsets, (0..40).collect::<Vec<i64>>(), "distinct, no gaps");
        drop(cluster);

        let segments = std::fs::read_dir(dir.path().join("topics/t/0"))
            .expect("partition folder")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
            })
            .count();
        assert!(segments > 1, "segments rolled: {segments}");
        let reopened = open();
        let topic = reopened.topic("t").expect("recovered topic");
        let log = topic.partition(0).expect("partition 0").log();
        assert_eq!(
            log.high_watermark(),
            40,
            "every acknowledged batch was recovered"
        );
        let mut rest = log.read(0, usize::MAX).expect("read all");
        for expected in 0..40 {
            let (batch, tail) = crate::log::batch::take_one(&rest).expect("a whole batch");
            assert_eq!(
                i64::from_be_bytes(batch.data[..8].try_into().expect("8 bytes")),
                expected
            );
            rest = tail;
        }
    }
}
