//! pai's domain types and policy. No I/O, no async runtime, no SQL, no HTTP:
//! everything here is deterministic and testable on its own.

pub mod accounts;
pub mod analyzer;
pub mod chat;
pub mod error;
pub mod fusion;
pub mod ids;
pub mod lexicon;
pub mod memory;
pub mod model;
pub mod relative_dates;
pub mod reminder_times;
pub mod reminders;
pub mod store;

pub use chat::{ChatEvent, ChatRequest, Completion, Constraint, FinishReason, Message, Role, Sampling, Usage};
pub use error::{Error, Result};
pub use model::{ChatModel, ChatStream, EmbedFuture, EmbedKind, Embedder, PromptCacheStats};
