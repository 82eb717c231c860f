//! Producer ids for idempotent producers: issued in increasing order and never twice, even
//! across restarts, and only ids this broker issued are accepted in a produce.
//!
//! With a data directory, ids are reserved in blocks: `producer-ids` holds the first id not
//! yet reserved, replaced atomically before any id of a new block is handed out (as Kafka's
//! controller hands out blocks of 1000). A restart continues after the last reserved block, so
//! an id issued before a crash but not yet seen in any log is never issued again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::files;

const FILE: &str = "producer-ids";
const BLOCK: i64 = 1000;

#[derive(Debug)]
pub struct ProducerIds {
    file: Option<PathBuf>,
    state: Mutex<Issued>,
}

#[derive(Debug)]
struct Issued {
    next: i64,
    reserved_until: i64,
}

impl ProducerIds {
    /// `seen` is the largest producer id found in the recovered logs (data written before
    /// the reservation file existed, or by a hand-edited directory): issuing resumes after it.
    pub fn open(data_dir: Option<&Path>, seen: Option<i64>) -> io::Result<Self> {
        let file = data_dir.map(|d| d.join(FILE));
        let stored = match &file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => text.trim().parse::<i64>().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} must hold one number, not {text:?}", path.display()),
                    )
                })?,
                Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
                Err(err) => return Err(err),
            },
            None => 0,
        };
        let next = stored.max(seen.map_or(0, |id| id.saturating_add(1)));
        Ok(Self {
            file,
            state: Mutex::new(Issued {
                next,
                reserved_until: next,
            }),
        })
    }

    /// The next producer id. `Err` only when its block could not be reserved on disk.
    pub fn issue(&self) -> io::Result<i64> {
        let mut issued = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if issued.next == i64::MAX {
            return Err(io::Error::other("producer ids are exhausted"));
        }
        if let Some(path) = &self.file {
            if issued.next >= issued.reserved_until {
                let until = issued.next.saturating_add(BLOCK);
                // A small write, an fsync and a rename once per 1000 ids.
                crate::blocking::block_in_place(|| {
                    files::replace(path, format!("{until}\n").as_bytes())
                })?;
                issued.reserved_until = until;
            }
        }
        let id = issued.next;
        issued.next += 1;
        Ok(id)
    }

    /// Whether `id` was handed out by this broker (now or before a restart).
    pub fn was_issued(&self, id: i64) -> bool {
        (0..self.state.lock().unwrap_or_else(|p| p.into_inner()).next).contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_issued_twice_across_restarts_and_unknown_ids_are_not_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids = ProducerIds::open(Some(dir.path()), None).expect("open");
        assert_eq!(ids.issue().expect("issue"), 0);
        assert_eq!(ids.issue().expect("issue"), 1);
        assert!(ids.was_issued(1));
        assert!(!ids.was_issued(2), "not issued yet");
        assert!(!ids.was_issued(-5) && !ids.was_issued(i64::MAX));
        // A crash: ids 0 and 1 were issued but no log holds them.
        drop(ids);
        let again = ProducerIds::open(Some(dir.path()), None).expect("reopen");
        assert_eq!(
            again.issue().expect("issue"),
            BLOCK,
            "after the reserved block"
        );
        assert!(
            again.was_issued(1),
            "ids issued before the restart stay valid"
        );

        let from_logs = ProducerIds::open(Some(dir.path()), Some(5 * BLOCK)).expect("reopen");
        assert_eq!(from_logs.issue().expect("issue"), 5 * BLOCK + 1);
        let hostile = ProducerIds::open(None, Some(i64::MAX)).expect("open");
        assert!(hostile.issue().is_err(), "no overflow past i64::MAX");
    }
}
