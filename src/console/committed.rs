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

/// Each group's committed offsets, or why they could not be read (no coordinator, one that
/// did not answer or refused, a Kafka older than 3.0, security settings the console's own
/// client does not speak): pages show the lag as unknown with the reason, and a reset is
/// refused rather than planned from offsets it could not read.
pub fn all(
    kafka: &Kafka,
    client: &Reader,
    groups: &[String],
) -> BTreeMap<String, Result<Offsets, String>> {
    match fetch(kafka, client, groups) {
        Ok(mut found) => groups
            .iter()
            .map(|g| {
                let answer = found
                    .remove(g)
                    .unwrap_or_else(|| Err("Kafka did not answer for this group".into()));
                (g.clone(), answer)
            })
            .collect(),
        Err(err) => {
            let why = format!("committed offsets could not be read: {err}");
            groups
                .iter()
                .map(|g| (g.clone(), Err(why.clone())))
                .collect()
        }
    }
}

/// One group's committed offsets, or why they could not be read.
pub fn one(kafka: &Kafka, client: &Reader, group: &str) -> Result<Offsets, ConsoleError> {
    all(kafka, client, &[group.to_string()])
        .remove(group)
        .unwrap_or_else(|| Err("Kafka did not answer for this group".into()))
        .map_err(|why| ConsoleError::Input(format!("group {group}: {why}")))
}

type Answers = BTreeMap<String, Result<Offsets, String>>;

fn fetch(kafka: &Kafka, client: &Reader, groups: &[String]) -> Result<Answers, ConsoleError> {
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
            Some(code) => {
                out.insert(c.key.to_string(), Err(format!("no coordinator: {code}")));
            }
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
                for g in names {
                    out.insert(g, Err(format!("the coordinator did not answer: {err}")));
                }
                continue;
            }
        };
        for g in answer.groups {
            if let Some(code) = protocol_error(g.error_code) {
                out.insert(
                    g.group_id.to_string(),
                    Err(format!("the coordinator answered {code}")),
                );
                continue;
            }
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
            out.insert(g.group_id.to_string(), Ok(offsets));
        }
    }
    Ok(out)
}
