//! The user's memory as other agents reach it (pai's MCP server): `remember`
//! what the user told that agent, and `forget` one memory by the id the
//! agent read. Both leave the trail a chat turn leaves: the words are a
//! message in a conversation of their own (a memory's source), every change
//! a recorded decision, and what is forgotten is taken out of the messages
//! that said it too.

use chrono::{DateTime, Utc};
use pai_core::store::{
    ConversationId, DecisionRecord, ItemRef, Memory, MemoryId, NewMessage, Store, StoredMessage, UserId,
};
use pai_core::{Embedder, Error, Result, Role};

use crate::extract::{Pipeline, asks_to_forget, zone};
use crate::redact;

/// The conversation that holds what other agents passed on.
pub const CONVERSATION_TITLE: &str = "Through other agents (MCP)";

/// Longest statement one `remember` takes: a few facts, not a document
/// (documents are uploaded and searched, not remembered).
pub const MAX_STATEMENT_CHARS: usize = 2000;

/// What a `remember` came to.
pub struct Remembered {
    /// The user's words as stored: every memory made from them points here.
    pub message: StoredMessage,
    /// One per statement read: add, update, supersede or noop, and why.
    pub decisions: Vec<DecisionRecord>,
    /// The memories the decisions made, changed or matched, by id.
    pub memories: Vec<Memory>,
}

/// Why `remember` refused, by what the caller should change.
#[derive(Debug)]
pub enum RememberError {
    /// The text: empty, too long, or a request to forget.
    BadText(String),
    Store(Error),
}

impl From<Error> for RememberError {
    fn from(e: Error) -> Self {
        RememberError::Store(e)
    }
}

/// The conversation `remember` writes to, made on first use.
pub async fn conversation(store: &dyn Store, user: UserId) -> Result<ConversationId> {
    crate::turn::titled_conversation(store, user, CONVERSATION_TITLE).await
}

/// Stores `text` as the user's words in `conversation` and decides, by rule,
/// what it does to their memories (applied at once, one transaction).
pub async fn remember(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    conversation: ConversationId,
    text: &str,
    now: DateTime<Utc>,
) -> std::result::Result<Remembered, RememberError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RememberError::BadText("say what to remember (`text` is empty)".into()));
    }
    if text.chars().count() > MAX_STATEMENT_CHARS {
        return Err(RememberError::BadText(format!(
            "`text` is at most {MAX_STATEMENT_CHARS} characters: a few facts, not a document"
        )));
    }
    // Deleting is never done on the say-so of text: the agent names the id.
    if asks_to_forget(text) {
        return Err(RememberError::BadText(
            "this asks to forget: find the memory with `recall` or `list_memories`, then call `forget` with its id"
                .into(),
        ));
    }
    let tz = zone(&store.user(user).await?.timezone)?;
    let said =
        NewMessage { role: Role::User, speaker: None, content: text.to_string(), created_at: now, external_id: None };
    let message = store
        .add_messages(user, conversation, vec![said])
        .await?
        .pop()
        .ok_or_else(|| Error::internal("the store stored no message"))?;
    // No catching up on the user's unembedded items here (a fresh upload's
    // passages could take minutes): memories are embedded when stored, and
    // the comparison finds any that are not by their words, as chat's
    // "remember" does.
    let pipeline = Pipeline { store, model: None, embedder };
    let decisions = pipeline.remember_statement(user, &message, tz).await?;
    let records = store.apply_decisions(user, decisions).await?;
    let made: Vec<ItemRef> = records.iter().filter_map(|r| r.memory).map(ItemRef::Memory).collect();
    crate::index::embed_items(store, embedder, user, &made).await?;
    let mut ids: Vec<MemoryId> = Vec::new();
    for id in records.iter().flat_map(|r| r.memory.or(r.target)) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let memories = store.memories_by_id(user, &ids).await?;
    Ok(Remembered { message, decisions: records, memories })
}

/// What a `forget` came to.
pub struct Forgotten {
    pub memory: Memory,
    /// Messages its words were taken out of.
    pub messages_rewritten: usize,
}

/// Deletes memory `id` with its history, and takes its words out of the
/// user's messages, as a "forget …" in chat does.
pub async fn forget(store: &dyn Store, user: UserId, id: MemoryId) -> Result<Forgotten> {
    let memory = store.memory(user, id).await?;
    store.delete_memory(user, id).await?;
    let messages_rewritten = redact::forgotten(store, user, std::slice::from_ref(&memory.text), None).await?;
    Ok(Forgotten { memory, messages_rewritten })
}
