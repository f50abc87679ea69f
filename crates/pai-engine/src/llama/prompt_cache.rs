//! Saved KV states of conversations that no longer hold a decoding slot,
//! kept in RAM so that a user who comes back after others used the slots
//! does not pay for the whole prompt again. Bounded in bytes, least recently
//! used first out, and looked up only within one owner: a hit makes the first
//! token arrive sooner, and that timing must not tell one user anything about
//! another's prompts.

use std::hash::Hash;

pub(crate) struct PromptCache<K, T, S> {
    entries: Vec<Entry<K, T, S>>,
    budget: usize,
    used: usize,
    clock: u64,
}

pub(crate) struct Entry<K, T, S> {
    pub owner: K,
    /// The tokens whose keys and values `state` holds, from position 0.
    pub tokens: Vec<T>,
    pub state: S,
    bytes: usize,
    used_at: u64,
}

impl<K: Hash + Eq + Clone, T: PartialEq, S> PromptCache<K, T, S> {
    pub fn new(budget_bytes: usize) -> Self {
        PromptCache { entries: Vec::new(), budget: budget_bytes, used: 0, clock: 0 }
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The owner's entry sharing the longest prefix with `tokens`, and that length.
    pub fn best(&self, owner: &K, tokens: &[T]) -> Option<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| &e.owner == owner)
            .map(|(i, e)| (i, common_prefix(&e.tokens, tokens)))
            .filter(|&(_, n)| n > 0)
            .max_by_key(|&(_, n)| n)
    }

    /// Removes and returns an entry (it moves back into a slot).
    pub fn take(&mut self, index: usize) -> Entry<K, T, S> {
        let entry = self.entries.swap_remove(index);
        self.used -= entry.bytes;
        entry
    }

    /// Keeps `state`, dropping the owner's entries it extends (their tokens are
    /// a prefix of these) and then the least recently used until it fits.
    /// A state bigger than the whole budget is not kept.
    pub fn put(&mut self, owner: K, tokens: Vec<T>, state: S, bytes: usize) {
        if bytes > self.budget {
            return;
        }
        let mut i = 0;
        while i < self.entries.len() {
            let e = &self.entries[i];
            if e.owner == owner && e.tokens.len() <= tokens.len() && tokens.starts_with(&e.tokens) {
                self.take(i);
            } else {
                i += 1;
            }
        }
        while self.used + bytes > self.budget {
            let oldest = (0..self.entries.len()).min_by_key(|&i| self.entries[i].used_at).expect("used > 0");
            self.take(oldest);
        }
        self.clock += 1;
        self.used += bytes;
        self.entries.push(Entry { owner, tokens, state, bytes, used_at: self.clock });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn bytes(&self) -> usize {
        self.used
    }
}

pub(crate) fn common_prefix<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(budget: usize) -> PromptCache<u32, u8, &'static str> {
        PromptCache::new(budget)
    }

    #[test]
    fn finds_the_longest_prefix_of_the_same_owner_only() {
        let mut c = cache(100);
        c.put(1, b"system hello".to_vec(), "short", 10);
        c.put(1, b"system other".to_vec(), "other", 10);
        c.put(2, b"system hello there".to_vec(), "bob's", 10);
        let (i, n) = c.best(&1, b"system hello there, again").unwrap();
        assert_eq!(n, b"system hello".len());
        assert_eq!(c.take(i).state, "short");
        // Bob's longer match is never offered to user 1, nor user 1's to a stranger.
        assert_eq!(c.best(&1, b"system hello there").map(|(_, n)| n), Some(7));
        assert_eq!(c.best(&3, b"system hello"), None);
        assert_eq!(c.bytes(), 20);
    }

    #[test]
    fn evicts_least_recently_used_to_fit_and_skips_oversized_states() {
        let mut c = cache(25);
        c.put(1, b"aaa".to_vec(), "a", 10);
        c.put(1, b"bbb".to_vec(), "b", 10);
        c.put(1, b"ccc".to_vec(), "c", 10);
        assert_eq!(c.len(), 2);
        assert_eq!(c.best(&1, b"aaa"), None, "the oldest went first");
        assert!(c.best(&1, b"bbb").is_some() && c.best(&1, b"ccc").is_some());
        c.put(1, b"huge".to_vec(), "h", 26);
        assert_eq!(c.len(), 2);
        assert_eq!(c.bytes(), 20);
        assert!(!cache(0).enabled());
    }

    #[test]
    fn a_longer_save_of_the_same_conversation_replaces_the_shorter() {
        let mut c = cache(100);
        c.put(1, b"turn one".to_vec(), "1", 10);
        c.put(2, b"turn one".to_vec(), "someone else's", 10);
        c.put(1, b"turn one, turn two".to_vec(), "2", 10);
        assert_eq!(c.len(), 2);
        let (i, _) = c.best(&1, b"turn one, turn two, turn three").unwrap();
        assert_eq!(c.take(i).state, "2");
    }
}
