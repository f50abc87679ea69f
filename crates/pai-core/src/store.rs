//! What pai keeps about its users, and the `Store` trait every backend
//! (SQLite by default, PostgreSQL for many users) implements.
//!
//! Every method that touches user data takes the owner's `UserId`, and
//! implementations filter by it in the query itself: there is no way to read
//! or change a row without naming its owner. A row of another user is
//! reported as `NotFound`, exactly like a row that does not exist.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::chat::Role;
use crate::error::Result;

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
id_type!(UserId, ConversationId, MessageId, MemoryId);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// IANA zone (e.g. `Asia/Seoul`): relative times are resolved in it.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub user: UserId,
    pub title: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub role: Role,
    /// Who spoke, when it is not simply "the user" (imports of group chats).
    pub speaker: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// The message's id in the system it was imported from.
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub role: Role,
    pub speaker: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryKind {
    Fact,
    Preference,
    Event,
    Instruction,
}

impl MemoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryKind::Fact => "fact",
            MemoryKind::Preference => "preference",
            MemoryKind::Event => "event",
            MemoryKind::Instruction => "instruction",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "fact" => MemoryKind::Fact,
            "preference" => MemoryKind::Preference,
            "event" => MemoryKind::Event,
            "instruction" => MemoryKind::Instruction,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMemory {
    pub text: String,
    pub kind: MemoryKind,
    /// Who or what it is about ("daughter", "home city"), for matching updates.
    pub subject: Option<String>,
    /// 0.0 ..= 1.0
    pub importance: f32,
    pub valid_from: Option<DateTime<Utc>>,
    /// The messages it was learned from (same owner).
    pub sources: Vec<MessageId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub id: MemoryId,
    pub user: UserId,
    pub text: String,
    pub kind: MemoryKind,
    pub subject: Option<String>,
    pub importance: f32,
    pub valid_from: Option<DateTime<Utc>>,
    /// Set when a newer memory replaced this one; it is then history.
    pub valid_to: Option<DateTime<Utc>>,
    pub superseded_by: Option<MemoryId>,
    pub sources: Vec<MessageId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Memory {
    pub fn is_current(&self) -> bool {
        self.valid_to.is_none()
    }
}

/// A full-text match, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TextHit {
    Memory { id: MemoryId, score: f32 },
    Message { id: MessageId, conversation: ConversationId, score: f32 },
}

/// What a stored vector belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemRef {
    Memory(MemoryId),
    Message(MessageId),
}

/// A nearest-neighbour match: `similarity` is cosine, higher is closer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    pub item: ItemRef,
    pub similarity: f32,
}

/// Longest message or memory text a store accepts (bytes).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

#[async_trait]
pub trait Store: Send + Sync {
    async fn create_user(&self, name: &str, timezone: &str) -> Result<User>;
    async fn user(&self, id: UserId) -> Result<User>;

    async fn create_conversation(&self, user: UserId, title: &str) -> Result<Conversation>;
    async fn conversations(&self, user: UserId) -> Result<Vec<Conversation>>;
    /// Appends messages in one transaction: all of them or none.
    async fn add_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<StoredMessage>>;
    /// Messages in order, oldest first.
    async fn messages(&self, user: UserId, conversation: ConversationId) -> Result<Vec<StoredMessage>>;
    /// The user's messages among `ids` (others' and unknown ids are left out), in id order.
    async fn messages_by_id(&self, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>>;

    async fn add_memory(&self, user: UserId, memory: NewMemory) -> Result<Memory>;
    async fn memory(&self, user: UserId, id: MemoryId) -> Result<Memory>;
    /// Current memories, newest first; with `include_history`, superseded ones too.
    async fn memories(&self, user: UserId, include_history: bool) -> Result<Vec<Memory>>;
    /// Changes a memory's text (a merge or a user's edit); sources are added to.
    async fn update_memory(&self, user: UserId, id: MemoryId, text: &str, sources: &[MessageId]) -> Result<Memory>;
    /// Ends `old` at `at` and adds `new` in its place, in one transaction.
    async fn supersede_memory(&self, user: UserId, old: MemoryId, new: NewMemory, at: DateTime<Utc>) -> Result<Memory>;
    async fn delete_memory(&self, user: UserId, id: MemoryId) -> Result<()>;
    /// Returns how many were deleted.
    async fn delete_all_memories(&self, user: UserId) -> Result<u64>;

    /// BM25 over current memories and messages with the shared analyzer, best first.
    async fn search_text(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>>;

    /// Dimension of the vectors this store was opened for (the embedder's).
    fn vector_dimension(&self) -> usize;
    /// Stores (or replaces) the embedding of each item; all items must be the
    /// user's, current, and every vector of `vector_dimension()` length.
    async fn put_vectors(&self, user: UserId, vectors: Vec<(ItemRef, Vec<f32>)>) -> Result<()>;
    /// Nearest current memories and messages of `user` to `query`, closest first.
    async fn search_vectors(&self, user: UserId, query: &[f32], limit: usize) -> Result<Vec<VectorHit>>;
    /// Items of `user` that have no vector yet (new, edited, or the embedding model changed).
    async fn items_without_vectors(&self, user: UserId, limit: usize) -> Result<Vec<ItemRef>>;
}
