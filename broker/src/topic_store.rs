//! Topic folders in the data directory, created and deleted so that a crash at any moment
//! leaves a topic whole or absent, never a folder that stops the next start.
//!
//! ```text
//! <data_dir>/topics/<name>/meta           id=UUID, partitions=N and the topic's configs (name=value)
//! <data_dir>/topics/<name>/<partition>/   segment files (log/segment.rs)
//! <data_dir>/staging/<uuid>/              a topic being created, moved into topics/ by one rename
//! <data_dir>/trash/<uuid>/                a deleted topic, moved out of topics/ by one rename
//! <data_dir>/unreadable/<name>-<ms>/      a topic folder whose meta did not read, kept for a human
//! ```
//! At start, staging/ and trash/ are emptied: what is there is a create that never finished
//! (never acknowledged) or a delete that was.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::files;
use crate::topic_config::TopicConfigs;

const TOPICS: &str = "topics";
const STAGING: &str = "staging";
const TRASH: &str = "trash";
const UNREADABLE: &str = "unreadable";
const META: &str = "meta";

/// What a topic is made with: its partition count and the configs set at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    pub partitions: i32,
    pub configs: TopicConfigs,
}

/// A topic found in the data directory at start.
#[derive(Debug)]
pub struct StoredTopic {
    pub name: String,
    pub id: Uuid,
    pub spec: TopicSpec,
}

#[derive(Debug)]
pub struct TopicStore {
    root: PathBuf,
}

impl TopicStore {
    /// Clears staging/ and trash/ and lists the topics whose meta reads. A topic folder whose
    /// meta is missing or does not parse is moved to unreadable/ with an error in the log,
    /// and the broker starts without it (its bytes are kept, never deleted).
    pub fn open(data_dir: &Path) -> io::Result<(Self, Vec<StoredTopic>)> {
        let store = Self {
            root: data_dir.to_path_buf(),
        };
        for scratch in [STAGING, TRASH] {
            let dir = store.root.join(scratch);
            if dir.exists() {
                fs::remove_dir_all(&dir)?;
            }
            fs::create_dir_all(&dir)?;
        }
        let topics = store.root.join(TOPICS);
        fs::create_dir_all(&topics)?;
        let mut found = Vec::new();
        for entry in fs::read_dir(&topics)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            match read_meta(&path) {
                Ok((id, spec)) if crate::cluster::valid_topic_name(&name) => {
                    found.push(StoredTopic { name, id, spec })
                }
                Ok(_) => store.keep_aside(&path, &name, "not a legal topic name")?,
                Err(err) => store.keep_aside(&path, &name, &err.to_string())?,
            }
        }
        Ok((store, found))
    }

    fn keep_aside(&self, path: &Path, name: &str, reason: &str) -> io::Result<()> {
        let aside = self.root.join(UNREADABLE);
        fs::create_dir_all(&aside)?;
        let kept = aside.join(format!("{name}-{}", files::unix_millis()));
        fs::rename(path, &kept)?;
        files::sync_dir(&self.root.join(TOPICS))?;
        tracing::error!(folder = %path.display(), kept = %kept.display(), reason, "a topic folder could not be read: moved aside, the broker starts without that topic");
        Ok(())
    }

    /// Where a partition's segment files live.
    pub fn partition_dir(&self, name: &str, index: i32) -> PathBuf {
        self.root.join(TOPICS).join(name).join(index.to_string())
    }

    /// Writes the topic's meta in staging/ (synced) and renames the folder into topics/:
    /// the topic exists on disk whole, or not at all.
    pub fn create(&self, name: &str, id: Uuid, spec: TopicSpec) -> io::Result<()> {
        let staged = self.root.join(STAGING).join(id.to_string());
        let made = fs::create_dir(&staged)
            .and_then(|()| files::replace(&staged.join(META), meta(id, spec).as_bytes()))
            .and_then(|()| fs::rename(&staged, self.root.join(TOPICS).join(name)))
            .and_then(|()| files::sync_dir(&self.root.join(TOPICS)));
        if made.is_err() {
            let _ = fs::remove_dir_all(&staged);
        }
        made
    }

    /// Replaces the topic's meta with one for `spec` (its partition count grew, or its configs
    /// were altered): a crash leaves the old meta or the new one. Partitions beyond the old count may already have
    /// their folders; the old meta ignores them.
    pub fn update(&self, name: &str, id: Uuid, spec: TopicSpec) -> io::Result<()> {
        let path = self.root.join(TOPICS).join(name).join(META);
        files::replace(&path, meta(id, spec).as_bytes())
    }

    /// Moves the topic's folder to trash/ (one rename, synced: from then on it is gone even
    /// after a crash) and removes it; what a failed removal leaves is cleared at next start.
    pub fn delete(&self, name: &str) -> io::Result<()> {
        let trashed = self.root.join(TRASH).join(Uuid::new_v4().to_string());
        fs::rename(self.root.join(TOPICS).join(name), &trashed)?;
        files::sync_dir(&self.root.join(TOPICS))?;
        if let Err(err) = fs::remove_dir_all(&trashed) {
            tracing::warn!(folder = %trashed.display(), %err, "a deleted topic's files could not all be removed; they are removed at the next start");
        }
        Ok(())
    }
}

fn meta(id: Uuid, spec: TopicSpec) -> String {
    let mut meta = format!("id={id}\npartitions={}\n", spec.partitions);
    for (name, value) in spec.configs.entries() {
        meta.push_str(&format!("{name}={value}\n"));
    }
    meta
}

fn read_meta(topic_dir: &Path) -> io::Result<(Uuid, TopicSpec)> {
    let text = fs::read_to_string(topic_dir.join(META))?;
    let mut id = None;
    let mut partitions = None;
    let mut configs = TopicConfigs::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("id", v)) => id = v.parse().ok(),
            Some(("partitions", v)) => partitions = v.parse().ok().filter(|n: &i32| *n >= 1),
            Some((name, v)) => {
                configs
                    .set(name, v)
                    .map_err(|why| io::Error::new(io::ErrorKind::InvalidData, why))?;
            }
            None => {}
        }
    }
    let spec = partitions.map(|partitions| TopicSpec {
        partitions,
        configs,
    });
    id.zip(spec).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "meta must hold `id=UUID` and `partitions=N` (N >= 1) lines",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_mid_create_or_mid_delete_leaves_the_topic_whole_or_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, found) = TopicStore::open(dir.path()).expect("open empty");
        assert!(found.is_empty());
        let id = Uuid::new_v4();
        let spec = TopicSpec {
            partitions: 3,
            configs: TopicConfigs {
                max_message_bytes: Some(2048),
                retention_ms: Some(60_000),
                ..TopicConfigs::default()
            },
        };
        store.create("kept", id, spec).expect("create");
        // A create that died before its rename, and a delete that died after its rename.
        fs::create_dir_all(dir.path().join(STAGING).join("half")).expect("staged");
        fs::create_dir_all(dir.path().join(TRASH).join("gone/0")).expect("trashed");
        // A folder whose meta was torn (written in place by an older version).
        fs::create_dir_all(dir.path().join(TOPICS).join("torn/0")).expect("torn");
        fs::write(dir.path().join(TOPICS).join("torn/meta"), "id=").expect("meta");

        let (store, found) = TopicStore::open(dir.path()).expect("reopen");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].name.as_str(), found[0].id, found[0].spec),
            ("kept", id, spec)
        );
        assert!(fs::read_dir(dir.path().join(STAGING))
            .expect("staging")
            .next()
            .is_none());
        assert!(fs::read_dir(dir.path().join(TRASH))
            .expect("trash")
            .next()
            .is_none());
        let aside: Vec<_> = fs::read_dir(dir.path().join(UNREADABLE))
            .expect("unreadable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(aside.len(), 1);
        assert!(aside[0].starts_with("torn-"), "{aside:?}");

        let grown = TopicSpec {
            partitions: 5,
            ..spec
        };
        store.update("kept", id, grown).expect("update");
        let (store, found) = TopicStore::open(dir.path()).expect("reopen after update");
        assert_eq!((found[0].id, found[0].spec), (id, grown));

        store.delete("kept").expect("delete");
        let (_, found) = TopicStore::open(dir.path()).expect("reopen after delete");
        assert!(found.is_empty());
    }
}
