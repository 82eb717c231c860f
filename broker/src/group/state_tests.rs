//! The group state machine, driven directly: joins, syncs, heartbeats, leaves and the clock.
//! `Group::tick` takes the time, so session and rebalance timeouts are tested without waiting.
//! What the request handlers add (KIP-394 member ids, protocol checks) is in `request_tests`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot::{self, error::TryRecvError};

use super::member::{JoinOutcome, Member, SyncOutcome};
use super::state::{Group, GroupState};

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);

fn err(e: ResponseError) -> i16 {
    e.code()
}

/// A member's JoinGroup for `protocols`, each with metadata `"<id>/<protocol>"`.
fn join_with(
    group: &mut Group,
    id: &str,
    protocols: &[&str],
    session: Duration,
    rebalance: Duration,
) -> oneshot::Receiver<JoinOutcome> {
    let (tx, rx) = oneshot::channel();
    let member = Member {
        id: id.to_string(),
        instance_id: None,
        client_id: "test".to_string(),
        client_host: "127.0.0.1".to_string(),
        session_timeout: session,
        rebalance_timeout: rebalance,
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("{id}/{p}"))))
            .collect(),
        assignment: Bytes::new(),
        last_seen: Instant::now(),
        join_waiter: Some(tx),
        sync_waiter: None,
    };
    group.join(member, "consumer");
    rx
}

fn join(group: &mut Group, id: &str) -> oneshot::Receiver<JoinOutcome> {
    join_with(group, id, &["range"], SESSION, REBALANCE)
}

fn sync(
    group: &mut Group,
    id: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> oneshot::Receiver<SyncOutcome> {
    let (tx, rx) = oneshot::channel();
    let assignments = assignments
        .iter()
        .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
        .collect();
    group.sync(id, generation, assignments, tx);
    rx
}

/// The answer if one was sent, `None` while the request is still parked.
fn answer<T>(rx: &mut oneshot::Receiver<T>) -> Option<T> {
    match rx.try_recv() {
        Ok(value) => Some(value),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Closed) => panic!("the waiter was dropped without an answer"),
    }
}

fn joined(rx: &mut oneshot::Receiver<JoinOutcome>) -> JoinOutcome {
    answer(rx).expect("the JoinGroup is answered")
}

fn member_ids(outcome: &JoinOutcome) -> Vec<&str> {
    outcome
        .members
        .iter()
        .map(|(id, _, _)| id.as_str())
        .collect()
}

/// Forms one generation of `members` (the first leads) and syncs it: a Stable group.
/// The first joins alone (generation 1); the others join, which parks them until the first
/// rejoins, as a real consumer does when its heartbeat says a rebalance started.
fn form(group: &mut Group, members: &[(&str, Duration, Duration)]) -> i32 {
    let (leader, session, rebalance) = members[0];
    joined(&mut join_with(
        group,
        leader,
        &["range"],
        session,
        rebalance,
    ));
    let mut parked: Vec<_> = members[1..]
        .iter()
        .map(|(id, session, rebalance)| join_with(group, id, &["range"], *session, *rebalance))
        .collect();
    if !parked.is_empty() {
        parked.push(join_with(group, leader, &["range"], session, rebalance));
    }
    for rx in &mut parked {
        assert_eq!(joined(rx).generation, group.generation);
    }
    let generation = group.generation;
    drop(sync(group, leader, generation, &[]));
    assert_eq!(group.state, GroupState::Stable);
    generation
}

fn stable(ids: &[&str]) -> Group {
    let mut group = Group::new("g");
    let members: Vec<_> = ids.iter().map(|id| (*id, SESSION, REBALANCE)).collect();
    form(&mut group, &members);
    group
}

#[test]
fn a_single_member_leads_and_its_sync_makes_the_group_stable() {
    let mut group = Group::new("g");
    assert_eq!((group.state, group.generation), (GroupState::Empty, 0));
    let mut rx = join(&mut group, "m1");
    let outcome = joined(&mut rx);
    assert_eq!(outcome.error, 0);
    assert_eq!(outcome.generation, 1);
    assert_eq!(outcome.leader, "m1");
    assert_eq!(outcome.member_id, "m1");
    assert_eq!(outcome.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(outcome.protocol_name.as_deref(), Some("range"));
    assert_eq!(outcome.members.len(), 1);
    assert_eq!(outcome.members[0].0, "m1");
    assert_eq!(
        outcome.members[0].2,
        Bytes::from("m1/range"),
        "its metadata"
    );
    assert_eq!(group.state, GroupState::CompletingRebalance);
    assert_eq!(
        group.heartbeat("m1", 1),
        Ok(()),
        "heartbeats are fine while syncing"
    );

    let mut synced = sync(&mut group, "m1", 1, &[("m1", "p0,p1")]);
    assert_eq!(answer(&mut synced), Some(Ok(Bytes::from("p0,p1"))));
    assert_eq!(group.state, GroupState::Stable);
    assert_eq!(group.heartbeat("m1", 1), Ok(()));
    let mut again = sync(&mut group, "m1", 1, &[]);
    assert_eq!(
        answer(&mut again),
        Some(Ok(Bytes::from("p0,p1"))),
        "a repeated SyncGroup in Stable gets the same assignment"
    );
}

#[test]
fn a_second_member_starts_a_new_generation_with_both_and_the_same_leader() {
    let mut group = stable(&["old"]);
    assert_eq!(group.generation, 1);
    let mut new = join(&mut group, "new");
    assert!(
        answer(&mut new).is_none(),
        "parked until the first member rejoins"
    );
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert_eq!(
        group.heartbeat("old", 1),
        Err(ResponseError::RebalanceInProgress),
        "the first member learns of the rebalance from its heartbeat"
    );
    let mut old = join(&mut group, "old");
    let (leader, follower) = (joined(&mut old), joined(&mut new));
    assert_eq!((leader.generation, follower.generation), (2, 2));
    assert_eq!(
        (leader.leader.as_str(), follower.leader.as_str()),
        ("old", "old"),
        "the leader stays the leader"
    );
    assert_eq!(
        member_ids(&leader),
        ["new", "old"],
        "the leader gets every member"
    );
    assert_eq!(leader.members[0].2, Bytes::from("new/range"));
    assert!(
        follower.members.is_empty(),
        "a follower gets no member list"
    );
    assert_eq!(follower.member_id, "new");
    assert_eq!(group.state, GroupState::CompletingRebalance);

    let mut waiting = sync(&mut group, "new", 2, &[]);
    assert!(answer(&mut waiting).is_none(), "waits for the leader");
    let mut leading = sync(&mut group, "old", 2, &[("old", "a"), ("new", "b")]);
    assert_eq!(answer(&mut leading), Some(Ok(Bytes::from("a"))));
    assert_eq!(answer(&mut waiting), Some(Ok(Bytes::from("b"))));
    assert_eq!(group.state, GroupState::Stable);
    assert_eq!(
        group.heartbeat("old", 1),
        Err(ResponseError::IllegalGeneration),
        "generation 1 is over"
    );
}

#[test]
fn stale_generations_and_unknown_members_get_kafkas_errors() {
    let mut group = stable(&["m1", "m2"]);
    let generation = group.generation;
    let code = |rx: &mut oneshot::Receiver<SyncOutcome>| answer(rx).and_then(Result::err);
    let mut rx = sync(&mut group, "m1", generation - 1, &[]);
    assert_eq!(code(&mut rx), Some(err(ResponseError::IllegalGeneration)));
    let mut rx = sync(&mut group, "stranger", generation, &[]);
    assert_eq!(code(&mut rx), Some(err(ResponseError::UnknownMemberId)));
    assert_eq!(
        group.heartbeat("stranger", generation),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        group.heartbeat("m2", generation + 1),
        Err(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        group.heartbeat("stranger", generation + 1),
        Err(ResponseError::UnknownMemberId),
        "an unknown member is reported before a wrong generation, as Kafka does"
    );

    // During the join phase a SyncGroup of the current generation is told to rejoin.
    drop(join(&mut group, "m3"));
    let mut rx = sync(&mut group, "m2", generation, &[]);
    assert_eq!(code(&mut rx), Some(err(ResponseError::RebalanceInProgress)));
}

#[test]
fn a_parked_sync_is_told_to_rejoin_when_a_member_joins_before_the_leader_syncs() {
    let mut group = stable(&["m1", "m2"]);
    let mut m1 = join(&mut group, "m1");
    let mut m2 = join(&mut group, "m2");
    let generation = joined(&mut m1).generation;
    joined(&mut m2);
    let mut follower = sync(&mut group, "m2", generation, &[]);
    assert!(answer(&mut follower).is_none());
    drop(join(&mut group, "m3"));
    assert_eq!(
        answer(&mut follower),
        Some(Err(err(ResponseError::RebalanceInProgress)))
    );
    assert_eq!(group.state, GroupState::PreparingRebalance);
}

#[test]
fn a_leaving_member_triggers_a_rebalance_and_the_last_one_empties_the_group() {
    let mut group = stable(&["m1", "m2"]);
    let generation = group.generation;
    assert_eq!(group.leave("m2"), Ok(()));
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert_eq!(
        group.heartbeat("m1", generation),
        Err(ResponseError::RebalanceInProgress)
    );
    assert_eq!(group.leave("m2"), Err(ResponseError::UnknownMemberId));
    let mut m1 = join(&mut group, "m1");
    let outcome = joined(&mut m1);
    assert_eq!(outcome.generation, generation + 1);
    assert_eq!(member_ids(&outcome), ["m1"]);

    assert_eq!(group.leave("m1"), Ok(()));
    assert_eq!(group.state, GroupState::Empty);
    assert_eq!(
        group.generation,
        generation + 2,
        "Kafka bumps it when emptying"
    );
    assert_eq!(
        (group.leader.as_deref(), group.protocol.as_deref()),
        (None, None)
    );
    assert!(group.members.is_empty());
}

#[test]
fn the_leader_leaving_hands_leadership_to_a_remaining_member() {
    let mut group = stable(&["m1", "m2"]);
    assert_eq!(group.leave("m1"), Ok(()));
    let mut m2 = join(&mut group, "m2");
    let outcome = joined(&mut m2);
    assert_eq!(outcome.leader, "m2");
    assert_eq!(member_ids(&outcome), ["m2"]);
}

#[test]
fn a_silent_member_is_evicted_after_its_session_timeout() {
    let start = Instant::now();
    let mut group = Group::new("g");
    let long = Duration::from_secs(60);
    let short = Duration::from_secs(6);
    let generation = form(
        &mut group,
        &[("m1", long, REBALANCE), ("m2", short, REBALANCE)],
    );

    group.tick(start + short - Duration::from_millis(500));
    assert!(group.members.contains_key("m2"), "not yet");
    assert_eq!(group.state, GroupState::Stable);

    group.tick(start + short + Duration::from_secs(1));
    assert!(!group.members.contains_key("m2"), "evicted");
    assert!(group.members.contains_key("m1"), "its session is longer");
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert_eq!(
        group.heartbeat("m1", generation),
        Err(ResponseError::RebalanceInProgress)
    );
    let mut m1 = join_with(&mut group, "m1", &["range"], long, REBALANCE);
    let outcome = joined(&mut m1);
    assert_eq!(outcome.generation, generation + 1);
    assert_eq!(member_ids(&outcome), ["m1"]);
}

#[test]
fn a_member_parked_in_join_group_is_not_evicted_by_its_session_timeout() {
    let start = Instant::now();
    let mut group = Group::new("g");
    let short = Duration::from_secs(6);
    form(&mut group, &[("m1", Duration::from_secs(60), REBALANCE)]);
    let mut m2 = join_with(&mut group, "m2", &["range"], short, REBALANCE);
    group.tick(start + short + Duration::from_secs(1));
    assert!(
        group.members.contains_key("m2"),
        "the rebalance timeout governs it"
    );
    assert!(answer(&mut m2).is_none(), "still waiting for m1 to rejoin");
    assert_eq!(group.state, GroupState::PreparingRebalance);
}

#[test]
fn members_that_do_not_rejoin_by_the_rebalance_timeout_are_dropped() {
    let start = Instant::now();
    let mut group = Group::new("g");
    let session = Duration::from_secs(60);
    let rebalance = Duration::from_secs(5);
    let generation = form(
        &mut group,
        &[("m1", session, rebalance), ("m2", session, rebalance)],
    );

    let mut m3 = join_with(&mut group, "m3", &["range"], session, rebalance);
    let mut m1 = join_with(&mut group, "m1", &["range"], session, rebalance);
    group.tick(start + rebalance - Duration::from_millis(500));
    assert!(answer(&mut m3).is_none(), "m2 still has time to rejoin");
    group.tick(start + rebalance + Duration::from_secs(1));
    let outcome = joined(&mut m1);
    assert_eq!(outcome.generation, generation + 1);
    assert_eq!(member_ids(&outcome), ["m1", "m3"], "m2 never rejoined");
    assert_eq!(joined(&mut m3).generation, generation + 1);
    assert!(!group.members.contains_key("m2"));
}

#[test]
fn pending_member_ids_expire_after_the_session_timeout() {
    let start = Instant::now();
    let mut group = Group::new("g");
    group.add_pending("m1".to_string(), Duration::from_secs(6));
    group.tick(start + Duration::from_secs(5));
    assert!(group.is_pending("m1"));
    group.tick(start + Duration::from_secs(7));
    assert!(!group.is_pending("m1"));
}

#[test]
fn only_members_sharing_the_protocol_type_and_an_assignor_are_accepted() {
    let mut group = Group::new("g");
    let protocols = |names: &[&str]| -> Vec<(String, Bytes)> {
        names
            .iter()
            .map(|n| (n.to_string(), Bytes::new()))
            .collect()
    };
    assert!(
        group.accepts_protocols("anything", &protocols(&["x"])),
        "an empty group takes whatever comes first"
    );
    drop(join_with(
        &mut group,
        "m1",
        &["range", "roundrobin"],
        SESSION,
        REBALANCE,
    ));
    assert!(group.accepts_protocols("consumer", &protocols(&["roundrobin"])));
    assert!(group.accepts_protocols("consumer", &protocols(&["sticky", "range"])));
    assert!(!group.accepts_protocols("consumer", &protocols(&["sticky"])));
    assert!(!group.accepts_protocols("connect", &protocols(&["range"])));
    assert!(!group.accepts_protocols("consumer", &[]));
}

#[test]
fn the_assignor_is_chosen_by_the_members_votes() {
    let mut group = Group::new("g");
    let first = ["range", "roundrobin"];
    let second = ["roundrobin", "range"];
    drop(join_with(&mut group, "m1", &first, SESSION, REBALANCE));
    let _m2 = join_with(&mut group, "m2", &second, SESSION, REBALANCE);
    let _m3 = join_with(&mut group, "m3", &second, SESSION, REBALANCE);
    let mut m1 = join_with(&mut group, "m1", &first, SESSION, REBALANCE);
    let outcome = joined(&mut m1);
    assert_eq!(
        outcome.protocol_name.as_deref(),
        Some("roundrobin"),
        "2 votes to 1"
    );
    assert_eq!(
        outcome.members[1].2,
        Bytes::from("m2/roundrobin"),
        "the leader gets each member's metadata for the chosen assignor"
    );
}

#[test]
fn offset_commits_are_checked_against_membership_and_state() {
    let mut group = Group::new("g");
    assert_eq!(
        group.check_commit("", -1),
        Ok(()),
        "a group with no members may store offsets without a generation"
    );
    let mut m1 = join(&mut group, "m1");
    let generation = joined(&mut m1).generation;
    assert_eq!(
        group.check_commit("m1", generation),
        Err(ResponseError::RebalanceInProgress),
        "no commits between JoinGroup and SyncGroup"
    );
    drop(sync(&mut group, "m1", generation, &[]));
    assert_eq!(group.check_commit("m1", generation), Ok(()));
    assert_eq!(
        group.check_commit("m1", generation - 1),
        Err(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        group.check_commit("stranger", generation),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        group.check_commit("", -1),
        Err(ResponseError::IllegalGeneration),
        "no generation-less commits while the group has members (Kafka: UNKNOWN_MEMBER_ID)"
    );
    drop(join(&mut group, "m2"));
    assert_eq!(
        group.check_commit("m1", generation),
        Ok(()),
        "the current generation may commit while the others rejoin"
    );
}

#[test]
fn a_rejoining_member_keeps_its_place_but_starts_a_rebalance() {
    // Kafka answers a follower that rejoins a Stable group with unchanged metadata without
    // a rebalance; this broker rebalances on every JoinGroup (see the group module).
    let mut group = stable(&["m1", "m2"]);
    let generation = group.generation;
    let mut m2 = join(&mut group, "m2");
    assert!(answer(&mut m2).is_none());
    assert_eq!(group.state, GroupState::PreparingRebalance);
    let mut m1 = join(&mut group, "m1");
    assert_eq!(joined(&mut m1).generation, generation + 1);
    assert_eq!(joined(&mut m2).leader, "m1");
}
