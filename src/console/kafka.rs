//! What the console reads from Kafka, through the Kafka protocol only (rdkafka), so it shows
//! a real cluster exactly as it shows the embedded broker.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Buf;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::metadata::Metadata;
use rdkafka::{Offset, TopicPartitionList};

use super::error::ConsoleError;
use crate::kafka::{header_list, Context, Kafka};

/// The console's reading client.
pub type Reader = BaseConsumer<Context>;

pub(super) const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct PartitionInfo {
    pub id: i32,
    pub low: i64,
    pub high: i64,
}

#[derive(Clone)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    /// Bytes held by the brokers (DescribeLogDirs), when they said.
    pub size: Option<i64>,
}

impl TopicInfo {
    pub fn messages(&self) -> i64 {
        self.partitions.iter().map(|p| p.high - p.low).sum()
    }
}

pub struct Topics {
    pub list: Vec<TopicInfo>,
    /// Why sizes are missing, when they are.
    pub sizes_unknown: Option<String>,
}

pub struct MemberInfo {
    pub client_id: String,
    pub host: String,
    pub assigned: Vec<(String, i32)>,
}

pub struct LagInfo {
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    pub high: i64,
}

pub struct GroupInfo {
    pub name: String,
    pub state: String,
    pub protocol: String,
    pub members: Vec<MemberInfo>,
    /// Per partition, or why the committed offsets could not be read.
    pub lag: Result<Vec<LagInfo>, String>,
}

impl GroupInfo {
    pub fn total_lag(&self) -> i64 {
        self.lag
            .iter()
            .flatten()
            .map(|l| (l.high - l.committed).max(0))
            .sum()
    }
}

/// A message as read, bytes as they are: pages show them as text when they are UTF-8 and
/// as hex when not (`pages::messages`); a redrive sends them back unchanged.
#[derive(Clone)]
pub struct MessageInfo {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub value: Option<Vec<u8>>,
    /// False when a header's name was not UTF-8: shown, but not copied (re-send, redrive).
    pub headers_intact: bool,
}

impl MessageInfo {
    pub fn of(m: &impl Message) -> Self {
        let headers = m.headers().map(header_list).unwrap_or_default();
        Self {
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis(),
            key: m.key().map(<[u8]>::to_vec),
            headers_intact: headers.iter().all(|h| h.intact),
            headers: headers.into_iter().map(|h| (h.name, h.value)).collect(),
            value: m.payload().map(<[u8]>::to_vec),
        }
    }

    /// A header's value as text (lossy), the last one of that name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// A consumer (base or stream) for reading: it never commits, and it never joins the group.
pub fn client<T: FromClientConfigAndContext<Context>>(
    kafka: &Kafka,
    group: Option<&str>,
) -> Result<T, ConsoleError> {
    let mut config = kafka.config("kafka-orders-console");
    // librdkafka wants a group id even to assign partitions by hand; this one never joins
    // (no subscribe) and never commits, so it does not show up as a group.
    config
        .set("enable.auto.commit", "false")
        .set("group.id", group.unwrap_or("kafka-orders-console"));
    Ok(kafka.create(&config)?)
}

pub fn brokers(client: &Reader) -> Result<Vec<String>, ConsoleError> {
    let md = client.fetch_metadata(None, TIMEOUT)?;
    Ok(md
        .brokers()
        .iter()
        .map(|b| format!("{} ({}:{})", b.id(), b.host(), b.port()))
        .collect())
}

/// Every topic with its partitions' offsets and sizes; Kafka's internal topics are left out.
pub fn topics(kafka: &Kafka, client: &Reader) -> Result<Topics, ConsoleError> {
    let md = client.fetch_metadata(None, TIMEOUT)?;
    let mut topics = Vec::new();
    for t in md.topics().iter().filter(|t| !t.name().starts_with("__")) {
        topics.push(topic_info(
            client,
            t.name(),
            t.partitions().iter().map(|p| p.id()),
        )?);
    }
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let sizes_unknown = match super::log_dirs::topic_sizes(kafka, &addresses(&md)) {
        Ok(sizes) => {
            for t in &mut topics {
                t.size = sizes.get(&t.name).copied();
            }
            None
        }
        Err(err) => Some(format!("Sizes are not shown: {err}.")),
    };
    Ok(Topics {
        list: topics,
        sizes_unknown,
    })
}

/// Every broker's host and port, for the console's own protocol client.
fn addresses(md: &Metadata) -> Vec<(String, i32)> {
    md.brokers()
        .iter()
        .map(|b| (b.host().to_string(), b.port()))
        .collect()
}

/// The brokers, from a metadata request for one topic only when one is named (the answer
/// names every broker either way).
pub fn broker_addresses(
    client: &Reader,
    topic: Option<&str>,
) -> Result<Vec<(String, i32)>, ConsoleError> {
    Ok(addresses(&client.fetch_metadata(topic, TIMEOUT)?))
}

fn topic_info(
    client: &Reader,
    name: &str,
    partitions: impl Iterator<Item = i32>,
) -> Result<TopicInfo, ConsoleError> {
    let mut out = Vec::new();
    for id in partitions {
        let (low, high) = client
            .fetch_watermarks(name, id, TIMEOUT)
            .map_err(|source| ConsoleError::Partition {
                topic: name.to_string(),
                partition: id,
                source,
            })?;
        out.push(PartitionInfo { id, low, high });
    }
    out.sort_by_key(|p| p.id);
    Ok(TopicInfo {
        name: name.to_string(),
        partitions: out,
        size: None,
    })
}

/// One topic, or an error that says it does not exist.
pub fn topic(client: &Reader, name: &str) -> Result<TopicInfo, ConsoleError> {
    let md = client.fetch_metadata(Some(name), TIMEOUT)?;
    let missing = || ConsoleError::NoSuchTopic(name.to_string());
    let t = md.topics().first().ok_or_else(missing)?;
    if t.error().is_some() || t.partitions().is_empty() {
        return Err(missing());
    }
    topic_info(client, name, t.partitions().iter().map(|p| p.id()))
}

/// The consumer protocol's assignment: version, [topic, [partition]], user data.
fn parse_assignment(mut bytes: &[u8]) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let read = |b: &mut &[u8]| -> Option<Vec<(String, i32)>> {
        let mut found = Vec::new();
        if b.remaining() < 6 {
            return None;
        }
        b.get_i16();
        for _ in 0..b.get_i32().max(0) {
            if b.remaining() < 2 {
                return None;
            }
            let len = b.get_i16().max(0) as usize;
            if b.remaining() < len + 4 {
                return None;
            }
            let topic = String::from_utf8_lossy(&b[..len]).into_owned();
            b.advance(len);
            for _ in 0..b.get_i32().max(0) {
                if b.remaining() < 4 {
                    return None;
                }
                found.push((topic.clone(), b.get_i32()));
            }
        }
        Some(found)
    };
    if let Some(found) = read(&mut bytes) {
        out = found;
    }
    out.sort();
    out
}

/// Every group, or only `only`.
pub fn groups(
    client: &Reader,
    kafka: &Kafka,
    topics: &[TopicInfo],
    only: Option<&str>,
) -> Result<Vec<GroupInfo>, ConsoleError> {
    let list = client.fetch_group_list(only, TIMEOUT)?;
    let names: Vec<String> = list.groups().iter().map(|g| g.name().to_string()).collect();
    let mut committed = super::committed::all(kafka, client, &names);
    let mut out = Vec::new();
    for g in list.groups() {
        let members = g
            .members()
            .iter()
            .map(|m| MemberInfo {
                client_id: m.client_id().to_string(),
                host: m.client_host().trim_start_matches('/').to_string(),
                assigned: m.assignment().map(parse_assignment).unwrap_or_default(),
            })
            .collect();
        out.push(GroupInfo {
            name: g.name().to_string(),
            state: g.state().to_string(),
            protocol: g.protocol().to_string(),
            members,
            lag: match committed.remove(g.name()) {
                Some(Ok(offsets)) => Ok(lag(&offsets, topics)),
                Some(Err(why)) => Err(why),
                None => Ok(Vec::new()),
            },
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A group's committed offsets against each partition's end, ordered by topic and partition;
/// offsets of a topic no longer listed count as caught up.
fn lag(committed: &super::committed::Offsets, topics: &[TopicInfo]) -> Vec<LagInfo> {
    let high: BTreeMap<(&str, i32), i64> = topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| ((t.name.as_str(), p.id), p.high))
        })
        .collect();
    committed
        .iter()
        .map(|((topic, partition), &offset)| LagInfo {
            topic: topic.clone(),
            partition: *partition,
            committed: offset,
            high: high
                .get(&(topic.as_str(), *partition))
                .copied()
                .unwrap_or(offset),
        })
        .collect()
}

/// For each partition, the first offset whose timestamp is at or after `ms` (ListOffsets by
/// time); partitions with none are left out (the end is the answer for them).
pub fn offsets_at<'a>(
    client: &Reader,
    partitions: impl Iterator<Item = (&'a str, i32)>,
    ms: i64,
) -> Result<BTreeMap<(String, i32), i64>, ConsoleError> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition_offset(topic, partition, Offset::Offset(ms))?;
    }
    if tpl.count() == 0 {
        return Ok(BTreeMap::new());
    }
    let found = client.offsets_for_times(tpl, TIMEOUT)?;
    Ok(found
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

/// Messages of one partition in `[from, to)`, read with a consumer assigned at `from`. Done
/// when the consumer's position reaches `to` (offsets without a message, as after compaction
/// or transaction markers, are passed over); an error, never a silent partial answer, when
/// Kafka has not sent them all within [`TIMEOUT`] of the last message.
pub fn read(
    kafka: &Kafka,
    topic: &str,
    partition: i32,
    from: i64,
    to: i64,
) -> Result<Vec<MessageInfo>, ConsoleError> {
    let mut out = Vec::new();
    if from >= to {
        return Ok(out);
    }
    let consumer: Reader = client(kafka, None)?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
    consumer.assign(&tpl)?;
    let mut next = from;
    let mut deadline = std::time::Instant::now() + TIMEOUT;
    while next < to {
        if std::time::Instant::now() > deadline {
            return Err(ConsoleError::Input(format!(
                "{topic}/{partition}: Kafka sent offsets {from} to {next} of {from} to {to} and then nothing for {} s",
                TIMEOUT.as_secs()
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(result) => {
                let m = result?;
                next = m.offset().saturating_add(1);
                deadline = std::time::Instant::now() + TIMEOUT;
                if m.offset() < to {
                    out.push(MessageInfo::of(&m));
                }
            }
            None => {
                let position = consumer.position()?;
                if let Some(Offset::Offset(p)) = position
                    .find_partition(topic, partition)
                    .map(|e| e.offset())
                {
                    next = next.max(p);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_consumer_protocol_assignment() {
        let mut b = vec![
            0, 1, 0, 0, 0, 1, 0, 2, b'o', b't', 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0,
        ];
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            parse_assignment(&b),
            vec![("ot".to_string(), 0), ("ot".to_string(), 2)]
        );
        assert!(parse_assignment(&[0, 1, 0]).is_empty());
    }
}
