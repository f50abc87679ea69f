//! Waiting generations, served round-robin between their owners: a user who
//! queues ten requests does not make the next user wait behind all ten.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

pub(crate) struct FairQueue<K, T> {
    /// Owners with something waiting, in the order they are served next.
    turn: VecDeque<K>,
    waiting: HashMap<K, VecDeque<T>>,
}

impl<K: Hash + Eq + Clone, T> FairQueue<K, T> {
    pub fn new() -> Self {
        FairQueue { turn: VecDeque::new(), waiting: HashMap::new() }
    }

    pub fn push(&mut self, owner: K, item: T) {
        let queue = self.waiting.entry(owner.clone()).or_default();
        if queue.is_empty() {
            self.turn.push_back(owner);
        }
        queue.push_back(item);
    }

    /// The oldest item of the owner whose turn it is; that owner then goes to
    /// the back of the line if it has more.
    pub fn pop(&mut self) -> Option<(K, T)> {
        let owner = self.turn.pop_front()?;
        let queue = self.waiting.get_mut(&owner).expect("an owner in line has a queue");
        let item = queue.pop_front().expect("an owner in line has an item");
        if queue.is_empty() {
            self.waiting.remove(&owner);
        } else {
            self.turn.push_back(owner.clone());
        }
        Some((owner, item))
    }

    pub fn is_empty(&self) -> bool {
        self.turn.is_empty()
    }

    /// Drops the items `keep` rejects (cancelled requests), keeping the order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.waiting.retain(|_, queue| {
            queue.retain(&mut keep);
            !queue.is_empty()
        });
        let waiting = &self.waiting;
        self.turn.retain(|owner| waiting.contains_key(owner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_take_turns_and_keep_their_own_order() {
        let mut q = FairQueue::new();
        for i in 0..4 {
            q.push("alice", format!("a{i}"));
        }
        q.push("bob", "b0".to_string());
        q.push("carol", "c0".to_string());
        q.push("bob", "b1".to_string());
        let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|(_, item)| item)).collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_newcomer_is_served_before_the_rest_of_a_long_queue() {
        let mut q = FairQueue::new();
        q.push(1, 'a');
        q.push(1, 'b');
        q.push(1, 'c');
        assert_eq!(q.pop(), Some((1, 'a')));
        q.push(2, 'x');
        assert_eq!(q.pop(), Some((1, 'b')));
        assert_eq!(q.pop(), Some((2, 'x')));
        assert_eq!(q.pop(), Some((1, 'c')));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn retain_drops_cancelled_items_and_empty_owners() {
        let mut q = FairQueue::new();
        q.push(1, 10);
        q.push(2, 20);
        q.push(2, 21);
        q.push(3, 30);
        q.retain(|&x| x != 10 && x != 21);
        assert_eq!(q.pop(), Some((2, 20)));
        assert_eq!(q.pop(), Some((3, 30)));
        assert!(q.is_empty());
    }
}
