//! Fetch: read whole batches from each asked partition; when fewer than `min_bytes` are
//! ready, wait for an append (not a poll loop) until `max_wait_ms` runs out.
//!
//! Fetch sessions (KIP-227) are not kept: every answer has session id 0, which tells a
//! client to send full fetch requests, as the protocol allows.

use std::time::Duration;

use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::Ctx;

/// Caps a client's `max_wait_ms`, so shutdown never waits long on a fetch.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub async fn handle(ctx: &Ctx<'_>, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let mut appends = ctx.cluster.watch_appends();
    loop {
        appends.borrow_and_update();
        let (response, bytes, any_error) = read_all(ctx, &request);
        if bytes >= min_bytes || any_error || Instant::now() >= deadline {
            return response;
        }
        if tokio::time::timeout_at(deadline, appends.changed())
            .await
            .is_err()
        {
            return read_all(ctx, &request).0;
        }
    }
}

/// Reads every asked partition, within the answer's cap: the request's `max_bytes`, at most
/// the broker's `fetch.max.bytes`; and each partition within its `partition_max_bytes`.
fn read_all(ctx: &Ctx<'_>, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut budget = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(ctx.cluster.config.fetch_max_bytes);
    let mut total = 0;
    let mut any_error = false;
    let read_committed = request.isolation_level == 1;
    let responses = request
        .topics
        .iter()
        .map(|wanted: &FetchTopic| {
            let topic = ctx.cluster.topic(&wanted.topic);
            let partitions = wanted
                .partitions
                .iter()
                .map(|p| {
                    let mut data = PartitionData::default()
                        .with_partition_index(p.partition)
                        .with_preferred_read_replica(BrokerId(-1))
                        .with_aborted_transactions(read_committed.then(Vec::new));
                    let Some(partition) = topic.as_ref().and_then(|t| t.partition(p.partition))
                    else {
                        any_error = true;
                        return data
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_high_watermark(-1);
                    };
                    let log = partition.log();
                    let stable = log.last_stable_offset();
                    data = data
                        .with_high_watermark(log.high_watermark())
                        .with_last_stable_offset(stable)
                        .with_log_start_offset(log.log_start_offset());
                    // read_committed: only what is below the last stable offset, with the
                    // aborted transactions in the range returned for the client to drop.
                    let until = if read_committed {
                        stable
                    } else {
                        log.high_watermark()
                    };
                    // KIP-74: the first partition with data gets its first batch whole even
                    // over both caps (`read` returns at least one batch), so that a consumer is
                    // never stuck behind a batch larger than its limits. The others get whole
                    // batches within both caps, or none.
                    let limit = usize::try_from(p.partition_max_bytes)
                        .unwrap_or(0)
                        .min(budget);
                    match log.read_until(p.fetch_offset, limit, until) {
                        Ok((records, _)) if total > 0 && records.len() > limit => {
                            data.with_records(Some(Default::default()))
                        }
                        Ok((records, end)) => {
                            total += records.len();
                            budget = budget.saturating_sub(records.len());
                            if read_committed {
                                let aborted = log
                                    .aborted_between(p.fetch_offset, end)
                                    .into_iter()
                                    .map(|a| {
                                        AbortedTransaction::default()
                                            .with_producer_id(ProducerId(a.producer_id))
                                            .with_first_offset(a.first_offset)
                                    })
                                    .collect();
                                data = data.with_aborted_transactions(Some(aborted));
                            }
                            data.with_records(Some(records))
                        }
                        Err(err) => {
                            any_error = true;
                            data.with_error_code(err.code())
                        }
                    }
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(wanted.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    (
        FetchResponse::default().with_responses(responses),
        total,
        any_error,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::topic_name;
    use crate::cluster::Cluster;
    use crate::config::BrokerConfig;
    use crate::log::batch;
    use kafka_protocol::messages::fetch_request::FetchPartition;

    /// A broker with `fetch.max.bytes` = `fetch_max_bytes` and topic "t" whose partitions hold
    /// batches of these value sizes.
    fn cluster(fetch_max_bytes: usize, partitions: &[&[usize]]) -> Arc<Cluster> {
        let config = BrokerConfig {
            fetch_max_bytes,
            ..BrokerConfig::ephemeral()
        };
        let cluster = Arc::new(Cluster::open(config, "127.0.0.1".into(), 9092).expect("open"));
        let topic = cluster
            .create_topic("t", partitions.len() as i32)
            .expect("create topic");
        for (index, values) in partitions.iter().enumerate() {
            let mut log = topic.partition(index as i32).expect("partition").log();
            for &len in *values {
                log.append(batch::testing::one(len)).expect("append");
            }
        }
        cluster
    }

    /// The whole batches each partition of the answer carries (their sizes), in order.
    async fn fetch(
        cluster: &Arc<Cluster>,
        max_bytes: i32,
        partition_max_bytes: i32,
        partitions: i32,
    ) -> Vec<Vec<usize>> {
        let ctx = Ctx {
            cluster,
            version: 12,
            client_id: "tester",
            client_host: "127.0.0.1",
        };
        let request = FetchRequest::default()
            .with_max_bytes(max_bytes)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name("t"))
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_partition_max_bytes(partition_max_bytes)
                        })
                        .collect(),
                )]);
        let response = handle(&ctx, request).await;
        response.responses[0]
            .partitions
            .iter()
            .map(|p| {
                assert_eq!(p.error_code, 0);
                let mut rest = p.records.clone().unwrap_or_default();
                let mut sizes = Vec::new();
                while !rest.is_empty() {
                    let (batch, tail) = batch::take_one(&rest).expect("whole batches only");
                    sizes.push(batch.len());
                    rest = tail;
                }
                sizes
            })
            .collect()
    }

    /// A client asking for `max_bytes = i32::MAX` gets at most `fetch.max.bytes`; each
    /// partition at most its `partition_max_bytes`; the request's own smaller cap is kept.
    #[tokio::test]
    async fn answers_are_capped_by_fetch_max_bytes_and_partition_max_bytes() {
        let one = batch::testing::one(1000).len();
        let cluster = cluster(3 * one + one / 2, &[&[1000; 10], &[1000; 10]]);

        let answer = fetch(&cluster, i32::MAX, i32::MAX, 2).await;
        assert_eq!(
            answer,
            [vec![one; 3], vec![]],
            "fetch.max.bytes: 3.5 batches"
        );

        let answer = fetch(&cluster, i32::MAX, (2 * one) as i32, 2).await;
        assert_eq!(
            answer,
            [vec![one; 2], vec![one]],
            "two batches per partition, then what is left of fetch.max.bytes"
        );

        let answer = fetch(&cluster, (2 * one) as i32, i32::MAX, 2).await;
        assert_eq!(answer, [vec![one; 2], vec![]], "the request's smaller cap");
    }

    /// KIP-74: a batch larger than every cap is still returned whole when it comes first, so
    /// the consumer moves on; behind another partition's data it waits for a later fetch.
    #[tokio::test]
    async fn the_first_batch_found_is_whole_even_over_every_cap() {
        let big = batch::testing::one(10_000).len();
        let small = batch::testing::one(100).len();
        let cluster = cluster(2_000, &[&[10_000, 100], &[10_000]]);

        let answer = fetch(&cluster, i32::MAX, 1_000, 2).await;
        assert_eq!(
            answer,
            [vec![big], vec![]],
            "first partition: one whole batch"
        );

        let cluster = self::cluster(100_000, &[&[100], &[10_000]]);
        let answer = fetch(&cluster, i32::MAX, 1_000, 2).await;
        assert_eq!(
            answer,
            [vec![small], vec![]],
            "a later partition's batch over its partition_max_bytes waits"
        );
        let answer = fetch(&cluster, 0, 0, 2).await;
        assert_eq!(answer, [vec![small], vec![]], "caps of 0 still move on");
    }
}
