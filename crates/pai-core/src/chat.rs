//! The vocabulary of a chat exchange with a language model: messages, sampling
//! parameters, output constraints, and the events a streamed answer is made of.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into() }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// How the next token is picked. `temperature <= 0` means greedy (deterministic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    /// 0 disables top-k.
    pub top_k: u32,
    pub seed: Option<u64>,
    /// Upper bound on generated tokens; `None` means "until the context is full".
    pub max_tokens: Option<u32>,
    /// Generation ends before the first occurrence of any of these; the stop
    /// string itself is not part of the answer.
    pub stop: Vec<String>,
    /// Tokens below this share of the likeliest one's probability are left
    /// out. `None`: the backend's default (pai's local engine: 0.05).
    pub min_p: Option<f32>,
    /// Repetition control for free text (never under a `Constraint`), as
    /// llama-server and vLLM take it: `repeat_penalty` divides the logits of
    /// tokens among the recent ones (1.0 is off), `frequency_penalty` and
    /// `presence_penalty` subtract per occurrence and once (OpenAI's), and
    /// `dry_multiplier` penalises extending a sequence already said (DRY; 0
    /// is off). `None`: the backend's default (pai's local engine: 1.1, 0,
    /// 0, 0.8 — a small model otherwise loops).
    pub repeat_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub dry_multiplier: Option<f32>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.7,
            top_p: 0.95,
            top_k: 40,
            seed: None,
            max_tokens: None,
            stop: Vec::new(),
            min_p: None,
            repeat_penalty: None,
            frequency_penalty: None,
            presence_penalty: None,
            dry_multiplier: None,
        }
    }
}

impl Sampling {
    pub fn greedy() -> Self {
        Sampling { temperature: 0.0, ..Default::default() }
    }
}

/// A hard constraint on the shape of the output, enforced while sampling.
/// The model never decides the shape of data: memory extraction and tool calls
/// go through one of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Constraint {
    /// A JSON Schema (draft 2020-12 subset that llama.cpp and OpenAI accept).
    JsonSchema(serde_json::Value),
    /// A GBNF grammar whose start rule is `root`.
    Grammar(String),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub sampling: Sampling,
    pub constraint: Option<Constraint>,
    /// The user the answer is for. Backends that keep the KV cache of earlier
    /// prompts reuse only the owner's own cache (a shared cache would let one
    /// user time another's prompts), and share their capacity fairly between
    /// owners. `None` requests (CLI tools, benchmarks) share one anonymous cache.
    pub owner: Option<crate::store::UserId>,
    /// Work nobody is watching (memory extraction): backends that queue or
    /// batch serve it after the answers people are waiting for.
    pub background: bool,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        ChatRequest { messages, ..Default::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl Usage {
    pub fn total(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End of turn, a stop string, or the constraint's end.
    Stop,
    /// `max_tokens` or the context window ran out.
    Length,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

/// A streamed answer is zero or more `Delta`s then exactly one `Done`, unless
/// an error ends it first.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The next piece of text: always whole UTF-8 characters.
    Delta(String),
    Done(Completion),
}
