//! OffsetFetch: a group's committed offsets, for all its partitions or the ones asked for.
//! v1-7 ask for one group; v8+ for a list of groups; v9 names the member asking, whose
//! epoch a consumer group checks (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID), as Kafka does.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name, Ctx};
use crate::group::Committed;

/// (topic, [(partition, committed or not, error code)]) for a group.
type Found = Vec<(String, Vec<(i32, Option<Committed>, i16)>)>;

/// The member asking (v9) and its epoch; None before v8.
type Asker<'a> = Option<(Option<&'a str>, i32)>;

/// A group's committed offsets. With `require_stable` (KIP-447, a `read_committed` consumer),
/// a partition for which an open transaction staged an offset answers UNSTABLE_OFFSET_COMMIT:
/// the consumer retries once the transaction ended, instead of starting from an offset the
/// transaction is about to replace.
fn lookup(
    ctx: &Ctx<'_>,
    group_id: &str,
    asker: Asker<'_>,
    wanted: Option<Vec<(TopicName, Vec<i32>)>>,
    require_stable: bool,
) -> Result<Found, ResponseError> {
    let unstable = if require_stable {
        ctx.cluster.txns.unstable(group_id)
    } else {
        Default::default()
    };
    let offsets = ctx
        .cluster
        .groups
        .with_existing(group_id, |g| {
            if let Some((member_id, epoch)) = asker {
                g.check_offset_fetch(member_id, epoch)?;
            }
            Ok(g.offsets.clone())
        })
        .unwrap_or(Ok(Default::default()))?;
    let answer = |topic: &str, partition: i32, committed: Option<Committed>| {
        if unstable.contains(&(topic.to_string(), partition)) {
            (partition, None, ResponseError::UnstableOffsetCommit.code())
        } else {
            (partition, committed, 0)
        }
    };
    Ok(match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(name, partitions)| {
                let name = name.to_string();
                let found = partitions
                    .into_iter()
                    .map(|p| answer(&name, p, offsets.get(&(name.clone(), p)).cloned()))
                    .collect();
                (name, found)
            })
            .collect(),
        None => {
            let mut all: Found = Vec::new();
            for ((topic, partition), committed) in offsets {
                let found = answer(&topic, partition, Some(committed));
                match all.last_mut() {
                    Some((t, parts)) if *t == topic => parts.push(found),
                    _ => all.push((topic, vec![found])),
                }
            }
            all
        }
    })
}

/// The v1-7 and v8+ answers have the same shape under different type names.
macro_rules! topics {
    ($found:expr, $topic:ident, $partition:ident) => {
        $found
            .into_iter()
            .map(|(name, found)| {
                let partitions = found
                    .into_iter()
                    .map(|(p, committed, error): (i32, Option<Committed>, i16)| {
                        let (offset, metadata) = match committed {
                            Some(c) => (c.offset, c.metadata.unwrap_or_default()),
                            None => (-1, String::new()),
                        };
                        $partition::default()
                            .with_partition_index(p)
                            .with_error_code(error)
                            .with_committed_offset(offset)
                            .with_committed_leader_epoch(-1)
                            .with_metadata(Some(str_bytes(&metadata)))
                    })
                    .collect();
                $topic::default()
                    .with_name(topic_name(&name))
                    .with_partitions(partitions)
            })
            .collect()
    };
}

pub fn handle(ctx: &Ctx<'_>, request: OffsetFetchRequest) -> OffsetFetchResponse {
    if ctx.version < 8 {
        let wanted = request.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name, t.partition_indexes))
                .collect()
        });
        let found = lookup(ctx, &request.group_id, None, wanted, request.require_stable)
            .unwrap_or_default();
        return OffsetFetchResponse::default().with_topics(topics!(
            found,
            OffsetFetchResponseTopic,
            OffsetFetchResponsePartition
        ));
    }
    let groups = request
        .groups
        .into_iter()
        .map(|g| {
            let wanted = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name, t.partition_indexes))
                    .collect()
            });
            let asker = Some((g.member_id.as_deref(), g.member_epoch));
            let (found, code) =
                match lookup(ctx, &g.group_id, asker, wanted, request.require_stable) {
                    Ok(found) => (found, 0),
                    Err(err) => (Vec::new(), err.code()),
                };
            OffsetFetchResponseGroup::default()
                .with_group_id(g.group_id)
                .with_error_code(code)
                .with_topics(topics!(
                    found,
                    OffsetFetchResponseTopics,
                    OffsetFetchResponsePartitions
                ))
        })
        .collect();
    OffsetFetchResponse::default().with_groups(groups)
}
