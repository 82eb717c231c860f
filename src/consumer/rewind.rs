//! Which partitions wait before an order is tried again, and which outcomes still count.
//!
//! Outcomes arrive in the order the messages did. When an order must be retried, its partition
//! is paused and rewound to it; outcomes of later orders of that partition that were already
//! in flight no longer count (those orders come again after the rewind), until the order the
//! partition was rewound to arrives again. The wait before the retry doubles with each failed
//! attempt, from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], and starts over once an order of
//! the partition is handled for good. Pure bookkeeping, no Kafka: the worker applies it.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What to do with an order's outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Handled for good: store its offset for commit.
    Commit,
    /// Pause the partition and rewind it to this order; resume after the backoff.
    Rewind { attempt: u32, backoff: Duration },
    /// A later order of a rewound partition: it comes again, ignore this outcome.
    Ignore,
}

struct Waiting {
    attempts: u32,
    resume_at: Option<Instant>,
    /// Set while outcomes of later orders of this partition must be ignored.
    rewound_to: Option<i64>,
}

#[derive(Default)]
pub struct Rewinds(HashMap<i32, Waiting>);

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

impl Rewinds {
    /// A message was received: if it is the one its partition was rewound to, outcomes of
    /// that partition count again from here on.
    pub fn arrived(&mut self, partition: i32, offset: i64) {
        if let Some(w) = self.0.get_mut(&partition) {
            if w.rewound_to == Some(offset) {
                w.rewound_to = None;
            }
        }
    }

    /// The outcome of the order at `offset`: `done` if it was handled for good.
    pub fn outcome(&mut self, partition: i32, offset: i64, done: bool, now: Instant) -> Action {
        if self
            .0
            .get(&partition)
            .and_then(|w| w.rewound_to)
            .is_some_and(|o| offset > o)
        {
            return Action::Ignore;
        }
        if done {
            self.0.remove(&partition);
            return Action::Commit;
        }
        let w = self.0.entry(partition).or_insert(Waiting {
            attempts: 0,
            resume_at: None,
            rewound_to: None,
        });
        w.attempts += 1;
        w.rewound_to = Some(offset);
        let backoff = backoff(w.attempts);
        w.resume_at = Some(now + backoff);
        Action::Rewind {
            attempt: w.attempts,
            backoff,
        }
    }

    /// When the next paused partition is due to resume.
    pub fn next_resume(&self) -> Option<Instant> {
        self.0.values().filter_map(|w| w.resume_at).min()
    }

    /// The partitions whose backoff is over; each is returned once.
    pub fn due(&mut self, now: Instant) -> Vec<i32> {
        let mut due = Vec::new();
        for (partition, w) in &mut self.0 {
            if w.resume_at.is_some_and(|at| at <= now) {
                w.resume_at = None;
                due.push(*partition);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_the_cap_and_starts_over_after_a_success() {
        let mut r = Rewinds::default();
        let now = Instant::now();
        let waits: Vec<Duration> = (0..7)
            .map(|_| match r.outcome(0, 10, false, now) {
                Action::Rewind { backoff, .. } => {
                    r.arrived(0, 10);
                    backoff
                }
                other => panic!("expected a rewind, got {other:?}"),
            })
            .collect();
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(r.outcome(0, 10, true, now), Action::Commit);
        assert_eq!(
            r.outcome(0, 11, false, now),
            Action::Rewind {
                attempt: 1,
                backoff: FIRST_BACKOFF
            }
        );
    }

    #[test]
    fn later_outcomes_of_a_rewound_partition_are_ignored_until_it_comes_back() {
        let mut r = Rewinds::default();
        let now = Instant::now();
        assert!(matches!(r.outcome(1, 5, false, now), Action::Rewind { .. }));
        // 6 and 7 were in flight when 5 failed: they will be delivered again.
        assert_eq!(r.outcome(1, 6, true, now), Action::Ignore);
        assert_eq!(r.outcome(1, 7, false, now), Action::Ignore);
        // Another partition is not affected.
        assert_eq!(r.outcome(2, 6, true, now), Action::Commit);
        // 5 is delivered again: from here on, its partition's outcomes count.
        r.arrived(1, 6);
        assert_eq!(r.outcome(1, 6, true, now), Action::Ignore, "6 before 5");
        r.arrived(1, 5);
        assert_eq!(r.outcome(1, 5, true, now), Action::Commit);
        assert_eq!(r.outcome(1, 6, true, now), Action::Commit);
    }

    #[test]
    fn a_partition_is_due_once_its_backoff_is_over_and_only_once() {
        let mut r = Rewinds::default();
        let now = Instant::now();
        r.outcome(0, 1, false, now);
        r.outcome(3, 1, false, now);
        r.outcome(3, 1, false, now); // a second failure: waits longer
        assert_eq!(r.next_resume(), Some(now + FIRST_BACKOFF));
        assert!(r.due(now).is_empty());
        assert_eq!(r.due(now + FIRST_BACKOFF), vec![0]);
        assert!(r.due(now + FIRST_BACKOFF).is_empty(), "due once");
        assert_eq!(r.next_resume(), Some(now + FIRST_BACKOFF * 2));
        assert_eq!(r.due(now + MAX_BACKOFF), vec![3]);
        assert_eq!(r.next_resume(), None);
    }
}
