//! Fetch: read whole batches from each asked partition; when fewer than `min_bytes` are
//! ready, wait for an append (not a poll loop) until `max_wait_ms` runs out.
//!
//! Fetch sessions (KIP-227) are not kept: every answer has session id 0, which tells a
//! client to send full fetch requests, as the protocol allows.

use std::time::Duration;

use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};
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

fn read_all(ctx: &Ctx<'_>, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
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
                    data = data
                        .with_high_watermark(log.high_watermark())
                        .with_last_stable_offset(log.high_watermark())
                        .with_log_start_offset(log.log_start_offset());
                    // The first partition with data may exceed the response budget by one batch.
                    let limit = usize::try_from(p.partition_max_bytes)
                        .unwrap_or(0)
                        .min(budget.max(1));
                    match log.read(p.fetch_offset, limit) {
                        Ok(records) if total > 0 && records.len() > budget => {
                            data.with_records(Some(Default::default()))
                        }
                        Ok(records) => {
                            total += records.len();
                            budget = budget.saturating_sub(records.len());
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
