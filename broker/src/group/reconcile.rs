//! Moving one member of a consumer group from its current assignment to its target, as Kafka's
//! `CurrentAssignmentBuilder` does: partitions it must give up are revoked first, and it keeps
//! its member epoch until its heartbeat no longer lists them as owned; partitions still owned
//! by another member (assigned to it or awaiting its revocation) are handed over only once
//! released. A member reaches the target's epoch once nothing is left to revoke.

use uuid::Uuid;

use super::assignor::Assignment;

/// Kafka's `MemberState`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MemberState {
    #[default]
    Stable,
    /// Waiting for the member to acknowledge the revocation of `revoking`.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still own.
    UnreleasedPartitions,
}

/// Where a member stands: its epoch, the partitions it may consume, and those it must revoke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub state: MemberState,
    pub epoch: i32,
    pub assigned: Assignment,
    pub revoking: Assignment,
}

/// The member's next position toward `target` (of epoch `target_epoch`). `owned` is what its
/// heartbeat says it owns (None: not sent, so it may still own everything); `taken` tells
/// whether another member owns a partition.
pub fn next(
    current: &Position,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    taken: impl Fn(Uuid, i32) -> bool,
) -> Position {
    match current.state {
        MemberState::Stable if current.epoch == target_epoch => current.clone(),
        MemberState::Stable => compute(current, current.epoch, target_epoch, target, owned, &taken),
        MemberState::UnrevokedPartitions => {
            if still_owns(owned, &current.revoking) {
                return current.clone();
            }
            let epoch = (current.epoch + 1).min(target_epoch);
            compute(current, epoch, target_epoch, target, owned, &taken)
        }
        MemberState::UnreleasedPartitions => {
            compute(current, target_epoch, target_epoch, target, owned, &taken)
        }
    }
}

fn still_owns(owned: Option<&Assignment>, revoking: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    owned.iter().any(|(topic, partitions)| {
        revoking
            .get(topic)
            .is_some_and(|r| partitions.iter().any(|p| r.contains(p)))
    })
}

fn compute(
    current: &Position,
    epoch: i32,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    taken: &impl Fn(Uuid, i32) -> bool,
) -> Position {
    let mut assigned = Assignment::new();
    let mut revoking = Assignment::new();
    let mut pending = Assignment::new();
    let mut unreleased = false;
    let topics: std::collections::BTreeSet<Uuid> = target
        .keys()
        .chain(current.assigned.keys())
        .copied()
        .collect();
    let empty = Default::default();
    for topic in topics {
        let wanted = target.get(&topic).unwrap_or(&empty);
        let had = current.assigned.get(&topic).unwrap_or(&empty);
        let kept: std::collections::BTreeSet<i32> = had.intersection(wanted).copied().collect();
        let gone: std::collections::BTreeSet<i32> = had.difference(&kept).copied().collect();
        // A partition this member is itself revoking is not held by anyone else.
        let own_revoking = current.revoking.get(&topic);
        let mut new: std::collections::BTreeSet<i32> = wanted.difference(&kept).copied().collect();
        new.retain(|&p| {
            let free = !taken(topic, p) || own_revoking.is_some_and(|r| r.contains(&p));
            unreleased |= !free;
            free
        });
        if !kept.is_empty() {
            assigned.insert(topic, kept);
        }
        if !gone.is_empty() {
            revoking.insert(topic, gone);
        }
        if !new.is_empty() {
            pending.insert(topic, new);
        }
    }
    if !revoking.is_empty() && still_owns(owned, &revoking) {
        return Position {
            state: MemberState::UnrevokedPartitions,
            epoch,
            assigned,
            revoking,
        };
    }
    for (topic, partitions) in pending {
        assigned.entry(topic).or_default().extend(partitions);
    }
    Position {
        state: if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        },
        epoch: target_epoch,
        assigned,
        revoking: Assignment::new(),
    }
}
