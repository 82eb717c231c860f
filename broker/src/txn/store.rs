//! The transaction log on disk: `transactions.log`, an append-only file of checksummed
//! records (`crate::framed`), each one transactional id's whole state as JSON after a change.
//! At start the latest state of each id is kept and the file rewritten with just those
//! (write-then-rename); a record whose checksum passes but which does not decode is skipped,
//! counted and kept; bytes failing the checksum in the middle are stepped over, the original
//! file kept aside; a torn tail is cut off.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::state::Txn;
use crate::{files, framed};

pub const FILE: &str = "transactions.log";
/// A state is a few hundred bytes; a transaction over many partitions, more. 16 MiB is far
/// beyond any real one and keeps a corrupt length from being taken for a record.
const LENGTHS: std::ops::RangeInclusive<usize> = 2..=16 << 20;

/// The file is rewritten with only the latest states once this much was appended since the
/// last rewrite, or twice their size if that is more: a transactional application commits
/// several times a second, and every change appends a whole state.
const REWRITE_AFTER: u64 = 4 << 20;

pub struct TxnLog {
    path: PathBuf,
    file: File,
    /// Records that passed their checksum but did not decode (a newer format, say): every
    /// rewrite keeps them.
    kept: Vec<Bytes>,
    /// Bytes appended since the last rewrite, and the size of that rewrite.
    appended: u64,
    live: u64,
}

impl TxnLog {
    pub fn open(dir: &Path) -> io::Result<(Self, BTreeMap<String, Txn>)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE);
        let scanned = framed::load(&path, "the transaction log", LENGTHS)?;
        let mut txns = BTreeMap::new();
        let mut undecodable = Vec::new();
        for record in scanned.records {
            match serde_json::from_slice::<Txn>(&framed::payload(&record)) {
                Ok(txn) => {
                    txns.insert(txn.id.clone(), txn);
                }
                Err(_) => undecodable.push(record),
            }
        }
        if !undecodable.is_empty() {
            tracing::warn!(path = %path.display(), skipped = undecodable.len(), "transaction records with a valid checksum did not decode; skipped (kept in the file)");
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut log = Self {
            path,
            file,
            kept: undecodable,
            appended: 0,
            live: 0,
        };
        log.rewrite(txns.values())?;
        Ok((log, txns))
    }

    /// Replaces the file with the records kept and the given states (write-then-rename).
    pub fn rewrite<'a>(&mut self, txns: impl Iterator<Item = &'a Txn>) -> io::Result<()> {
        let mut live = Vec::new();
        for record in &self.kept {
            live.extend_from_slice(record);
        }
        for txn in txns {
            live.extend_from_slice(&encode(txn)?);
        }
        let replaced = crate::blocking::block_in_place(|| files::replace(&self.path, &live));
        // Whatever happened, appends go to the file now at `path`: once the rename is done, the
        // handle held so far points at an unlinked file, whose appends a restart would not see.
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        replaced?;
        self.appended = 0;
        self.live = live.len() as u64;
        Ok(())
    }

    /// Whether enough was appended since the last rewrite to rewrite the file.
    pub fn rewrite_due(&self) -> bool {
        self.appended > REWRITE_AFTER.max(2 * self.live)
    }

    /// Appends the transaction's state. Synced: a commit acknowledged to a producer must not be
    /// forgotten (its markers may not all be written yet), and these are a few per transaction.
    pub fn append(&mut self, txn: &Txn) -> io::Result<()> {
        let record = encode(txn)?;
        if !LENGTHS.contains(&(record.len() - 8)) {
            // Recovery would take it for damage and keep the state before it.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a transaction state of {} bytes", record.len()),
            ));
        }
        self.file.write_all(&record)?;
        crate::blocking::block_in_place(|| self.file.sync_data())?;
        self.appended += record.len() as u64;
        Ok(())
    }
}

fn encode(txn: &Txn) -> io::Result<Bytes> {
    Ok(framed::frame(&serde_json::to_vec(txn)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_state_of_each_id_survives_a_restart_and_damage_is_stepped_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, found) = TxnLog::open(dir.path()).expect("open");
        assert!(found.is_empty());
        let mut a = Txn::new("a", 1, 60_000);
        log.append(&a).expect("append");
        a.epoch = 3;
        a.partitions.insert(("t".into(), 2));
        log.append(&a).expect("append");
        log.append(&Txn::new("b", 2, 1_000)).expect("append");
        drop(log);
        // A flipped byte in the first record (stepped over: a's later state follows), and a
        // torn write at the end, as a crash leaves it.
        let path = dir.path().join(FILE);
        let mut data = fs::read(&path).expect("read");
        data[10] ^= 0xff;
        data.extend_from_slice(&encode(&Txn::new("c", 3, 1)).expect("encode")[..10]);
        fs::write(&path, &data).expect("write");
        let (_, found) = TxnLog::open(dir.path()).expect("reopen");
        assert_eq!(found.get("a"), Some(&a), "the latest state of a");
        assert!(found.contains_key("b") && !found.contains_key("c"));
        let rewritten = fs::read(&path).expect("read").len();
        let latest = encode(&a).expect("a").len() + encode(&found["b"]).expect("b").len();
        assert_eq!(rewritten, latest, "rewritten with the latest states only");
        assert!(
            fs::read_dir(dir.path())
                .expect("dir")
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().contains(".corrupt-")),
            "the damaged file was kept aside"
        );
    }
}
