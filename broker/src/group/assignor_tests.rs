//! The server-side assignors: balanced, sticky (uniform), ranges in member order (range).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::assignor::{Assignment, Assignor, Subscriber, TopicMeta, Topics};

fn topics(spec: &[(&str, u128, i32)]) -> Topics {
    spec.iter()
        .map(|&(name, id, partitions)| {
            let meta = TopicMeta {
                id: Uuid::from_u128(id),
                partitions,
            };
            (name.to_string(), meta)
        })
        .collect()
}

fn run(
    assignor: Assignor,
    members: &[(&str, &[&str])],
    previous: &BTreeMap<String, Assignment>,
    topics: &Topics,
) -> BTreeMap<String, Assignment> {
    let subscriptions: Vec<(String, BTreeSet<String>)> = members
        .iter()
        .map(|(id, ts)| (id.to_string(), ts.iter().map(|t| t.to_string()).collect()))
        .collect();
    let subscribers: Vec<Subscriber<'_>> = subscriptions
        .iter()
        .map(|(id, ts)| Subscriber {
            id,
            topics: ts,
            previous: previous.get(id),
        })
        .collect();
    assignor.assign(&subscribers, topics)
}

fn counts(target: &BTreeMap<String, Assignment>) -> Vec<usize> {
    target
        .values()
        .map(|a| a.values().map(BTreeSet::len).sum())
        .collect()
}

/// Every partition of `topics` once, and no other.
fn covers_once(target: &BTreeMap<String, Assignment>, topics: &Topics) {
    let mut all: Vec<(Uuid, i32)> = target
        .values()
        .flat_map(|a| {
            a.iter()
                .flat_map(|(t, ps)| ps.iter().map(move |p| (*t, *p)))
        })
        .collect();
    all.sort();
    let expected: Vec<(Uuid, i32)> = topics
        .values()
        .flat_map(|m| (0..m.partitions).map(move |p| (m.id, p)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(all, expected);
}

#[test]
fn uniform_is_balanced_and_keeps_what_it_can() {
    let t = topics(&[("a", 1, 7), ("b", 2, 4)]);
    let both: &[&str] = &["a", "b"];
    let three = [("m1", both), ("m2", both), ("m3", both)];
    let first = run(Assignor::Uniform, &three, &BTreeMap::new(), &t);
    covers_once(&first, &t);
    assert_eq!(counts(&first), [4, 4, 3]);

    // m2 leaves: m1 and m3 keep all they had and share m2's partitions.
    let two = [("m1", both), ("m3", both)];
    let second = run(Assignor::Uniform, &two, &first, &t);
    covers_once(&second, &t);
    let mut c = counts(&second);
    c.sort();
    assert_eq!(c, [5, 6]);
    for m in ["m1", "m3"] {
        for (topic, ps) in &first[m] {
            assert!(
                ps.is_subset(&second[m][topic]),
                "{m} lost a partition it had"
            );
        }
    }

    // m4 joins: everyone gives up only what the new quota needs.
    let again = [("m1", both), ("m3", both), ("m4", both)];
    let third = run(Assignor::Uniform, &again, &second, &t);
    covers_once(&third, &t);
    let moved: usize = ["m1", "m3"]
        .iter()
        .map(|m| {
            let kept: usize = second[*m]
                .iter()
                .map(|(topic, ps)| {
                    ps.intersection(third[*m].get(topic).unwrap_or(&BTreeSet::new()))
                        .count()
                })
                .sum();
            second[*m].values().map(BTreeSet::len).sum::<usize>() - kept
        })
        .sum();
    assert_eq!(moved, counts(&third)[2], "only the newcomer's share moved");
}

#[test]
fn uniform_gives_a_topic_only_to_its_subscribers() {
    let t = topics(&[("a", 1, 4), ("b", 2, 2)]);
    let target = run(
        Assignor::Uniform,
        &[("m1", &["a"]), ("m2", &["a", "b"]), ("m3", &[])],
        &BTreeMap::new(),
        &t,
    );
    covers_once(&target, &t);
    assert!(!target["m1"].contains_key(&Uuid::from_u128(2)));
    assert!(target["m3"].is_empty());
}

#[test]
fn range_splits_each_topic_in_member_order() {
    let t = topics(&[("a", 1, 5)]);
    let target = run(
        Assignor::Range,
        &[("m2", &["a"]), ("m1", &["a"])],
        &BTreeMap::new(),
        &t,
    );
    let a = Uuid::from_u128(1);
    assert_eq!(target["m1"][&a], BTreeSet::from([0, 1, 2]));
    assert_eq!(target["m2"][&a], BTreeSet::from([3, 4]));
    assert_eq!(Assignor::from_name("range"), Some(Assignor::Range));
    assert_eq!(Assignor::from_name("sticky"), None);
}
