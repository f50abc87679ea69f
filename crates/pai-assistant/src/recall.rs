//! Hybrid recall: BM25 over the shared analyzer and vector KNN, fused by
//! reciprocal rank with importance and recency, each result carrying where it
//! came from.

use chrono::{DateTime, Utc};
use pai_core::fusion::{FusionWeights, Prior, fuse};
use pai_core::store::{
    ChunkId, ConversationId, Document, DocumentId, ItemRef, MemoryId, MessageId, Store, TextHit, UserId,
};
use pai_core::{EmbedKind, Embedder, Error, Result};
use serde::Serialize;

/// Candidates taken from each ranker before fusion, per requested result.
const OVERFETCH: usize = 4;
/// Importance assumed for a message (memories carry their own).
const MESSAGE_IMPORTANCE: f32 = 0.3;
/// Importance assumed for a document passage: the user chose to keep it.
const CHUNK_IMPORTANCE: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecalledKind {
    Memory,
    Message,
    /// A passage of one of the user's documents.
    Chunk,
}

/// Where a recalled item came from, so an answer can cite it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub conversation: Option<ConversationId>,
    pub messages: Vec<MessageId>,
    pub external_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// For a chunk: where in which document it stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentRef>,
}

/// A chunk's place: enough to cite it and to link to the passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentRef {
    pub id: DocumentId,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// Character offsets in the document's extracted text.
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recalled {
    pub kind: RecalledKind,
    pub item: ItemRef,
    pub text: String,
    pub score: f32,
    pub provenance: Provenance,
    /// For a memory that is no longer true: when it stopped being true.
    pub valid_to: Option<DateTime<Utc>>,
}

/// Words that make a question about the past ("where did I live before?",
/// "예전에 어디 살았지?"): only then do superseded memories come back.
const PAST_EN: &[&str] = &[
    "before",
    "used to",
    "use to",
    "previously",
    "formerly",
    "in the past",
    "earlier",
    "former",
    "old",
    "ago",
    "last year",
    "originally",
    "at first",
    "history",
];
const PAST_KO: &[&str] = &["예전", "이전", "옛날", "원래", "과거", "전에", "았었", "었었", "했었", "처음에", "작년"];

/// True when `query` asks about how things were, not how they are.
pub fn asks_about_past(query: &str) -> bool {
    let lower = format!("{} ", query.to_lowercase());
    let word_at = |i: usize, p: &str| {
        !lower[..i].ends_with(|c: char| c.is_alphanumeric())
            && !lower[i + p.len()..].starts_with(|c: char| c.is_alphanumeric())
    };
    PAST_EN.iter().any(|p| lower.match_indices(p).any(|(i, _)| word_at(i, p)))
        || PAST_KO.iter().any(|p| lower.contains(p))
}

/// The `k` items of `user` most relevant to `query`, best first.
pub async fn recall(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    query: &str,
    k: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Recalled>> {
    if query.trim().is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let fetch = k * OVERFETCH;
    // Words and meaning are searched at once: each is a database scan of its own.
    let by_meaning = async {
        let query_vec = embedder
            .embed(vec![query.to_string()], EmbedKind::Query)
            .await?
            .pop()
            .ok_or_else(|| Error::internal("the embedder returned no vector"))?;
        store.search_vectors(user, &query_vec, fetch).await
    };
    let (text_hits, vector_hits) = futures_util::join!(store.search_text(user, query, fetch), by_meaning);
    let (text_hits, vector_hits) = (text_hits?, vector_hits?);
    let past = asks_about_past(query);
    let history_list: Vec<ItemRef> = if past {
        store
            .search_history(user, query, fetch)
            .await?
            .into_iter()
            .filter_map(|h| if let TextHit::Memory { id, .. } = h { Some(ItemRef::Memory(id)) } else { None })
            .collect()
    } else {
        Vec::new()
    };

    let text_list: Vec<ItemRef> = text_hits
        .iter()
        .map(|h| match h {
            TextHit::Memory { id, .. } => ItemRef::Memory(*id),
            TextHit::Message { id, .. } => ItemRef::Message(*id),
            TextHit::Chunk { id, .. } => ItemRef::Chunk(*id),
        })
        .collect();
    let vector_list: Vec<ItemRef> = vector_hits.iter().map(|h| h.item).collect();

    // Load every candidate once: fusion needs importance and age, results need text.
    let candidates = load_all(store, user, &dedup(text_list.iter().chain(&vector_list).chain(&history_list))).await?;
    let prior = |item: &ItemRef| {
        candidates
            .iter()
            .find(|c| c.item == *item)
            .map(|c| Prior {
                importance: c.importance,
                age_days: (now - c.provenance.created_at).num_seconds().max(0) as f32 / 86_400.0,
            })
            .unwrap_or_default()
    };
    let fused = fuse(&[text_list, vector_list, history_list], prior, FusionWeights::default());
    let mut out: Vec<Recalled> = Vec::new();
    for (item, score) in fused {
        let Some(c) = candidates.iter().find(|c| c.item == item) else { continue };
        if past && let ItemRef::Memory(id) = item {
            // What this memory replaced answers "before": it goes first.
            let older: Vec<ItemRef> =
                store.predecessors(user, id).await?.iter().map(|m| ItemRef::Memory(m.id)).collect();
            for c in load_all(store, user, &older).await? {
                push_unique(&mut out, c.recalled(score));
            }
        }
        push_unique(&mut out, c.recalled(score));
        if out.len() >= k {
            break;
        }
    }
    out.truncate(k);
    Ok(out)
}

fn push_unique(out: &mut Vec<Recalled>, r: Recalled) {
    if !out.iter().any(|o| o.item == r.item) {
        out.push(r);
    }
}

fn dedup<'a>(items: impl Iterator<Item = &'a ItemRef>) -> Vec<ItemRef> {
    let mut seen = Vec::new();
    for i in items {
        if !seen.contains(i) {
            seen.push(*i);
        }
    }
    seen
}

struct Candidate {
    item: ItemRef,
    kind: RecalledKind,
    text: String,
    importance: f32,
    provenance: Provenance,
    valid_to: Option<DateTime<Utc>>,
}

impl Candidate {
    fn recalled(&self, score: f32) -> Recalled {
        Recalled {
            kind: self.kind,
            item: self.item,
            text: self.text.clone(),
            score,
            provenance: self.provenance.clone(),
            valid_to: self.valid_to,
        }
    }
}

/// Loads `items` in a few batched queries (memories, messages with the
/// memories' sources, chunks with their documents), in the given order.
async fn load_all(store: &dyn Store, user: UserId, items: &[ItemRef]) -> Result<Vec<Candidate>> {
    let chunk_ids: Vec<ChunkId> =
        items.iter().filter_map(|i| if let ItemRef::Chunk(id) = i { Some(*id) } else { None }).collect();
    let chunks = store.chunks_by_id(user, &chunk_ids).await?;
    let mut document_ids: Vec<DocumentId> = chunks.iter().map(|c| c.document).collect();
    document_ids.sort();
    document_ids.dedup();
    let documents: Vec<Document> = store.documents_by_id(user, &document_ids).await?;
    let memory_ids: Vec<MemoryId> =
        items.iter().filter_map(|i| if let ItemRef::Memory(id) = i { Some(*id) } else { None }).collect();
    let mut message_ids: Vec<MessageId> =
        items.iter().filter_map(|i| if let ItemRef::Message(id) = i { Some(*id) } else { None }).collect();
    let memories = store.memories_by_id(user, &memory_ids).await?;
    message_ids.extend(memories.iter().flat_map(|m| m.sources.iter().copied()));
    let messages = store.messages_by_id(user, &message_ids).await?;
    let message = |id: MessageId| messages.iter().find(|m| m.id == id);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match *item {
            ItemRef::Memory(id) => {
                // Gone meanwhile (deleted between search and load): left out.
                let Some(m) = memories.iter().find(|m| m.id == id) else { continue };
                let sources: Vec<_> = m.sources.iter().filter_map(|s| message(*s)).collect();
                out.push(Candidate {
                    item: *item,
                    kind: RecalledKind::Memory,
                    text: m.text.clone(),
                    importance: m.importance,
                    valid_to: m.valid_to,
                    provenance: Provenance {
                        conversation: sources.first().map(|s| s.conversation),
                        messages: m.sources.clone(),
                        external_ids: sources.iter().filter_map(|s| s.external_id.clone()).collect(),
                        created_at: m.valid_from.unwrap_or(m.created_at),
                        document: None,
                    },
                });
            }
            ItemRef::Message(id) => {
                let Some(m) = message(id) else { continue };
                out.push(Candidate {
                    item: *item,
                    kind: RecalledKind::Message,
                    text: m.content.clone(),
                    importance: MESSAGE_IMPORTANCE,
                    valid_to: None,
                    provenance: Provenance {
                        conversation: Some(m.conversation),
                        messages: vec![m.id],
                        external_ids: m.external_id.clone().into_iter().collect(),
                        created_at: m.created_at,
                        document: None,
                    },
                });
            }
            ItemRef::Chunk(id) => {
                let Some(c) = chunks.iter().find(|c| c.id == id) else { continue };
                let Some(d) = documents.iter().find(|d| d.id == c.document) else { continue };
                out.push(Candidate {
                    item: *item,
                    kind: RecalledKind::Chunk,
                    text: c.text.clone(),
                    importance: CHUNK_IMPORTANCE,
                    valid_to: None,
                    provenance: Provenance {
                        conversation: None,
                        messages: Vec::new(),
                        external_ids: Vec::new(),
                        created_at: d.updated_at,
                        document: Some(DocumentRef {
                            id: d.id,
                            title: d.title.clone(),
                            source: d.source.clone(),
                            page: c.page,
                            heading: c.heading.clone(),
                            start: c.start,
                            end: c.end,
                        }),
                    },
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::asks_about_past;

    #[test]
    fn questions_about_the_past() {
        for q in
            ["Where did I live before?", "What car did I use to drive?", "예전에 어디 살았지?", "원래 무슨 일 했었지?"]
        {
            assert!(asks_about_past(q), "{q}");
        }
        for q in ["Where do I live?", "What's my daughter's name?", "지금 어디 살아?", "beforehand-ish"] {
            assert!(!asks_about_past(q), "{q}");
        }
    }
}
