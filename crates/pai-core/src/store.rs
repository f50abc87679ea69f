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

pub use crate::ids::{
    ChunkId, ConversationId, DocumentId, ImportId, JobId, MemoryId, MessageId, NotificationId, ReminderId, UserId,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// IANA zone (e.g. `Asia/Seoul`): relative times are resolved in it.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    /// May manage other users (server only).
    pub admin: bool,
    /// A disabled user cannot log in or use API keys; their data stays.
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredMessage {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub role: Role,
    pub speaker: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    Chunk { id: ChunkId, document: DocumentId, score: f32 },
}

impl TextHit {
    pub fn score(&self) -> f32 {
        match self {
            TextHit::Memory { score, .. } | TextHit::Message { score, .. } | TextHit::Chunk { score, .. } => *score,
        }
    }
}

/// What a stored vector belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ItemRef {
    Memory(MemoryId),
    Message(MessageId),
    Chunk(ChunkId),
}

/// A document's format, as pai reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    Text,
    Markdown,
    Html,
    Pdf,
}

impl DocumentFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::Text => "text",
            DocumentFormat::Markdown => "markdown",
            DocumentFormat::Html => "html",
            DocumentFormat::Pdf => "pdf",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => DocumentFormat::Text,
            "markdown" => DocumentFormat::Markdown,
            "html" => DocumentFormat::Html,
            "pdf" => DocumentFormat::Pdf,
            _ => return None,
        })
    }
}

/// A passage of a document, as the chunker cut it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewChunk {
    pub text: String,
    /// 1-based page (PDF), when known.
    pub page: Option<u32>,
    /// The heading the passage sits under, when the format has headings.
    pub heading: Option<String>,
    /// Character offsets of the passage in the document's extracted text.
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDocument {
    pub title: String,
    /// Where it came from (a path, or an upload's file name): re-ingesting the
    /// same source replaces the document.
    pub source: String,
    pub format: DocumentFormat,
    /// SHA-256 of the file's bytes: an unchanged file is not ingested again.
    pub content_hash: String,
    pub bytes: u64,
    pub pages: Option<u32>,
    pub chunks: Vec<NewChunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Document {
    pub id: DocumentId,
    pub title: String,
    pub source: String,
    pub format: DocumentFormat,
    pub content_hash: String,
    pub bytes: u64,
    pub pages: Option<u32>,
    pub chunks: u64,
    /// Passages not embedded yet: found by their words until then, by their
    /// meaning once this is 0.
    pub pending: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Chunk {
    pub id: ChunkId,
    pub document: DocumentId,
    /// Position among the document's chunks, from 0.
    pub ordinal: u32,
    pub text: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub start: u64,
    pub end: u64,
}

/// What storing a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentChange {
    Created,
    /// The source was known with other content: its chunks were replaced.
    Replaced,
    /// Same source, same content: nothing was written.
    Unchanged,
}

/// A nearest-neighbour match: `similarity` is cosine, higher is closer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    pub item: ItemRef,
    pub similarity: f32,
}

/// Where an extraction job is. A job is `Running` only while a worker holds it;
/// one found `Running` at start-up was interrupted and goes back to `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Pending,
    Running,
    Done,
    /// Gave up after its retries; kept, with the error, until retried or deleted.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JobState::Pending,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

/// Memory extraction over some new messages of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExtractionJob {
    pub id: JobId,
    pub user: UserId,
    pub conversation: ConversationId,
    pub messages: Vec<MessageId>,
    pub state: JobState,
    /// Tries started so far (a claim counts one).
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One change to a user's memories, decided by the extraction pipeline (or
/// asked for explicitly by the user) and applied by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum MemoryChange {
    Add {
        memory: NewMemory,
    },
    /// Merge: the memory says more now, it is not replaced.
    Update {
        id: MemoryId,
        text: String,
        sources: Vec<MessageId>,
    },
    /// The old memory stops being true at `at`; the new one takes its place.
    Supersede {
        old: MemoryId,
        memory: NewMemory,
        at: DateTime<Utc>,
    },
    Delete {
        id: MemoryId,
    },
    /// Nothing to store (already known, or not worth remembering).
    Noop {
        existing: Option<MemoryId>,
    },
}

impl MemoryChange {
    pub fn action(&self) -> &'static str {
        match self {
            MemoryChange::Add { .. } => "add",
            MemoryChange::Update { .. } => "update",
            MemoryChange::Supersede { .. } => "supersede",
            MemoryChange::Delete { .. } => "delete",
            MemoryChange::Noop { .. } => "noop",
        }
    }
}

/// A change with what prompted it, as the pipeline hands it to the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The candidate memory (or the explicit request) the decision is about.
    pub candidate: String,
    pub change: MemoryChange,
    /// Why, in a few words ("same subject: home city", "explicit request").
    pub reason: String,
}

/// A decision as recorded: the audit trail of every memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    pub job: Option<JobId>,
    pub action: String,
    pub candidate: String,
    /// The memory the decision produced or changed.
    pub memory: Option<MemoryId>,
    /// The existing memory it was compared with (updated, superseded, deleted, matched).
    pub target: Option<MemoryId>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// Where an import started over HTTP is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportState {
    Running,
    Done,
    /// Stopped with an error (or by a restart); what was imported stays and a
    /// second upload of the same file skips it.
    Failed,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Running => "running",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => ImportState::Running,
            "done" => ImportState::Done,
            "failed" => ImportState::Failed,
            _ => return None,
        })
    }
}

/// The progress and outcome of one import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportRecord {
    pub id: ImportId,
    pub file_name: String,
    pub state: ImportState,
    /// Conversations in the file, and how many are handled so far.
    pub total: u64,
    pub done: u64,
    /// The import's report (counts) once done.
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What older turns of a conversation said, once they no longer fit the context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub text: String,
    /// The newest message the summary covers.
    pub through: MessageId,
    pub updated_at: DateTime<Utc>,
}

/// Longest message or memory text a store accepts (bytes).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

#[async_trait]
pub trait Store: crate::reminders::Reminders + Send + Sync {
    async fn create_user(&self, name: &str, timezone: &str) -> Result<User>;
    async fn user(&self, id: UserId) -> Result<User>;
    /// The oldest user called `name` (single-user installs find theirs by name).
    async fn user_by_name(&self, name: &str) -> Result<Option<User>>;

    async fn create_conversation(&self, user: UserId, title: &str) -> Result<Conversation>;
    /// Newest first.
    async fn conversations(&self, user: UserId) -> Result<Vec<Conversation>>;
    async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation>;
    async fn rename_conversation(&self, user: UserId, id: ConversationId, title: &str) -> Result<Conversation>;
    /// Deletes the conversation, its messages (with their index rows and
    /// vectors), summary and jobs. Memories learned from it stay, without
    /// those sources.
    async fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<()>;
    /// Appends messages in one transaction: all of them or none.
    async fn add_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<StoredMessage>>;
    /// Creates a conversation with its messages and queues an extraction job
    /// for each group in `jobs` (positions in `messages`), in one
    /// transaction: all or nothing, so an import is never stored without
    /// being learned from (a re-upload skips what is stored).
    async fn import_conversation(
        &self,
        user: UserId,
        title: &str,
        messages: Vec<NewMessage>,
        jobs: &[Vec<usize>],
    ) -> Result<(Conversation, Vec<StoredMessage>)>;
    /// The user's first message with this external id (to skip what was imported before).
    async fn message_by_external_id(&self, user: UserId, external_id: &str) -> Result<Option<StoredMessage>>;
    /// Messages in order, oldest first.
    async fn messages(&self, user: UserId, conversation: ConversationId) -> Result<Vec<StoredMessage>>;
    /// The user's messages among `ids` (others' and unknown ids are left out), in id order.
    async fn messages_by_id(&self, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>>;
    /// Rewrites a message with what it said taken out (a forgotten fact), in
    /// one transaction: its content and full-text row are replaced, its vector
    /// dropped (it is embedded again as it now reads), and the conversation's
    /// summary, when it covers the message, deleted (it is written again).
    async fn redact_message(&self, user: UserId, id: MessageId, content: &str) -> Result<StoredMessage>;

    async fn add_memory(&self, user: UserId, memory: NewMemory) -> Result<Memory>;
    async fn memory(&self, user: UserId, id: MemoryId) -> Result<Memory>;
    /// The user's memories among `ids` (others' and unknown ids are left out), in id order.
    async fn memories_by_id(&self, user: UserId, ids: &[MemoryId]) -> Result<Vec<Memory>>;
    /// The memories `id` replaced, newest first (its history).
    async fn predecessors(&self, user: UserId, id: MemoryId) -> Result<Vec<Memory>>;
    /// Current memories, newest first; with `include_history`, superseded ones too.
    async fn memories(&self, user: UserId, include_history: bool) -> Result<Vec<Memory>>;
    /// One page of `memories`: at most `limit`, newest first, older than `before` when given.
    async fn memories_page(
        &self,
        user: UserId,
        include_history: bool,
        before: Option<MemoryId>,
        limit: usize,
    ) -> Result<Vec<Memory>>;
    /// Changes a memory's text (a merge or a user's edit); sources are added to.
    async fn update_memory(&self, user: UserId, id: MemoryId, text: &str, sources: &[MessageId]) -> Result<Memory>;
    /// Ends `old` at `at` and adds `new` in its place, in one transaction.
    async fn supersede_memory(&self, user: UserId, old: MemoryId, new: NewMemory, at: DateTime<Utc>) -> Result<Memory>;
    async fn delete_memory(&self, user: UserId, id: MemoryId) -> Result<()>;
    /// Returns how many were deleted.
    async fn delete_all_memories(&self, user: UserId) -> Result<u64>;

    /// BM25 over current memories, messages and document chunks with the shared analyzer, best first.
    async fn search_text(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>>;
    /// BM25 over superseded memories only (questions about the past), best first.
    async fn search_history(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>>;

    /// Queues memory extraction over `messages` (the user's, all in `conversation`).
    async fn enqueue_extraction(
        &self,
        user: UserId,
        conversation: ConversationId,
        messages: &[MessageId],
    ) -> Result<ExtractionJob>;
    /// Takes the oldest pending job of any user, marking it running and counting
    /// the attempt. Workers run on behalf of the job's user from then on.
    async fn claim_extraction_job(&self) -> Result<Option<ExtractionJob>>;
    /// Records a failed try: back to pending when `retry`, else failed for good.
    async fn fail_extraction_job(&self, user: UserId, job: JobId, error: &str, retry: bool) -> Result<ExtractionJob>;
    /// Gives a running job back unfinished (the server is stopping mid-job):
    /// pending again, the attempt not counted.
    async fn release_extraction_job(&self, user: UserId, job: JobId) -> Result<ExtractionJob>;
    /// Applies every decision of a job and marks it done, in one transaction:
    /// all of it lands or none. A decision about a memory that no longer
    /// exists (or was superseded meanwhile) fails the whole unit with `Conflict`.
    async fn complete_extraction_job(
        &self,
        user: UserId,
        job: JobId,
        decisions: Vec<Decision>,
    ) -> Result<Vec<DecisionRecord>>;
    /// Applies decisions taken outside any job (an explicit request carried
    /// out in the conversation turn that made it), in one transaction, with
    /// their audit trail: all of them or none.
    async fn apply_decisions(&self, user: UserId, decisions: Vec<Decision>) -> Result<Vec<DecisionRecord>>;
    /// The user's jobs, newest first; only those in `state` when given.
    async fn extraction_jobs(&self, user: UserId, state: Option<JobState>) -> Result<Vec<ExtractionJob>>;
    /// Puts a failed job back in the queue with a fresh count of attempts.
    async fn retry_extraction_job(&self, user: UserId, job: JobId) -> Result<ExtractionJob>;
    /// How many jobs of all users are in each state (metrics; no user data).
    async fn extraction_job_counts(&self) -> Result<Vec<(JobState, u64)>>;
    /// Start-up: jobs left running by a process that died go back to pending.
    async fn requeue_interrupted_jobs(&self) -> Result<u64>;
    /// The recorded decisions about `memory` (or all of the user's), oldest first.
    async fn decisions(&self, user: UserId, memory: Option<MemoryId>) -> Result<Vec<DecisionRecord>>;

    async fn conversation_summary(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<Option<ConversationSummary>>;
    async fn set_conversation_summary(
        &self,
        user: UserId,
        conversation: ConversationId,
        text: &str,
        through: MessageId,
    ) -> Result<()>;

    /// Starts the record of an import of `total` conversations.
    async fn create_import(&self, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord>;
    /// Records progress; a `Done`/`Failed` state ends the import.
    async fn update_import(
        &self,
        user: UserId,
        id: ImportId,
        state: ImportState,
        done: u64,
        report: Option<serde_json::Value>,
        error: Option<&str>,
    ) -> Result<ImportRecord>;
    async fn import_record(&self, user: UserId, id: ImportId) -> Result<ImportRecord>;
    /// Newest first.
    async fn imports(&self, user: UserId) -> Result<Vec<ImportRecord>>;
    /// Start-up: imports left running by a process that died are marked failed.
    async fn fail_interrupted_imports(&self) -> Result<u64>;

    /// Stores a document with its chunks in one transaction. A known source
    /// with the same content hash is left alone; with other content, its
    /// chunks (and their index rows and vectors) are replaced. A new source
    /// whose content the user already has (a copy) is `Unchanged`: the
    /// existing document is returned and nothing is written.
    async fn put_document(&self, user: UserId, document: NewDocument) -> Result<(Document, DocumentChange)>;
    /// Newest first.
    async fn documents(&self, user: UserId) -> Result<Vec<Document>>;
    async fn document(&self, user: UserId, id: DocumentId) -> Result<Document>;
    /// The user's documents among `ids` (others' and unknown ids are left out), in id order.
    async fn documents_by_id(&self, user: UserId, ids: &[DocumentId]) -> Result<Vec<Document>>;
    /// The document's chunks in order.
    async fn document_chunks(&self, user: UserId, id: DocumentId) -> Result<Vec<Chunk>>;
    /// The user's chunks among `ids` (others' and unknown ids are left out), in id order.
    async fn chunks_by_id(&self, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>>;
    /// Deletes the document with every chunk, index row and vector.
    async fn delete_document(&self, user: UserId, id: DocumentId) -> Result<()>;

    /// Dimension of the vectors this store was opened for (the embedder's).
    fn vector_dimension(&self) -> usize;
    /// Stores (or replaces) the embedding of each item; all items must be the
    /// user's, current, and every vector of `vector_dimension()` length.
    async fn put_vectors(&self, user: UserId, vectors: Vec<(ItemRef, Vec<f32>)>) -> Result<()>;
    /// Nearest current memories, messages and chunks of `user` to `query`, closest first.
    async fn search_vectors(&self, user: UserId, query: &[f32], limit: usize) -> Result<Vec<VectorHit>>;
    /// Items of `user` that have no vector yet (new, edited, or the embedding model changed).
    async fn items_without_vectors(&self, user: UserId, limit: usize) -> Result<Vec<ItemRef>>;
    /// Takes up to `limit` of those items to embed, claimed until `until`:
    /// no other caller (another server's indexer) gets them before then,
    /// unless they get a vector first. What is not embedded by then can be
    /// claimed again.
    async fn claim_items_without_vectors(
        &self,
        user: UserId,
        limit: usize,
        until: DateTime<Utc>,
    ) -> Result<Vec<ItemRef>>;
    /// Up to `limit` users that have items without a vector: where a
    /// background indexer starts after a restart.
    async fn users_with_unembedded_items(&self, limit: usize) -> Result<Vec<UserId>>;
}
