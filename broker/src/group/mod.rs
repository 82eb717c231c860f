//! The group coordinator: classic consumer groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup)
//! and their committed offsets, persisted when the broker has a data directory.

mod member;
mod offsets_log;
mod offsets_record;
#[cfg(test)]
mod request_tests;
mod state;
#[cfg(test)]
mod state_tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use member::{JoinOutcome, Member};
use offsets_log::OffsetsLog;
pub use state::{Committed, Group};

use crate::error::BrokerError;

/// How often session and rebalance timeouts are checked.
pub const TICK: Duration = Duration::from_millis(200);

/// Every consumer group of the broker, and the file their committed offsets go to.
///
/// Locking (all `std::sync::Mutex`, none ever held across an `.await`):
/// - `groups` guards only the id → group map: held to find or insert a group and clone its
///   `Arc`, then released before the group itself is locked.
/// - each `Mutex<Group>` guards one group's state machine and committed offsets; it is held
///   for one request's state change (`with_group`/`with_existing`). A JoinGroup or SyncGroup
///   that must wait leaves a oneshot sender in the group and awaits the receiver after the
///   lock is released; whoever completes the phase answers it while holding the lock.
/// - `offsets_log` serializes appends to `consumer-offsets.log`; it is taken inside a group's
///   lock (`store_offset`), for one small `write()`.
///
/// Lock order: `groups` (released first), then one group, then `offsets_log`. No group lock is
/// ever taken while holding another one or `offsets_log`. Under a group's lock OffsetCommit
/// also reads the cluster's `topics` map briefly; no partition lock is taken under any of them.
pub struct Coordinator {
    groups: Mutex<BTreeMap<String, Arc<Mutex<Group>>>>,
    offsets_log: Option<Mutex<OffsetsLog>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Coordinator {
    pub fn open(data_dir: Option<&Path>) -> Result<Self, BrokerError> {
        let mut groups = BTreeMap::new();
        let offsets_log = match data_dir {
            None => None,
            Some(dir) => {
                let (log, all) = OffsetsLog::open(dir).map_err(|source| BrokerError::Storage {
                    path: dir.join("consumer-offsets.log"),
                    source,
                })?;
                for (id, offsets) in all {
                    let mut group = Group::new(&id);
                    group.offsets = offsets;
                    groups.insert(id, Arc::new(Mutex::new(group)));
                }
                Some(Mutex::new(log))
            }
        };
        Ok(Self {
            groups: Mutex::new(groups),
            offsets_log,
        })
    }

    /// Runs `f` on the group, creating it (Empty) if it does not exist.
    pub fn with_group<R>(&self, id: &str, f: impl FnOnce(&mut Group) -> R) -> R {
        let group = lock(&self.groups)
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(Group::new(id))))
            .clone();
        let mut group = lock(&group);
        f(&mut group)
    }

    /// Runs `f` on the group if it exists.
    pub fn with_existing<R>(&self, id: &str, f: impl FnOnce(&mut Group) -> R) -> Option<R> {
        let group = lock(&self.groups).get(id).cloned()?;
        let mut group = lock(&group);
        Some(f(&mut group))
    }

    pub fn group_ids(&self) -> Vec<String> {
        lock(&self.groups).keys().cloned().collect()
    }

    /// Stores a commit (in memory, and on disk first when persistent).
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
        Ok(())
    }

    /// Drops committed offsets of a deleted topic.
    pub fn forget_topic(&self, topic: &str) {
        for id in self.group_ids() {
            self.with_existing(&id, |group| {
                let gone: Vec<i32> = group
                    .offsets
                    .keys()
                    .filter(|(t, _)| t == topic)
                    .map(|(_, p)| *p)
                    .collect();
                for partition in gone {
                    let tombstone = Committed {
                        offset: -1,
                        metadata: None,
                    };
                    if let Err(err) = self.store_offset(group, topic, partition, tombstone) {
                        tracing::error!(%err, "cannot record the removal of committed offsets");
                    }
                    group.offsets.remove(&(topic.to_string(), partition));
                }
            });
        }
    }

    /// Session and rebalance timeouts, for every group.
    pub fn tick(&self) {
        let now = Instant::now();
        for id in self.group_ids() {
            self.with_existing(&id, |group| group.tick(now));
        }
    }
}
