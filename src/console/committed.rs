//! Every group's committed offsets in a few requests, sent by the console's own protocol
//! client: FindCoordinator v4 (all groups in one request) to any broker, then OffsetFetch v8
//! (all of a coordinator's groups, every topic) to each coordinator. Through rdkafka it took a
//! client and an OffsetFetch per group over every partition of every topic: with a few hundred
//! groups the overview took half a minute.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{FindCoordinatorRequest, GroupId, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;

use super::error::{protocol_error, ConsoleError};
use super::kafka::{self, Reader};
use super::wire::{self, Security};
use crate::kafka::Kafka;

/// (topic, partition) → committed offset, of one group.
pub type Offsets = BTreeMap<(String, i32), i64>;

/// Served by Kafka since 3.0 (4.x included) and by the built-in broker.
const FIND_COORDINATOR_VERSION: i16 = 4;
const OFFSET_FETCH_VERSION: i16 = 8;

/// Each group's committed offsets; a group whose coordinator could not be found or did not
/// answer has none (its lag is then not shown), the others are still answered.
pub fn all(
    kafka: &Kafka,
    client: &Reader,
    groups: &[String],
) -> Result<BTreeMap<String, Offsets>, ConsoleError> {
    let mut out = BTreeMap::new();
    if groups.is_empty() {
        return Ok(out);
    }
    let security = Security::from_kafka(kafka)?;
    let brokers = kafka::broker_addresses(client, None)?;
    let find = FindCoordinatorRequest::default()
        .with_key_type(0)
        .with_coordinator_keys(
            groups
                .iter()
                .map(|g| StrBytes::from_string(g.clone()))
                .collect(),
        );
    let found = wire::to_any(&brokers, &security, &find, FIND_COORDINATOR_VERSION)?;
    let mut by_coordinator: BTreeMap<(String, i32), Vec<String>> = BTreeMap::new();
    for c in found.coordinators {
        match protocol_error(c.error_code) {
            None => by_coordinator
                .entry((c.host.to_string(), c.port))
                .or_default()
                .push(c.key.to_string()),
            Some(code) => tracing::debug!(group = %c.key, code, "console: no coordinator"),
        }
    }
    for ((host, port), names) in by_coordinator {
        let request = OffsetFetchRequest::default().with_groups(
            names
                .iter()
                .map(|g| {
                    OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(StrBytes::from_string(g.clone())))
                        .with_topics(None)
                })
                .collect(),
        );
        let answer = match wire::connect(&host, port, &security)
            .and_then(|mut c| c.send(&request, OFFSET_FETCH_VERSION))
        {
            Ok(answer) => answer,
            Err(err) => {
                tracing::debug!(%host, port, %err, "console: a coordinator did not answer");
                continue;
            }
        };
        for g in answer.groups.into_iter().filter(|g| g.error_code == 0) {
            let offsets = g
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .filter(|p| p.error_code == 0 && p.committed_offset >= 0)
                        .map(|p| ((t.name.to_string(), p.partition_index), p.committed_offset))
                })
                .collect();
            out.insert(g.group_id.to_string(), offsets);
        }
    }
    Ok(out)
}
