//! Local chat generation: prompt templating, prompt-prefix reuse, sampling
//! under an optional grammar, and streaming of whole characters.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use pai_core::{
    ChatEvent, ChatModel, ChatRequest, ChatStream, Completion, Constraint, Error, FinishReason, Message, Sampling,
    Usage,
};
use tokio::sync::mpsc;

use super::{LocalConfig, internal, load_model, model_id, spawn_worker};
use crate::gguf::ModelKind;
use crate::text_stream::{StopMatcher, Utf8Decoder};

const DEFAULT_MAX_CONTEXT: u32 = 4096;
/// Events buffered between the worker and a slow reader before the worker waits.
const EVENT_BUFFER: usize = 64;

enum Job {
    Chat(ChatJob),
    Bench { prompt_tokens: usize, generated_tokens: usize, reply: std_mpsc::Sender<Result<BenchRun, Error>> },
}

struct ChatJob {
    /// The conversation rendered through the chat template.
    prompt: String,
    sampling: Sampling,
    constraint: Option<Constraint>,
    events: mpsc::Sender<Result<ChatEvent, Error>>,
}

/// Speed of one benchmark repetition, measured on the serving context itself.
#[derive(Debug, Clone, Copy)]
pub struct BenchRun {
    /// Prompt processing (prefill), tokens per second.
    pub prompt_per_s: f64,
    /// Generation (sample, detokenize, decode one token), tokens per second.
    pub generate_per_s: f64,
}

/// A GGUF chat model running in this process. Cheap to share behind an `Arc`;
/// requests are served one at a time, in order.
pub struct LlamaChatModel {
    id: String,
    n_ctx: u32,
    model: Arc<LlamaModel>,
    template: LlamaChatTemplate,
    jobs: std_mpsc::Sender<Job>,
}

impl LlamaChatModel {
    pub fn load(path: &Path, config: &LocalConfig) -> Result<Self, Error> {
        let (model, info) = load_model(path, ModelKind::Chat)?;
        let template = choose_template(&model, config.chat_template.as_deref(), path)?;
        let n_ctx = config.context_length.unwrap_or_else(|| model.n_ctx_train().min(DEFAULT_MAX_CONTEXT)).max(16);
        let threads = config.threads();
        let params = move || {
            LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n_ctx))
                .with_n_batch(512.min(n_ctx))
                .with_n_threads(threads)
                .with_n_threads_batch(threads)
        };
        let jobs = spawn_worker(&format!("pai-chat-{}", info.architecture()), model.clone(), params, serve)?;
        Ok(LlamaChatModel { id: model_id(path), n_ctx, model, template, jobs })
    }

    /// The exact text the model sees for `messages`, ending with the opening of
    /// the assistant's turn.
    pub fn render_prompt(&self, messages: &[Message]) -> Result<String, Error> {
        render(&self.model, &self.template, messages)
    }

    /// Measures prefill of `prompt_tokens` random tokens and generation of
    /// `generated_tokens` tokens, like llama-bench's ppN and tgN tests, but
    /// through pai's own context, sampler and detokeniser.
    pub fn bench(&self, prompt_tokens: usize, generated_tokens: usize) -> Result<BenchRun, Error> {
        let (reply, rx) = std_mpsc::channel();
        self.jobs
            .send(Job::Bench { prompt_tokens, generated_tokens, reply })
            .map_err(|_| Error::internal("the inference thread has stopped"))?;
        rx.recv().map_err(|_| Error::internal("the inference thread dropped the benchmark"))?
    }

    /// Number of tokens `text` takes for this model (specials included).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model.vocab().tokenize(text.as_bytes(), true, true).len()
    }
}

impl ChatModel for LlamaChatModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn context_length(&self) -> u32 {
        self.n_ctx
    }

    fn count_tokens(&self, text: &str) -> usize {
        LlamaChatModel::count_tokens(self, text)
    }

    fn chat(&self, request: ChatRequest) -> ChatStream {
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
        let prompt = match self.render_prompt(&request.messages) {
            Ok(prompt) => prompt,
            Err(e) => return error_stream(e),
        };
        let job = ChatJob { prompt, sampling: request.sampling, constraint: request.constraint, events };
        if self.jobs.send(Job::Chat(job)).is_err() {
            return error_stream(Error::internal("the inference thread has stopped"));
        }
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) }))
    }
}

fn error_stream(e: Error) -> ChatStream {
    Box::pin(futures_util::stream::once(async move { Err(e) }))
}

/// The model's own template, a configured override, or ChatML when the file
/// has none. An override or embedded template that llama.cpp cannot apply is
/// refused at load time rather than on the first message.
fn choose_template(model: &LlamaModel, configured: Option<&str>, path: &Path) -> Result<LlamaChatTemplate, Error> {
    let template = match configured {
        Some(name) => LlamaChatTemplate::new(name).map_err(|_| Error::invalid("chat template contains a NUL byte"))?,
        None => match model.chat_template(None) {
            Ok(t) => t,
            Err(_) => {
                tracing::warn!(
                    "{} has no chat template; using ChatML. Set chat_template if answers look wrong.",
                    path.display()
                );
                LlamaChatTemplate::new("chatml").expect("static name")
            }
        },
    };
    let probe = [Message::system("s"), Message::user("u")];
    render(model, &template, &probe).map_err(|_| {
        let source = match configured {
            Some(name) => format!("the configured chat template `{name}`"),
            None => format!("the chat template inside {}", path.display()),
        };
        Error::invalid(format!(
            "{source} is not one llama.cpp knows; set chat_template (PAI_CHAT_TEMPLATE) to a built-in name such as chatml, llama3, gemma, phi3 or mistral-v7"
        ))
    })?;
    Ok(template)
}

fn render(model: &LlamaModel, template: &LlamaChatTemplate, messages: &[Message]) -> Result<String, Error> {
    let chat = messages
        .iter()
        .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::invalid("a message contains a NUL byte"))?;
    model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| Error::invalid(format!("cannot apply the chat template: {e}")))
}

fn serve(model: &LlamaModel, ctx: &mut LlamaContext, jobs: std_mpsc::Receiver<Job>) {
    let mut session = Session { model, cached: Vec::new() };
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Chat(job) => {
                let events = job.events.clone();
                if let Err(e) = session.generate(ctx, job) {
                    // The cache may hold a half-decoded prompt: start clean next time.
                    session.cached.clear();
                    ctx.clear_kv_cache();
                    let _ = events.blocking_send(Err(e));
                }
            }
            Job::Bench { prompt_tokens, generated_tokens, reply } => {
                session.cached.clear();
                let _ = reply.send(bench(model, ctx, prompt_tokens, generated_tokens));
                ctx.clear_kv_cache();
            }
        }
    }
}

/// The worker's state between requests: which tokens the KV cache holds, so a
/// follow-up turn only decodes what is new.
struct Session<'m> {
    model: &'m LlamaModel,
    cached: Vec<LlamaToken>,
}

impl Session<'_> {
    fn generate(&mut self, ctx: &mut LlamaContext, job: ChatJob) -> Result<(), Error> {
        let ChatJob { prompt, sampling, constraint, events } = job;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
        let n_ctx = ctx.n_ctx() as usize;
        if tokens.is_empty() {
            return Err(Error::invalid("the prompt is empty"));
        }
        if tokens.len() >= n_ctx {
            return Err(Error::invalid(format!(
                "the conversation is {} tokens but the model's context window is {n_ctx}; start a new conversation or shorten it, or raise context_length",
                tokens.len()
            )));
        }
        let mut sampler = build_sampler(self.model, &sampling, constraint.as_ref())?;

        // Reuse the cached prefix; at least the last prompt token must be decoded to get logits.
        let mut common = self.cached.iter().zip(&tokens).take_while(|(a, b)| a == b).count().min(tokens.len() - 1);
        if !ctx.clear_kv_cache_seq(Some(0), Some(common as u32), None).unwrap_or(false) {
            ctx.clear_kv_cache();
            common = 0;
        }
        self.cached.truncate(common);

        let n_batch = ctx.n_batch() as usize;
        let mut batch = LlamaBatch::new(n_batch, 1);
        for (chunk_start, chunk) in tokens[common..].chunks(n_batch).enumerate().map(|(i, c)| (common + i * n_batch, c))
        {
            batch.clear();
            for (i, &tok) in chunk.iter().enumerate() {
                let pos = chunk_start + i;
                batch.add(tok, pos as i32, &[0], pos == tokens.len() - 1).map_err(internal)?;
            }
            ctx.decode(&mut batch).map_err(internal)?;
            self.cached.extend_from_slice(chunk);
            if events.is_closed() {
                return Ok(());
            }
        }

        let max_new = sampling.max_tokens.map(|m| m as usize).unwrap_or(usize::MAX);
        let mut decoder = Utf8Decoder::default();
        let mut stops = StopMatcher::new(&sampling.stop);
        let mut generated = 0usize;
        let finish = loop {
            if generated >= max_new || self.cached.len() >= n_ctx {
                break FinishReason::Length;
            }
            let token = sampler.sample(ctx, batch.n_tokens() - 1);
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            generated += 1;
            let text = decoder.push(&vocab.token_to_piece(token, false, None));
            let out = stops.push(&text);
            if !out.text.is_empty() && events.blocking_send(Ok(ChatEvent::Delta(out.text))).is_err() {
                return Ok(()); // the reader hung up: cancelled
            }
            if out.stopped {
                break FinishReason::Stop;
            }
            if events.is_closed() {
                return Ok(());
            }
            batch.clear();
            batch.add(token, self.cached.len() as i32, &[0], true).map_err(internal)?;
            ctx.decode(&mut batch).map_err(internal)?;
            self.cached.push(token);
        };
        let tail = stops.push(&decoder.finish());
        let rest = if tail.stopped { tail.text } else { tail.text + &stops.finish() };
        if !rest.is_empty() {
            let _ = events.blocking_send(Ok(ChatEvent::Delta(rest)));
        }
        let usage = Usage { prompt_tokens: tokens.len() as u32, completion_tokens: generated as u32 };
        let _ = events.blocking_send(Ok(ChatEvent::Done(Completion { finish_reason: finish, usage })));
        Ok(())
    }
}

fn build_sampler(model: &LlamaModel, s: &Sampling, constraint: Option<&Constraint>) -> Result<LlamaSampler, Error> {
    let mut chain = Vec::new();
    if let Some(constraint) = constraint {
        let grammar = match constraint {
            Constraint::Grammar(g) => g.clone(),
            Constraint::JsonSchema(schema) => llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                .map_err(|e| Error::invalid(format!("the JSON schema cannot be turned into a grammar: {e}")))?,
        };
        chain.push(
            LlamaSampler::grammar(model, &grammar, "root")
                .map_err(|e| Error::invalid(format!("the grammar is not valid GBNF with a `root` rule: {e}")))?,
        );
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
        chain.push(LlamaSampler::temp(s.temperature));
        // llama.cpp treats u32::MAX as "pick a random seed".
        chain.push(LlamaSampler::dist(s.seed.map(|x| x as u32).unwrap_or(u32::MAX)));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

fn bench(model: &LlamaModel, ctx: &mut LlamaContext, pp: usize, tg: usize) -> Result<BenchRun, Error> {
    let vocab = model.vocab();
    let n_vocab = model.n_vocab().max(1) as u64;
    if pp + tg + 1 > ctx.n_ctx() as usize {
        return Err(Error::invalid(format!("pp{pp} + tg{tg} does not fit the {}-token context", ctx.n_ctx())));
    }
    // Deterministic pseudo-random token ids, as llama-bench feeds random ids.
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        LlamaToken((state % n_vocab) as i32)
    };
    let n_batch = ctx.n_batch() as usize;
    let mut batch = LlamaBatch::new(n_batch, 1);

    ctx.clear_kv_cache();
    let prompt: Vec<LlamaToken> = (0..pp).map(|_| next()).collect();
    let start = std::time::Instant::now();
    for (i, chunk) in prompt.chunks(n_batch).enumerate() {
        batch.clear();
        for (j, &tok) in chunk.iter().enumerate() {
            let pos = i * n_batch + j;
            batch.add(tok, pos as i32, &[0], pos == pp - 1).map_err(internal)?;
        }
        ctx.decode(&mut batch).map_err(internal)?;
    }
    let prompt_per_s = pp as f64 / start.elapsed().as_secs_f64();

    ctx.clear_kv_cache();
    let mut sampler = LlamaSampler::greedy();
    batch.clear();
    batch.add(next(), 0, &[0], true).map_err(internal)?;
    ctx.decode(&mut batch).map_err(internal)?;
    let mut decoder = Utf8Decoder::default();
    let start = std::time::Instant::now();
    for pos in 1..=tg {
        let token = sampler.sample(ctx, 0);
        std::hint::black_box(decoder.push(&vocab.token_to_piece(token, false, None)));
        batch.clear();
        batch.add(token, pos as i32, &[0], true).map_err(internal)?;
        ctx.decode(&mut batch).map_err(internal)?;
    }
    let generate_per_s = tg as f64 / start.elapsed().as_secs_f64();
    Ok(BenchRun { prompt_per_s, generate_per_s })
}
