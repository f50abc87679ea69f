//! The in-process backend on llama.cpp (through `llama-cpp-2`).
//!
//! llama.cpp's context borrows its model and is not `Send`, so each loaded
//! model gets one dedicated worker thread that owns its context; callers talk
//! to it over channels. The model weights themselves are loaded once and shared.

mod chat;
mod embed;
mod fair_queue;
mod prompt_cache;
mod slots;

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use pai_core::Error;

use crate::gguf::{self, GgufInfo, ModelKind};

pub use chat::{BenchRun, LlamaChatModel};
pub use embed::LlamaEmbedder;

/// Settings for loading a local model. `Default` suits a laptop.
#[derive(Debug, Clone, Default)]
pub struct LocalConfig {
    /// CPU threads for generation; default: all cores. More threads than free
    /// cores makes llama.cpp much slower, not faster.
    pub threads: Option<usize>,
    /// Context window in tokens; default: the model's training length, capped at 4096.
    pub context_length: Option<u32>,
    /// A llama.cpp built-in template name (chatml, llama3, gemma, ...) to use
    /// instead of the one in the model file.
    pub chat_template: Option<String>,
    /// CPU threads for the embedding model; default 1. Each model's worker
    /// leads its own OpenMP team, and once the teams together outnumber the
    /// cores libgomp stops spinning between parallel regions: generation then
    /// runs at half speed for the rest of the process (measured: 133 → 58
    /// tokens/s on 2 cores after the first embedding). One embedding thread
    /// keeps the chat team alone on the cores; embedding runs ~1.7x slower.
    pub embedding_threads: Option<usize>,
    /// Conversations decoded together in one batch (default 1: one at a
    /// time, right for a CLI; `pai serve` uses 4, like llama-server). Each
    /// keeps a KV cache of a whole context window, so memory grows with it.
    pub parallel: Option<usize>,
    /// RAM for the KV states of conversations pushed out of their slot, so
    /// their next turn does not decode the whole prompt again (default 1024 MiB; 0: off).
    pub prompt_cache_mib: Option<usize>,
}

impl LocalConfig {
    pub fn threads(&self) -> i32 {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        self.threads.unwrap_or(cores).max(1) as i32
    }

    pub fn parallel(&self) -> usize {
        self.parallel.unwrap_or(1).clamp(1, 64)
    }

    pub fn prompt_cache_bytes(&self) -> usize {
        self.prompt_cache_mib.unwrap_or(1024) << 20
    }

    pub fn embedding_threads(&self) -> i32 {
        self.embedding_threads.unwrap_or(1).max(1) as i32
    }
}

/// llama.cpp's global state: initialised once per process.
pub(crate) fn backend() -> Result<&'static LlamaBackend, Error> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // Route llama.cpp's chatter through `tracing` (shown with RUST_LOG=llama_cpp_2=info).
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::internal(format!("llama.cpp failed to initialise: {e}")))
}

/// Checks the file is a GGUF of the expected kind, then loads its weights.
pub(crate) fn load_model(path: &Path, want: ModelKind) -> Result<(Arc<LlamaModel>, GgufInfo), Error> {
    let info = gguf::read_info(path)?;
    let kind = info.kind();
    if kind != want {
        let example = match want {
            ModelKind::Chat => "a chat model such as SmolLM2-135M-Instruct",
            ModelKind::Embedding => "an embedding model such as multilingual-e5-small",
        };
        return Err(Error::invalid(format!(
            "{} is {} {} model (architecture {}), but this needs {example}; check which file the setting points to",
            path.display(),
            if kind == ModelKind::Embedding { "an" } else { "a" },
            kind.as_str(),
            info.architecture(),
        )));
    }
    let backend = backend()?;
    let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|e| {
        Error::invalid(format!(
            "llama.cpp could not load {} ({e}): the file is damaged or its architecture `{}` is not supported by this build; download it again",
            path.display(),
            info.architecture()
        ))
    })?;
    Ok((Arc::new(model), info))
}

/// A model identifier from its file name: `SmolLM2-135M-Instruct.Q4_1.gguf` → `SmolLM2-135M-Instruct.Q4_1`.
pub(crate) fn model_id(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "local".into())
}

/// Starts the thread that owns `model`'s context and hands it the jobs sent
/// to the returned sender. Returns once the context exists, or why it could
/// not be created. (`LlamaContextParams` is built on that thread: it is not `Send`.)
pub(crate) fn spawn_worker<J: Send + 'static>(
    name: &str,
    model: Arc<LlamaModel>,
    params: impl FnOnce() -> LlamaContextParams + Send + 'static,
    serve: impl FnOnce(&LlamaModel, &mut LlamaContext, std_mpsc::Receiver<J>) + Send + 'static,
) -> Result<std_mpsc::Sender<J>, Error> {
    let (jobs, rx) = std_mpsc::channel();
    let (ready_tx, ready_rx) = std_mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let created = backend().and_then(|b| {
                model.new_context(b, params()).map_err(|e| {
                    Error::invalid(format!(
                        "llama.cpp could not create a context ({e}); lower context_length or free some memory"
                    ))
                })
            });
            match created {
                Ok(mut ctx) => {
                    let _ = ready_tx.send(Ok(()));
                    serve(&model, &mut ctx, rx);
                }
                Err(e) => drop(ready_tx.send(Err(e))),
            }
        })
        .map_err(|e| Error::internal(format!("cannot start an inference thread: {e}")))?;
    ready_rx.recv().map_err(|_| Error::internal("an inference thread died while starting"))??;
    Ok(jobs)
}

/// llama.cpp failures mid-inference are not the caller's fault.
pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("llama.cpp: {e}"))
}
