//! Offsets retention: once a group has had no members and no commits for
//! `BrokerConfig::offsets_retention` (Kafka: `offsets.retention.minutes`, 7 days), its committed
//! offsets expire and the group is removed. Since KIP-211 Kafka counts only while a group is
//! Empty, so a group with members keeps its offsets however old.
//!
//! After every change to a group (`Coordinator::with_group`/`with_existing`), `settle`:
//! - stops the group's clock while it has members and starts it when the last one goes (a
//!   commit without members restarts it, in `store_offset`), and records each change in the
//!   offsets log, so a restarted broker counts from the same moment;
//! - schedules the expiry: `expiries` holds at most one (deadline, id) per group, earliest
//!   first, so the tick looks at the groups that are due and no others, however many there are;
//! - removes at once an Empty group with no offsets and no pending member id, so groups that
//!   clients join and leave, or commit nothing to, take no memory (Kafka marks such a group
//!   Dead at its next cleanup);
//! - keeps `ticking`, the groups with members or pending member ids: the only ones whose session
//!   and rebalance timeouts the tick has to check.
//!
//! Where this differs from Apache Kafka:
//! - a group's offsets expire together, one retention after it became Empty or after its last
//!   commit, whichever is later; Kafka expires each partition of a group that never had members
//!   one retention after that partition's last commit, and for one that had members counts
//!   from when it became Empty only;
//! - a Stable group keeps all its offsets; Kafka expires (by commit time) those of topics its
//!   consumers no longer subscribe to;
//! - the check runs every `TICK`, not every `offsets.retention.check.interval.ms` (10 minutes);
//! - after a restart, a group that had members counts as Empty from the start; Kafka reloads
//!   the members and counts from when their sessions time out.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::SystemTime;

use super::state::Group;
use super::{lock, Coordinator};

/// Expiries handled in one tick at most, so that the expiry of many groups at once (created
/// together a retention ago) is spread over ticks instead of holding up the broker's accept loop.
pub(super) const EXPIRED_PER_TICK: usize = 1000;

/// A group's retention clock.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The group has members: its offsets are kept however old.
    #[default]
    Stopped,
    /// Empty since then, or committed to without members then: its offsets expire one
    /// retention later.
    Since(SystemTime),
}

/// What the coordinator keeps about a group beside its state machine (see the module doc).
#[derive(Debug, Default)]
pub struct Upkeep {
    pub(super) clock: Clock,
    /// The deadline of the group's entry in `expiries`, if it has one.
    scheduled: Option<SystemTime>,
    /// Whether the group is in `ticking`.
    ticking: bool,
    /// Removed from the coordinator: whoever locks it afterwards must look its id up again.
    pub(super) dead: bool,
}

/// Groups by when their offsets expire, earliest first.
pub(super) type Expiries = Mutex<BTreeSet<(SystemTime, String)>>;

impl Coordinator {
    fn deadline(&self, clock: Clock) -> Option<SystemTime> {
        match clock {
            Clock::Stopped => None,
            Clock::Since(t) => t.checked_add(self.retention),
        }
    }

    /// Brings the group's clock, expiry and tick entries up to date after a change; `before`
    /// is its clock before the change. True if the group is now removed (`dead`): the caller
    /// then takes it out of the map.
    pub(super) fn settle(&self, group: &mut Group, before: Clock) -> bool {
        let empty = group.is_empty();
        match (empty, group.upkeep.clock) {
            (false, _) => group.upkeep.clock = Clock::Stopped,
            (true, Clock::Stopped) => group.upkeep.clock = Clock::Since(SystemTime::now()),
            (true, Clock::Since(_)) => {}
        }
        let ticking = !empty || group.has_pending();
        if ticking != group.upkeep.ticking {
            let mut set = lock(&self.ticking);
            if ticking {
                set.insert(group.id.clone());
            } else {
                set.remove(&group.id);
            }
            group.upkeep.ticking = ticking;
        }
        if group.offsets.is_empty() {
            if ticking {
                // No clock to record or schedule: without offsets there is nothing to expire.
                return false;
            }
            // Empty, nothing pending, nothing committed: nothing left to keep.
            group.upkeep.dead = true;
            if let Some(deadline) = group.upkeep.scheduled.take() {
                lock(&self.expiries).remove(&(deadline, group.id.clone()));
            }
            return true;
        }
        if group.upkeep.clock != before {
            if let Some(log) = &self.offsets_log {
                if let Err(err) = lock(log).append_clock(&group.id, group.upkeep.clock) {
                    tracing::error!(%err, group = %group.id, "cannot record the group's retention clock");
                }
            }
        }
        // A clock that moved on leaves the entry where it is: `expire` finds the group not
        // due yet and schedules it again, so frequent commits do not reshuffle `expiries`.
        if group.upkeep.scheduled.is_none() {
            if let Some(deadline) = self.deadline(group.upkeep.clock) {
                lock(&self.expiries).insert((deadline, group.id.clone()));
                group.upkeep.scheduled = Some(deadline);
            }
        }
        false
    }

    /// Expires the offsets of the groups whose retention ran out by `now` (at most
    /// `EXPIRED_PER_TICK` of them), recording a tombstone for each; `settle` then removes the
    /// group, which is left with none.
    pub(super) fn expire(&self, now: SystemTime) {
        let due: Vec<String> = {
            let mut expiries = lock(&self.expiries);
            let mut due = Vec::new();
            while due.len() < EXPIRED_PER_TICK && expiries.first().is_some_and(|(d, _)| *d <= now) {
                due.extend(expiries.pop_first().map(|(_, id)| id));
            }
            due
        };
        for id in due {
            self.with_existing(&id, |group| {
                group.upkeep.scheduled = None;
                if self.deadline(group.upkeep.clock).is_some_and(|d| d <= now) {
                    tracing::info!(group = %group.id, retention = ?self.retention, "committed offsets expired: the group was Empty for the offsets retention; group removed");
                    self.drop_offsets(group, |_, _| true);
                }
            });
        }
    }
}
