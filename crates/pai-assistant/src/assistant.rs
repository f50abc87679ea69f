//! The assistant: the store, the models and the background workers one
//! user-facing turn needs, shared by `pai chat`, the server and MCP. What a
//! turn does is in `turn.rs`; how its answer is kept, in `answer.rs`.

use std::sync::Arc;

use pai_core::store::Store;
use pai_core::{ChatModel, Embedder};

use crate::extract::Extractor;

pub const DEFAULT_PERSONA: &str = "You are pai, the user's personal assistant. Answer briefly and truthfully, \
in the language the user writes in. Use what you know about the user when it helps; never invent facts about them.";

#[derive(Debug, Clone)]
pub struct Settings {
    pub persona: String,
    /// Recalled items considered for each prompt (the budget decides how many fit).
    pub recall_k: usize,
    /// Tokens kept free for the answer.
    pub answer_tokens: usize,
    pub memory_share: f32,
    /// The chat model's name when it speaks English only (pai's catalog says
    /// so): a Korean message is then told so once per conversation.
    pub english_only_model: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            persona: DEFAULT_PERSONA.into(),
            recall_k: 12,
            answer_tokens: 512,
            memory_share: 0.35,
            english_only_model: None,
        }
    }
}

pub struct Assistant {
    pub store: Arc<dyn Store>,
    pub model: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn Embedder>,
    pub extractor: Arc<Extractor>,
    /// Embeds uploads in the background.
    pub indexer: Arc<crate::index::Indexer>,
    /// Fires reminders.
    pub scheduler: Arc<crate::reminders::Scheduler>,
    /// Destructive tool calls the model proposed, waiting for the user.
    pub confirmations: crate::tools::Confirmations,
    pub settings: Settings,
}

impl Assistant {
    pub fn new(
        store: Arc<dyn Store>,
        model: Arc<dyn ChatModel>,
        embedder: Arc<dyn Embedder>,
        settings: Settings,
    ) -> Self {
        let extractor = Arc::new(Extractor::new(store.clone(), model.clone(), embedder.clone()));
        let indexer = Arc::new(crate::index::Indexer::new(store.clone(), embedder.clone()));
        let scheduler = Arc::new(crate::reminders::Scheduler::new(store.clone()));
        let confirmations = Default::default();
        Assistant { store, model, embedder, extractor, indexer, scheduler, confirmations, settings }
    }
}
