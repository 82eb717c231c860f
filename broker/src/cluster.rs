//! The broker's shared state: topics and their partition logs, the group coordinator,
//! producer ids, and the signal that wakes long-polling fetches.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use kafka_protocol::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::group::Coordinator;
use crate::log::segment::{OpenFiles, SegmentWriter};
use crate::log::PartitionLog;
use crate::producer_ids::ProducerIds;
use crate::topic_config::TopicConfigs;
use crate::topic_store::{TopicSpec, TopicStore};
use crate::txn::Transactions;

/// Kafka refuses a CreateTopics request that would create more partitions than this in total
/// (KAFKA-17870, Kafka 4.0), with POLICY_VIOLATION for every topic in it.
pub const MAX_PARTITIONS_PER_REQUEST: i64 = 10_000;

/// Kafka's internal topic of group offsets. Listed here as Kafka lists it (internal, so that
/// clients subscribing by pattern skip it), with one empty partition in memory: this broker
/// keeps group offsets in its own offsets log (`group::offsets_log`), not in a topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// The same id on every start, as Kafka keeps its topic's id.
const OFFSETS_TOPIC_ID: Uuid = Uuid::from_u128(0x5f5f_636f_6e73_756d_6572_5f6f_6666_7365);

/// Why the internal topic cannot be changed as asked.
pub const INTERNAL_TOPIC_REFUSAL: &str = "__consumer_offsets is internal: the built-in broker \
keeps group offsets in its own log, and the topic only lists them as Kafka does";

/// Why partitions could not be added to a topic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PartitionsError {
    #[error("unknown topic")]
    UnknownTopic,
    #[error("the topic has {current} partitions already")]
    NotAnIncrease { current: i32 },
    #[error("{added} more partitions would pass the broker's limit (max_partitions)")]
    TooMany { added: usize },
    #[error("the new partitions could not be stored")]
    Storage,
    #[error("{INTERNAL_TOPIC_REFUSAL}")]
    Internal,
}

/// One partition of a topic.
///
/// Locking: `log` is a `std::sync::Mutex` guarding the whole `PartitionLog` (batches, next
/// offset, producer sequences and the segment writer), so that assigning an offset, writing
/// the batch to the segment and appending it in memory are one step, and file order is offset
/// order. It is held for:
/// - a produce: validate each batch, `write()` it to the segment file and, with
///   `FsyncPolicy::Always`, fsync it; under `Always` the produce handler takes the lock inside
///   `blocking::block_in_place`, so waiting for the lock and the fsync do not stall a worker;
/// - a segment roll (inside an append), which fsyncs the full segment (see `SegmentWriter`);
/// - a fetch, ListOffsets, DescribeLogDirs: copying out batches or reading counters;
/// - `Cluster::sync_all`: only to duplicate the file handle; the fsync runs after release.
/// - DeleteRecords, retention and the memory budget (`Cluster::apply_retention`, every
///   second): moving the log start, which may unlink segment files (in block_in_place);
/// - AlterConfigs: setting the partition's rolling, after the `topics` lock is released.
///
/// Never held across an `.await` (a std guard is not `Send`, so a spawned task could not
/// compile with it held there), and no other lock is taken while holding it.
pub struct Partition {
    pub log: Mutex<PartitionLog>,
}

impl Partition {
    /// The log, even if a thread panicked while holding it: a panic cannot leave the log
    /// half-updated (appends mutate it only after every check passed).
    pub fn log(&self) -> std::sync::MutexGuard<'_, PartitionLog> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Topic {
    pub name: String,
    pub id: Uuid,
    /// Shared with the `Topic` this one replaced when partitions were added
    /// (`Cluster::add_partitions`): a request still holding the old `Topic` appends to the
    /// same logs.
    pub partitions: Vec<Arc<Partition>>,
    /// The configs set on this topic.
    pub configs: TopicConfigs,
}

impl Topic {
    /// Kafka's rule (`Topic.isInternal`): by name.
    pub fn is_internal(&self) -> bool {
        self.name == OFFSETS_TOPIC
    }

    pub fn partition(&self, index: i32) -> Option<&Partition> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .map(Arc::as_ref)
    }
}

/// Counters a console or a metrics endpoint can show.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    pub connections: u64,
    pub uptime_ms: u64,
}

/// The broker's shared state, one per broker, shared by every connection task as `Arc<Cluster>`.
///
/// Locking: `topics` (a `std::sync::RwLock`) guards only the name → topic map. Readers clone
/// the `Arc<Topic>` and release it before touching a partition. `create_topic` holds the
/// write lock while it creates the topic's folder, writes its `meta` file and opens its empty
/// segments (a handful of small file operations, typically well under a millisecond on a
/// local disk, and rare), so that two creators cannot both create the same topic; lookups on
/// other threads wait that long; `add_partitions` likewise, for the new partitions' segments
/// and the rewritten `meta`; `alter_topic_configs` for the rewritten `meta`. No other lock is
/// ever taken while `topics` is held (it may itself be taken under a group's lock:
/// OffsetCommit checks that the topic exists). `delete_topic` and `alter_topic_configs` take
/// the topic's partition locks after releasing it.
pub struct Cluster {
    pub config: BrokerConfig,
    pub advertised_host: String,
    pub advertised_port: i32,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    store: Option<TopicStore>,
    open_files: OpenFiles,
    pub groups: Coordinator,
    pub txns: Transactions,
    pub producer_ids: ProducerIds,
    appended: watch::Sender<u64>,
    started: Instant,
    pub requests: AtomicU64,
    pub connections: AtomicU64,
    pub metrics: crate::metrics::ApiMetrics,
}

/// Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// The partitions `broker_max_partitions` counts: all but the internal topic's, which is
/// always there.
fn counted_partitions(topics: &BTreeMap<String, Arc<Topic>>) -> usize {
    topics
        .values()
        .filter(|t| !t.is_internal())
        .map(|t| t.partitions.len())
        .sum()
}

impl Cluster {
    pub fn open(
        config: BrokerConfig,
        advertised_host: String,
        advertised_port: i32,
    ) -> Result<Self, BrokerError> {
        let storage_error = |path: Option<&std::path::Path>| {
            let path = path.unwrap_or(".".as_ref()).to_path_buf();
            move |source| BrokerError::Storage { path, source }
        };
        let data_dir = config.data_dir.clone();
        let groups = Coordinator::open(data_dir.as_deref(), config.offsets_retention)?;
        let txns = Transactions::open(data_dir.as_deref())?;
        let (store, stored) = match &data_dir {
            Some(dir) => {
                let (store, stored) = TopicStore::open(dir).map_err(storage_error(Some(dir)))?;
                (Some(store), stored)
            }
            None => (None, Vec::new()),
        };
        let mut cluster = Self {
            advertised_host,
            advertised_port,
            topics: RwLock::new(BTreeMap::new()),
            store,
            open_files: OpenFiles::new(config.max_open_segments),
            groups,
            txns,
            producer_ids: ProducerIds::open(None, None).map_err(storage_error(None))?,
            appended: watch::Sender::new(0),
            started: Instant::now(),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            metrics: crate::metrics::ApiMetrics::new(),
            config,
        };
        for topic in stored {
            let built = cluster.build_topic(&topic.name, topic.id, topic.spec)?;
            cluster
                .topics
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .insert(topic.name, Arc::new(built));
        }
        cluster.add_offsets_topic();
        // Ids already in the logs count as issued, so a restart never issues them again.
        let seen = cluster
            .all_topics()
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter_map(|p| p.log().max_producer_id())
            })
            .max()
            .max(cluster.txns.max_producer_id());
        cluster.producer_ids = ProducerIds::open(data_dir.as_deref(), seen)
            .map_err(storage_error(data_dir.as_deref()))?;
        cluster.txns.complete_prepared(&cluster);
        Ok(cluster)
    }

    /// `OFFSETS_TOPIC`, unless a topic of that name was stored (by a version that created it
    /// as any other): never on disk, so never in the topic store.
    fn add_offsets_topic(&mut self) {
        let topics = self.topics.get_mut().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(OFFSETS_TOPIC) {
            return;
        }
        let configs = TopicConfigs::default();
        let log = PartitionLog::new(configs.rolling(&self.config));
        let topic = Topic {
            name: OFFSETS_TOPIC.to_string(),
            id: OFFSETS_TOPIC_ID,
            partitions: vec![Arc::new(Partition {
                log: Mutex::new(log),
            })],
            configs,
        };
        topics.insert(OFFSETS_TOPIC.to_string(), Arc::new(topic));
    }

    fn build_topic(&self, name: &str, id: Uuid, spec: TopicSpec) -> Result<Topic, BrokerError> {
        Ok(Topic {
            name: name.to_string(),
            id,
            partitions: self.open_partitions(name, 0..spec.partitions, &spec.configs)?,
            configs: spec.configs,
        })
    }

    /// Opens (recovering, or creating empty) the logs of the topic's partitions `indexes`.
    fn open_partitions(
        &self,
        name: &str,
        indexes: std::ops::Range<i32>,
        configs: &TopicConfigs,
    ) -> Result<Vec<Arc<Partition>>, BrokerError> {
        let rolling = configs.rolling(&self.config);
        let mut logs = Vec::new();
        for index in indexes {
            let log = match &self.store {
                None => PartitionLog::new(rolling),
                Some(store) => {
                    let path = store.partition_dir(name, index);
                    let (segment, recovered) =
                        SegmentWriter::open(&path, self.config.fsync, self.open_files.clone())
                            .map_err(|source| BrokerError::Storage { path, source })?;
                    PartitionLog::with_segment(segment, recovered, rolling)
                }
            };
            logs.push(Arc::new(Partition {
                log: Mutex::new(log),
            }));
        }
        Ok(logs)
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.all_topics().into_iter().find(|t| t.id == id)
    }

    pub fn all_topics(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The topic, created with the default partition count if auto-creation allows it.
    pub fn topic_or_create(
        &self,
        name: &str,
        allow_create: bool,
    ) -> Result<Arc<Topic>, ResponseError> {
        if let Some(topic) = self.topic(name) {
            return Ok(topic);
        }
        if !valid_topic_name(name) {
            return Err(ResponseError::InvalidTopicException);
        }
        if !(allow_create && self.config.auto_create_topics) {
            return Err(ResponseError::UnknownTopicOrPartition);
        }
        match self.create_topic(name, self.config.default_partitions) {
            Err(ResponseError::TopicAlreadyExists) => self
                .topic(name)
                .ok_or(ResponseError::UnknownTopicOrPartition),
            other => other,
        }
    }

    /// A topic with `partitions` and the broker's defaults for everything else.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, ResponseError> {
        self.create_topic_with(
            name,
            TopicSpec {
                partitions,
                configs: TopicConfigs::default(),
            },
        )
    }

    pub fn create_topic_with(
        &self,
        name: &str,
        spec: TopicSpec,
    ) -> Result<Arc<Topic>, ResponseError> {
        let partitions = spec.partitions;
        if !valid_topic_name(name) {
            return Err(ResponseError::InvalidTopicException);
        }
        if partitions < 1 || i64::from(partitions) > MAX_PARTITIONS_PER_REQUEST {
            return Err(ResponseError::InvalidPartitions);
        }
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(name) {
            return Err(ResponseError::TopicAlreadyExists);
        }
        let held = counted_partitions(&topics);
        if held + partitions as usize > self.config.max_partitions {
            tracing::warn!(
                topic = name,
                partitions,
                held,
                max_partitions = self.config.max_partitions,
                "topic refused: the broker's partition limit would be passed"
            );
            return Err(ResponseError::PolicyViolation);
        }
        let id = Uuid::new_v4();
        // Under the `topics` write lock: a folder with a small synced `meta` file renamed into
        // place (three fsyncs, a few milliseconds on a local disk, in block_in_place), once per
        // topic. See `Cluster` for why the lock is held.
        if let Some(store) = &self.store {
            let created = crate::blocking::block_in_place(|| store.create(name, id, spec));
            if let Err(err) = created {
                tracing::error!(topic = name, %err, "cannot create the topic's folder");
                return Err(ResponseError::KafkaStorageError);
            }
        }
        let topic = self.build_topic(name, id, spec).map_err(|err| {
            tracing::error!(topic = name, %err, "cannot open the topic's log");
            ResponseError::KafkaStorageError
        })?;
        let topic = Arc::new(topic);
        topics.insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Grows the topic to `count` partitions (`validate_only`: only checks that it could).
    /// Under the `topics` write lock, as `create_topic_with` and for the same reason: the new
    /// partitions' folders and the rewritten `meta` (a few fsyncs, in block_in_place), then
    /// the topic is replaced by one sharing its old partitions.
    pub fn add_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), PartitionsError> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let topic = topics.get(name).ok_or(PartitionsError::UnknownTopic)?;
        if topic.is_internal() {
            return Err(PartitionsError::Internal);
        }
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err(PartitionsError::NotAnIncrease { current });
        }
        let held = counted_partitions(&topics);
        let added = (count - current) as usize;
        if held + added > self.config.max_partitions {
            return Err(PartitionsError::TooMany { added });
        }
        if validate_only {
            return Ok(());
        }
        let storage = |err: &dyn std::fmt::Display| {
            tracing::error!(topic = name, %err, "cannot add partitions to the topic");
            PartitionsError::Storage
        };
        let partitions = crate::blocking::block_in_place(|| {
            let mut added = self
                .open_partitions(name, current..count, &topic.configs)
                .map_err(|err| storage(&err))?;
            if let Some(store) = &self.store {
                let spec = TopicSpec {
                    partitions: count,
                    configs: topic.configs,
                };
                // The commit point: until `meta` says `count`, a restart has the old partitions.
                store
                    .update(name, topic.id, spec)
                    .map_err(|err| storage(&err))?;
            }
            let mut all = topic.partitions.clone();
            all.append(&mut added);
            Ok(all)
        })?;
        let grown = Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs,
        };
        topics.insert(name.to_string(), Arc::new(grown));
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    /// Changes a topic's configs with `change` (AlterConfigs, IncrementalAlterConfigs): the
    /// topic's `meta` is replaced on disk first, then a `Topic` with the same partitions and
    /// the new configs takes the old one's place, so requests see the old configs or the new.
    pub fn alter_topic_configs(
        &self,
        name: &str,
        validate_only: bool,
        change: impl FnOnce(&mut TopicConfigs) -> Result<(), String>,
    ) -> Result<(), (ResponseError, String)> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let topic = topics.get(name).ok_or_else(|| {
            (
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {name} does not exist"),
            )
        })?;
        if topic.is_internal() {
            return Err((
                ResponseError::InvalidTopicException,
                INTERNAL_TOPIC_REFUSAL.to_string(),
            ));
        }
        let mut configs = topic.configs;
        change(&mut configs).map_err(|message| (ResponseError::InvalidConfig, message))?;
        if validate_only || configs == topic.configs {
            return Ok(());
        }
        if let Some(store) = &self.store {
            let spec = TopicSpec {
                partitions: topic.partitions.len() as i32,
                configs,
            };
            crate::blocking::block_in_place(|| store.update(name, topic.id, spec)).map_err(
                |err| {
                    tracing::error!(topic = name, %err, "cannot write the topic's configs");
                    (ResponseError::KafkaStorageError, err.to_string())
                },
            )?;
        }
        let altered = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partitions.clone(),
            configs,
        });
        topics.insert(name.to_string(), altered.clone());
        // The partitions' own rolling settings after the `topics` lock is released: a
        // partition lock may be held for an fsync, and lookups must not wait for it.
        drop(topics);
        let rolling = configs.rolling(&self.config);
        for partition in &altered.partitions {
            partition.log().set_rolling(rolling);
        }
        tracing::info!(topic = name, ?configs, "altered topic configs");
        Ok(())
    }

    pub fn delete_topic(&self, name: &str) -> Result<Uuid, ResponseError> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.get(name).is_some_and(|t| t.is_internal()) {
            return Err(ResponseError::InvalidTopicException);
        }
        let removed = topics.remove(name);
        drop(topics);
        let topic = removed.ok_or(ResponseError::UnknownTopicOrPartition)?;
        for partition in &topic.partitions {
            partition.log().close();
        }
        // With no lock held: a rename and an fsync, then an unlink per segment file (more for
        // a topic with many segments); DeleteTopics is a rare admin request.
        if let Some(store) = &self.store {
            if let Err(err) = crate::blocking::block_in_place(|| store.delete(name)) {
                tracing::error!(topic = name, %err, "cannot remove the topic's folder");
            }
        }
        self.groups.forget_topic(name);
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Wakes fetches that wait for data.
    pub fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn watch_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            uptime_ms: self.started.elapsed().as_millis() as u64,
        }
    }

    /// Deletes what retention no longer keeps, partition by partition (each topic's
    /// `retention.ms` / `retention.bytes`, else the broker's), then, while the batches held
    /// exceed `max_memory_bytes`, the oldest segment of the largest partition. A partition's
    /// lock is held for its own pass only; file deletions run in block_in_place.
    pub fn apply_retention(&self) {
        let now_ms = crate::files::unix_millis();
        crate::blocking::block_in_place(|| {
            let topics = self.all_topics();
            let mut held = 0;
            for topic in &topics {
                let retention = topic.configs.retention(&self.config);
                for partition in &topic.partitions {
                    let mut log = partition.log();
                    log.apply_retention(now_ms, retention);
                    held += log.size_bytes();
                }
            }
            if held <= self.config.max_memory_bytes {
                return;
            }
            tracing::warn!(
                held,
                max_memory_bytes = self.config.max_memory_bytes,
                "over the memory budget: deleting the oldest segments of the largest partitions"
            );
            let mut candidates: Vec<&Arc<Partition>> =
                topics.iter().flat_map(|t| t.partitions.iter()).collect();
            while held > self.config.max_memory_bytes && !candidates.is_empty() {
                let Some((at, _)) = candidates
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, p)| p.log().closed_segment_bytes())
                else {
                    break;
                };
                let freed = candidates[at].log().drop_oldest_segment();
                if freed == 0 {
                    // Only its segment being appended to is left (or it failed): next one.
                    candidates.swap_remove(at);
                }
                held = held.saturating_sub(freed);
            }
        });
    }

    /// Forces every segment to disk (the `Interval` fsync policy, and shutdown). Each
    /// partition's lock is held only to duplicate its file handle; the fsyncs (milliseconds
    /// each, more with many dirty pages) run after it is released, so producers are not held
    /// up, and inside `block_in_place`, so the tasks sharing this worker are not either.
    pub fn sync_all(&self) {
        crate::blocking::block_in_place(|| {
            for topic in self.all_topics() {
                for partition in &topic.partitions {
                    let handle = partition.log().sync_handle();
                    let synced = handle.map(|file| file.and_then(|f| f.sync_data()));
                    if let Some(Err(err)) = synced {
                        // What was written may not be on disk, and Linux may have dropped the
                        // pages: acknowledging more after it would build on sand.
                        partition.log().fail(&err);
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The internal topic is there from the start, also with a data folder, and only the
    /// broker may change it; it stays out of the partition limit and out of the folder.
    #[test]
    fn the_offsets_topic_is_listed_and_cannot_be_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = BrokerConfig {
            data_dir: Some(dir.path().to_path_buf()),
            max_partitions: 2,
            ..BrokerConfig::ephemeral()
        };
        let cluster = Cluster::open(config.clone(), "127.0.0.1".into(), 9092).expect("broker");
        let offsets = cluster.topic(OFFSETS_TOPIC).expect("listed");
        assert!(offsets.is_internal());
        assert_eq!(offsets.id, OFFSETS_TOPIC_ID);
        assert_eq!(
            cluster.create_topic(OFFSETS_TOPIC, 1).err(),
            Some(ResponseError::TopicAlreadyExists)
        );
        assert_eq!(
            cluster.delete_topic(OFFSETS_TOPIC).err(),
            Some(ResponseError::InvalidTopicException)
        );
        assert_eq!(
            cluster.add_partitions(OFFSETS_TOPIC, 3, false).err(),
            Some(PartitionsError::Internal)
        );
        let altered = cluster.alter_topic_configs(OFFSETS_TOPIC, false, |_| Ok(()));
        assert_eq!(
            altered.err().map(|(code, _)| code),
            Some(ResponseError::InvalidTopicException)
        );
        cluster
            .create_topic("t", 2)
            .expect("the internal one is not counted");
        drop(cluster);
        let again = Cluster::open(config, "127.0.0.1".into(), 9092).expect("restart");
        assert_eq!(
            again.topic(OFFSETS_TOPIC).map(|t| t.id),
            Some(OFFSETS_TOPIC_ID)
        );
        assert_eq!(again.all_topics().len(), 2);
    }
}
