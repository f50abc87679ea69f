//! Scripted stand-ins for unit tests of the code above the engine: replies and
//! vectors are deterministic, and every request is recorded for assertions.

use std::collections::VecDeque;
use std::sync::Mutex;

use pai_core::model::l2_normalize;
use pai_core::{
    ChatEvent, ChatModel, ChatRequest, ChatStream, Completion, EmbedFuture, EmbedKind, Embedder, Error, FinishReason,
    Usage,
};

use crate::text_stream::StopMatcher;

/// Answers with scripted replies, in order, streamed word by word. Honours
/// `stop` and `max_tokens` (one word = one token) like a real model.
#[derive(Default)]
pub struct FakeChatModel {
    replies: Mutex<VecDeque<Result<String, Error>>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl FakeChatModel {
    pub fn scripted<S: Into<String>>(replies: impl IntoIterator<Item = S>) -> Self {
        FakeChatModel { replies: Mutex::new(replies.into_iter().map(|r| Ok(r.into())).collect()), ..Default::default() }
    }

    /// Queues one more reply (or an error, to test failure handling).
    pub fn push(&self, reply: Result<String, Error>) {
        self.replies.lock().unwrap().push_back(reply);
    }

    /// Every request seen so far, oldest first.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }
}

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_whitespace() && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl ChatModel for FakeChatModel {
    fn id(&self) -> &str {
        "fake"
    }

    fn context_length(&self) -> u32 {
        4096
    }

    fn chat(&self, request: ChatRequest) -> ChatStream {
        let prompt_tokens = request.messages.iter().map(|m| words(&m.content).len() as u32).sum();
        self.requests.lock().unwrap().push(request.clone());
        let reply = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Err(Error::internal("the fake model has no scripted reply left")));
        let reply = match reply {
            Ok(r) => r,
            Err(e) => return Box::pin(futures_util::stream::once(async move { Err(e) })),
        };
        let max = request.sampling.max_tokens.map(|m| m as usize).unwrap_or(usize::MAX);
        let mut stops = StopMatcher::new(&request.sampling.stop).stopping_repeats(request.constraint.is_none());
        let mut events = Vec::new();
        let mut finish = FinishReason::Stop;
        let mut generated = 0;
        let all = words(&reply);
        for (i, word) in all.iter().enumerate() {
            if i == max {
                finish = FinishReason::Length;
                break;
            }
            generated += 1;
            let out = stops.push(word);
            if !out.text.is_empty() {
                events.push(Ok(ChatEvent::Delta(out.text)));
            }
            if out.stopped {
                break;
            }
        }
        let rest = stops.finish();
        if !rest.is_empty() {
            events.push(Ok(ChatEvent::Delta(rest)));
        }
        let usage = Usage { prompt_tokens, completion_tokens: generated };
        events.push(Ok(ChatEvent::Done(Completion { finish_reason: finish, usage })));
        Box::pin(futures_util::stream::iter(events))
    }
}

/// Hashes words and character trigrams into a small vector: texts that share
/// words land close together, which is enough for retrieval plumbing tests.
pub struct FakeEmbedder {
    dimension: usize,
}

impl FakeEmbedder {
    pub fn new(dimension: usize) -> Self {
        FakeEmbedder { dimension: dimension.max(1) }
    }

    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dimension];
        let lower = text.to_lowercase();
        let mut add = |feature: &str| {
            // FNV-1a: stable across runs and platforms, unlike std's hasher.
            let h = feature.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
            v[(h % self.dimension as u64) as usize] += 1.0;
        };
        for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            add(word);
            let chars: Vec<char> = word.chars().collect();
            for tri in chars.windows(3) {
                add(&tri.iter().collect::<String>());
            }
        }
        l2_normalize(&mut v);
        v
    }
}

impl Embedder for FakeEmbedder {
    fn id(&self) -> &str {
        "fake-embedder"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_input_tokens(&self) -> u32 {
        512
    }

    fn embed(&self, texts: Vec<String>, _kind: EmbedKind) -> EmbedFuture<'_> {
        let out = texts.iter().map(|t| self.vector(t)).collect();
        Box::pin(async move { Ok(out) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pai_core::model::{collect, cosine};
    use pai_core::{Message, Sampling};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn replies_in_order_and_records_requests() {
        let fake = FakeChatModel::scripted(["first answer", "second"]);
        let (a, _) = block_on(collect(fake.chat(ChatRequest::new(vec![Message::user("hi")])))).unwrap();
        let (b, _) = block_on(collect(fake.chat(ChatRequest::new(vec![Message::user("again")])))).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("first answer", "second"));
        assert_eq!(fake.requests()[1].messages[0].content, "again");
        assert!(block_on(collect(fake.chat(ChatRequest::default()))).is_err());
    }

    #[test]
    fn honours_max_tokens_and_stop() {
        let fake = FakeChatModel::scripted(["one two three four", "alpha beta END gamma"]);
        let mut req = ChatRequest::new(vec![Message::user("count")]);
        req.sampling = Sampling { max_tokens: Some(2), ..Sampling::greedy() };
        let (text, done) = block_on(collect(fake.chat(req))).unwrap();
        assert_eq!((text.as_str(), done.finish_reason), ("one two", FinishReason::Length));
        let mut req = ChatRequest::new(vec![Message::user("x")]);
        req.sampling.stop = vec!["END".into()];
        let (text, done) = block_on(collect(fake.chat(req))).unwrap();
        assert_eq!((text.as_str(), done.finish_reason), ("alpha beta ", FinishReason::Stop));
    }

    #[test]
    fn fake_embedder_is_deterministic_and_topical() {
        let e = FakeEmbedder::new(256);
        let v = block_on(e.embed(
            vec!["my daughter Jiwoo".into(), "Jiwoo is my daughter".into(), "tax forms".into()],
            EmbedKind::Passage,
        ))
        .unwrap();
        assert_eq!(v[0], e.vector("my daughter Jiwoo"));
        assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
    }
}
