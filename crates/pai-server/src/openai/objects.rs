//! The objects `/v1` sends, as types: the handlers build these, and
//! `/openapi.json` describes them from the same definitions. Field names and
//! nulls follow OpenAI's API reference, so its SDKs parse them as theirs;
//! `pai` is pai's own extension on a chat completion.

use pai_assistant::recall::{DocumentRef, Recalled};
use pai_core::store::{ConversationId, DocumentId, ItemRef};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `GET /v1/models/{id}`, and each of `GET /v1/models`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Model {
    pub id: String,
    /// Always "model".
    pub object: &'static str,
    pub created: i64,
    pub owned_by: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always "list".
    pub object: &'static str,
    pub data: Vec<Model>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingList {
    /// Always "list".
    pub object: &'static str,
    pub data: Vec<Embedding>,
    pub model: String,
    pub usage: EmbeddingUsage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Embedding {
    /// Always "embedding".
    pub object: &'static str,
    pub index: usize,
    pub embedding: Vector,
}

/// Floats, or their little-endian f32 bytes in base64 (`encoding_format`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// A whole answer (`object: "chat.completion"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatCompletion {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    /// One choice (`n` is 1).
    pub choices: Vec<Choice>,
    pub usage: Usage,
    /// Always null.
    pub system_fingerprint: Option<String>,
    pub pai: PaiExtension,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    /// Always null: log probabilities are not given.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    /// "stop", "length" or "tool_calls".
    pub finish_reason: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// Always "assistant".
    pub role: &'static str,
    /// Null when the answer is only tool calls.
    pub content: Option<String>,
    /// Always null.
    pub refusal: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ToolCall {
    /// Its place among the calls; in streamed chunks only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub id: String,
    /// Always "function".
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments as JSON text.
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl From<pai_core::Usage> for Usage {
    fn from(u: pai_core::Usage) -> Self {
        Usage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total() }
    }
}

/// What pai adds to an answer: where it was kept, what it was given, and
/// what its citation marks point to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaiExtension {
    /// The conversation the turn was stored in; null without memory.
    pub conversation: Option<ConversationId>,
    /// The memories, messages and passages the answer was given.
    pub recalled: Vec<Recalled>,
    /// Each `[n]` the answer may cite: the passage and where it stands.
    pub citations: Vec<Citation>,
    /// The sentence pai would quote for a question, and how sure it is;
    /// null without a stored turn or when nothing comes close.
    pub grounded: Option<Grounded>,
    /// What pai's own tools returned between rounds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub tool_results: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Citation {
    /// The number the answer cites it by: `[n]`.
    pub n: usize,
    pub item: ItemRef,
    pub document: DocumentId,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub start: u64,
    pub end: u64,
    /// The passage's first 200 characters.
    pub snippet: String,
}

impl Citation {
    pub fn new(n: usize, item: ItemRef, d: &DocumentRef, text: &str) -> Self {
        Citation {
            n,
            item,
            document: d.id,
            title: d.title.clone(),
            source: d.source.clone(),
            page: d.page,
            heading: d.heading.clone(),
            start: d.start,
            end: d.end,
            snippet: text.chars().take(200).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Grounded {
    pub sentence: String,
    /// `[n]` for a passage, `[m<id>]` for a memory.
    pub citation: String,
    /// Share of the question's content terms the sentence holds.
    pub score: f32,
    /// Whether it was sure enough to be the answer.
    pub answers: bool,
    /// Whether the message was a question.
    pub question: bool,
}

/// A streamed piece (`object: "chat.completion.chunk"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatCompletionChunk {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    /// Always null.
    pub system_fingerprint: Option<String>,
    /// One choice; empty in the last chunk, which carries `usage` and `pai`.
    pub choices: Vec<ChunkChoice>,
    /// In the last chunk, with `stream_options.include_usage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pai: Option<PaiExtension>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    /// Set in the chunk that ends the answer.
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

/// `POST /v1/completions`' answer, whole or a streamed piece.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextCompletion {
    pub id: String,
    /// Always "text_completion".
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<TextChoice>,
    /// Always null.
    pub system_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TextChoice {
    pub text: String,
    pub index: u32,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    pub finish_reason: Option<&'static str>,
}
