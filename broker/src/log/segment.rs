//! On-disk partition log: append-only segment files `<base offset, 20 digits>.log` in the
//! partition's folder, each a plain concatenation of record batches exactly as fetched.
//!
//! Recovery reads every segment, checks each batch's framing and CRC, and truncates a torn
//! tail (a batch half-written when the process died) instead of refusing to start.
//! The offset index is kept in memory and rebuilt by that scan.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::batch::{self, Batch};
use crate::config::FsyncPolicy;

#[derive(Debug)]
pub struct SegmentWriter {
    dir: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    fsync_each_write: bool,
    scratch: Vec<u8>,
}

fn segment_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{base_offset:020}.log"))
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl SegmentWriter {
    /// Opens (creating if needed) the partition folder, recovers its batches and readies the
    /// newest segment for appends.
    pub fn open(
        dir: &Path,
        fsync: FsyncPolicy,
        max_bytes: u64,
    ) -> io::Result<(Self, Vec<(i64, Batch)>)> {
        fs::create_dir_all(dir)?;
        let mut segments: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        segments.sort();
        let mut recovered = Vec::new();
        let mut size = 0;
        for path in &segments {
            size = recover_segment(path, &mut recovered)?;
        }
        let path = match segments.last() {
            Some(last) => last.clone(),
            None => segment_path(dir, 0),
        };
        let writer = Self {
            dir: dir.to_path_buf(),
            file: open_append(&path)?,
            size,
            max_bytes,
            fsync_each_write: fsync == FsyncPolicy::Always,
            scratch: Vec::new(),
        };
        Ok((writer, recovered))
    }

    pub fn append(&mut self, batch: &Batch, base_offset: i64) -> io::Result<()> {
        if self.size > 0 && self.size + batch.len() as u64 > self.max_bytes {
            self.file.sync_all()?;
            self.file = open_append(&segment_path(&self.dir, base_offset))?;
            self.size = 0;
        }
        self.scratch.clear();
        batch.write_with_offset(
            &mut self.scratch,
            base_offset,
            super::partition::LEADER_EPOCH,
        );
        self.file.write_all(&self.scratch)?;
        self.size += self.scratch.len() as u64;
        if self.fsync_each_write {
            self.file.sync_data()?;
        }
        Ok(())
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Reads one segment into `out`, truncating it at the first batch that does not check out.
/// Returns the segment's valid length.
fn recover_segment(path: &Path, out: &mut Vec<(i64, Batch)>) -> io::Result<u64> {
    let mut rest = Bytes::from(fs::read(path)?);
    let total = rest.len();
    while !rest.is_empty() {
        match batch::take_one(&rest) {
            Ok((batch, tail)) => {
                let base_offset =
                    i64::from_be_bytes(batch.data[..8].try_into().unwrap_or_default());
                out.push((base_offset, batch));
                rest = tail;
            }
            Err(_) => {
                let valid = (total - rest.len()) as u64;
                tracing::warn!(segment = %path.display(), torn_bytes = rest.len(), "truncating a torn tail left by a crash");
                OpenOptions::new().write(true).open(path)?.set_len(valid)?;
                return Ok(valid);
            }
        }
    }
    Ok(total as u64)
}
