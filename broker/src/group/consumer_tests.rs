//! KIP-848 consumer groups, driven directly: joins, reconciliation (revoke before assign),
//! epochs and fencing, leaves, session expiry and topic changes. The time is passed in, so
//! timeouts are tested without waiting.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::assignor::{Assignment, TopicMeta};
use super::consumer::{Beat, BeatOutcome, ConsumerGroup, SESSION_TIMEOUT};

const T: Uuid = Uuid::from_u128(1);

fn topics(partitions: i32) -> impl Fn(&str) -> Option<TopicMeta> {
    move |name| (name == "t").then_some(TopicMeta { id: T, partitions })
}

fn parts(ps: &[i32]) -> Assignment {
    BTreeMap::from([(T, ps.iter().copied().collect::<BTreeSet<i32>>())])
}

fn join(id: &str) -> Beat {
    Beat {
        member_id: id.to_string(),
        epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed: Some(BTreeSet::from(["t".to_string()])),
        owned: Some(Assignment::new()),
        ..Beat::default()
    }
}

/// A plain heartbeat: epoch and owned partitions only, as clients send between changes.
fn beat(id: &str, epoch: i32, owned: &[i32]) -> Beat {
    Beat {
        member_id: id.to_string(),
        epoch,
        rebalance_timeout_ms: -1,
        owned: Some(if owned.is_empty() {
            Assignment::new()
        } else {
            parts(owned)
        }),
        ..Beat::default()
    }
}

fn send(g: &mut ConsumerGroup, b: Beat, now: Instant) -> BeatOutcome {
    g.heartbeat(b, topics(6), now).expect("accepted")
}

fn assigned(outcome: &BeatOutcome) -> Vec<i32> {
    let a = outcome
        .assignment
        .as_ref()
        .expect("an assignment in the response");
    a.get(&T)
        .map(|ps| ps.iter().copied().collect())
        .unwrap_or_default()
}

#[test]
fn a_partition_moves_only_after_its_owner_revoked_it() {
    let now = Instant::now();
    let mut g = ConsumerGroup::default();
    let a = send(&mut g, join("a"), now);
    assert_eq!((a.epoch, assigned(&a)), (1, vec![0, 1, 2, 3, 4, 5]));
    assert_eq!(g.state(), "Stable");

    // B joins: epoch 2, its target is half of A's partitions, which A still owns.
    let b = send(&mut g, join("b"), now);
    assert_eq!((g.epoch, b.epoch, assigned(&b)), (2, 2, vec![]));
    assert_eq!(g.state(), "Reconciling");
    let b_target: Vec<i32> = g.target["b"][&T].iter().copied().collect();
    assert_eq!(b_target.len(), 3);

    // A is asked to revoke them and stays at epoch 1 until it no longer owns them.
    let a = send(&mut g, beat("a", 1, &[0, 1, 2, 3, 4, 5]), now);
    let kept = assigned(&a);
    assert_eq!((a.epoch, kept.len()), (1, 3));
    assert!(kept.iter().all(|p| !b_target.contains(p)));
    let b = send(&mut g, beat("b", 2, &[]), now);
    assert_eq!(
        (b.epoch, b.assignment),
        (2, None),
        "nothing for B while A owns them"
    );

    // A acknowledges: epoch 2, and the partitions are free for B.
    let a = send(&mut g, beat("a", 1, &kept), now);
    assert_eq!((a.epoch, a.assignment), (2, None));
    let b = send(&mut g, beat("b", 2, &[]), now);
    assert_eq!((b.epoch, assigned(&b)), (2, b_target));
    assert_eq!(g.state(), "Stable");
}

#[test]
fn epochs_are_fenced_as_kafka_does() {
    let now = Instant::now();
    let mut g = ConsumerGroup::default();
    send(&mut g, join("a"), now);
    let fenced = ResponseError::FencedMemberEpoch;
    assert_eq!(
        g.heartbeat(beat("a", 2, &[]), topics(6), now)
            .expect_err("refused")
            .error,
        fenced
    );
    let unknown = g
        .heartbeat(beat("x", 1, &[]), topics(6), now)
        .expect_err("refused");
    assert_eq!(unknown.error, ResponseError::UnknownMemberId);

    // The partition count grows: epoch 2. The previous epoch with a subset is still accepted
    // (the answer that moved the member on may have been lost), an older one is not.
    let moved = send(&mut g, beat("a", 1, &[0, 1, 2, 3, 4, 5]), now);
    assert_eq!(
        moved.epoch, 1,
        "same partitions: epoch 1 until the topic changes"
    );
    let grown = g
        .heartbeat(beat("a", 1, &[0, 1, 2, 3, 4, 5]), topics(8), now)
        .expect("accepted");
    assert_eq!((grown.epoch, g.epoch), (2, 2));
    assert_eq!(assigned(&grown), (0..8).collect::<Vec<_>>());
    let late = g.heartbeat(beat("a", 1, &[0, 1]), topics(8), now);
    assert!(late.is_ok(), "previous epoch with a subset: {late:?}");
    let stale = g.heartbeat(beat("a", 0, &[0]), topics(8), now);
    assert!(stale.is_ok(), "epoch 0 is a rejoin, not a stale epoch");
    assert_eq!(
        g.check_commit("a", 1).expect_err("refused").error,
        ResponseError::StaleMemberEpoch
    );
    assert_eq!(
        g.check_commit("b", 2).expect_err("refused").error,
        ResponseError::UnknownMemberId
    );
    assert_eq!(
        g.check_commit("", -1).expect_err("refused").error,
        ResponseError::UnknownMemberId
    );
    assert!(g.check_commit("a", 2).is_ok());
    assert!(g.check_fetch(None, -1).is_ok());
}

#[test]
fn a_leaving_or_silent_member_frees_its_partitions_at_once() {
    let now = Instant::now();
    let mut g = ConsumerGroup::default();
    send(&mut g, join("a"), now);
    send(&mut g, join("b"), now);
    let a = send(&mut g, beat("a", 1, &[0, 1, 2, 3, 4, 5]), now);
    send(&mut g, beat("a", 1, &assigned(&a)), now);
    let b = send(&mut g, beat("b", 2, &[]), now);
    assert_eq!(assigned(&b).len(), 3);

    // B leaves: A gets everything without waiting for anyone.
    let left = send(
        &mut g,
        Beat {
            epoch: -1,
            ..beat("b", 2, &[])
        },
        now,
    );
    assert_eq!(left.epoch, -1);
    let a = send(&mut g, beat("a", 2, &assigned(&a)), now);
    assert_eq!((a.epoch, assigned(&a).len()), (3, 6));

    // C joins and goes silent: the tick evicts it after the session timeout, not before.
    send(&mut g, join("c"), now);
    let a = send(
        &mut g,
        beat("a", 3, &[0, 1, 2, 3, 4, 5]),
        now + SESSION_TIMEOUT,
    );
    send(&mut g, beat("a", 3, &assigned(&a)), now + SESSION_TIMEOUT);
    g.tick(now + SESSION_TIMEOUT);
    assert_eq!(g.members.len(), 2);
    g.tick(now + SESSION_TIMEOUT + Duration::from_millis(1));
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.state(), "Assigning");
    let a = send(&mut g, beat("a", 4, &assigned(&a)), now + SESSION_TIMEOUT);
    assert_eq!((a.epoch, assigned(&a).len(), g.state()), (5, 6, "Stable"));
}

#[test]
fn a_member_that_does_not_revoke_within_its_rebalance_timeout_is_removed() {
    let now = Instant::now();
    let mut g = ConsumerGroup::default();
    send(&mut g, join("a"), now);
    send(&mut g, join("b"), now);
    send(&mut g, beat("a", 1, &[0, 1, 2, 3, 4, 5]), now);
    let late = now + Duration::from_secs(31);
    send(&mut g, beat("b", 2, &[]), late);
    g.tick(late);
    assert_eq!(g.members.keys().collect::<Vec<_>>(), ["b"]);
    let b = send(&mut g, beat("b", 2, &[]), late);
    assert_eq!(assigned(&b).len(), 6);
}

#[test]
fn a_subscription_change_bumps_the_group_epoch() {
    let now = Instant::now();
    let mut g = ConsumerGroup::default();
    send(&mut g, join("a"), now);
    let mut unsubscribe = beat("a", 1, &[0, 1, 2, 3, 4, 5]);
    unsubscribe.subscribed = Some(BTreeSet::new());
    let a = send(&mut g, unsubscribe, now);
    assert_eq!((g.epoch, a.epoch, assigned(&a)), (2, 1, vec![]));
    let a = send(&mut g, beat("a", 1, &[]), now);
    assert_eq!(a.epoch, 2);
}

#[test]
fn a_static_member_keeps_its_partitions_for_whoever_takes_its_instance_id() {
    let now = Instant::now();
    let mut g = ConsumerGroup::default();
    let with_instance = |id: &str| Beat {
        instance_id: Some("i".to_string()),
        ..join(id)
    };
    assert_eq!(assigned(&send(&mut g, with_instance("a"), now)).len(), 6);
    let left = Beat {
        epoch: -2,
        instance_id: Some("i".to_string()),
        ..beat("a", 1, &[])
    };
    assert_eq!(send(&mut g, left, now).epoch, -2);
    assert_eq!(g.epoch, 1, "a static leave is no membership change");

    // B joins: half is its target, but the absent static member still holds it.
    let b = send(&mut g, join("b"), now);
    assert_eq!((b.epoch, assigned(&b)), (2, vec![]));

    // Its instance id is taken by C while it is away; then by D while C holds it.
    let c = send(&mut g, with_instance("c"), now);
    assert_eq!((c.epoch, assigned(&c).len()), (2, 3));
    let refused = g.heartbeat(with_instance("d"), topics(6), now);
    assert_eq!(
        refused.expect_err("in use").error,
        ResponseError::UnreleasedInstanceId
    );
    let fenced = Beat {
        instance_id: Some("i".to_string()),
        ..beat("a", 1, &[])
    };
    let fenced = g.heartbeat(fenced, topics(6), now).expect_err("replaced");
    assert_eq!(fenced.error, ResponseError::FencedInstanceId);
    let b = send(&mut g, beat("b", 2, &[]), now);
    assert_eq!(assigned(&b).len(), 3, "the partitions C let go");

    // A static member that left and never comes back is removed by its session timeout.
    let left = Beat {
        epoch: -2,
        instance_id: Some("i".to_string()),
        ..beat("c", 2, &[])
    };
    send(&mut g, left, now);
    send(&mut g, beat("b", 2, &assigned(&b)), now + SESSION_TIMEOUT);
    g.tick(now + SESSION_TIMEOUT + Duration::from_millis(1));
    assert_eq!(g.members.keys().collect::<Vec<_>>(), ["b"]);
}
