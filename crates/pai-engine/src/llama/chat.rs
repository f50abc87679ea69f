//! Local chat generation: prompt templating, tokenising, and the worker
//! thread that runs the [`Batcher`] (continuous batching, prefix reuse)
//! and the engine benchmark.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use pai_core::{ChatModel, ChatRequest, ChatStream, Error, Message, PromptCacheStats};
use tokio::sync::mpsc;

use super::slots::{Batcher, ChatJob};
use super::{LocalConfig, internal, load_model, model_id, spawn_worker};
use crate::gguf::ModelKind;
use crate::text_stream::Utf8Decoder;

const DEFAULT_MAX_CONTEXT: u32 = 4096;

enum Job {
    Chat(ChatJob),
    Bench { prompt_tokens: usize, generated_tokens: usize, reply: std_mpsc::Sender<Result<BenchRun, Error>> },
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
/// up to `parallel` requests decode together, the rest wait their owner's turn.
pub struct LlamaChatModel {
    id: String,
    /// The context window of one conversation.
    n_ctx: u32,
    parallel: usize,
    model: Arc<LlamaModel>,
    template: LlamaChatTemplate,
    jobs: std_mpsc::Sender<Job>,
    /// Published by the worker at every decode, before that step's answers finish.
    cache_stats: Arc<Mutex<PromptCacheStats>>,
}

impl LlamaChatModel {
    pub fn load(path: &Path, config: &LocalConfig) -> Result<Self, Error> {
        let (model, info) = load_model(path, ModelKind::Chat)?;
        let template = choose_template(&model, config.chat_template.as_deref(), path)?;
        let n_ctx = config.context_length.unwrap_or_else(|| model.n_ctx_train().min(DEFAULT_MAX_CONTEXT)).max(16);
        let threads = config.threads();
        let parallel = config.parallel();
        let cache_bytes = config.prompt_cache_bytes();
        // One KV stream per slot (not a unified cache): attention in a slot then
        // spans only its own conversation, not every slot's cached tokens.
        let params = move || {
            LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n_ctx * parallel as u32))
                .with_n_seq_max(parallel as u32)
                .with_kv_unified(false)
                .with_n_batch(512.min(n_ctx))
                .with_n_threads(threads)
                .with_n_threads_batch(threads)
        };
        let cache_stats = Arc::new(Mutex::new(PromptCacheStats::default()));
        let shared = cache_stats.clone();
        let serve = move |model: &LlamaModel, ctx: &mut LlamaContext, jobs| {
            let batcher = Batcher::new(model, ctx, parallel, n_ctx as usize, cache_bytes, shared);
            serve(model, ctx, jobs, batcher)
        };
        let jobs = spawn_worker(&format!("pai-chat-{}", info.architecture()), model.clone(), params, serve)?;
        Ok(LlamaChatModel { id: model_id(path), n_ctx, parallel, model, template, jobs, cache_stats })
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

    /// How much prompt work the KV caches have saved so far (as of the
    /// worker's last step: a finished answer's counts are in).
    pub fn cache_stats(&self) -> PromptCacheStats {
        self.cache_stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of tokens `text` takes for this model (specials included).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model.vocab().tokenize(text.as_bytes(), true, true).len()
    }

    fn job(&self, request: ChatRequest, events: super::slots::Events) -> Result<ChatJob, Error> {
        let prompt = self.render_prompt(&request.messages)?;
        let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
        let n_ctx = self.n_ctx as usize;
        if tokens.is_empty() {
            return Err(Error::invalid("the prompt is empty"));
        }
        if tokens.len() >= n_ctx {
            return Err(Error::invalid(format!(
                "the conversation is {} tokens but the model's context window is {n_ctx}; start a new conversation or shorten it, or raise context_length",
                tokens.len()
            )));
        }
        Ok(ChatJob {
            owner: request.owner,
            background: request.background,
            prompt: tokens,
            sampling: request.sampling,
            constraint: request.constraint,
            events,
        })
    }
}

impl ChatModel for LlamaChatModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn context_length(&self) -> u32 {
        self.n_ctx
    }

    fn parallel(&self) -> usize {
        self.parallel
    }

    fn prompt_cache(&self) -> Option<PromptCacheStats> {
        Some(self.cache_stats())
    }

    fn count_tokens(&self, text: &str) -> usize {
        LlamaChatModel::count_tokens(self, text)
    }

    fn chat(&self, request: ChatRequest) -> ChatStream {
        // Unbounded: the worker decodes for several readers in one loop and
        // must never wait for a slow one (a stream holds at most max_tokens events).
        let (events, rx) = mpsc::unbounded_channel();
        let job = match self.job(request, events) {
            Ok(job) => job,
            Err(e) => return error_stream(e),
        };
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
    // Stores refuse NUL now, but text stored before they did must not make
    // every later prompt that recalls it fail: llama.cpp's strings end at a
    // NUL, so it is dropped here.
    let chat = messages
        .iter()
        .map(|m| {
            let content = if m.content.contains('\0') {
                tracing::warn!("a NUL character was dropped from a prompt message");
                m.content.replace('\0', "")
            } else {
                m.content.clone()
            };
            LlamaChatMessage::new(m.role.as_str().to_string(), content)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::internal("a prompt message still contains a NUL byte"))?;
    model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| Error::invalid(format!("cannot apply the chat template: {e}")))
}

fn serve(model: &LlamaModel, ctx: &mut LlamaContext, jobs: std_mpsc::Receiver<Job>, mut batcher: Batcher<'_>) {
    let mut batch = LlamaBatch::new(ctx.n_batch() as usize, 1);
    let mut benches = Vec::new();
    let mut open = true;
    while open || batcher.busy() {
        let idle = !batcher.busy() && benches.is_empty();
        let mut accept = |job| match job {
            Job::Chat(job) => batcher.submit(job),
            Job::Bench { prompt_tokens, generated_tokens, reply } => {
                benches.push((prompt_tokens, generated_tokens, reply))
            }
        };
        if idle {
            match jobs.recv() {
                Ok(job) => accept(job),
                Err(_) => return,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(job) => accept(job),
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !benches.is_empty() {
            // A benchmark needs the context alone: no new admissions until running answers finish.
            if !batcher.running() {
                for (pp, tg, reply) in benches.drain(..) {
                    let _ = reply.send(bench(model, ctx, pp, tg, batcher.n_ctx_seq()));
                }
                ctx.clear_kv_cache();
                batcher.forget_slots();
                continue;
            }
            batcher.step(ctx, &mut batch, false);
        } else {
            batcher.step(ctx, &mut batch, true);
        }
    }
}

fn bench(model: &LlamaModel, ctx: &mut LlamaContext, pp: usize, tg: usize, n_ctx: usize) -> Result<BenchRun, Error> {
    let vocab = model.vocab();
    let n_vocab = model.n_vocab().max(1) as u64;
    if pp + tg + 1 > n_ctx {
        return Err(Error::invalid(format!("pp{pp} + tg{tg} does not fit the {n_ctx}-token context")));
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
