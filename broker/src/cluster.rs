//! The broker's shared state: topics and their partition logs, the group coordinator,
//! producer ids, and the signal that wakes long-polling fetches.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use kafka_protocol::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::group::Coordinator;
use crate::log::segment::SegmentWriter;
use crate::log::PartitionLog;

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
    pub partitions: Vec<Partition>,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Partition> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
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
/// other threads wait that long. No other lock is ever taken while `topics` is held (it may
/// itself be taken under a group's lock: OffsetCommit checks that the topic exists).
pub struct Cluster {
    pub config: BrokerConfig,
    pub advertised_host: String,
    pub advertised_port: i32,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    pub groups: Coordinator,
    next_producer_id: AtomicI64,
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

impl Cluster {
    pub fn open(
        config: BrokerConfig,
        advertised_host: String,
        advertised_port: i32,
    ) -> Result<Self, BrokerError> {
        let groups = Coordinator::open(config.data_dir.as_deref(), config.offsets_retention)?;
        let cluster = Self {
            advertised_host,
            advertised_port,
            topics: RwLock::new(BTreeMap::new()),
            groups,
            next_producer_id: AtomicI64::new(1),
            appended: watch::Sender::new(0),
            started: Instant::now(),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            metrics: crate::metrics::ApiMetrics::new(),
            config,
        };
        cluster.recover_topics()?;
        Ok(cluster)
    }

    fn topics_dir(&self) -> Option<PathBuf> {
        self.config.data_dir.as_ref().map(|d| d.join("topics"))
    }

    fn storage_error(path: PathBuf) -> impl FnOnce(std::io::Error) -> BrokerError {
        move |source| BrokerError::Storage { path, source }
    }

    /// Rebuilds every topic found in the data directory, and the producer id counter.
    fn recover_topics(&self) -> Result<(), BrokerError> {
        let Some(dir) = self.topics_dir() else {
            return Ok(());
        };
        fs::create_dir_all(&dir).map_err(Self::storage_error(dir.clone()))?;
        for entry in fs::read_dir(&dir).map_err(Self::storage_error(dir.clone()))? {
            let path = entry.map_err(Self::storage_error(dir.clone()))?.path();
            let meta = fs::read_to_string(path.join("meta"))
                .map_err(Self::storage_error(path.join("meta")))?;
            let (id, partitions) = parse_meta(&meta).ok_or_else(|| BrokerError::Storage {
                path: path.join("meta"),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "expected `id=UUID` and `partitions=N` lines",
                ),
            })?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let topic = self.build_topic(&name, id, partitions)?;
            self.topics
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name, Arc::new(topic));
        }
        let max_id = self
            .all_topics()
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter_map(|p| p.log().max_producer_id())
            })
            .max();
        if let Some(max_id) = max_id {
            self.next_producer_id.store(max_id + 1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn build_topic(&self, name: &str, id: Uuid, partitions: i32) -> Result<Topic, BrokerError> {
        let mut logs = Vec::new();
        for index in 0..partitions {
            let log = match self.topics_dir() {
                None => PartitionLog::default(),
                Some(dir) => {
                    let path = dir.join(name).join(index.to_string());
                    let (segment, recovered) =
                        SegmentWriter::open(&path, self.config.fsync, self.config.segment_bytes)
                            .map_err(Self::storage_error(path))?;
                    PartitionLog::with_segment(segment, recovered)
                }
            };
            logs.push(Partition {
                log: Mutex::new(log),
            });
        }
        Ok(Topic {
            name: name.to_string(),
            id,
            partitions: logs,
        })
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

    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, ResponseError> {
        if !valid_topic_name(name) {
            return Err(ResponseError::InvalidTopicException);
        }
        if !(1..=10_000).contains(&partitions) {
            return Err(ResponseError::InvalidPartitions);
        }
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(name) {
            return Err(ResponseError::TopicAlreadyExists);
        }
        let id = Uuid::new_v4();
        // Under the `topics` write lock, on the async worker: a mkdir, a small `meta` file and
        // an empty segment per partition (no fsync), typically well under a millisecond on a
        // local disk, once per topic. See `Cluster` for why the lock is held.
        if let Some(dir) = self.topics_dir() {
            let path = dir.join(name);
            let written = fs::create_dir_all(&path).and_then(|()| {
                fs::write(
                    path.join("meta"),
                    format!("id={id}\npartitions={partitions}\n"),
                )
            });
            if let Err(err) = written {
                tracing::error!(topic = name, %err, "cannot create the topic's folder");
                return Err(ResponseError::KafkaStorageError);
            }
        }
        let topic = self.build_topic(name, id, partitions).map_err(|err| {
            tracing::error!(topic = name, %err, "cannot open the topic's log");
            ResponseError::KafkaStorageError
        })?;
        let topic = Arc::new(topic);
        topics.insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    pub fn delete_topic(&self, name: &str) -> Result<Uuid, ResponseError> {
        let removed = self
            .topics
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        let topic = removed.ok_or(ResponseError::UnknownTopicOrPartition)?;
        // On the async worker, with no lock held: removing the folder is an unlink per segment
        // file (more for a topic with many segments), and DeleteTopics is a rare admin request.
        if let Some(dir) = self.topics_dir() {
            if let Err(err) = fs::remove_dir_all(dir.join(name)) {
                tracing::error!(topic = name, %err, "cannot remove the topic's folder");
            }
        }
        self.groups.forget_topic(name);
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, Ordering::Relaxed)
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
                        tracing::error!(%err, "fsync of a log segment failed");
                    }
                }
            }
        });
    }
}

fn parse_meta(text: &str) -> Option<(Uuid, i32)> {
    let mut id = None;
    let mut partitions = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("id", v)) => id = v.parse().ok(),
            Some(("partitions", v)) => partitions = v.parse().ok(),
            _ => {}
        }
    }
    Some((id?, partitions?))
}
