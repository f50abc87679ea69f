//! A memory with everything that explains it, and the whole memory as one
//! self-contained JSON document: shared by `pai memory` and the server.

use chrono::Utc;
use pai_core::Result;
use pai_core::store::{DecisionRecord, Memory, MemoryId, Store, StoredMessage, UserId};
use serde::Serialize;

/// A memory, what it replaced, the messages it came from, and every decision about it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemoryDetails {
    pub memory: Memory,
    /// Memories this one replaced, newest first.
    pub history: Vec<Memory>,
    pub sources: Vec<StoredMessage>,
    pub decisions: Vec<DecisionRecord>,
}

pub async fn details(store: &dyn Store, user: UserId, id: MemoryId) -> Result<MemoryDetails> {
    let memory = store.memory(user, id).await?;
    let history = store.predecessors(user, id).await?;
    let sources = store.messages_by_id(user, &memory.sources).await?;
    let decisions = store.decisions(user, Some(id)).await?;
    Ok(MemoryDetails { memory, history, sources, decisions })
}

/// Every memory (history included) with its sources and decisions:
/// `{"format": "pai-memories/1", ...}`.
pub async fn export(store: &dyn Store, user: UserId) -> Result<serde_json::Value> {
    let memories = store.memories(user, true).await?;
    let mut items = Vec::with_capacity(memories.len());
    for m in memories {
        let sources = store.messages_by_id(user, &m.sources).await?;
        let decisions = store.decisions(user, Some(m.id)).await?;
        items.push(serde_json::json!({ "memory": m, "sources": sources, "decisions": decisions }));
    }
    let u = store.user(user).await?;
    Ok(serde_json::json!({
        "format": "pai-memories/1",
        "exported_at": Utc::now(),
        "user": { "name": u.name, "timezone": u.timezone },
        "memories": items,
    }))
}
