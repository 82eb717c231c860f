//! The server-side assignors of KIP-848 consumer groups: `uniform` (Kafka's default) and
//! `range`. Each maps the members' subscriptions to a target assignment for a group epoch.
//!
//! Where this differs from Apache Kafka's assignors:
//! - `uniform` is balanced (counts differ by at most one) and sticky when every member
//!   subscribes to the same topics, as Kafka's; with different subscriptions it gives each
//!   free partition to the least loaded member subscribed to its topic, which is balanced
//!   per topic set but not always as even as Kafka's general builder; no rack awareness;
//! - `range` splits each topic among its subscribers in member id order and is not sticky
//!   (Kafka's keeps a member's previous range when its quota allows).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

/// One member's partitions: topic id → partition indexes.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// A topic as the assignors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMeta {
    pub id: Uuid,
    pub partitions: i32,
}

/// The subscribed topics that exist, by name.
pub type Topics = BTreeMap<String, TopicMeta>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Assignor {
    #[default]
    Uniform,
    Range,
}

/// What an assignor knows about a member: its subscription and its last target.
pub struct Subscriber<'a> {
    pub id: &'a str,
    pub topics: &'a BTreeSet<String>,
    pub previous: Option<&'a Assignment>,
}

impl Assignor {
    /// Kafka's `group.consumer.assignors` default, in its order of preference.
    pub const NAMES: &'static str = "uniform, range";

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "uniform" => Some(Self::Uniform),
            "range" => Some(Self::Range),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Range => "range",
        }
    }

    /// The target assignment of every member (members without partitions included).
    pub fn assign(
        self,
        members: &[Subscriber<'_>],
        topics: &Topics,
    ) -> BTreeMap<String, Assignment> {
        let mut target: BTreeMap<String, Assignment> = members
            .iter()
            .map(|m| (m.id.to_string(), Assignment::new()))
            .collect();
        match self {
            Self::Uniform => uniform(members, topics, &mut target),
            Self::Range => range(members, topics, &mut target),
        }
        target
    }
}

fn count(assignment: &Assignment) -> usize {
    assignment.values().map(BTreeSet::len).sum()
}

fn uniform(members: &[Subscriber<'_>], topics: &Topics, target: &mut BTreeMap<String, Assignment>) {
    let subscribed = |m: &Subscriber<'_>, name: &str| m.topics.contains(name);
    let eligible: Vec<&Subscriber<'_>> = members
        .iter()
        .filter(|m| topics.keys().any(|t| subscribed(m, t)))
        .collect();
    let mut free: Vec<(&str, TopicMeta, i32)> = topics
        .iter()
        .filter(|(name, _)| eligible.iter().any(|m| subscribed(m, name)))
        .flat_map(|(name, meta)| (0..meta.partitions).map(move |p| (name.as_str(), *meta, p)))
        .collect();
    if eligible.is_empty() {
        return;
    }
    let quota = free.len() / eligible.len();
    let mut extras = free.len() % eligible.len();
    // Stickiness: each member keeps what it had, up to its quota (one over it while the
    // remainder lasts), so a membership change moves as few partitions as it can.
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    for member in &eligible {
        let Some(previous) = member.previous else {
            continue;
        };
        let kept = target.entry(member.id.to_string()).or_default();
        for (_, meta) in topics.iter().filter(|(n, _)| subscribed(member, n)) {
            for &p in previous.get(&meta.id).into_iter().flatten() {
                let held = count(kept);
                let room = held < quota || (held == quota && extras > 0);
                if p >= meta.partitions || !room || !taken.insert((meta.id, p)) {
                    continue;
                }
                if held == quota {
                    extras -= 1;
                }
                kept.entry(meta.id).or_default().insert(p);
            }
        }
    }
    free.retain(|(_, meta, p)| !taken.contains(&(meta.id, *p)));
    // The rest, each to the least loaded member that subscribes to its topic (ties: member id).
    for (name, meta, p) in free {
        let least = eligible
            .iter()
            .filter(|m| subscribed(m, name))
            .min_by_key(|m| (count(&target[m.id]), m.id));
        if let Some(member) = least {
            let assignment = target.entry(member.id.to_string()).or_default();
            assignment.entry(meta.id).or_default().insert(p);
        }
    }
}

fn range(members: &[Subscriber<'_>], topics: &Topics, target: &mut BTreeMap<String, Assignment>) {
    for (name, meta) in topics {
        let mut subscribers: Vec<&str> = members
            .iter()
            .filter(|m| m.topics.contains(name))
            .map(|m| m.id)
            .collect();
        if subscribers.is_empty() {
            continue;
        }
        subscribers.sort_unstable();
        let n = subscribers.len() as i32;
        let (each, extra) = (meta.partitions / n, meta.partitions % n);
        let mut next = 0;
        for (i, id) in subscribers.into_iter().enumerate() {
            let size = each + i32::from((i as i32) < extra);
            if size > 0 {
                let assignment = target.entry(id.to_string()).or_default();
                assignment
                    .entry(meta.id)
                    .or_default()
                    .extend(next..next + size);
            }
            next += size;
        }
    }
}
