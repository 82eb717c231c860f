//! A queue that grows without copying what it holds: chunks of at most [`CHUNK`] items. A
//! `VecDeque` doubles when full and moves every item, inside one push; a partition's batches
//! are pushed under its lock, so at millions of batches that one push held every producer and
//! consumer of the partition for tens of milliseconds. Here only the last chunk grows (moving
//! at most [`CHUNK`] items, so a partition with few batches holds little), a full one is
//! never touched again, and the list of chunks moves one pointer per [`CHUNK`] items.

use std::collections::VecDeque;

/// Items per chunk: at about 100 bytes a batch, 400 KB chunks.
const CHUNK: usize = 4096;

/// Each chunk is a ring buffer, so popping from the front is as cheap as pushing at the back.
#[derive(Debug)]
pub struct Chunked<T> {
    /// Never holds an empty chunk: one is made for an item, dropped with its last.
    chunks: VecDeque<VecDeque<T>>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: VecDeque::new(),
        }
    }
}

impl<T> Chunked<T> {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn push_back(&mut self, item: T) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push_back(item),
            _ => self.chunks.push_back(VecDeque::from([item])),
        }
    }

    pub fn front(&self) -> Option<&T> {
        self.chunks.front().and_then(VecDeque::front)
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let item = first.pop_front()?;
        if first.is_empty() {
            self.chunks.pop_front();
        }
        Some(item)
    }

    /// The index of the first item for which `before` is false, as `slice::partition_point`
    /// (items must be ordered so that `before` holds for a prefix).
    pub fn partition_point(&self, mut before: impl FnMut(&T) -> bool) -> usize {
        let whole = self
            .chunks
            .partition_point(|c| c.back().is_some_and(&mut before));
        let skipped: usize = self.chunks.range(..whole).map(VecDeque::len).sum();
        skipped
            + self
                .chunks
                .get(whole)
                .map_or(0, |c| c.partition_point(&mut before))
    }

    /// The items from index `from` on, in order.
    pub fn iter_from(&self, mut from: usize) -> impl Iterator<Item = &T> {
        let mut skip_chunks = 0;
        for c in &self.chunks {
            if from < c.len() {
                break;
            }
            from -= c.len();
            skip_chunks += 1;
        }
        self.chunks.range(skip_chunks..).flatten().skip(from)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_queue_across_chunk_edges() {
        let mut q = Chunked::default();
        let n = CHUNK * 2 + 10;
        for i in 0..n {
            q.push_back(i);
        }
        assert_eq!(q.iter().count(), n);
        assert_eq!(q.chunks.len(), 3);
        for want in [0, CHUNK - 1, CHUNK, CHUNK + 1, n - 1, n] {
            assert_eq!(q.partition_point(|&x| x < want), want);
        }
        assert_eq!(
            q.iter_from(CHUNK - 1).take(3).copied().collect::<Vec<_>>(),
            [CHUNK - 1, CHUNK, CHUNK + 1]
        );
        assert_eq!(q.iter_from(n).count(), 0);
        for i in 0..CHUNK + 5 {
            assert_eq!(q.pop_front(), Some(i));
        }
        assert_eq!(q.front(), Some(&(CHUNK + 5)));
        assert_eq!(q.iter().count(), n - CHUNK - 5);
        assert_eq!(q.partition_point(|&x| x < CHUNK + 7), 2);
        assert_eq!(q.iter_from(2).next(), Some(&(CHUNK + 7)));
        while q.pop_front().is_some() {}
        assert!(q.is_empty());
        assert_eq!(q.front(), None);
        q.push_back(7);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [7]);
    }
}
