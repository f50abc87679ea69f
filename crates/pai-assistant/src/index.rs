//! Keeps the vector index complete: embeds every item the store reports as
//! missing a vector (new messages and document chunks, new or edited memories, or everything after
//! the embedding model changed).

use pai_core::store::{ChunkId, ItemRef, MemoryId, MessageId, Store, UserId};
use pai_core::{EmbedKind, Embedder, Error, Result};

/// How long a claim on items keeps other indexers off them: far longer than
/// a pass takes (32 items, seconds); after it, unfinished items are taken again.
const CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Items embedded per embedder call.
const BATCH: usize = 32;

/// Embeds up to `limit` pending items of `user`; returns how many were done.
/// Call again until it returns 0 to finish a backlog.
pub async fn embed_pending(store: &dyn Store, embedder: &dyn Embedder, user: UserId, limit: usize) -> Result<usize> {
    if embedder.dimension() != store.vector_dimension() {
        return Err(Error::invalid(format!(
            "the embedder makes {}-dimensional vectors but the store holds {}; open the store with the embedder's dimension",
            embedder.dimension(),
            store.vector_dimension()
        )));
    }
    // Claimed, not just listed: another server's indexer skips these for a while.
    let pending = store.claim_items_without_vectors(user, limit, chrono::Utc::now() + CLAIM).await?;
    let mut done = 0;
    for batch in pending.chunks(BATCH) {
        let texts = texts(store, user, batch).await?;
        let (items, texts): (Vec<ItemRef>, Vec<String>) = texts.into_iter().unzip();
        let vectors = embedder.embed(texts, EmbedKind::Passage).await?;
        done += items.len();
        store.put_vectors(user, items.into_iter().zip(vectors).collect()).await?;
    }
    Ok(done)
}

/// Embeds exactly `items` (a turn's new memories), not the user's whole
/// backlog: a conversation turn never waits for an upload's passages.
pub async fn embed_items(store: &dyn Store, embedder: &dyn Embedder, user: UserId, items: &[ItemRef]) -> Result<()> {
    for batch in items.chunks(BATCH) {
        let (items, texts): (Vec<ItemRef>, Vec<String>) = texts(store, user, batch).await?.into_iter().unzip();
        if items.is_empty() {
            continue;
        }
        let vectors = embedder.embed(texts, EmbedKind::Passage).await?;
        store.put_vectors(user, items.into_iter().zip(vectors).collect()).await?;
    }
    Ok(())
}

/// The text to embed for each item that still exists.
async fn texts(store: &dyn Store, user: UserId, items: &[ItemRef]) -> Result<Vec<(ItemRef, String)>> {
    let message_ids: Vec<MessageId> =
        items.iter().filter_map(|i| if let ItemRef::Message(id) = i { Some(*id) } else { None }).collect();
    let mut out: Vec<(ItemRef, String)> = store
        .messages_by_id(user, &message_ids)
        .await?
        .into_iter()
        .map(|m| (ItemRef::Message(m.id), m.content))
        .collect();
    let chunk_ids: Vec<ChunkId> =
        items.iter().filter_map(|i| if let ItemRef::Chunk(id) = i { Some(*id) } else { None }).collect();
    // A passage is embedded with its heading: it often carries the topic.
    out.extend(store.chunks_by_id(user, &chunk_ids).await?.into_iter().map(|c| {
        let text = match &c.heading {
            Some(h) => format!("{h}\n{}", c.text),
            None => c.text,
        };
        (ItemRef::Chunk(c.id), text)
    }));
    // Memories deleted or superseded meanwhile are left out (a superseded one gets no vector).
    let memory_ids: Vec<MemoryId> =
        items.iter().filter_map(|i| if let ItemRef::Memory(id) = i { Some(*id) } else { None }).collect();
    out.extend(
        store
            .memories_by_id(user, &memory_ids)
            .await?
            .into_iter()
            .filter(|m| m.is_current())
            .map(|m| (ItemRef::Memory(m.id), m.text)),
    );
    Ok(out)
}

/// Items one background pass embeds before it looks at other users and at a
/// stop request: a big upload does not hold up everyone else's, nor a
/// shutdown for more than one embedder call.
const PASS: usize = BATCH;

/// Embeds in the background what was stored without a vector (uploaded
/// documents, mostly), user by user in turn. Nothing is lost by stopping it:
/// what is left is found again from the store (`Store::users_with_unembedded_items`).
pub struct Indexer {
    store: std::sync::Arc<dyn Store>,
    embedder: std::sync::Arc<dyn Embedder>,
    queue: std::sync::Mutex<std::collections::VecDeque<UserId>>,
    wake: tokio::sync::Notify,
}

impl Indexer {
    pub fn new(store: std::sync::Arc<dyn Store>, embedder: std::sync::Arc<dyn Embedder>) -> Self {
        Indexer { store, embedder, queue: Default::default(), wake: tokio::sync::Notify::new() }
    }

    /// Asks for `user`'s pending items to be embedded.
    pub fn queue(&self, user: UserId) {
        let mut q = self.queue.lock().unwrap();
        if !q.contains(&user) {
            q.push_back(user);
        }
        drop(q);
        self.wake.notify_one();
    }

    /// One pass for the next queued user; false when none was queued. A user
    /// with more left goes to the back of the queue.
    pub async fn run_one(&self) -> bool {
        let Some(user) = self.queue.lock().unwrap().pop_front() else { return false };
        let done = embed_pending(&*self.store, &*self.embedder, user, PASS).await;
        match done {
            Ok(n) if n > 0 => self.queue(user),
            Ok(_) => {}
            Err(e) => {
                // Left pending: the next start-up or upload tries again.
                tracing::warn!(error = %e, user = user.0, "background embedding failed");
            }
        }
        true
    }

    /// Embeds until `stop` completes: first what earlier runs left, then what
    /// is queued. Stops between passes.
    pub async fn run(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        match self.store.users_with_unembedded_items(10_000).await {
            Ok(users) => users.into_iter().for_each(|u| self.queue(u)),
            Err(e) => tracing::error!(error = %e, "indexer: could not list pending items"),
        }
        loop {
            if self.run_one().await {
                if futures_util::poll!(&mut stop).is_ready() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
            }
        }
    }
}
