//! The local model as a server uses it: several conversations decoding in one
//! batch, a follow-up turn reusing its conversation's KV cache, and caches
//! never shared between users. Real default model (SmolLM2-135M-Instruct).

mod support;

use std::sync::{Mutex, MutexGuard, OnceLock};

use futures_util::StreamExt;
use pai_core::model::collect;
use pai_core::store::UserId;
use pai_core::{ChatEvent, ChatModel, ChatRequest, Message, PromptCacheStats, Sampling};
use pai_engine::catalog::DEFAULT_CHAT_MODEL;
use pai_engine::{LlamaChatModel, LocalConfig};

const SLOTS: usize = 4;

fn model() -> &'static LlamaChatModel {
    static MODEL: OnceLock<LlamaChatModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let config = LocalConfig { parallel: Some(SLOTS), context_length: Some(2048), ..Default::default() };
        LlamaChatModel::load(&support::model(DEFAULT_CHAT_MODEL), &config).expect("default chat model loads")
    })
}

/// The tests read the cache counters and depend on which slot holds what:
/// one at a time.
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn ask(owner: i64, messages: Vec<Message>, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages,
        sampling: Sampling { max_tokens: Some(max_tokens), ..Sampling::greedy() },
        owner: Some(UserId(owner)),
        ..Default::default()
    }
}

/// A conversation of a few hundred tokens whose wording depends on `seed`, so
/// no other test's cache matches it.
fn history(seed: &str) -> Vec<Message> {
    let mut messages = vec![Message::system(format!("You are a helpful assistant for {seed}. Answer briefly."))];
    for i in 0..6 {
        messages.push(Message::user(format!(
            "Note {i} from {seed}: the garden has {} tomato plants, {} rose bushes and a small pond with {} fish.",
            i + 3,
            i * 2 + 1,
            i + 7
        )));
        messages.push(Message::assistant(format!("Noted: {} tomatoes, {} roses, {} fish.", i + 3, i * 2 + 1, i + 7)));
    }
    messages.push(Message::user("How many fish are in the pond now?".to_string()));
    messages
}

fn stats() -> PromptCacheStats {
    model().cache_stats()
}

fn prompt_tokens(messages: &[Message]) -> u64 {
    model().count_tokens(&model().render_prompt(messages).unwrap()) as u64
}

#[test]
fn a_follow_up_turn_decodes_only_the_new_tokens() {
    let _one = exclusive();
    let mut messages = history("follow-up");
    let first_len = prompt_tokens(&messages);
    let before = stats();
    let (answer, _) = block_on(collect(model().chat(ask(1, messages.clone(), 24)))).unwrap();
    let after_first = stats();
    assert_eq!(after_first.decoded_tokens - before.decoded_tokens, first_len, "a cold prompt is decoded whole");

    messages.push(Message::assistant(answer));
    messages.push(Message::user("And how many roses?".to_string()));
    let second_len = prompt_tokens(&messages);
    let (warm, _) = block_on(collect(model().chat(ask(1, messages.clone(), 24)))).unwrap();
    let after_second = stats();
    let decoded = after_second.decoded_tokens - after_first.decoded_tokens;
    let reused = after_second.reused_tokens - after_first.reused_tokens;
    assert_eq!(decoded + reused, second_len);
    assert!(reused >= first_len, "the whole first prompt is reused: {reused} of {second_len} (first {first_len})");
    assert!(decoded < 40, "only the answer's tail and the new question are decoded: {decoded}");

    // Another user sending the very same conversation gets none of that cache,
    // and the answer computed from scratch is the same as the warm one.
    let (cold, _) = block_on(collect(model().chat(ask(2, messages, 24)))).unwrap();
    let after_other = stats();
    assert_eq!(after_other.reused_tokens, after_second.reused_tokens, "user 2 reused user 1's cache");
    assert_eq!(after_other.decoded_tokens - after_second.decoded_tokens, second_len);
    assert_eq!(cold, warm, "a reused prefix must not change the answer");
}

#[test]
fn a_conversation_pushed_out_of_its_slot_comes_back_from_ram() {
    let _one = exclusive();
    let mine = history("ram cache owner");
    let mine_len = prompt_tokens(&mine);
    let (answer, _) = block_on(collect(model().chat(ask(10, mine.clone(), 8)))).unwrap();
    // More users than slots, one after another: the least recently used slot (mine) is given away.
    for other in 0..SLOTS as i64 {
        block_on(collect(model().chat(ask(20 + other, history(&format!("stranger {other}")), 4)))).unwrap();
    }
    let before = stats();
    let mut follow_up = mine;
    follow_up.push(Message::assistant(answer));
    follow_up.push(Message::user("Thanks!".to_string()));
    block_on(collect(model().chat(ask(10, follow_up, 4)))).unwrap();
    let after = stats();
    assert_eq!(after.restored - before.restored, 1, "restored from the RAM cache");
    assert!(after.reused_tokens - before.reused_tokens >= mine_len);
    assert!(after.saved_entries > 0 && after.saved_bytes > 0);
}

#[test]
fn concurrent_answers_decode_together_and_match_their_serial_answers() {
    let _one = exclusive();
    let questions = ["Name three colors.", "What is the capital of France?", "Count to five.", "Say hello."];
    let request = |i: usize| ask(100 + i as i64, vec![Message::user(questions[i])], 24);
    let serial: Vec<String> =
        (0..questions.len()).map(|i| block_on(collect(model().chat(request(i)))).unwrap().0).collect();

    // All four at once: record the order events arrive in across the streams.
    let events: Vec<(usize, bool)> = block_on(async {
        let streams = (0..questions.len()).map(|i| model().chat(request(i)).map(move |ev| (i, ev)));
        let mut merged = futures_util::stream::select_all(streams);
        let mut order = Vec::new();
        while let Some((i, ev)) = merged.next().await {
            let done = matches!(ev.unwrap(), ChatEvent::Done(_));
            order.push((i, done));
        }
        order
    });
    let first_done = events.iter().position(|&(_, done)| done).unwrap();
    let started_before: std::collections::BTreeSet<usize> = events[..first_done].iter().map(|&(i, _)| i).collect();
    assert_eq!(started_before.len(), questions.len(), "every stream produced text before any finished: {events:?}");

    let parallel: Vec<String> = block_on(async {
        let streams: Vec<_> = (0..questions.len()).map(|i| collect(model().chat(request(i)))).collect();
        futures_util::future::join_all(streams).await.into_iter().map(|r| r.unwrap().0).collect()
    });
    assert_eq!(parallel, serial);
}

#[test]
fn one_user_alternating_two_conversations_keeps_both_caches() {
    let _one = exclusive();
    let a = history("conversation A");
    let b = history("conversation B");
    let (answer_a, _) = block_on(collect(model().chat(ask(40, a.clone(), 8)))).unwrap();
    let (answer_b, _) = block_on(collect(model().chat(ask(40, b.clone(), 8)))).unwrap();
    for (mut messages, answer) in [(a, answer_a), (b, answer_b)] {
        let len = prompt_tokens(&messages);
        messages.push(Message::assistant(answer));
        messages.push(Message::user("Thanks!".to_string()));
        let before = stats();
        block_on(collect(model().chat(ask(40, messages, 4)))).unwrap();
        let reused = stats().reused_tokens - before.reused_tokens;
        assert!(reused >= len, "the follow-up reused {reused} tokens of its {len}-token conversation");
    }
}

#[test]
fn an_answer_someone_waits_for_goes_before_background_work() {
    let _one = exclusive();
    // A long background prompt (memory extraction: several batches of
    // prefill) first, then a short chat.
    let mut long = history("background work");
    for part in 1..4 {
        long.extend(history(&format!("background work, part {part}")).into_iter().skip(1));
    }
    assert!(prompt_tokens(&long) > 1200 && prompt_tokens(&long) < 2000, "{}", prompt_tokens(&long));
    let mut background = ask(50, long, 4);
    background.background = true;
    let chat = ask(51, vec![Message::user("Say hello.")], 4);
    let order: Vec<usize> = block_on(async {
        let first = model().chat(background).map(|ev| (0, ev));
        let second = model().chat(chat).map(|ev| (1, ev));
        let mut merged = futures_util::stream::select(first, second);
        let mut order = Vec::new();
        while let Some((i, ev)) = merged.next().await {
            if matches!(ev.unwrap(), ChatEvent::Delta(_)) && !order.contains(&i) {
                order.push(i);
            }
        }
        order
    });
    assert_eq!(order, [1, 0], "the chat's first token came first");
}
