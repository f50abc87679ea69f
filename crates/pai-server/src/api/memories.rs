//! What pai knows about the caller: list, add, show (with sources, history
//! and decisions), edit, delete, delete all, search, export, recall, and the
//! extraction jobs behind it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use pai_assistant::index::embed_pending;
use pai_assistant::recall::{RecalledKind, recall};
use pai_core::store::{JobId, JobState, MemoryId, MemoryKind, NewMemory};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json, Query};
use crate::state::SharedState;

/// Most items one search or recall returns.
const MAX_K: usize = 100;

/// Most memories one page holds.
const MAX_PAGE: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    history: bool,
    /// Page size (default 100).
    #[serde(default)]
    limit: Option<usize>,
    /// Only memories older than this id: the previous page's `next_before`.
    #[serde(default)]
    before: Option<i64>,
}

/// Newest first, a page at a time: `{"data": [...], "next_before": id or null}`.
pub async fn list(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!("limit must be between 1 and {MAX_PAGE}")).param("limit"));
    }
    // One more than asked tells whether another page follows.
    let mut page = state.store.memories_page(caller.user.id, q.history, q.before.map(MemoryId), limit + 1).await?;
    let next = (page.len() > limit).then(|| {
        page.truncate(limit);
        page.last().map(|m| m.id)
    });
    Ok(axum::Json(json!({"data": page, "next_before": next.flatten()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMemoryBody {
    text: String,
    #[serde(default)]
    kind: Option<MemoryKind>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    importance: Option<f32>,
}

/// Reindexes the caller's new or edited items so they are found by meaning at once.
async fn reindex(state: &SharedState, caller: &Caller) {
    if let Err(e) = embed_pending(&*state.store, &*state.assistant.embedder, caller.user.id, 64).await {
        tracing::warn!(error = %e, "embedding failed; the item is found by words until the next try");
    }
}

pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewMemoryBody>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let importance = body.importance.unwrap_or(0.7);
    if !(0.0..=1.0).contains(&importance) {
        return Err(ApiError::bad_request("importance must be between 0 and 1").param("importance"));
    }
    let memory = NewMemory {
        text: body.text,
        kind: body.kind.unwrap_or(MemoryKind::Fact),
        subject: body.subject,
        importance,
        valid_from: None,
        sources: Vec::new(),
    };
    let m = state.store.add_memory(caller.user.id, memory).await?;
    reindex(&state, &caller).await;
    Ok((StatusCode::CREATED, axum::Json(json!(m))))
}

pub async fn get(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!(pai_assistant::export::details(&*state.store, caller.user.id, MemoryId(id)).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    text: String,
}

pub async fn edit(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
    Json(body): Json<Edit>,
) -> ApiResult<axum::Json<Value>> {
    let m = state.store.update_memory(caller.user.id, MemoryId(id), &body.text, &[]).await?;
    reindex(&state, &caller).await;
    Ok(axum::Json(json!(m)))
}

pub async fn delete(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_memory(caller.user.id, MemoryId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAll {
    #[serde(default)]
    all: bool,
}

pub async fn delete_all(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<DeleteAll>,
) -> ApiResult<axum::Json<Value>> {
    if !q.all {
        return Err(ApiError::bad_request("to delete every memory, say so: DELETE /api/memories?all=true"));
    }
    Ok(axum::Json(json!({"deleted": state.store.delete_all_memories(caller.user.id).await?})))
}

pub async fn export(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(pai_assistant::export::export(&*state.store, caller.user.id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    q: String,
    #[serde(default)]
    k: Option<usize>,
}

fn check_query(query: &str, k: Option<usize>) -> ApiResult<usize> {
    if query.trim().is_empty() || query.len() > 4096 {
        return Err(ApiError::bad_request("the query must be 1 to 4096 bytes").param("query"));
    }
    let k = k.unwrap_or(10);
    if k == 0 || k > MAX_K {
        return Err(ApiError::bad_request(format!("k must be between 1 and {MAX_K}")).param("k"));
    }
    Ok(k)
}

/// Memories only, best first, by words and meaning.
pub async fn search(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<Search>,
) -> ApiResult<axum::Json<Value>> {
    let k = check_query(&q.q, q.k)?;
    let mut hits = recall(&*state.store, &*state.assistant.embedder, caller.user.id, &q.q, k * 2, Utc::now()).await?;
    hits.retain(|h| h.kind == RecalledKind::Memory);
    hits.truncate(k);
    Ok(axum::Json(json!({"data": hits})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallBody {
    query: String,
    #[serde(default)]
    k: Option<usize>,
}

/// Memories and messages, as a prompt would get them, each with provenance.
pub async fn recall_items(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<RecallBody>,
) -> ApiResult<axum::Json<Value>> {
    let k = check_query(&body.query, body.k)?;
    let hits = recall(&*state.store, &*state.assistant.embedder, caller.user.id, &body.query, k, Utc::now()).await?;
    Ok(axum::Json(json!({"data": hits})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    #[serde(default)]
    state: Option<String>,
}

pub async fn jobs(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<JobsQuery>,
) -> ApiResult<axum::Json<Value>> {
    let filter =
        match q.state.as_deref() {
            None => None,
            Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                ApiError::bad_request("state is one of pending, running, done, failed").param("state")
            })?),
        };
    Ok(axum::Json(json!({"data": state.store.extraction_jobs(caller.user.id, filter).await?})))
}

pub async fn retry_job(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Value>> {
    let job = state.store.retry_extraction_job(caller.user.id, JobId(id)).await?;
    state.assistant.extractor.wake();
    Ok(axum::Json(json!(job)))
}
