//! `Idempotency-Key`: a retried POST with the same key gets the first answer back and
//! publishes nothing new. Only successful answers are remembered, so a request that failed
//! (503, say) can be retried with the same key and really be tried again.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

/// How long, how many keys and how many bytes of answers are remembered.
const TTL: Duration = Duration::from_secs(24 * 3600);
const CAPACITY: usize = 100_000;
const MAX_BYTES: usize = 64 * 1024 * 1024;

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

/// A remembered key: when it was first used, the bytes it holds, and its state.
struct Kept {
    since: Instant,
    bytes: usize,
    entry: Entry,
}

/// The remembered keys, and when each was first used (oldest first), for expiry. Every key
/// ever begun stays in `by_age` until it expires, aborted ones too, so the queue is bounded
/// by the same capacity as the keys.
#[derive(Default)]
struct Keys {
    entries: HashMap<String, Kept>,
    by_age: VecDeque<(Instant, String)>,
    bytes: usize,
}

#[derive(Default)]
pub struct Idempotency {
    keys: Mutex<Keys>,
}

pub fn fingerprint(body: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

impl Keys {
    /// Forgets keys older than the TTL, and the oldest ones beyond the capacity in keys or
    /// bytes.
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.by_age.front() {
            let full = self.by_age.len() >= CAPACITY || self.bytes > MAX_BYTES;
            if now.duration_since(*at) < TTL && !full {
                break;
            }
            if let Some((at, key)) = self.by_age.pop_front() {
                // The key may have been aborted and used again since: that newer use stays.
                if self.entries.get(&key).is_some_and(|kept| kept.since == at) {
                    self.remove(&key);
                }
            }
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(kept) = self.entries.remove(key) {
            self.bytes -= kept.bytes;
        }
    }
}

impl Idempotency {
    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn begin(&self, key: &str, fingerprint: u64) -> Begin {
        self.begin_at(key, fingerprint, Instant::now())
    }

    fn begin_at(&self, key: &str, fingerprint: u64, now: Instant) -> Begin {
        let mut keys = self.keys();
        keys.expire(now);
        match keys.entries.get(key).map(|kept| &kept.entry) {
            Some(Entry::InFlight { fingerprint: f } | Entry::Done { fingerprint: f, .. })
                if *f != fingerprint =>
            {
                Begin::Mismatch
            }
            Some(Entry::InFlight { .. }) => Begin::InFlight,
            Some(Entry::Done { saved, .. }) => Begin::Replay(saved.clone()),
            None => {
                let kept = Kept {
                    since: now,
                    bytes: key.len(),
                    entry: Entry::InFlight { fingerprint },
                };
                keys.bytes += kept.bytes;
                keys.entries.insert(key.to_string(), kept);
                keys.by_age.push_back((now, key.to_string()));
                Begin::New
            }
        }
    }

    pub fn finish(&self, key: &str, fingerprint: u64, saved: Saved) {
        let size = key.len() + saved.location.len() + saved.body.to_string().len();
        let mut keys = self.keys();
        let Some(kept) = keys.entries.get_mut(key) else {
            return;
        };
        let before = kept.bytes;
        kept.bytes = size;
        kept.entry = Entry::Done { fingerprint, saved };
        keys.bytes = keys.bytes - before + size;
    }

    pub fn abort(&self, key: &str) {
        self.keys().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(n: u64) -> Saved {
        Saved {
            status: StatusCode::ACCEPTED,
            location: format!("/orders/{n}"),
            body: serde_json::json!({"n": n}),
        }
    }

    #[test]
    fn a_key_is_new_then_in_flight_then_replayed() {
        let cache = Idempotency::default();
        assert!(matches!(cache.begin("k", 1), Begin::New));
        assert!(matches!(cache.begin("k", 1), Begin::InFlight));
        assert!(matches!(cache.begin("k", 2), Begin::Mismatch));
        cache.finish("k", 1, saved(7));
        match cache.begin("k", 1) {
            Begin::Replay(s) => assert_eq!(s.body, serde_json::json!({"n": 7})),
            _ => panic!("expected the first answer back"),
        }
        assert!(matches!(cache.begin("k", 2), Begin::Mismatch));
    }

    #[test]
    fn an_aborted_key_can_be_tried_again_and_keeps_its_new_age() {
        let cache = Idempotency::default();
        let start = Instant::now();
        assert!(matches!(cache.begin_at("k", 1, start), Begin::New));
        cache.abort("k");
        let later = start + TTL / 2;
        assert!(matches!(cache.begin_at("k", 1, later), Begin::New));
        cache.finish("k", 1, saved(1));
        // The first, aborted use expires; the second one must not go with it.
        assert!(matches!(
            cache.begin_at("k", 1, start + TTL + Duration::from_secs(1)),
            Begin::Replay(_)
        ));
        assert!(matches!(cache.begin_at("k", 1, later + TTL), Begin::New));
    }

    #[test]
    fn answers_are_forgotten_oldest_first_beyond_the_byte_budget() {
        let cache = Idempotency::default();
        let big = |n: u64| Saved {
            body: serde_json::json!("x".repeat(MAX_BYTES / 2)),
            ..saved(n)
        };
        for key in ["a", "b", "c"] {
            assert!(matches!(cache.begin(key, 1), Begin::New));
            cache.finish(key, 1, big(1));
        }
        // Three halves of the budget: the next use makes room by forgetting the oldest.
        assert!(matches!(cache.begin("d", 1), Begin::New));
        assert!(cache.keys().bytes <= MAX_BYTES);
        assert!(matches!(cache.begin("a", 1), Begin::New), "a was forgotten");
        assert!(matches!(cache.begin("c", 1), Begin::Replay(_)), "c is kept");
    }

    #[test]
    fn keys_expire_after_the_ttl_and_beyond_the_capacity() {
        let cache = Idempotency::default();
        let start = Instant::now();
        assert!(matches!(cache.begin_at("old", 1, start), Begin::New));
        cache.finish("old", 1, saved(0));
        assert!(matches!(
            cache.begin_at("old", 1, start + TTL - Duration::from_secs(1)),
            Begin::Replay(_)
        ));
        assert!(matches!(cache.begin_at("old", 1, start + TTL), Begin::New));

        let cache = Idempotency::default();
        for n in 0..=CAPACITY {
            assert!(matches!(
                cache.begin_at(&n.to_string(), 1, start),
                Begin::New
            ));
        }
        assert_eq!(cache.keys().entries.len(), CAPACITY, "the oldest went");
        assert!(matches!(cache.begin_at("0", 1, start), Begin::New));
        assert!(matches!(
            cache.begin_at(&CAPACITY.to_string(), 1, start),
            Begin::InFlight
        ));

        // Aborted keys leave the queue too: it never grows past the capacity.
        let cache = Idempotency::default();
        for n in 0..CAPACITY + 10 {
            let key = format!("failed-{n}");
            cache.begin_at(&key, 1, start);
            cache.abort(&key);
        }
        assert!(cache.keys().by_age.len() <= CAPACITY);
        assert_eq!(cache.keys().bytes, 0);
    }
}
