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
    /// Generations the backend decodes together; more wait in its queue.
    /// Servers size their admission gate to it.
    fn parallel(&self) -> usize {
        1
    }
    /// How much prompt work the backend's KV cache has saved, when it keeps one.
    fn prompt_cache(&self) -> Option<PromptCacheStats> {
        None
    }
    /// Tokens `text` takes in a prompt. The default is a cautious estimate
    /// (a token per 3 bytes: Korean syllables are 3 bytes and often a token
    /// each); backends with the tokenizer at hand count exactly.
    fn count_tokens(&self, text: &str) -> usize {
        text.len().div_ceil(3)
    }
}

/// Counters of a backend's prompt (KV) cache, for metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptCacheStats {
    /// Prompt tokens served from a cache instead of decoded.
    pub reused_tokens: u64,
    /// Prompt tokens decoded.
    pub decoded_tokens: u64,
    /// Conversations brought back from the RAM cache into a slot.
    pub restored: u64,
    /// Entries and bytes in the RAM cache now.
    pub saved_entries: usize,
    pub saved_bytes: usize,
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
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{FinishReason, Usage};

    fn stream(events: Vec<Result<ChatEvent>>) -> ChatStream {
        Box::pin(futures_util::stream::iter(events))
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("ready immediately")
    }

    #[test]
    fn collect_joins_deltas_until_done() {
        let done =
            Completion { finish_reason: FinishReason::Stop, usage: Usage { prompt_tokens: 3, completion_tokens: 2 } };
        let s = stream(vec![
            Ok(ChatEvent::Delta("안녕".into())),
            Ok(ChatEvent::Delta(" hi".into())),
            Ok(ChatEvent::Done(done.clone())),
        ]);
        assert_eq!(block_on(collect(s)).unwrap(), ("안녕 hi".to_string(), done));
    }

    #[test]
    fn collect_reports_errors_and_truncated_streams() {
        let s = stream(vec![Ok(ChatEvent::Delta("x".into())), Err(Error::unavailable("server gone"))]);
        assert_eq!(block_on(collect(s)).unwrap_err(), Error::unavailable("server gone"));
        let s = stream(vec![Ok(ChatEvent::Delta("x".into()))]);
        assert!(matches!(block_on(collect(s)).unwrap_err(), Error::Internal(_)));
    }

    #[test]
    fn vector_helpers() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0; 3];
        l2_normalize(&mut zero);
        assert_eq!(zero, vec![0.0; 3]);
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 5.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
