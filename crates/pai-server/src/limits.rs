//! Keeping one user from crowding out the others: a request rate per user
//! (token bucket) and a fair gate in front of the chat model that hands out
//! generation slots round-robin between users. A user's requests beyond what
//! may run wait in a bounded queue: clients send batches and parallel calls
//! (LangChain `batch`, `asyncio.gather`, a title beside the answer) and give
//! up after two quick retries of a 429, so waiting is what serves them.

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
    /// Generations one user may have running at once (more wait their turn).
    pub generations_per_user: usize,
    /// Requests of one user that may wait for a generation; one more is a 429.
    pub queued_per_user: usize,
    /// Seconds a request waits for a generation before it is refused (429).
    pub queue_wait_secs: u64,
    /// Generations running at once, all users together (the local model runs one at a time).
    pub generation_slots: usize,
    /// Texts in one embeddings request (OpenAI's limit: clients such as
    /// LangChain send up to 1,000 at once).
    pub max_embedding_inputs: usize,
    /// Largest embeddings request: a batch of that many passages is
    /// megabytes, beyond `max_body_bytes`.
    pub max_embedding_body_bytes: usize,
    /// Largest recording sent to `/v1/audio/transcriptions` (OpenAI's limit).
    pub max_audio_bytes: usize,
    /// Longest recording transcribed, in seconds: longer ones are refused
    /// before they are decoded whole.
    pub max_audio_seconds: f64,
    /// Failed logins per minute from one client address, whatever the names
    /// (bursts up to the same number); successful ones don't count, so an
    /// office behind one address is not locked out by its own users.
    pub login_failures_per_address: u32,
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
            queued_per_user: 64,
            queue_wait_secs: 300,
            generation_slots: 1,
            max_embedding_inputs: 2048,
            max_embedding_body_bytes: 16 << 20,
            max_audio_bytes: 25 << 20,
            max_audio_seconds: 3.0 * 3600.0,
            login_failures_per_address: 10,
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

    /// Gives back the token a `check` took, for an attempt that turned out
    /// not to count (a successful login).
    pub fn refund(&self, key: &str) {
        if let Some((tokens, _)) = self.buckets.lock().expect("not poisoned").get_mut(key) {
            *tokens = (*tokens + 1.0).min(self.per_minute);
        }
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
    queue_per_user: usize,
    max_wait: Duration,
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
    pub fn new(slots: usize, per_user: usize, queue_per_user: usize, max_wait: Duration) -> Arc<Self> {
        Arc::new(FairGate {
            slots: slots.max(1),
            per_user: per_user.max(1),
            queue_per_user,
            max_wait,
            state: Mutex::default(),
        })
    }

    /// Waits for a slot, in turn with the user's other requests and round-robin
    /// with other users. Refused (429) when the user's queue is full, or after
    /// waiting `max_wait`.
    pub async fn acquire(self: &Arc<Self>, user: UserId) -> Result<Permit, ApiError> {
        let rx = {
            let mut s = self.state.lock().expect("not poisoned");
            let running = s.by_user.get(&user).copied().unwrap_or(0);
            if s.active < self.slots && s.ring.is_empty() && running < self.per_user {
                return Ok(self.grant(&mut s, user));
            }
            // Requests that gave up (client gone, timed out) leave closed senders.
            if let Some(queue) = s.waiting.get_mut(&user) {
                queue.retain(|tx| !tx.is_closed());
            }
            let queued = s.waiting.get(&user).map_or(0, VecDeque::len);
            if queued >= self.queue_per_user {
                return Err(ApiError::too_many(
                    format!("you already have {queued} requests waiting for an answer; wait for some to finish"),
                    Duration::from_secs(5),
                )
                .code("too_many_generations"));
            }
            let (tx, rx) = oneshot::channel();
            s.waiting.entry(user).or_default().push_back(tx);
            if !s.ring.contains(&user) {
                s.ring.push_back(user);
            }
            // Slots may be free while everyone ahead is at their own cap.
            self.dispatch(&mut s);
            rx
        };
        // Dropping `rx` (timed out, client gone) leaves a closed sender,
        // skipped at grant time; a permit sent just before is dropped with it
        // and so released.
        match tokio::time::timeout(self.max_wait, rx).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(ApiError::from(pai_core::Error::unavailable("the server is shutting down"))),
            Err(_) => Err(ApiError::too_many(
                format!("no answer could start within {} s: the server is busy", self.max_wait.as_secs()),
                Duration::from_secs(10),
            )
            .code("generation_queue_timeout")),
        }
    }

    /// (generations running, requests waiting for one)
    pub fn depth(&self) -> (usize, usize) {
        let s = self.state.lock().expect("not poisoned");
        (s.active, s.waiting.values().map(|q| q.iter().filter(|tx| !tx.is_closed()).count()).sum())
    }

    fn grant(self: &Arc<Self>, s: &mut GateState, user: UserId) -> Permit {
        s.active += 1;
        *s.by_user.entry(user).or_default() += 1;
        Permit { gate: self.clone(), user }
    }

    fn ungrant(s: &mut GateState, user: UserId) {
        s.active -= 1;
        if let Some(n) = s.by_user.get_mut(&user) {
            *n -= 1;
            if *n == 0 {
                s.by_user.remove(&user);
            }
        }
    }

    fn release(self: &Arc<Self>, user: UserId) {
        let mut s = self.state.lock().expect("not poisoned");
        Self::ungrant(&mut s, user);
        self.dispatch(&mut s);
    }

    /// Hands free slots to waiting users, round-robin.
    fn dispatch(self: &Arc<Self>, s: &mut GateState) {
        // Each user in the ring gets a look per pass; one at its running cap
        // keeps its place for when one of its answers ends.
        let mut looked = 0;
        while s.active < self.slots && looked < s.ring.len() {
            let next = s.ring.pop_front().expect("looked < len");
            let queue = s.waiting.get_mut(&next).expect("a user in the ring has waiters");
            queue.retain(|tx| !tx.is_closed());
            let Some(tx) = queue.pop_front() else {
                s.waiting.remove(&next);
                continue;
            };
            let more = !queue.is_empty();
            if s.by_user.get(&next).copied().unwrap_or(0) >= self.per_user {
                s.waiting.get_mut(&next).expect("present").push_front(tx);
                s.ring.push_back(next);
                looked += 1;
                continue;
            }
            if more {
                s.ring.push_back(next);
            } else {
                s.waiting.remove(&next);
            }
            looked = 0;
            let permit = self.grant(s, next);
            if let Err(permit) = tx.send(permit) {
                // Gone between the check and the send: undo by hand (dropping
                // the permit here would take the lock again).
                std::mem::forget(permit);
                Self::ungrant(s, next);
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

    /// Waits, generously, until `waiting` requests are in line: spawned
    /// tasks queue when the runtime gets to them, not after a fixed time.
    async fn until_waiting(gate: &FairGate, waiting: usize) {
        for _ in 0..10_000 {
            if gate.depth().1 == waiting {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("never {waiting} waiting: {:?}", gate.depth());
    }

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
        let gate = FairGate::new(1, 3, 2, Duration::from_secs(60));
        let (a, b) = (UserId(1), UserId(2));
        let first = gate.acquire(a).await.unwrap();
        // A queues two, then B one: B must not wait behind both of A's.
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (user, name) in [(a, "a2"), (a, "a3"), (b, "b1")] {
            let (queued, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = queued.acquire(user).await.unwrap();
                order.lock().unwrap().push(name);
                tokio::task::yield_now().await;
                drop(p);
            }));
            until_waiting(&gate, tasks.len()).await;
        }
        assert_eq!(gate.depth(), (1, 3));
        // A's queue (2) is full: a fourth is refused.
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
        let gate = FairGate::new(1, 2, 8, Duration::from_secs(60));
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

    #[tokio::test]
    async fn requests_beyond_a_users_running_cap_wait_instead_of_failing() {
        let gate = FairGate::new(2, 1, 8, Duration::from_secs(60));
        let (a, b) = (UserId(1), UserId(2));
        let first = gate.acquire(a).await.unwrap();
        let second = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire(a).await.map(|_p| ()) }
        });
        until_waiting(&gate, 1).await;
        assert_eq!(gate.depth(), (1, 1), "a's second waits: a may run one at a time");
        // A slot is free and b is not at its cap: b runs at once, past a's waiting request.
        let other = gate.acquire(b).await.unwrap();
        assert_eq!(gate.depth(), (2, 1));
        drop(first);
        second.await.unwrap().unwrap();
        drop(other);
        assert_eq!(gate.depth(), (0, 0));
    }

    #[tokio::test]
    async fn a_request_that_waits_too_long_is_refused_and_leaves_the_queue() {
        let gate = FairGate::new(1, 1, 8, Duration::from_millis(50));
        let held = gate.acquire(UserId(1)).await.unwrap();
        let refused = gate.acquire(UserId(2)).await.err().unwrap();
        assert_eq!(refused.status, 429);
        assert_eq!(refused.code, Some("generation_queue_timeout"));
        assert_eq!(gate.depth(), (1, 0));
        drop(held);
        let _again = gate.acquire(UserId(2)).await.unwrap();
        assert_eq!(gate.depth(), (1, 0));
    }
}
