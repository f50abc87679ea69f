//! What the rest of pai needs from a language model and an embedding model.
//! Implementations live in `pai-engine` (llama.cpp, OpenAI-compatible HTTP,
//! scripted fakes); only the binary picks one.

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;

use crate::chat::{ChatEvent, ChatRequest, Completion};
use crate::error::{Error, Result};

pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent>> + Send>>;
pub type EmbedFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Vec<f32>>>> + Send + 'a>>;

/// A chat model. Cancellation is by drop: dropping the stream stops generation
/// at the next token.
pub trait ChatModel: Send + Sync {
    /// Model identifier shown to users and used in the API (`model` field).
    fn id(&self) -> &str;
    /// Context window in tokens (prompt + answer).
    fn context_length(&self) -> u32;
    fn chat(&self, request: ChatRequest) -> ChatStream;
}

/// Whether a text is a search query or a stored passage: asymmetric models
/// (e5) embed the two differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedKind {
    Query,
    Passage,
}

/// An embedding model: texts in, L2-normalised vectors of `dimension()` out,
/// one per text and in the same order.
pub trait Embedder: Send + Sync {
    fn id(&self) -> &str;
    fn dimension(&self) -> usize;
    /// Tokens one forward pass sees; longer texts are embedded window by window.
    fn max_input_tokens(&self) -> u32;
    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> EmbedFuture<'_>;
}

/// Drains a chat stream into the whole answer. For callers that do not stream.
pub async fn collect(mut stream: ChatStream) -> Result<(String, Completion)> {
    use futures_util::StreamExt;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::Delta(piece) => text.push_str(&piece),
            ChatEvent::Done(completion) => return Ok((text, completion)),
        }
    }
    Err(Error::internal("chat stream ended without a completion"))
}

/// Scales `v` to unit length in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two vectors of equal length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
