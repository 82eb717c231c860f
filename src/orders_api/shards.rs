//! Orders by id, in maps that never pause for long as they grow.
//!
//! A `HashMap` grows by doubling: it allocates twice the room and moves every entry, all
//! inside one insert. With the orders in one map, that insert holds the store's lock while
//! millions of entries move (hundreds of milliseconds at two million orders), and every
//! request waits. Split by the id's hash into [`SHARDS`] maps, each doubling moves a
//! [`SHARDS`]th of the orders, so the longest pause is that much shorter; lookups cost one
//! more hash of a short id.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

/// A power of two: the shard is the hash's low bits.
const SHARDS: usize = 64;

pub struct Shards<V> {
    maps: Vec<HashMap<String, V>>,
    hasher: RandomState,
}

impl<V> Default for Shards<V> {
    fn default() -> Self {
        Self {
            maps: (0..SHARDS).map(|_| HashMap::new()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl<V> Shards<V> {
    fn shard(&self, id: &str) -> usize {
        self.hasher.hash_one(id) as usize & (SHARDS - 1)
    }

    pub fn get(&self, id: &str) -> Option<&V> {
        self.maps[self.shard(id)].get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut V> {
        let shard = self.shard(id);
        self.maps[shard].get_mut(id)
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

    pub fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_where_they_were_put_and_spread_over_the_shards() {
        let mut map = Shards::default();
        for i in 0..10_000 {
            assert_eq!(map.insert(format!("order-{i}"), i), None);
        }
        assert_eq!(map.insert("order-7".into(), 70), Some(7));
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get("order-7"), Some(&70));
        *map.get_mut("order-8").expect("there") += 1;
        assert_eq!(map.get("order-8"), Some(&9));
        assert_eq!(map.remove("order-9"), Some(9));
        assert!(!map.contains_key("order-9"));
        assert_eq!(map.len(), 9_999);
        let smallest = map.maps.iter().map(HashMap::len).min().unwrap_or(0);
        assert!(smallest > 100, "every shard holds some: {smallest}");
    }
}
