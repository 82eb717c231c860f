//! One file per Kafka API. Handlers are pure: a decoded request in, a response out, the
//! broker's state reached through [`Ctx`]; no socket in them.
//!
//! [`SUPPORTED`] is the single table of what is served and at which versions; ApiVersions
//! answers from it, so the broker never advertises what it does not serve.

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod alter_configs;
pub mod api_versions;
mod consumer_group_describe;
mod consumer_group_heartbeat;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_acls;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod describe_log_dirs;
mod describe_producers;
mod describe_transactions;
mod end_txn;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod list_transactions;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sync_group;
mod txn_offset_commit;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::cluster::Cluster;

/// What a handler may know about the request besides its body.
pub struct Ctx<'a> {
    pub cluster: &'a Arc<Cluster>,
    pub version: i16,
    pub client_id: &'a str,
    pub client_host: &'a str,
}

/// Served APIs and the version ranges tested against real clients. Produce, Fetch,
/// OffsetCommit and OffsetFetch stop below the versions that address topics by id only.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 9),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 2),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::ListTransactions, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeProducers, 0, 0),
    // Transactions (see `txn`). AddPartitionsToTxn v4+ is for brokers, not clients.
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::DescribeTransactions, 0, 0),
    // KIP-848 consumer groups (see `group::consumer`).
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

pub fn supported(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(key, _, _)| *key == api)
        .map(|(_, min, max)| (*min, *max))
}

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The names that appear more than once in a request (Kafka refuses each of them).
pub fn duplicated<'a>(names: impl Iterator<Item = &'a str>) -> std::collections::HashSet<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .filter(|n| !seen.insert(*n))
        .map(str::to_string)
        .collect()
}

/// PRODUCER_FENCED is answered from the request version that introduced it (KIP-588), older
/// clients get INVALID_PRODUCER_EPOCH for it, as Kafka answers them.
pub fn fenced_since(ctx: &Ctx<'_>, err: ResponseError, since: i16) -> ResponseError {
    if err == ResponseError::ProducerFenced && ctx.version < since {
        ResponseError::InvalidProducerEpoch
    } else {
        err
    }
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// Routes a decoded request to its handler. `None` only for a produce with acks=0.
pub async fn handle(ctx: &Ctx<'_>, request: RequestKind) -> Option<ResponseKind> {
    use RequestKind as Rq;
    use ResponseKind as Rs;
    Some(match request {
        Rq::ApiVersions(r) => Rs::ApiVersions(api_versions::handle(ctx, r)),
        Rq::Metadata(r) => Rs::Metadata(metadata::handle(ctx, r)),
        Rq::Produce(r) => Rs::Produce(produce::handle(ctx, r)?),
        Rq::Fetch(r) => Rs::Fetch(fetch::handle(ctx, r).await),
        Rq::ListOffsets(r) => Rs::ListOffsets(list_offsets::handle(ctx, r)),
        Rq::FindCoordinator(r) => Rs::FindCoordinator(find_coordinator::handle(ctx, r)),
        Rq::JoinGroup(r) => Rs::JoinGroup(join_group::handle(ctx, r).await),
        Rq::SyncGroup(r) => Rs::SyncGroup(sync_group::handle(ctx, r).await),
        Rq::Heartbeat(r) => Rs::Heartbeat(heartbeat::handle(ctx, r)),
        Rq::LeaveGroup(r) => Rs::LeaveGroup(leave_group::handle(ctx, r)),
        Rq::OffsetCommit(r) => Rs::OffsetCommit(offset_commit::handle(ctx, r)),
        Rq::OffsetFetch(r) => Rs::OffsetFetch(offset_fetch::handle(ctx, r)),
        Rq::DescribeGroups(r) => Rs::DescribeGroups(describe_groups::handle(ctx, r)),
        Rq::ListGroups(r) => Rs::ListGroups(list_groups::handle(ctx, r)),
        Rq::CreateTopics(r) => Rs::CreateTopics(create_topics::handle(ctx, r)),
        Rq::DeleteTopics(r) => Rs::DeleteTopics(delete_topics::handle(ctx, r)),
        Rq::DeleteRecords(r) => Rs::DeleteRecords(delete_records::handle(ctx, r)),
        Rq::InitProducerId(r) => Rs::InitProducerId(init_producer_id::handle(ctx, r)),
        Rq::DescribeConfigs(r) => Rs::DescribeConfigs(describe_configs::handle(ctx, r)),
        Rq::AlterConfigs(r) => Rs::AlterConfigs(alter_configs::handle(ctx, r)),
        Rq::IncrementalAlterConfigs(r) => {
            Rs::IncrementalAlterConfigs(incremental_alter_configs::handle(ctx, r))
        }
        Rq::OffsetForLeaderEpoch(r) => {
            Rs::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(ctx, r))
        }
        Rq::DescribeLogDirs(r) => Rs::DescribeLogDirs(describe_log_dirs::handle(ctx, r)),
        Rq::DeleteGroups(r) => Rs::DeleteGroups(delete_groups::handle(ctx, r)),
        Rq::OffsetDelete(r) => Rs::OffsetDelete(offset_delete::handle(ctx, r)),
        Rq::DescribeCluster(r) => Rs::DescribeCluster(describe_cluster::handle(ctx, r)),
        Rq::DescribeAcls(r) => Rs::DescribeAcls(describe_acls::handle(ctx, r)),
        Rq::ListTransactions(r) => Rs::ListTransactions(list_transactions::handle(ctx, r)),
        Rq::CreatePartitions(r) => Rs::CreatePartitions(create_partitions::handle(ctx, r)),
        Rq::DescribeProducers(r) => Rs::DescribeProducers(describe_producers::handle(ctx, r)),
        Rq::AddPartitionsToTxn(r) => Rs::AddPartitionsToTxn(add_partitions_to_txn::handle(ctx, r)),
        Rq::AddOffsetsToTxn(r) => Rs::AddOffsetsToTxn(add_offsets_to_txn::handle(ctx, r)),
        Rq::TxnOffsetCommit(r) => Rs::TxnOffsetCommit(txn_offset_commit::handle(ctx, r)),
        Rq::EndTxn(r) => Rs::EndTxn(end_txn::handle(ctx, r)),
        Rq::DescribeTransactions(r) => {
            Rs::DescribeTransactions(describe_transactions::handle(ctx, r))
        }
        Rq::ConsumerGroupHeartbeat(r) => {
            Rs::ConsumerGroupHeartbeat(consumer_group_heartbeat::handle(ctx, r))
        }
        Rq::ConsumerGroupDescribe(r) => {
            Rs::ConsumerGroupDescribe(consumer_group_describe::handle(ctx, r))
        }
        // decode_request admits only the keys in SUPPORTED, all matched above.
        other => {
            tracing::error!(request = ?std::mem::discriminant(&other), "request reached no handler");
            return None;
        }
    })
}
