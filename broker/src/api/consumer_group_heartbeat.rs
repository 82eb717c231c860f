//! ConsumerGroupHeartbeat (KIP-848): join, heartbeat and leave of a consumer group member,
//! answered with its member epoch and, when it changed, its assignment. The request's checks
//! are Kafka's (`throwIfConsumerGroupHeartbeatRequestIsInvalid`); the group's logic is in
//! `group::consumer`.

use std::collections::BTreeSet;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, Ctx};
use crate::group::{self, Assignor, Beat, Refusal, TopicMeta, HEARTBEAT_INTERVAL};

fn invalid(message: &str) -> Refusal {
    Refusal::new(ResponseError::InvalidRequest, message)
}

fn check(ctx: &Ctx<'_>, r: &ConsumerGroupHeartbeatRequest) -> Result<Option<Assignor>, Refusal> {
    let empty = |s: &Option<kafka_protocol::protocol::StrBytes>| s.as_deref() == Some("");
    if r.group_id.is_empty() {
        return Err(invalid("GroupId can't be empty."));
    }
    if empty(&r.instance_id) {
        return Err(invalid("InstanceId can't be empty."));
    }
    if empty(&r.rack_id) {
        return Err(invalid("RackId can't be empty."));
    }
    if ctx.version >= 1 && r.member_id.is_empty() {
        return Err(invalid("MemberId can't be empty."));
    }
    match r.member_epoch {
        0 => {
            if r.rebalance_timeout_ms == -1 {
                return Err(invalid(
                    "RebalanceTimeoutMs must be provided in first request.",
                ));
            }
            if r.topic_partitions.as_ref().is_none_or(|tp| !tp.is_empty()) {
                return Err(invalid("TopicPartitions must be empty when (re-)joining."));
            }
            if r.subscribed_topic_names.is_none() && r.subscribed_topic_regex.is_none() {
                return Err(invalid("Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."));
            }
        }
        -2 if r.instance_id.is_none() => return Err(invalid("InstanceId can't be null.")),
        e if e < -2 => return Err(invalid("MemberEpoch is invalid.")),
        _ => {}
    }
    // An empty regex subscribes to nothing, as in Kafka; any other is not served here.
    if r.subscribed_topic_regex
        .as_deref()
        .is_some_and(|re| !re.is_empty())
    {
        return Err(invalid(
            "SubscribedTopicRegex is not supported by this broker: subscribe to topic names.",
        ));
    }
    r.server_assignor
        .as_deref()
        .map(|name| {
            Assignor::from_name(name).ok_or_else(|| {
                Refusal::new(
                    ResponseError::UnsupportedAssignor,
                    format!(
                        "ServerAssignor {name} is not supported. Supported assignors: {}.",
                        Assignor::NAMES
                    ),
                )
            })
        })
        .transpose()
}

pub fn handle(ctx: &Ctx<'_>, r: ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResponse {
    match beat(ctx, r) {
        Ok(response) => response,
        Err(refusal) => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(refusal.error.code())
            .with_error_message(Some(str_bytes(&refusal.message))),
    }
}

fn beat(
    ctx: &Ctx<'_>,
    r: ConsumerGroupHeartbeatRequest,
) -> Result<ConsumerGroupHeartbeatResponse, Refusal> {
    let server_assignor = check(ctx, &r)?;
    let member_id = if r.member_id.is_empty() {
        // v0: the coordinator names a joining member.
        uuid::Uuid::new_v4().to_string()
    } else {
        r.member_id.to_string()
    };
    let owned = r.topic_partitions.map(|tps| {
        let mut owned = group::Assignment::new();
        for tp in tps {
            owned.entry(tp.topic_id).or_default().extend(tp.partitions);
        }
        owned
    });
    let beat = Beat {
        member_id,
        epoch: r.member_epoch,
        instance_id: r.instance_id.map(|s| s.to_string()),
        rack_id: r.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: r.rebalance_timeout_ms,
        subscribed: r
            .subscribed_topic_names
            .map(|names| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>()),
        server_assignor,
        owned,
        client_id: ctx.client_id.to_string(),
        client_host: ctx.client_host.to_string(),
    };
    let lookup = |name: &str| {
        let topic = ctx.cluster.topic(name)?;
        let partitions = i32::try_from(topic.partitions.len()).ok()?;
        Some(TopicMeta {
            id: topic.id,
            partitions,
        })
    };
    let outcome = ctx
        .cluster
        .groups
        .consumer_heartbeat(&r.group_id, beat, lookup)?;
    let assignment = outcome.assignment.map(|a| {
        let topic_partitions = a
            .into_iter()
            .map(|(topic_id, ps)| {
                TopicPartitions::default()
                    .with_topic_id(topic_id)
                    .with_partitions(ps.into_iter().collect())
            })
            .collect();
        Assignment::default().with_topic_partitions(topic_partitions)
    });
    Ok(ConsumerGroupHeartbeatResponse::default()
        .with_member_id(Some(str_bytes(&outcome.member_id)))
        .with_member_epoch(outcome.epoch)
        // A member that left is not told to come back (Kafka leaves the interval at 0 then).
        .with_heartbeat_interval_ms(if outcome.epoch < 0 {
            0
        } else {
            HEARTBEAT_INTERVAL.as_millis() as i32
        })
        .with_assignment(assignment))
}
