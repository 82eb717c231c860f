//! `Idempotency-Key`: a retried POST with the same key gets the first answer back and
//! publishes nothing new. Only successful answers are remembered, so a request that failed
//! (503, say) can be retried with the same key and really be tried again.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

/// How long and how many keys are remembered.
const TTL: Duration = Duration::from_secs(24 * 3600);
const CAPACITY: usize = 100_000;

#[derive(Debug, Clone)]
pub struct Saved {
    pub status: StatusCode,
    pub location: String,
    pub body: Value,
}

enum Entry {
    InFlight { fingerprint: u64 },
    Done { fingerprint: u64, saved: Saved },
}

pub enum Begin {
    /// First use of the key: go ahead, then call `finish` or `abort`.
    New,
    Replay(Saved),
    /// The same key is being processed by another request right now.
    InFlight,
    /// The key was used with a different body.
    Mismatch,
}

#[derive(Default)]
pub struct Idempotency {
    state: Mutex<(HashMap<String, Entry>, VecDeque<(Instant, String)>)>,
}

pub fn fingerprint(body: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

impl Idempotency {
    pub fn begin(&self, key: &str, fingerprint: u64) -> Begin {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (entries, order) = &mut *guard;
        let now = Instant::now();
        while let Some((at, _)) = order.front() {
            if now.duration_since(*at) < TTL && entries.len() < CAPACITY {
                break;
            }
            if let Some((_, old)) = order.pop_front() {
                entries.remove(&old);
            }
        }
        match entries.get(key) {
            Some(Entry::InFlight { fingerprint: f } | Entry::Done { fingerprint: f, .. })
                if *f != fingerprint =>
            {
                Begin::Mismatch
            }
            Some(Entry::InFlight { .. }) => Begin::InFlight,
            Some(Entry::Done { saved, .. }) => Begin::Replay(saved.clone()),
            None => {
                entries.insert(key.to_string(), Entry::InFlight { fingerprint });
                order.push_back((now, key.to_string()));
                Begin::New
            }
        }
    }

    pub fn finish(&self, key: &str, fingerprint: u64, saved: Saved) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .0
            .insert(key.to_string(), Entry::Done { fingerprint, saved });
    }

    pub fn abort(&self, key: &str) {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.remove(key);
    }
}
