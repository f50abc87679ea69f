//! The OpenAI-compatible API under `/v1`: any OpenAI SDK works against it
//! with `base_url=http://host:port/v1` and a pai API key.

pub mod audio;
pub mod chat;
pub mod objects;
pub mod response_object;
pub mod responses;
pub mod text_completion;
mod token_ids;
pub mod tools;

use axum::extract::State;
use base64::Engine;
use chrono::Utc;
use pai_core::EmbedKind;
use serde::Deserialize;

use objects::{Embedding, EmbeddingList, EmbeddingUsage, Model, ModelList, Vector};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Json, PathText};
use crate::state::{ModelRole, SharedState};

#[utoipa::path(get, path = "/v1/models", operation_id = "listModels", tag = "OpenAI", summary = "Models this server answers with",
    responses((status = 200, body = ModelList)))]
pub async fn models(State(state): State<SharedState>, _caller: Caller) -> axum::Json<ModelList> {
    let created = Utc::now().timestamp();
    axum::Json(ModelList {
        object: "list",
        data: model_ids(&state).iter().map(|id| model_object(id, created)).collect(),
    })
}

/// `GET /v1/models/{id}`: one model, as clients check one before using it.
#[utoipa::path(get, path = "/v1/models/{id}", operation_id = "retrieveModel", tag = "OpenAI", params(("id" = String, Path, description = "A model name")),
    summary = "One model, or 404 model_not_found", responses((status = 200, body = Model)))]
pub async fn model(
    State(state): State<SharedState>,
    _caller: Caller,
    PathText(id): PathText,
) -> ApiResult<axum::Json<Model>> {
    if !model_ids(&state).contains(&id) {
        return Err(ApiError::not_found(format!("the model `{id}` does not exist here (GET /v1/models)"))
            .code("model_not_found"));
    }
    Ok(axum::Json(model_object(&id, Utc::now().timestamp())))
}

/// Every name `/v1` answers to, each once; the speech model's only while
/// it is installed.
fn model_ids(state: &SharedState) -> Vec<String> {
    let mut roles = vec![ModelRole::Chat, ModelRole::Embedding];
    if state.speech.installed() {
        roles.push(ModelRole::Speech);
    }
    let mut ids: Vec<String> = Vec::new();
    for id in roles.into_iter().flat_map(|role| names(state, role)) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The names a model answers to: its own id, "pai", the aliases set for
/// it, and for speech "whisper-1", the name OpenAI clients send by default.
fn names(state: &SharedState, role: ModelRole) -> Vec<String> {
    let own = match role {
        ModelRole::Chat => vec![state.assistant.model.id().to_string()],
        ModelRole::Embedding => vec![state.assistant.embedder.id().to_string()],
        ModelRole::Speech => vec![state.speech.id(), "whisper-1".to_string()],
    };
    let aliases = state.settings.model_aliases.iter().filter(|(_, r)| **r == role).map(|(name, _)| name.clone());
    own.into_iter().chain(["pai".to_string()]).chain(aliases).collect()
}

/// Whether `name` is one the model in `role` answers to.
pub fn serves(state: &SharedState, role: ModelRole, name: &str) -> bool {
    names(state, role).iter().any(|n| n == name)
}

fn model_object(id: &str, created: i64) -> Model {
    Model { id: id.to_string(), object: "model", created, owned_by: "pai" }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    input: EmbedInput,
    model: String,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
    /// pai extension: "query" or "passage" (default) for asymmetric models like e5.
    #[serde(default)]
    input_type: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum EmbedInput {
    One(String),
    Many(Vec<String>),
    /// Token ids of one text, or of several (see `token_ids`).
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[utoipa::path(post, path = "/v1/embeddings", operation_id = "createEmbedding", tag = "OpenAI", request_body = EmbeddingsRequest,
    summary = "Embeddings of texts or token-id arrays (float or base64); input_type query|passage",
    responses((status = 200, body = EmbeddingList)))]
pub async fn embeddings(
    State(state): State<SharedState>,
    _caller: Caller,
    Json(body): Json<EmbeddingsRequest>,
) -> ApiResult<axum::Json<EmbeddingList>> {
    let embedder = &state.assistant.embedder;
    if !serves(&state, ModelRole::Embedding, &body.model) {
        return Err(ApiError::not_found(format!(
            "the embedding model `{}` does not exist here; use `{}`, or name it in [server.model_aliases]",
            body.model,
            embedder.id()
        ))
        .code("model_not_found")
        .param("model"));
    }
    let max = state.settings.limits.max_embedding_inputs;
    let (texts, counted) = match body.input {
        EmbedInput::One(t) => (vec![t], None),
        EmbedInput::Many(v) => (v, None),
        EmbedInput::Tokens(ids) => (vec![token_ids::decode(&body.model, &ids)?], Some(ids.len())),
        EmbedInput::TokenLists(lists) if lists.len() <= max => {
            let texts = lists.iter().map(|ids| token_ids::decode(&body.model, ids)).collect::<ApiResult<_>>()?;
            (texts, Some(lists.iter().map(Vec::len).sum()))
        }
        EmbedInput::TokenLists(_) => {
            return Err(ApiError::bad_request(format!("input takes 1 to {max} texts")).param("input"));
        }
    };
    if texts.is_empty() || texts.len() > max {
        return Err(ApiError::bad_request(format!("input takes 1 to {max} texts")).param("input"));
    }
    if texts.iter().any(|t| t.is_empty() || t.len() > pai_core::store::MAX_TEXT_BYTES) {
        return Err(ApiError::bad_request(format!(
            "each input is a non-empty text of at most {} bytes",
            pai_core::store::MAX_TEXT_BYTES
        ))
        .param("input"));
    }
    if let Some(d) = body.dimensions
        && d != embedder.dimension()
    {
        return Err(ApiError::bad_request(format!("this model gives {} dimensions only", embedder.dimension()))
            .param("dimensions"));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("encoding_format {other:?} is not float or base64"))
                .param("encoding_format"));
        }
    };
    let kind = match body.input_type.as_deref() {
        None | Some("passage") | Some("document") => EmbedKind::Passage,
        Some("query") => EmbedKind::Query,
        Some(other) => {
            return Err(
                ApiError::bad_request(format!("input_type {other:?} is not query or passage")).param("input_type")
            );
        }
    };
    // The client's own count for token ids, else estimated (a token per 4
    // bytes): the embedder does not report its count.
    let tokens: usize = counted.unwrap_or_else(|| texts.iter().map(|t| t.len().div_ceil(4)).sum());
    let vectors = embedder.embed(texts, kind).await?;
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Vector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Vector::Float(v)
            };
            Embedding { object: "embedding", index, embedding }
        })
        .collect();
    Ok(axum::Json(EmbeddingList {
        object: "list",
        data,
        model: embedder.id().to_string(),
        usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
    }))
}
