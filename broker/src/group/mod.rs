//! The group coordinator: classic consumer groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup),
//! KIP-848 consumer groups (ConsumerGroupHeartbeat, see `consumer`), and their committed
//! offsets, persisted when the broker has a data directory.

mod admin;
mod assignor;
#[cfg(test)]
mod assignor_tests;
mod consumer;
mod consumer_member;
#[cfg(test)]
mod consumer_request_tests;
#[cfg(test)]
mod consumer_tests;
mod expiry;
#[cfg(test)]
mod expiry_tests;
mod member;
mod offsets_log;
mod offsets_record;
mod protocol;
mod reconcile;
#[cfg(test)]
mod request_tests;
mod state;
#[cfg(test)]
mod state_tests;
mod static_member;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

pub use assignor::{Assignment, Assignor, TopicMeta};
pub use consumer::{Beat, ConsumerGroup, Refusal, HEARTBEAT_INTERVAL};
use expiry::{Clock, Expiries};
pub use member::{JoinOutcome, Member};
use offsets_log::OffsetsLog;
pub use state::{Committed, Group};

use crate::error::BrokerError;

/// How often session and rebalance timeouts, and the offsets retention, are checked.
pub const TICK: Duration = Duration::from_millis(200);

/// Every consumer group of the broker, and the file their committed offsets go to.
///
/// Locking (all `std::sync::Mutex`, none ever held across an `.await`):
/// - `groups` guards only the id → group map: held to find or insert a group and clone its
///   `Arc`, then released before the group itself is locked; taken again, alone, to take out
///   a group that `settle` removed (marked `dead`, so whoever locked it meanwhile looks again).
/// - each `Mutex<Group>` guards one group's state machine and committed offsets; it is held
///   for one request's state change (`with_group`/`with_existing`). A JoinGroup or SyncGroup
///   that must wait leaves a oneshot sender in the group and awaits the receiver after the
///   lock is released; whoever completes the phase answers it while holding the lock.
/// - `offsets_log` serializes appends to `consumer-offsets.log`; it is taken inside a group's
///   lock (`store_offset`, `settle`), for one small `write()`.
/// - `expiries` and `ticking` (see `expiry`) are taken inside a group's lock by `settle`, and
///   alone by `tick` to see which groups to visit.
///
/// Lock order: `groups` (released first), then one group, then one of `offsets_log`,
/// `expiries` or `ticking`. No group lock is ever taken while holding another one or any of
/// those three. Under a group's lock OffsetCommit, ConsumerGroupHeartbeat (the subscribed
/// topics) and ConsumerGroupDescribe (topic names) also read the cluster's `topics` map
/// briefly; no partition lock is taken under any of them.
pub struct Coordinator {
    groups: Mutex<BTreeMap<String, Arc<Mutex<Group>>>>,
    offsets_log: Option<Mutex<OffsetsLog>>,
    retention: Duration,
    expiries: Expiries,
    ticking: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const TOMBSTONE: Committed = Committed {
    offset: -1,
    metadata: None,
};

impl Coordinator {
    pub fn open(data_dir: Option<&Path>, retention: Duration) -> Result<Self, BrokerError> {
        let (offsets_log, stored) = match data_dir {
            None => (None, BTreeMap::new()),
            Some(dir) => {
                let (log, stored) =
                    OffsetsLog::open(dir).map_err(|source| BrokerError::Storage {
                        path: dir.join("consumer-offsets.log"),
                        source,
                    })?;
                (Some(Mutex::new(log)), stored)
            }
        };
        let mut coordinator = Self {
            groups: Mutex::default(),
            offsets_log,
            retention,
            expiries: Mutex::default(),
            ticking: Mutex::default(),
        };
        let mut groups = BTreeMap::new();
        for (id, stored) in stored {
            let mut group = Group::new(&id);
            group.offsets = stored.offsets;
            let clock = Clock::Since(stored.empty_since);
            group.upkeep.clock = clock;
            coordinator.settle(&mut group, clock);
            groups.insert(id, Arc::new(Mutex::new(group)));
        }
        coordinator.groups = Mutex::new(groups);
        Ok(coordinator)
    }

    /// Runs `f` on the group, creating it (Empty) if it does not exist.
    pub fn with_group<R>(&self, id: &str, f: impl FnOnce(&mut Group) -> R) -> R {
        loop {
            let group = lock(&self.groups)
                .entry(id.to_string())
                .or_insert_with(|| Arc::new(Mutex::new(Group::new(id))))
                .clone();
            let locked = lock(&group);
            if locked.upkeep.dead {
                drop(locked);
                self.unlink(id, &group);
                continue;
            }
            return self.apply(id, &group, locked, f);
        }
    }

    /// Runs `f` on the group if it exists.
    pub fn with_existing<R>(&self, id: &str, f: impl FnOnce(&mut Group) -> R) -> Option<R> {
        let group = lock(&self.groups).get(id).cloned()?;
        let locked = lock(&group);
        if locked.upkeep.dead {
            return None;
        }
        Some(self.apply(id, &group, locked, f))
    }

    /// Runs `f` on a locked group, then `settle`s it and takes it out of the map if removed.
    fn apply<R>(
        &self,
        id: &str,
        group: &Arc<Mutex<Group>>,
        mut locked: MutexGuard<'_, Group>,
        f: impl FnOnce(&mut Group) -> R,
    ) -> R {
        let before = locked.upkeep.clock;
        let result = f(&mut locked);
        let removed = self.settle(&mut locked, before);
        drop(locked);
        if removed {
            self.unlink(id, group);
        }
        result
    }

    /// Takes a removed group out of the map, unless a new group of that id replaced it.
    fn unlink(&self, id: &str, group: &Arc<Mutex<Group>>) {
        let mut groups = lock(&self.groups);
        if groups.get(id).is_some_and(|g| Arc::ptr_eq(g, group)) {
            groups.remove(id);
        }
    }

    pub fn group_ids(&self) -> Vec<String> {
        lock(&self.groups).keys().cloned().collect()
    }

    /// Stores a commit (in memory, and on disk first when persistent). A commit to a group
    /// without members restarts its retention clock.
    pub fn store_offset(
        &self,
        group: &mut Group,
        topic: &str,
        partition: i32,
        committed: Committed,
    ) -> std::io::Result<()> {
        if let Some(log) = &self.offsets_log {
            lock(log).append(&group.id, topic, partition, &committed)?;
        }
        group
            .offsets
            .insert((topic.to_string(), partition), committed);
        if group.is_empty() {
            group.upkeep.clock = Clock::Since(SystemTime::now());
        }
        Ok(())
    }

    /// Removes the committed offsets of the partitions `gone` picks, recording a tombstone for each.
    fn drop_offsets(&self, group: &mut Group, gone: impl Fn(&str, i32) -> bool) {
        let mut log = self.offsets_log.as_ref().map(lock);
        group.offsets.retain(|(topic, partition), _| {
            if !gone(topic, *partition) {
                return true;
            }
            if let Some(log) = log.as_mut() {
                if let Err(err) = log.append(&group.id, topic, *partition, &TOMBSTONE) {
                    tracing::error!(%err, group = %group.id, "cannot record the removal of committed offsets");
                }
            }
            false
        });
    }

    /// Drops committed offsets of a deleted topic.
    pub fn forget_topic(&self, topic: &str) {
        for id in self.group_ids() {
            self.with_existing(&id, |group| self.drop_offsets(group, |t, _| t == topic));
        }
    }

    /// Session and rebalance timeouts of the groups that have members or pending member ids,
    /// then the offsets retention of the groups that are due.
    pub fn tick(&self) {
        let now = Instant::now();
        let ticking: Vec<String> = lock(&self.ticking).iter().cloned().collect();
        for id in ticking {
            self.with_existing(&id, |group| group.tick(now));
        }
        self.expire(SystemTime::now());
    }
}
