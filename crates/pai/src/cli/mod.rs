//! One module per subcommand, plus the wiring of backends from settings.

pub mod bench;
pub mod chat;
pub mod docs;
pub mod embed;
pub mod import;
pub mod mcp;
pub mod memory;
pub mod migrate;
pub mod model;
pub mod remind;
pub mod serve;
pub mod transcribe;
pub mod user;

use std::sync::Arc;

use anyhow::Context;
use pai_core::store::{Store, UserId};
use pai_core::{ChatModel, Embedder};
use pai_engine::{LlamaChatModel, LlamaEmbedder, RemoteChatModel, RemoteConfig};

use crate::config::Config;

/// The chat backend the settings ask for: a remote server when `remote_url`
/// is set, else the local GGUF model.
pub fn chat_model(config: &Config, model_override: Option<&str>) -> anyhow::Result<Arc<dyn ChatModel>> {
    if let Some(url) = &config.remote_url {
        let remote = RemoteChatModel::new(RemoteConfig {
            base_url: url.clone(),
            api_key: config.remote_api_key.clone(),
            model: config
                .remote_model
                .clone()
                .or(model_override.map(str::to_string))
                .unwrap_or_else(|| "default".into()),
            context_length: config.context_length.unwrap_or(8192),
        })?;
        return Ok(Arc::new(remote));
    }
    Ok(Arc::new(local_chat_model(config, model_override)?))
}

/// The local chat model's catalog name when pai's catalog says it speaks
/// English only (a remote model's languages are not known).
pub fn english_only_model(config: &Config, model_override: Option<&str>) -> Option<String> {
    if config.remote_url.is_some() {
        return None;
    }
    let path = config.model_path(model_override.unwrap_or(&config.chat_model));
    pai_engine::catalog::describe(&path)
        .filter(|m| m.kind == pai_engine::gguf::ModelKind::Chat && !m.korean)
        .map(|m| m.name.to_string())
}

pub fn local_chat_model(config: &Config, model_override: Option<&str>) -> anyhow::Result<LlamaChatModel> {
    let path = config.model_path(model_override.unwrap_or(&config.chat_model));
    LlamaChatModel::load(&path, &config.local()).with_context(|| format!("loading chat model {}", path.display()))
}

pub fn embedder(config: &Config, model_override: Option<&str>) -> anyhow::Result<Arc<dyn Embedder>> {
    let path = config.model_path(model_override.unwrap_or(&config.embedding_model));
    let model = LlamaEmbedder::load(&path, &config.local())
        .with_context(|| format!("loading embedding model {}", path.display()))?;
    Ok(Arc::new(model))
}

/// The user's memory: the database, the embedder that indexes it, and the
/// configured user (created on first use with the configured time zone).
pub struct Memory {
    pub store: Arc<dyn Store>,
    pub embedder: Arc<dyn Embedder>,
    pub user: UserId,
}

/// The database, opened for the embedder's vector size (the embedder comes along).
pub async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn pai_store::Backend>, Arc<dyn Embedder>)> {
    let embedder = embedder(config, None)?;
    let database = config.database()?;
    let store = database
        .open(embedder.dimension())
        .await
        .with_context(|| format!("opening the database {}", database.display()))?;
    Ok((store, embedder))
}

/// The database for account work: no embedding model is loaded.
pub async fn open_accounts(config: &Config) -> anyhow::Result<Arc<dyn pai_store::Backend>> {
    let database = config.database()?;
    database.open_for_accounts().await.with_context(|| format!("opening the database {}", database.display()))
}

pub async fn open_memory(config: &Config) -> anyhow::Result<Memory> {
    let (store, embedder) = open_store(config).await?;
    let user = match store.user_by_name(&config.user).await? {
        Some(u) => u.id,
        None => {
            let tz = config.timezone();
            pai_assistant::extract::zone(&tz)?;
            store.create_user(&config.user, &tz).await?.id
        }
    };
    Ok(Memory { store, embedder, user })
}
