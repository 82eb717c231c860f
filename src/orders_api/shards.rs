//! Orders' ids, in maps that never pause for long as they grow.
//!
//! A `HashMap` grows by doubling: it allocates twice the room and moves every entry, all
//! inside one insert. With every id in one map, that insert holds the store's lock while
//! millions of entries move, and every request waits (a 1.2 s stall at 1.9 M orders, measured
//! with bench/stalls.py). Split into [`SHARDS`] maps, a doubling moves one map's entries. But
//! maps that fill at the same pace double at the same moment, one after the other, and the
//! pause is as long as before. So the shards are unequal: shard `i` takes a share of the ids
//! proportional to 2^(i/SHARDS), which spreads their sizes evenly over one doubling, and their
//! doublings evenly over the time the store takes to double.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

const SHARDS: usize = 64;

pub struct Shards<V> {
    maps: Vec<HashMap<String, V>>,
    /// Where each shard's share of the hash range ends (cumulative, the last is `u64::MAX`).
    ends: Vec<u64>,
    hasher: RandomState,
}

impl<V> Default for Shards<V> {
    fn default() -> Self {
        let weights: Vec<f64> = (0..SHARDS)
            .map(|i| (i as f64 / SHARDS as f64).exp2())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut sum = 0.0;
        let mut ends: Vec<u64> = weights
            .iter()
            .map(|w| {
                sum += w;
                (sum / total * u64::MAX as f64) as u64
            })
            .collect();
        if let Some(last) = ends.last_mut() {
            *last = u64::MAX;
        }
        Self {
            maps: (0..SHARDS).map(|_| HashMap::new()).collect(),
            ends,
            hasher: RandomState::new(),
        }
    }
}

impl<V> Shards<V> {
    fn shard(&self, id: &str) -> usize {
        let hash = self.hasher.hash_one(id);
        self.ends.partition_point(|&end| end < hash)
    }

    pub fn get(&self, id: &str) -> Option<&V> {
        self.maps[self.shard(id)].get(id)
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn insert(&mut self, id: String, value: V) -> Option<V> {
        let shard = self.shard(&id);
        self.maps[shard].insert(id, value)
    }

    pub fn remove(&mut self, id: &str) -> Option<V> {
        let shard = self.shard(id);
        self.maps[shard].remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_where_they_were_put() {
        let mut map = Shards::default();
        for i in 0..10_000 {
            assert_eq!(map.insert(format!("order-{i}"), i), None);
        }
        assert_eq!(map.insert("order-7".into(), 70), Some(7));
        assert_eq!(map.get("order-7"), Some(&70));
        assert_eq!(map.remove("order-9"), Some(9));
        assert!(!map.contains_key("order-9"));
        assert!(map.contains_key("order-8"));
    }

    #[test]
    fn shards_grow_apart_so_they_do_not_double_together() {
        let mut map = Shards::default();
        for i in 0..200_000 {
            map.insert(format!("order-{i}"), ());
        }
        let sizes: Vec<usize> = map.maps.iter().map(HashMap::len).collect();
        let (first, last) = (sizes[0] as f64, sizes[SHARDS - 1] as f64);
        // The last shard takes about twice the first's share (2^(63/64)).
        assert!((1.8..2.2).contains(&(last / first)), "{sizes:?}");
        let capacities: std::collections::BTreeSet<usize> =
            map.maps.iter().map(HashMap::capacity).collect();
        assert!(
            capacities.len() > 1,
            "not all at the same size: {capacities:?}"
        );
    }
}
