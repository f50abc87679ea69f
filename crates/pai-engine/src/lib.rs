//! Language-model and embedding backends behind `pai_core::{ChatModel, Embedder}`:
//! llama.cpp in process, any OpenAI-compatible server, and scripted fakes.
//! Also model files: reading GGUF headers, listing and downloading them.

pub mod catalog;
pub mod fake;
pub mod gguf;
pub mod llama;
pub mod pull;
pub mod remote;
pub mod text_stream;

pub use fake::{FakeChatModel, FakeEmbedder};
pub use llama::{LlamaChatModel, LlamaEmbedder, LocalConfig};
pub use remote::{RemoteChatModel, RemoteConfig, RemoteEmbedder};

/// rustls needs one process-wide crypto provider; pai uses ring (light to build).
pub(crate) fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
