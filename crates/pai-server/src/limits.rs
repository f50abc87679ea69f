//! Keeping one user from crowding out the others: a request rate per user
//! (token bucket) and a fair gate in front of the chat model that hands out
//! generation slots round-robin between users, with a cap on how many
//! generations one user may have running or waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pai_core::store::UserId;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, except imports.
    pub max_body_bytes: usize,
    /// Largest import upload.
    pub max_import_bytes: usize,
    /// Most messages in one chat completion request.
    pub max_messages: usize,
    /// Largest `max_tokens` a request may ask for (and the default when it asks none).
    pub max_tokens: u32,
    /// Requests per minute per user (bursts up to the same number).
    pub requests_per_minute: u32,
    /// Generations one user may have running or queued at once.
    pub generations_per_user: usize,
    /// Generations running at once, all users together (the local model runs one at a time).
    pub generation_slots: usize,
    /// Texts in one embeddings request (OpenAI's limit: clients such as
    /// LangChain send up to 1,000 at once).
    pub max_embedding_inputs: usize,
    /// Largest embeddings request: a batch of that many passages is
    /// megabytes, beyond `max_body_bytes`.
    pub max_embedding_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_import_bytes: 64 << 20,
            max_messages: 256,
            max_tokens: 2048,
            requests_per_minute: 600,
            generations_per_user: 2,
            generation_slots: 1,
            max_embedding_inputs: 2048,
            max_embedding_body_bytes: 16 << 20,
        }
    }
}

/// Token buckets by key (a user, or a login name).
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter { per_minute: per_minute.max(1) as f64, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or says how long until one is free.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let rate = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().expect("not poisoned");
        if buckets.len() > 100_000 {
            // Full buckets carry no information: forget them.
            let full = self.per_minute;
            buckets.retain(|_, (tokens, at)| (*tokens + now.duration_since(*at).as_secs_f64() * rate) < full);
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// Generation slots, granted round-robin between the users that wait.
pub struct FairGate {
    slots: usize,
    per_user: usize,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    active: usize,
    by_user: HashMap<UserId, usize>,
    /// Users with someone waiting, in the order they get the next slot.
    ring: VecDeque<UserId>,
    waiting: HashMap<UserId, VecDeque<oneshot::Sender<Permit>>>,
}

/// A generation slot; dropping it (the answer ended, or the client went away)
/// hands it to the next user in turn.
pub struct Permit {
    gate: Arc<FairGate>,
    user: UserId,
}

impl FairGate {
    pub fn new(slots: usize, per_user: usize) -> Arc<Self> {
        Arc::new(FairGate { slots: slots.max(1), per_user: per_user.max(1), state: Mutex::default() })
    }

    /// Waits for a slot. Refused at once (429) when the user already has
    /// `per_user` generations running or waiting.
    pub async fn acquire(self: &Arc<Self>, user: UserId) -> Result<Permit, ApiError> {
        let rx = {
            let mut s = self.state.lock().expect("not poisoned");
            let running = s.by_user.get(&user).copied().unwrap_or(0);
            let queued = s.waiting.get(&user).map_or(0, VecDeque::len);
            if running + queued >= self.per_user {
                return Err(ApiError::too_many(
                    format!("you already have {} answers being generated; wait for one to finish", running + queued),
                    Duration::from_secs(1),
                )
                .code("too_many_generations"));
            }
            if s.active < self.slots && s.ring.is_empty() {
                s.active += 1;
                *s.by_user.entry(user).or_default() += 1;
                return Ok(Permit { gate: self.clone(), user });
            }
            let (tx, rx) = oneshot::channel();
            let queue = s.waiting.entry(user).or_default();
            queue.push_back(tx);
            if queue.len() == 1 {
                s.ring.push_back(user);
            }
            rx
        };
        // A dropped wait (client gone) leaves a closed sender, skipped at grant time.
        rx.await.map_err(|_| ApiError::from(pai_core::Error::unavailable("the server is shutting down")))
    }

    /// (generations running, requests waiting for one)
    pub fn depth(&self) -> (usize, usize) {
        let s = self.state.lock().expect("not poisoned");
        (s.active, s.waiting.values().map(VecDeque::len).sum())
    }

    fn release(self: &Arc<Self>, user: UserId) {
        let mut s = self.state.lock().expect("not poisoned");
        s.active -= 1;
        if let Some(n) = s.by_user.get_mut(&user) {
            *n -= 1;
            if *n == 0 {
                s.by_user.remove(&user);
            }
        }
        while s.active < self.slots {
            let Some(next) = s.ring.pop_front() else { break };
            let queue = s.waiting.get_mut(&next).expect("a user in the ring has waiters");
            let tx = queue.pop_front().expect("not empty");
            if queue.is_empty() {
                s.waiting.remove(&next);
            } else {
                s.ring.push_back(next);
            }
            if tx.is_closed() {
                continue;
            }
            s.active += 1;
            *s.by_user.entry(next).or_default() += 1;
            if let Err(permit) = tx.send(Permit { gate: self.clone(), user: next }) {
                // Gone between the check and the send: undo by hand (dropping
                // the permit here would take the lock again).
                std::mem::forget(permit);
                s.active -= 1;
                if let Some(n) = s.by_user.get_mut(&next) {
                    *n -= 1;
                    if *n == 0 {
                        s.by_user.remove(&next);
                    }
                }
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate.release(self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_bursts_and_say_when_to_return() {
        let r = RateLimiter::new(3);
        for _ in 0..3 {
            r.check("u1").unwrap();
        }
        let wait = r.check("u1").unwrap_err();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        r.check("u2").unwrap();
    }

    #[tokio::test]
    async fn slots_go_round_robin_between_users() {
        let gate = FairGate::new(1, 3);
        let (a, b) = (UserId(1), UserId(2));
        let first = gate.acquire(a).await.unwrap();
        // A queues two, then B one: B must not wait behind both of A's.
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (user, name) in [(a, "a2"), (a, "a3"), (b, "b1")] {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = gate.acquire(user).await.unwrap();
                order.lock().unwrap().push(name);
                tokio::task::yield_now().await;
                drop(p);
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(gate.depth(), (1, 3));
        // A has 1 running + 2 waiting: a fourth is refused.
        assert_eq!(gate.acquire(a).await.err().unwrap().status, 429);
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["a2", "b1", "a3"]);
        assert_eq!(gate.depth(), (0, 0));
    }

    #[tokio::test]
    async fn a_client_that_leaves_the_queue_frees_its_place() {
        let gate = FairGate::new(1, 2);
        let held = gate.acquire(UserId(1)).await.unwrap();
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire(UserId(2)).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        assert_eq!(gate.depth(), (0, 0));
        let _again = gate.acquire(UserId(2)).await.unwrap();
        assert_eq!(gate.depth(), (1, 0));
    }
}
