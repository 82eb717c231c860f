//! Changes to a consumer group, as `kafka-consumer-groups` makes them: its committed offsets
//! reset (to earliest, latest, a time, an offset, or shifted by N), the group deleted, its
//! offsets of one topic deleted. Kafka takes offsets committed from outside a group only while
//! it has no members, so a reset is refused while it has some, with the reason, as Kafka's own
//! tool refuses it.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{FindCoordinatorRequest, GroupId, OffsetDeleteRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::error::{code_name, protocol_error, ConsoleError};
use super::kafka::{self, Reader, TopicInfo, TIMEOUT};
use super::wire::{self, Security};
use super::Console;
use crate::kafka::Kafka;

/// Where a reset moves each offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Earliest,
    Latest,
    /// The first offset at or after this time (ms since the epoch); the end if none is.
    Time(i64),
    Offset(i64),
    /// The committed offset (earliest when none) plus this, which may be negative.
    Shift(i64),
}

/// Which partitions a reset moves: those the group has offsets for, one topic's, or one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub topic: Option<String>,
    pub partition: Option<i32>,
}

/// One partition's planned move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
    pub low: i64,
    pub high: i64,
    pub new: i64,
}

impl Move {
    /// Where `target` puts this partition's offset (`at_time`: the offset found for a time),
    /// clamped to the partition's range as Kafka's tool clamps it.
    fn moved(&self, target: Target, at_time: Option<i64>) -> i64 {
        let wanted = match target {
            Target::Earliest => self.low,
            Target::Latest => self.high,
            Target::Time(_) => at_time.unwrap_or(self.high),
            Target::Offset(o) => o,
            Target::Shift(n) => self.committed.unwrap_or(self.low).saturating_add(n),
        };
        wanted.max(self.low).min(self.high)
    }

    /// The lag the new offset leaves.
    pub fn lag(&self) -> i64 {
        self.high - self.new
    }
}

/// The group's state and member count, refused as Kafka refuses an outside commit when it
/// has members.
pub fn require_empty(client: &Reader, group: &str) -> Result<(), ConsoleError> {
    let list = client.fetch_group_list(Some(group), TIMEOUT)?;
    let Some(found) = list.groups().first() else {
        return Ok(());
    };
    let members = found.members().len();
    if members > 0 {
        return Err(ConsoleError::Input(format!(
            "group {group} has {members} active member(s) (state {}): Kafka takes new offsets \
             only while a group is empty; stop its consumers first",
            found.state()
        )));
    }
    Ok(())
}

/// The offsets a reset would commit, clamped to each partition's range as Kafka's tool does.
pub fn plan(
    kafka: &Kafka,
    client: &Reader,
    group: &str,
    scope: &Scope,
    target: Target,
) -> Result<Vec<Move>, ConsoleError> {
    let topics = kafka::topics(kafka, client)?.list;
    let committed = super::committed::one(kafka, client, group)?;
    let mut moves = Vec::new();
    for t in in_scope(&topics, scope)? {
        for p in &t.partitions {
            let key = (t.name.clone(), p.id);
            let chosen = match (&scope.topic, scope.partition) {
                (None, _) => committed.contains_key(&key),
                (Some(_), Some(only)) => p.id == only,
                (Some(_), None) => true,
            };
            if chosen {
                moves.push(Move {
                    topic: t.name.clone(),
                    partition: p.id,
                    committed: committed.get(&key).copied(),
                    low: p.low,
                    high: p.high,
                    new: 0,
                });
            }
        }
    }
    let times = match target {
        Target::Time(ms) => kafka::offsets_at(
            client,
            moves.iter().map(|m| (m.topic.as_str(), m.partition)),
            ms,
        )?,
        _ => BTreeMap::new(),
    };
    for m in &mut moves {
        let at_time = times.get(&(m.topic.clone(), m.partition)).copied();
        m.new = m.moved(target, at_time);
    }
    Ok(moves)
}

fn in_scope<'a>(
    topics: &'a [TopicInfo],
    scope: &Scope,
) -> Result<Vec<&'a TopicInfo>, ConsoleError> {
    let Some(name) = &scope.topic else {
        return Ok(topics.iter().collect());
    };
    let topic = topics
        .iter()
        .find(|t| &t.name == name)
        .ok_or_else(|| ConsoleError::NoSuchTopic(name.clone()))?;
    if let Some(p) = scope.partition {
        if !topic.partitions.iter().any(|x| x.id == p) {
            return Err(ConsoleError::Input(format!(
                "topic {name} has no partition {p}"
            )));
        }
    }
    Ok(vec![topic])
}

/// A previewed move as the Apply form carries it back.
#[derive(Debug, PartialEq, Eq)]
pub struct Planned {
    pub topic: String,
    pub partition: i32,
    /// The committed offset the preview saw (None: none).
    pub committed: Option<i64>,
    pub new: i64,
}

/// The preview's moves for the Apply form: `topic:partition:committed:new`, joined by `;`
/// (committed -1: none). Topic names cannot hold `:` or `;`.
pub fn encode(moves: &[Move]) -> String {
    let parts: Vec<String> = moves
        .iter()
        .map(|m| {
            format!(
                "{}:{}:{}:{}",
                m.topic,
                m.partition,
                m.committed.unwrap_or(-1),
                m.new
            )
        })
        .collect();
    parts.join(";")
}

pub fn decode(text: &str) -> Result<Vec<Planned>, ConsoleError> {
    let bad = || {
        ConsoleError::Input("the previewed offsets did not come back whole: preview again".into())
    };
    text.split(';')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let fields: Vec<&str> = part.split(':').collect();
            let [topic, partition, committed, new] = fields[..] else {
                return Err(bad());
            };
            let committed: i64 = committed.parse().map_err(|_| bad())?;
            Ok(Planned {
                topic: topic.to_string(),
                partition: partition.parse().map_err(|_| bad())?,
                committed: (committed >= 0).then_some(committed),
                new: new.parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

/// Commits exactly what was previewed, if the group is empty and its offsets are still what
/// the preview saw: an Apply sent twice, or after someone else moved them, changes nothing.
pub fn apply(
    kafka: &Kafka,
    client: &Reader,
    group: &str,
    planned: &[Planned],
) -> Result<(), ConsoleError> {
    if planned.is_empty() {
        return Err(ConsoleError::Input(
            "nothing was previewed: preview first".into(),
        ));
    }
    let committer: Reader = kafka::client(kafka, Some(group))?;
    require_empty(&committer, group)?;
    let now = super::committed::one(kafka, client, group)?;
    let mut tpl = TopicPartitionList::new();
    for p in planned {
        let current = now.get(&(p.topic.clone(), p.partition)).copied();
        if current != p.committed {
            let shown = |o: Option<i64>| o.map_or("none".to_string(), |o| o.to_string());
            return Err(ConsoleError::Input(format!(
                "the committed offset of {}/{} is {} now, not {} as previewed: preview again",
                p.topic,
                p.partition,
                shown(current),
                shown(p.committed)
            )));
        }
        tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(p.new))?;
    }
    committer.commit(&tpl, CommitMode::Sync)?;
    Ok(())
}

/// DeleteGroups: Kafka refuses a group with members (NON_EMPTY_GROUP).
pub async fn delete_group(console: &Console, group: &str) -> Result<(), ConsoleError> {
    let results = console
        .admin
        .delete_groups(&[group], &AdminOptions::new())
        .await?;
    match results.into_iter().next() {
        Some(Err((_, code))) => Err(ConsoleError::Input(format!(
            "Kafka did not delete group {group}: {} ({code})",
            code_name(&format!("{code:?}"))
        ))),
        _ => Ok(()),
    }
}

/// OffsetDelete of the group's offsets of `topic` (rdkafka has no call for it), sent to the
/// group's coordinator; the partitions are those the group has offsets for, so the offsets
/// of a topic deleted since can go too. Kafka refuses it while the group's members subscribe
/// to the topic (GROUP_SUBSCRIBED_TO_TOPIC).
pub fn delete_offsets(
    kafka: &Kafka,
    client: &Reader,
    group: &str,
    topic: &str,
) -> Result<(), ConsoleError> {
    let partitions: Vec<i32> = super::committed::one(kafka, client, group)?
        .into_keys()
        .filter(|(t, _)| t == topic)
        .map(|(_, p)| p)
        .collect();
    if partitions.is_empty() {
        return Err(ConsoleError::Input(format!(
            "group {group} has no offsets of {topic}"
        )));
    }
    let security = Security::from_kafka(kafka)?;
    let (host, port) = coordinator(client, &security, group)?;
    let mut conn = wire::connect(&host, port, &security)?;
    let request = OffsetDeleteRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(
                partitions
                    .into_iter()
                    .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(p))
                    .collect(),
            )]);
    let answer = conn.send(&request, 0)?;
    let refusal = std::iter::once(answer.error_code)
        .chain(
            answer
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        )
        .find_map(protocol_error);
    match refusal {
        Some(err) => Err(ConsoleError::Input(format!(
            "Kafka did not delete the offsets of {topic} for group {group}: {err}"
        ))),
        None => Ok(()),
    }
}

/// The group coordinator's address (FindCoordinator v3, asked of any broker).
fn coordinator(
    client: &Reader,
    security: &Security,
    group: &str,
) -> Result<(String, i32), ConsoleError> {
    let request = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_string(group.to_string()))
        .with_key_type(0);
    let brokers = kafka::broker_addresses(client, None)?;
    let answer = wire::to_any(&brokers, security, &request, 3)?;
    match protocol_error(answer.error_code) {
        None => Ok((answer.host.to_string(), answer.port)),
        Some(code) => Err(ConsoleError::Input(format!(
            "Kafka named no coordinator for group {group}: {code}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(committed: Option<i64>, target: Target) -> i64 {
        let m = Move {
            topic: "t".into(),
            partition: 0,
            committed,
            low: 10,
            high: 50,
            new: 0,
        };
        m.moved(target, None)
    }

    #[test]
    fn the_apply_form_carries_the_preview_back_exactly() {
        let moves = [
            Move {
                topic: "a.b-c".into(),
                partition: 2,
                committed: Some(7),
                low: 0,
                high: 9,
                new: 3,
            },
            Move {
                topic: "t".into(),
                partition: 0,
                committed: None,
                low: 0,
                high: 9,
                new: 9,
            },
        ];
        let planned = decode(&encode(&moves)).expect("decodes");
        assert_eq!(
            planned,
            [
                Planned {
                    topic: "a.b-c".into(),
                    partition: 2,
                    committed: Some(7),
                    new: 3
                },
                Planned {
                    topic: "t".into(),
                    partition: 0,
                    committed: None,
                    new: 9
                },
            ]
        );
        for bad in ["t:0:1", "t:x:1:2", "t:0:1:2:3"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn moves_stay_within_the_partition() {
        assert_eq!(planned(Some(30), Target::Shift(-5)), 25);
        assert_eq!(planned(Some(30), Target::Shift(-100)), 10);
        assert_eq!(planned(Some(30), Target::Shift(i64::MAX)), 50);
        assert_eq!(planned(None, Target::Shift(3)), 13);
        assert_eq!(planned(None, Target::Offset(5)), 10);
        assert_eq!(planned(None, Target::Offset(99)), 50);
        assert_eq!(planned(Some(30), Target::Latest), 50);
        assert_eq!(planned(Some(30), Target::Earliest), 10);
        assert_eq!(
            planned(Some(30), Target::Time(0)),
            50,
            "no offset at that time: the end"
        );
    }
}
