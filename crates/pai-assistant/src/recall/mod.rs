//! Hybrid recall: BM25 over the shared analyzer and vector KNN, fused by
//! score with what pai knows about each candidate (who said it, importance,
//! freshness when the question asks for it), each result carrying where it
//! came from.

use chrono::{DateTime, Utc};
use pai_core::fusion::{FusionWeights, Prior, Ranked, Scale, rank, relevance};
use pai_core::store::{
    ChunkId, ConversationId, Document, DocumentId, ItemRef, MemoryId, MessageId, Store, TextHit, UserId,
};
use pai_core::{EmbedKind, Embedder, Error, Result, Role};
use serde::Serialize;

mod intent;

pub use intent::{asks_about_past, asks_about_present, asks_when, in_first_person, mentions_time};

/// Candidates taken from each ranker before fusion, per requested result.
const OVERFETCH: usize = 4;
/// Fewest candidates taken from each ranker: score normalisation needs a
/// list long enough to tell a clear winner from the pack.
const MIN_FETCH: usize = 40;
/// Importance assumed for a message (memories carry their own).
const MESSAGE_IMPORTANCE: f32 = 0.3;
/// Importance assumed for a document passage: the user chose to keep it.
const CHUNK_IMPORTANCE: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecalledKind {
    Memory,
    Message,
    /// A passage of one of the user's documents.
    Chunk,
}

/// Where a recalled item came from, so an answer can cite it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recalled {
    pub kind: RecalledKind,
    pub item: ItemRef,
    pub text: String,
    pub score: f32,
    pub provenance: Provenance,
    /// For a memory that is no longer true: when it stopped being true.
    pub valid_to: Option<DateTime<Utc>>,
}

#[cfg(test)]
impl Recalled {
    /// A recalled item for unit tests: `text` as `item`, no provenance.
    pub(crate) fn fixture(kind: RecalledKind, item: ItemRef, text: &str) -> Recalled {
        Recalled {
            kind,
            item,
            text: text.into(),
            score: 1.0,
            provenance: Provenance {
                conversation: None,
                messages: vec![],
                external_ids: vec![],
                created_at: chrono::Utc::now(),
                document: None,
            },
            valid_to: None,
        }
    }
}

/// How recall weighs its signals. The defaults are what the recall-quality
/// set's dev part (`bench/recall-quality.sh`) chose; the held-out part was not
/// looked at while choosing.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Weight of full text (BM25, divided by the best hit's score).
    pub text: f32,
    /// Weight of meaning (cosine, min-max over the hits).
    pub vector: f32,
    /// Relevance multiplier for a turn said by the person the question is about
    /// (the user for "I"/"my"/their name; a chat partner named in it).
    pub speaker: f32,
    /// Freshness, for questions about the present ("now", "요즘").
    pub recency: f32,
    /// Share of a turn's relevance given to the turn after it (the answer to
    /// a question that matched: "who made it?" → "Hannah!").
    pub after: f32,
    /// Share given to the turn before it (what a matching reply answers).
    pub before: f32,
    /// Weight of full text over the question's words in the other language
    /// (`pai_core::lexicon`): Korean questions about English turns and the reverse.
    pub translated: f32,
    /// Relevance multiplier for a turn that says when, for questions asking when.
    pub when: f32,
    /// Relevance multiplier for a current memory (the fact as pai keeps it,
    /// over the older messages it came from).
    pub memory: f32,
    /// Share of relevance an assistant's reply loses: it only says again what
    /// the user or a document said.
    pub assistant: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            text: 1.0,
            vector: 0.6,
            speaker: 0.3,
            recency: 0.1,
            after: 0.5,
            before: 0.5,
            translated: 1.1,
            when: 0.5,
            memory: 0.2,
            assistant: 0.5,
        }
    }
}

/// Message candidates whose neighbours are looked at, best first.
const NEIGHBOURED: usize = 30;

/// The `k` items of `user` most relevant to `query`, best first.
pub async fn recall(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    query: &str,
    k: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Recalled>> {
    recall_tuned(store, embedder, user, query, k, now, Tuning::default()).await
}

/// `recall` with explicit weights (the recall-quality benchmark tries others).
pub async fn recall_tuned(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    query: &str,
    k: usize,
    now: DateTime<Utc>,
    tuning: Tuning,
) -> Result<Vec<Recalled>> {
    if query.trim().is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let fetch = (k * OVERFETCH).max(MIN_FETCH);
    let owner = store.user(user).await?;
    // The user's own turns never contain their name; the other person's
    // ("wow Minji, that's great!") do and say nothing about her: the name is
    // who the question is about, not a word to search for.
    let named_self = !intent::name_spans(query, &owner.name).is_empty();
    let about_self = named_self || intent::in_first_person(query);
    let mut words = if named_self { intent::without_name(query, &owner.name) } else { query.to_string() };
    // Words and meaning are searched at once: each is a database scan of its own.
    let by_meaning = async {
        let query_vec = embedder
            .embed(vec![query.to_string()], EmbedKind::Query)
            .await?
            .pop()
            .ok_or_else(|| Error::internal("the embedder returned no vector"))?;
        store.search_vectors(user, &query_vec, fetch).await
    };
    // The question's words in the other language, searched as a list of their own.
    let translated = pai_core::lexicon::translate(&words);
    let by_translation = async {
        if translated.is_empty() { Ok(Vec::new()) } else { store.search_text(user, &translated, fetch).await }
    };
    let (text_hits, vector_hits, translated_hits) =
        futures_util::join!(store.search_text(user, &words, fetch), by_meaning, by_translation);
    let mut text_list = as_list(text_hits?);
    let translated_list = as_list(translated_hits?);
    let vector_list: Vec<(ItemRef, f32)> = vector_hits?.iter().map(|h| (h.item, h.similarity)).collect();
    // Load every candidate once: fusion needs who said it, importance and age; results need text.
    let mut candidates =
        load_all(store, user, &dedup(text_list.iter().chain(&vector_list).chain(&translated_list).map(|(i, _)| i)))
            .await?;

    // The same for the other people of the user's chats named in the question
    // ("what does Jake do?"): Jake's turns are about Jake, the turns that
    // address him ("Jake. Jake. Jake") are not. Who they are shows among the
    // candidates (half of a two-person chat is theirs).
    let mut named: Vec<String> = Vec::new();
    for c in &candidates {
        if let Speaker::Other(name) = &c.speaker
            && !named.contains(name)
            && !intent::name_spans(query, name).is_empty()
        {
            named.push(name.clone());
        }
    }
    if !named.is_empty() {
        for name in &named {
            words = intent::without_name(&words, name);
        }
        text_list = as_list(store.search_text(user, &words, fetch).await?);
        add_missing(store, user, &mut candidates, text_list.iter().map(|(i, _)| *i)).await?;
    }
    let past = asks_about_past(query);
    let history_list: Vec<(ItemRef, f32)> = if past {
        let hits = store.search_history(user, &words, fetch).await?;
        let list = as_list(hits);
        add_missing(store, user, &mut candidates, list.iter().map(|(i, _)| *i)).await?;
        list
    } else {
        Vec::new()
    };

    // BM25 scores of different indexes (memories, messages, passages) have
    // their own statistics and scales: each kind is normalised on its own.
    let mut lists = vec![
        Ranked { hits: vector_list, weight: tuning.vector, scale: Scale::MinMax },
        Ranked { hits: history_list, weight: tuning.text, scale: Scale::FromZero },
    ];
    for (hits, weight) in [(text_list, tuning.text), (translated_list, tuning.translated)] {
        for kind in by_kind(hits) {
            lists.push(Ranked { hits: kind, weight, scale: Scale::FromZero });
        }
    }
    let mut scored = relevance(&lists);
    neighbours(store, user, &mut candidates, &mut scored, tuning).await?;
    let present = asks_about_present(query);
    let when = intent::asks_when(query);
    let prior = |item: &ItemRef| {
        candidates
            .iter()
            .find(|c| c.item == *item)
            .map(|c| {
                let about = match &c.speaker {
                    Speaker::User => about_self,
                    Speaker::Other(name) => named.contains(name),
                    Speaker::Assistant | Speaker::Document => false,
                };
                let dated = when && intent::mentions_time(&c.text);
                // A memory is the distilled, current fact; pai's own replies only echo.
                let source = match (c.kind, &c.speaker) {
                    (RecalledKind::Memory, _) => tuning.memory,
                    (_, Speaker::Assistant) => -tuning.assistant,
                    _ => 0.0,
                };
                Prior {
                    importance: c.importance,
                    age_days: (now - c.provenance.created_at).num_seconds().max(0) as f32 / 86_400.0,
                    boost: (if about { tuning.speaker } else { 0.0 }) + if dated { tuning.when } else { 0.0 } + source,
                }
            })
            .unwrap_or_default()
    };
    let weights = FusionWeights { recency: if present { tuning.recency } else { 0.0 }, ..FusionWeights::default() };
    let fused = rank(scored, prior, weights);
    let mut out: Vec<Recalled> = Vec::new();
    for (item, score) in fused {
        let Some(c) = candidates.iter().find(|c| c.item == item) else { continue };
        // A memory goes before the message it was learned from: it is the fact
        // as pai keeps it now (the message follows, for what else it says).
        if let ItemRef::Message(id) = item
            && let Some(memory) = candidates
                .iter()
                .find(|m| m.kind == RecalledKind::Memory && m.valid_to.is_none() && m.provenance.messages.contains(&id))
        {
            push_unique(&mut out, memory.recalled(score));
        }
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

/// A ranked list split by the kind of item, each kind in its order.
fn by_kind(hits: Vec<(ItemRef, f32)>) -> Vec<Vec<(ItemRef, f32)>> {
    let mut kinds: [Vec<(ItemRef, f32)>; 3] = Default::default();
    for (item, score) in hits {
        let k = match item {
            ItemRef::Memory(_) => 0,
            ItemRef::Message(_) => 1,
            ItemRef::Chunk(_) => 2,
        };
        kinds[k].push((item, score));
    }
    kinds.into_iter().filter(|k| !k.is_empty()).collect()
}

fn as_list(hits: Vec<TextHit>) -> Vec<(ItemRef, f32)> {
    hits.into_iter()
        .map(|h| match h {
            TextHit::Memory { id, score } => (ItemRef::Memory(id), score),
            TextHit::Message { id, score, .. } => (ItemRef::Message(id), score),
            TextHit::Chunk { id, score, .. } => (ItemRef::Chunk(id), score),
        })
        .collect()
}

/// Loads the items of `items` that are not candidates yet.
async fn add_missing(
    store: &dyn Store,
    user: UserId,
    candidates: &mut Vec<Candidate>,
    items: impl Iterator<Item = ItemRef>,
) -> Result<()> {
    let missing: Vec<ItemRef> = items.filter(|i| !candidates.iter().any(|c| c.item == *i)).collect();
    if !missing.is_empty() {
        candidates.extend(load_all(store, user, &dedup(missing.iter())).await?);
    }
    Ok(())
}

/// A turn's neighbours share its relevance: the turn after a matching
/// question holds its answer ("who made it?" → "Hannah!"), the turn before a
/// matching reply holds what it replies to. Neighbours are the messages next
/// to it in id order within its conversation (stored in order, a
/// conversation's turns follow each other; where another conversation's
/// message sits between, there is no neighbour on that side).
async fn neighbours(
    store: &dyn Store,
    user: UserId,
    candidates: &mut Vec<Candidate>,
    scored: &mut Vec<(ItemRef, f32)>,
    tuning: Tuning,
) -> Result<()> {
    if tuning.after <= 0.0 && tuning.before <= 0.0 {
        return Ok(());
    }
    let mut by_score: Vec<(MessageId, f32)> = scored
        .iter()
        .filter_map(|(item, s)| if let ItemRef::Message(id) = item { Some((*id, *s)) } else { None })
        .collect();
    by_score.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_score.truncate(NEIGHBOURED);
    let around: Vec<ItemRef> = by_score
        .iter()
        .flat_map(|(id, _)| [ItemRef::Message(MessageId(id.0 - 1)), ItemRef::Message(MessageId(id.0 + 1))])
        .collect();
    add_missing(store, user, candidates, around.into_iter()).await?;
    let conversation = |id: MessageId| {
        candidates.iter().find(|c| c.item == ItemRef::Message(id)).and_then(|c| c.provenance.conversation)
    };
    let mut shares: Vec<(ItemRef, f32)> = Vec::new();
    for (id, s) in by_score {
        let Some(conv) = conversation(id) else { continue };
        for (next, share) in [(MessageId(id.0 + 1), tuning.after), (MessageId(id.0 - 1), tuning.before)] {
            if share > 0.0 && conversation(next) == Some(conv) {
                shares.push((ItemRef::Message(next), share * s));
            }
        }
    }
    for (item, add) in shares {
        match scored.iter_mut().find(|(i, _)| *i == item) {
            Some(entry) => entry.1 += add,
            None => scored.push((item, add)),
        }
    }
    Ok(())
}

/// Adds `r` unless it is there already, or its words are as a passage and
/// a message: a recording learned from is kept as both, and the second copy
/// would only take a place in the prompt (the first to rank stays).
fn push_unique(out: &mut Vec<Recalled>, r: Recalled) {
    let copy = |o: &Recalled| {
        let kinds = [o.kind, r.kind];
        kinds.contains(&RecalledKind::Chunk) && kinds.contains(&RecalledKind::Message) && o.text == r.text
    };
    if !out.iter().any(|o| o.item == r.item || copy(o)) {
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

/// Who said a candidate, as far as the question's subject goes.
#[derive(Debug, Clone, PartialEq)]
enum Speaker {
    /// The user's own words, or a memory (about the user by construction).
    User,
    /// Another person of an imported chat, by the name the chat gives.
    Other(String),
    Assistant,
    Document,
}

struct Candidate {
    item: ItemRef,
    kind: RecalledKind,
    speaker: Speaker,
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
                    speaker: Speaker::User,
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
                    speaker: match (m.role, &m.speaker) {
                        (Role::User, None) => Speaker::User,
                        (Role::Assistant, _) => Speaker::Assistant,
                        (_, Some(name)) => Speaker::Other(name.clone()),
                        (_, None) => Speaker::Assistant,
                    },
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
                    speaker: Speaker::Document,
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
    use super::*;
    use pai_core::store::{ChunkId, MessageId};

    #[test]
    fn a_recording_kept_as_a_passage_and_a_message_is_recalled_once() {
        let said = "I moved to London last month.";
        let mut out = Vec::new();
        push_unique(&mut out, Recalled::fixture(RecalledKind::Chunk, ItemRef::Chunk(ChunkId(1)), said));
        push_unique(&mut out, Recalled::fixture(RecalledKind::Message, ItemRef::Message(MessageId(1)), said));
        push_unique(&mut out, Recalled::fixture(RecalledKind::Chunk, ItemRef::Chunk(ChunkId(1)), said));
        // The same words said twice in a chat are two messages: both stay.
        push_unique(&mut out, Recalled::fixture(RecalledKind::Message, ItemRef::Message(MessageId(2)), "ok"));
        push_unique(&mut out, Recalled::fixture(RecalledKind::Message, ItemRef::Message(MessageId(3)), "ok"));
        let items: Vec<ItemRef> = out.iter().map(|r| r.item).collect();
        assert_eq!(items, [ItemRef::Chunk(ChunkId(1)), ItemRef::Message(MessageId(2)), ItemRef::Message(MessageId(3))]);
    }
}
