//! The chat worker's batcher: continuous batching over a few decoding slots,
//! each with the KV cache of the conversation it last served.
//!
//! Every step builds one llama.cpp batch holding the next token of every slot
//! that is generating plus as much of the waiting prompts as still fits, so a
//! new request joins at the next step and a finished one leaves without
//! stopping the others. Waiting requests are admitted round-robin by owner,
//! answers someone waits for before background work (memory extraction), and
//! their prompts get the batch's room first.
//!
//! Prefix reuse: a slot keeps the tokens of its last conversation after the
//! answer, and a request is placed in the free slot of the same owner that
//! shares the longest prefix with its prompt, so a follow-up turn only decodes
//! what is new. When a slot must be given to other work, its state is first
//! saved to the RAM [`PromptCache`] (if it would lose much), from which the
//! owner's next turn restores it. Nothing is ever reused across owners.

use std::sync::{Arc, Mutex};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LlamaStateSeqFlags, SeqState};
use pai_core::store::UserId;
use pai_core::{ChatEvent, Completion, Constraint, Error, FinishReason, PromptCacheStats, Sampling, Usage};
use tokio::sync::mpsc;

use super::fair_queue::FairQueue;
use super::internal;
use super::prompt_cache::{PromptCache, common_prefix};
use crate::text_stream::{StopMatcher, Utf8Decoder};

/// Below this many tokens a slot's content is not worth saving before reuse:
/// decoding it again costs about as much as the copy.
const SAVE_AT_LEAST: usize = 64;

pub(super) type Events = mpsc::UnboundedSender<Result<ChatEvent, Error>>;

/// A generation request, tokenised by the caller.
pub(super) struct ChatJob {
    pub owner: Option<UserId>,
    pub background: bool,
    pub prompt: Vec<LlamaToken>,
    pub sampling: Sampling,
    pub constraint: Option<Constraint>,
    pub events: Events,
}

struct Slot {
    seq: i32,
    owner: Option<UserId>,
    /// The tokens whose keys and values the slot's sequence holds, from position 0.
    tokens: Vec<LlamaToken>,
    used_at: u64,
    run: Option<Run>,
}

/// A generation in progress in a slot.
struct Run {
    background: bool,
    prompt: Vec<LlamaToken>,
    sampler: LlamaSampler,
    events: Events,
    max_new: usize,
    generated: usize,
    decoder: Utf8Decoder,
    stops: StopMatcher,
    /// Sampled and sent, to be decoded in the next batch.
    pending: Option<LlamaToken>,
    /// Index of this slot's logits in the batch just decoded.
    logits_at: Option<i32>,
}

pub(super) struct Batcher<'m> {
    model: &'m LlamaModel,
    /// Most tokens one sequence may hold (the context window a caller sees).
    n_ctx_seq: usize,
    n_batch: usize,
    slots: Vec<Slot>,
    waiting: FairQueue<Option<UserId>, ChatJob>,
    /// Background requests: admitted only when no one is waiting in `waiting`.
    waiting_background: FairQueue<Option<UserId>, ChatJob>,
    cache: PromptCache<Option<UserId>, LlamaToken, SeqState>,
    clock: u64,
    stats: PromptCacheStats,
    /// A copy of `stats()` for readers on other threads, refreshed every step.
    shared: Arc<Mutex<PromptCacheStats>>,
}

impl<'m> Batcher<'m> {
    /// `n_ctx_seq`: the context window one conversation may fill.
    pub fn new(
        model: &'m LlamaModel,
        ctx: &LlamaContext,
        parallel: usize,
        n_ctx_seq: usize,
        cache_bytes: usize,
        shared: Arc<Mutex<PromptCacheStats>>,
    ) -> Self {
        let slots = (0..parallel)
            .map(|seq| Slot { seq: seq as i32, owner: None, tokens: Vec::new(), used_at: 0, run: None })
            .collect();
        Batcher {
            model,
            // llama.cpp may round the context up, never down.
            n_ctx_seq: n_ctx_seq.min(ctx.n_ctx() as usize / parallel),
            n_batch: ctx.n_batch() as usize,
            slots,
            waiting: FairQueue::new(),
            waiting_background: FairQueue::new(),
            cache: PromptCache::new(cache_bytes),
            clock: 0,
            stats: PromptCacheStats::default(),
            shared,
        }
    }

    pub fn submit(&mut self, job: ChatJob) {
        if job.background {
            self.waiting_background.push(job.owner, job);
        } else {
            self.waiting.push(job.owner, job);
        }
    }

    /// Whether anything is generating or waiting.
    pub fn busy(&self) -> bool {
        !self.waiting.is_empty() || !self.waiting_background.is_empty() || self.running()
    }

    /// Whether any slot is generating.
    pub fn running(&self) -> bool {
        self.slots.iter().any(|s| s.run.is_some())
    }

    pub fn n_ctx_seq(&self) -> usize {
        self.n_ctx_seq
    }

    pub fn stats(&self) -> PromptCacheStats {
        PromptCacheStats { saved_entries: self.cache.len(), saved_bytes: self.cache.bytes(), ..self.stats.clone() }
    }

    /// Forgets what every slot holds (after something else used the context).
    pub fn forget_slots(&mut self) {
        for slot in &mut self.slots {
            slot.tokens.clear();
        }
    }

    /// One round: drop cancelled work, admit waiting requests into free slots
    /// (when `admit`), decode one batch, sample and stream the next token of
    /// every slot that got logits.
    pub fn step(&mut self, ctx: &mut LlamaContext, batch: &mut LlamaBatch, admit: bool) {
        for slot in &mut self.slots {
            if slot.run.as_ref().is_some_and(|r| r.events.is_closed()) {
                slot.run = None; // the reader hung up: cancelled
            }
        }
        self.waiting.retain(|job| !job.events.is_closed());
        self.waiting_background.retain(|job| !job.events.is_closed());
        while admit && self.slots.iter().any(|s| s.run.is_none()) {
            let Some((_, job)) = self.waiting.pop().or_else(|| self.waiting_background.pop()) else { break };
            self.admit(ctx, job);
        }
        if self.slots.iter().all(|s| s.run.is_none()) {
            return;
        }

        batch.clear();
        // Generating slots first (one token each), then prompt chunks in the room left.
        // (slot, tokens it put in the batch): a pending token, or the next prompt chunk.
        let mut added: Vec<(usize, usize)> = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(run) = slot.run.as_mut() else { continue };
            run.logits_at = None;
            if let Some(token) = run.pending {
                run.logits_at = Some(batch.n_tokens());
                if let Err(e) = batch.add(token, slot.tokens.len() as i32, &[slot.seq], true) {
                    fail(slot, internal(e));
                    continue;
                }
                added.push((i, 1));
            }
        }
        let mut prefilling: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].run.as_ref().is_some_and(|r| r.pending.is_none()))
            .collect();
        prefilling.sort_by_key(|&i| self.slots[i].run.as_ref().is_some_and(|r| r.background));
        for i in prefilling {
            let room = self.n_batch.saturating_sub(batch.n_tokens() as usize);
            let slot = &mut self.slots[i];
            let Some(run) = slot.run.as_mut() else { continue };
            if room == 0 {
                break;
            }
            let start = slot.tokens.len();
            let chunk = &run.prompt[start..run.prompt.len().min(start + room)];
            let last = run.prompt.len() - 1;
            for (j, &token) in chunk.iter().enumerate() {
                let pos = start + j;
                if pos == last {
                    run.logits_at = Some(batch.n_tokens());
                }
                batch.add(token, pos as i32, &[slot.seq], pos == last).expect("the batch has room");
            }
            self.stats.decoded_tokens += chunk.len() as u64;
            added.push((i, chunk.len()));
        }
        if added.is_empty() {
            return;
        }

        // Before any answer of this step finishes: a caller that has its
        // answer sees the counts that include it.
        self.publish();
        if let Err(e) = ctx.decode(batch) {
            // The batch's sequences may be half-written: clear them and fail their requests.
            for (i, _) in added {
                let slot = &mut self.slots[i];
                let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
                fail(slot, internal(&e));
            }
            return;
        }
        for (i, n) in added {
            let slot = &mut self.slots[i];
            let run = slot.run.as_mut().expect("a slot in the batch is running");
            match run.pending.take() {
                Some(token) => slot.tokens.push(token),
                None => {
                    let start = slot.tokens.len();
                    slot.tokens.extend_from_slice(&run.prompt[start..start + n]);
                }
            }
        }

        self.clock += 1;
        for slot in &mut self.slots {
            let Some(run) = slot.run.as_mut() else { continue };
            let Some(at) = run.logits_at else { continue };
            slot.used_at = self.clock;
            if let Some(finish) = advance(self.model, ctx, run, at, slot.tokens.len(), self.n_ctx_seq) {
                let run = slot.run.take().expect("running");
                finish_run(run, finish);
            }
        }
    }

    /// Places a request in a slot: the owner's slot or saved state sharing the
    /// longest prefix with the prompt, else an empty or least recently used slot.
    fn admit(&mut self, ctx: &mut LlamaContext, job: ChatJob) {
        let sampler = match build_sampler(self.model, &job.sampling, job.constraint.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                let _ = job.events.send(Err(e));
                return;
            }
        };
        let owner = job.owner;
        let prompt = job.prompt;
        let free: Vec<usize> = (0..self.slots.len()).filter(|&i| self.slots[i].run.is_none()).collect();
        let in_slot = free
            .iter()
            .filter(|&&i| self.slots[i].owner == owner)
            .map(|&i| (i, common_prefix(&self.slots[i].tokens, &prompt)))
            .max_by_key(|&(_, n)| n)
            .unwrap_or((free[0], 0));
        let saved = self.cache.best(&owner, &prompt);

        let index = match saved {
            Some((entry, n)) if n > in_slot.1 + SAVE_AT_LEAST => {
                // Taken before the eviction: saving the evicted slot puts into
                // the cache and may remove entries, which moved `entry` (the
                // chat worker panicked on the stale index, and every later
                // answer failed; bench/grounded.sh reached it).
                let entry = self.cache.take(entry);
                let index = self.victim(&free);
                self.evict(ctx, index);
                let slot = &mut self.slots[index];
                if ctx.state_seq_set(&entry.state, slot.seq).is_ok() {
                    slot.tokens = entry.tokens;
                    self.stats.restored += 1;
                } else {
                    tracing::warn!("a saved prompt state could not be restored; decoding it again");
                    let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
                }
                index
            }
            // The owner's slot, unless that would cut away most of another of
            // their conversations while an empty slot is free.
            _ if in_slot.1 > 0
                && (in_slot.1 * 2 >= self.slots[in_slot.0].tokens.len()
                    || free.iter().all(|&i| !self.slots[i].tokens.is_empty())) =>
            {
                in_slot.0
            }
            _ => {
                let index = self.victim(&free);
                self.evict(ctx, index);
                index
            }
        };

        // At least the last prompt token is decoded again: its logits start the answer.
        let keep = common_prefix(&self.slots[index].tokens, &prompt).min(prompt.len() - 1);
        self.save_if_losing(ctx, index, keep);
        let slot = &mut self.slots[index];
        let keep = if ctx.clear_kv_cache_seq(Some(slot.seq as u32), Some(keep as u32), None).unwrap_or(false) {
            keep
        } else {
            // Models whose cache cannot be cut mid-sequence (recurrent ones) start over.
            let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
            0
        };
        slot.tokens.truncate(keep);
        slot.owner = owner;
        self.stats.reused_tokens += keep as u64;
        self.clock += 1;
        slot.used_at = self.clock;
        slot.run = Some(Run {
            background: job.background,
            max_new: job.sampling.max_tokens.map(|m| m as usize).unwrap_or(usize::MAX),
            // Free text stops at a sentence said a second time; structured output may repeat.
            stops: StopMatcher::new(&job.sampling.stop).stopping_repeats(job.constraint.is_none()),
            prompt,
            sampler,
            events: job.events,
            generated: 0,
            decoder: Utf8Decoder::default(),
            pending: None,
            logits_at: None,
        });
    }

    fn publish(&self) {
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = self.stats();
    }

    /// The free slot to give away: an empty one, else the least recently used.
    fn victim(&self, free: &[usize]) -> usize {
        *free.iter().min_by_key(|&&i| (!self.slots[i].tokens.is_empty(), self.slots[i].used_at)).expect("a free slot")
    }

    /// Saves a slot's conversation to the RAM cache (when worth it) and empties the slot.
    fn evict(&mut self, ctx: &mut LlamaContext, index: usize) {
        self.save_if_losing(ctx, index, 0);
        let slot = &mut self.slots[index];
        let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
        slot.tokens.clear();
    }

    /// Saves the slot's whole conversation to the RAM cache when cutting it to
    /// `keep` tokens would throw away enough to be worth the copy.
    fn save_if_losing(&mut self, ctx: &LlamaContext, index: usize, keep: usize) {
        let slot = &self.slots[index];
        if slot.tokens.len() - keep < SAVE_AT_LEAST || !self.cache.enabled() {
            return;
        }
        match ctx.state_seq_get(slot.seq, LlamaStateSeqFlags::empty()) {
            Ok(state) => {
                let bytes = state.byte_len();
                self.cache.put(slot.owner, slot.tokens.clone(), state, bytes);
            }
            Err(e) => tracing::warn!("could not save a prompt state: {e}"),
        }
    }
}

fn fail(slot: &mut Slot, e: Error) {
    if let Some(run) = slot.run.take() {
        let _ = run.events.send(Err(e));
    }
    slot.tokens.clear();
}

/// Samples the next token from the logits at `at`, streams its text, and
/// says why the generation ends, if it does. `in_cache` tokens of the
/// sequence are decoded; the sampled token is decoded in the next batch.
fn advance(
    model: &LlamaModel,
    ctx: &LlamaContext,
    run: &mut Run,
    at: i32,
    in_cache: usize,
    n_ctx_seq: usize,
) -> Option<FinishReason> {
    if run.generated >= run.max_new || in_cache >= n_ctx_seq {
        return Some(FinishReason::Length);
    }
    let vocab = model.vocab();
    let token = run.sampler.sample(ctx, at);
    if vocab.is_eog(token) {
        return Some(FinishReason::Stop);
    }
    run.generated += 1;
    let text = run.decoder.push(&vocab.token_to_piece(token, false, None));
    let out = run.stops.push(&text);
    if !out.text.is_empty() && run.events.send(Ok(ChatEvent::Delta(out.text))).is_err() {
        return Some(FinishReason::Stop); // hung up; finishing sends into a closed channel, harmlessly
    }
    if out.stopped {
        return Some(FinishReason::Stop);
    }
    run.pending = Some(token);
    None
}

fn finish_run(mut run: Run, finish: FinishReason) {
    run.decoder.finish();
    let rest = run.stops.finish();
    if !rest.is_empty() {
        let _ = run.events.send(Ok(ChatEvent::Delta(rest)));
    }
    let usage = Usage { prompt_tokens: run.prompt.len() as u32, completion_tokens: run.generated as u32 };
    let _ = run.events.send(Ok(ChatEvent::Done(Completion { finish_reason: finish, usage })));
}

/// The local engine's sampling defaults where a request leaves them open:
/// llama.cpp's own min-p, and repetition control on by default (llama.cpp's
/// classic 1.1 over the last 64 tokens, and DRY with the values its authors
/// recommend), because a small model left alone repeats a paragraph until
/// the token limit.
const MIN_P: f32 = 0.05;
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_LAST_N: i32 = 64;
const DRY_MULTIPLIER: f32 = 0.8;
const DRY_BASE: f32 = 1.75;
const DRY_ALLOWED_LENGTH: i32 = 2;
const DRY_LAST_N: i32 = 512;
const DRY_BREAKERS: [&str; 4] = ["\n", ":", "\"", "*"];

/// llama.cpp's schema grammars allow up to two newlines and twenty spaces
/// between any two JSON tokens; a small model spends its tokens there (pretty
/// printing) until the JSON is cut at `max_tokens`. At most one space keeps
/// the tokens the model knows (`{"`, `{ "`, `": `) and leaves nothing to
/// wander in.
fn compact(grammar: String) -> String {
    grammar
        .lines()
        .map(|line| if line.starts_with("space ::=") { r#"space ::= " "?"# } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

fn schema_grammar(schema: &serde_json::Value) -> Result<String, Error> {
    llama_cpp_2::json_schema_to_grammar(&schema.to_string())
        .map(compact)
        .map_err(|e| Error::invalid(format!("the JSON schema cannot be turned into a grammar: {e}")))
}

/// llama.cpp turns a `pattern` it cannot express (not anchored with `^…$`,
/// lookarounds, backreferences, `\b`…) into "any string" with only a warning
/// on stderr; the client would get output that breaks its own schema. Each
/// pattern is converted alone first: the fallback is the only way a `string`
/// rule appears in a one-string schema's grammar.
fn refuse_unsupported_patterns(schema: &serde_json::Value) -> Result<(), Error> {
    let mut patterns = Vec::new();
    collect_patterns(schema, &mut patterns);
    for pattern in patterns {
        let alone = schema_grammar(&serde_json::json!({"type": "string", "pattern": pattern}))?;
        if alone.lines().any(|line| line.starts_with("string ::=")) {
            return Err(Error::invalid(format!(
                "the JSON schema's pattern {pattern:?} is not supported here: the local model's grammar takes \
                 patterns anchored with ^ and $ made of literals, character classes, groups, alternation and \
                 the quantifiers ? * + {{m,n}} (write [0-9] for \\d)"
            )));
        }
    }
    Ok(())
}

fn collect_patterns<'a>(schema: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match schema {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("pattern", serde_json::Value::String(p)) => out.push(p),
                    _ => collect_patterns(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

pub(super) fn build_sampler(
    model: &LlamaModel,
    s: &Sampling,
    constraint: Option<&Constraint>,
) -> Result<LlamaSampler, Error> {
    let mut chain = Vec::new();
    if let Some(constraint) = constraint {
        let grammar = match constraint {
            Constraint::Grammar(g) => g.clone(),
            Constraint::JsonSchema(schema) => {
                refuse_unsupported_patterns(schema)?;
                schema_grammar(schema)?
            }
        };
        chain.push(
            LlamaSampler::grammar(model, &grammar, "root")
                .map_err(|e| Error::invalid(format!("the grammar is not valid GBNF with a `root` rule: {e}")))?,
        );
    }
    if constraint.is_none() {
        // Repetition control, for free text only: under a grammar a JSON key
        // or a schema's words must come again.
        let repeat = s.repeat_penalty.unwrap_or(REPEAT_PENALTY);
        let (frequency, presence) = (s.frequency_penalty.unwrap_or(0.0), s.presence_penalty.unwrap_or(0.0));
        if repeat != 1.0 || frequency != 0.0 || presence != 0.0 {
            chain.push(LlamaSampler::penalties(model.n_vocab(), REPEAT_LAST_N, repeat, frequency, presence));
        }
        let dry = s.dry_multiplier.unwrap_or(DRY_MULTIPLIER);
        if dry > 0.0 {
            chain.push(LlamaSampler::dry(model, dry, DRY_BASE, DRY_ALLOWED_LENGTH, DRY_LAST_N, DRY_BREAKERS));
        }
    }
    if s.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(s.top_k as i32));
        }
        if s.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(s.top_p, 1));
        }
        let min_p = s.min_p.unwrap_or(MIN_P);
        if min_p > 0.0 {
            chain.push(LlamaSampler::min_p(min_p, 1));
        }
        chain.push(LlamaSampler::temp(s.temperature));
        // llama.cpp treats u32::MAX as "pick a random seed".
        chain.push(LlamaSampler::dist(s.seed.map(|x| x as u32).unwrap_or(u32::MAX)));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

#[cfg(test)]
mod tests {
    use super::{compact, refuse_unsupported_patterns};

    #[test]
    fn patterns_the_grammar_cannot_express_are_refused_not_dropped() {
        let with =
            |p: &str| serde_json::json!({"type": "object", "properties": {"code": {"type": "string", "pattern": p}}});
        for unsupported in [r"[0-9]{4}", r"^\d{4}$", r"^(?=a)b$", r"^\bword$"] {
            let err = refuse_unsupported_patterns(&with(unsupported)).unwrap_err();
            assert!(err.to_string().contains("not supported"), "{unsupported}: {err}");
        }
        for supported in [r"^[0-9]{4}-[A-Z]+$", r"^(ab|cd)*$", "^.+$"] {
            refuse_unsupported_patterns(&with(supported)).unwrap_or_else(|e| panic!("{supported}: {e}"));
        }
        // A property named "pattern" is not a pattern.
        let named = serde_json::json!({"type": "object", "properties": {"pattern": {"type": "string"}}});
        refuse_unsupported_patterns(&named).unwrap();
    }

    #[test]
    fn schema_grammars_leave_no_room_for_free_whitespace() {
        let schema = r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
        let raw = llama_cpp_2::json_schema_to_grammar(schema).unwrap();
        assert!(raw.contains(r#""\n"{1,2}"#), "llama.cpp's rule changed: {raw}");
        let g = compact(raw);
        assert!(g.lines().any(|l| l == r#"space ::= " "?"#), "{g}");
        assert!(!g.contains(r#""\n"{1,2}"#), "{g}");
    }
}
