//! Idempotency-Key answers in this process's memory (without `database_url`), bounded in age,
//! keys and bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use super::{Begin, Claim, Saved, TTL};

/// How many keys and how many bytes of answers are remembered.
const CAPACITY: usize = 100_000;
const MAX_BYTES: usize = 64 * 1024 * 1024;

enum Entry {
    InFlight { fingerprint: String },
    Done { fingerprint: String, saved: Saved },
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
pub struct MemoryKeys {
    keys: Mutex<Keys>,
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

impl MemoryKeys {
    fn keys(&self) -> std::sync::MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn begin(&self, key: &str, fingerprint: &str) -> Begin {
        self.begin_at(key, fingerprint, Instant::now())
    }

    fn begin_at(&self, key: &str, fingerprint: &str, now: Instant) -> Begin {
        let mut keys = self.keys();
        keys.expire(now);
        match keys.entries.get(key).map(|kept| &kept.entry) {
            Some(Entry::InFlight { fingerprint: f } | Entry::Done { fingerprint: f, .. })
                if f != fingerprint =>
            {
                Begin::Mismatch
            }
            Some(Entry::InFlight { .. }) => Begin::InFlight,
            Some(Entry::Done { saved, .. }) => Begin::Replay(saved.clone()),
            None => {
                let kept = Kept {
                    since: now,
                    bytes: key.len(),
                    entry: Entry::InFlight {
                        fingerprint: fingerprint.to_string(),
                    },
                };
                keys.bytes += kept.bytes;
                keys.entries.insert(key.to_string(), kept);
                keys.by_age.push_back((now, key.to_string()));
                Begin::New(Claim::default())
            }
        }
    }

    pub fn finish(&self, key: &str, fingerprint: &str, saved: Saved) {
        let size = key.len() + saved.location.len() + saved.body.to_string().len();
        let mut keys = self.keys();
        let Some(kept) = keys.entries.get_mut(key) else {
            return;
        };
        let before = kept.bytes;
        kept.bytes = size;
        kept.entry = Entry::Done {
            fingerprint: fingerprint.to_string(),
            saved,
        };
        keys.bytes = keys.bytes - before + size;
    }

    pub fn abort(&self, key: &str) {
        self.keys().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::saved;
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_key_is_new_then_in_flight_then_replayed() {
        let cache = MemoryKeys::default();
        assert!(matches!(cache.begin("k", "1"), Begin::New(_)));
        assert!(matches!(cache.begin("k", "1"), Begin::InFlight));
        assert!(matches!(cache.begin("k", "2"), Begin::Mismatch));
        cache.finish("k", "1", saved(7));
        match cache.begin("k", "1") {
            Begin::Replay(s) => assert_eq!(s.body, serde_json::json!({"n": 7})),
            _ => panic!("expected the first answer back"),
        }
        assert!(matches!(cache.begin("k", "2"), Begin::Mismatch));
    }

    #[test]
    fn an_aborted_key_can_be_tried_again_and_keeps_its_new_age() {
        let cache = MemoryKeys::default();
        let start = Instant::now();
        assert!(matches!(cache.begin_at("k", "1", start), Begin::New(_)));
        cache.abort("k");
        let later = start + TTL / 2;
        assert!(matches!(cache.begin_at("k", "1", later), Begin::New(_)));
        cache.finish("k", "1", saved(1));
        // The first, aborted use expires; the second one must not go with it.
        assert!(matches!(
            cache.begin_at("k", "1", start + TTL + Duration::from_secs(1)),
            Begin::Replay(_)
        ));
        assert!(matches!(
            cache.begin_at("k", "1", later + TTL),
            Begin::New(_)
        ));
    }

    #[test]
    fn answers_are_forgotten_oldest_first_beyond_the_byte_budget() {
        let cache = MemoryKeys::default();
        let big = |n: u64| Saved {
            body: serde_json::json!("x".repeat(MAX_BYTES / 2)),
            ..saved(n)
        };
        for key in ["a", "b", "c"] {
            assert!(matches!(cache.begin(key, "1"), Begin::New(_)));
            cache.finish(key, "1", big(1));
        }
        // Three halves of the budget: the next use makes room by forgetting the oldest.
        assert!(matches!(cache.begin("d", "1"), Begin::New(_)));
        assert!(cache.keys().bytes <= MAX_BYTES);
        assert!(
            matches!(cache.begin("a", "1"), Begin::New(_)),
            "a was forgotten"
        );
        assert!(
            matches!(cache.begin("c", "1"), Begin::Replay(_)),
            "c is kept"
        );
    }

    #[test]
    fn keys_expire_after_the_ttl_and_beyond_the_capacity() {
        let cache = MemoryKeys::default();
        let start = Instant::now();
        assert!(matches!(cache.begin_at("old", "1", start), Begin::New(_)));
        cache.finish("old", "1", saved(0));
        assert!(matches!(
            cache.begin_at("old", "1", start + TTL - Duration::from_secs(1)),
            Begin::Replay(_)
        ));
        assert!(matches!(
            cache.begin_at("old", "1", start + TTL),
            Begin::New(_)
        ));

        let cache = MemoryKeys::default();
        for n in 0..=CAPACITY {
            assert!(matches!(
                cache.begin_at(&n.to_string(), "1", start),
                Begin::New(_)
            ));
        }
        assert_eq!(cache.keys().entries.len(), CAPACITY, "the oldest went");
        assert!(matches!(cache.begin_at("0", "1", start), Begin::New(_)));
        assert!(matches!(
            cache.begin_at(&CAPACITY.to_string(), "1", start),
            Begin::InFlight
        ));

        // Aborted keys leave the queue too: it never grows past the capacity.
        let cache = MemoryKeys::default();
        for n in 0..CAPACITY + 10 {
            let key = format!("failed-{n}");
            cache.begin_at(&key, "1", start);
            cache.abort(&key);
        }
        assert!(cache.keys().by_age.len() <= CAPACITY);
        assert_eq!(cache.keys().bytes, 0);
    }
}
