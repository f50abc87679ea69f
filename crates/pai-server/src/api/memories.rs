//! What pai knows about the caller: list, add, show (with sources, history
//! and decisions), edit, delete, delete all, search, export, recall, and the
//! extraction jobs behind it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use pai_assistant::export::MemoryDetails;
use pai_assistant::index::embed_pending;
use pai_assistant::recall::Recalled;
use pai_assistant::recall::{RecalledKind, recall};
use pai_core::store::{ExtractionJob, JobId, JobState, Memory, MemoryId, MemoryKind, NewMemory};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::api::List;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json, Query};
use crate::state::SharedState;

/// Most items one search or recall returns.
const MAX_K: usize = 100;

/// Most memories one page holds.
const MAX_PAGE: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Also the memories newer ones replaced.
    #[serde(default)]
    history: bool,
    /// Page size (default 100).
    #[serde(default)]
    limit: Option<usize>,
    /// Only memories older than this id: the previous page's `next_before`.
    #[serde(default)]
    before: Option<i64>,
}

/// A page of memories, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryPage {
    pub data: Vec<Memory>,
    /// `before` for the next page; null on the last.
    pub next_before: Option<MemoryId>,
}

#[utoipa::path(get, path = "/api/memories", operation_id = "listMemories", tag = "Memories", params(ListQuery),
    summary = "Current memories, newest first, a page at a time",
    description = "`?limit=100&before=<next_before>`; `?history=true` adds superseded ones.",
    responses((status = 200, body = MemoryPage)))]
pub async fn list(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<MemoryPage>> {
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
    Ok(axum::Json(MemoryPage { data: page, next_before: next.flatten() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemoryBody {
    text: String,
    /// Default: fact.
    #[serde(default)]
    kind: Option<MemoryKind>,
    /// Who or what it is about ("daughter", "home city").
    #[serde(default)]
    subject: Option<String>,
    /// 0 to 1; default 0.7.
    #[serde(default)]
    importance: Option<f32>,
}

/// Reindexes the caller's new or edited items so they are found by meaning at once.
async fn reindex(state: &SharedState, caller: &Caller) {
    if let Err(e) = embed_pending(&*state.store, &*state.assistant.embedder, caller.user.id, 64).await {
        tracing::warn!(error = %e, "embedding failed; the item is found by words until the next try");
    }
}

#[utoipa::path(post, path = "/api/memories", operation_id = "createMemory", tag = "Memories", request_body = NewMemoryBody,
    summary = "Add a memory by hand", responses((status = 201, body = Memory)))]
pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewMemoryBody>,
) -> ApiResult<(StatusCode, axum::Json<Memory>)> {
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
    Ok((StatusCode::CREATED, axum::Json(m)))
}

#[utoipa::path(get, path = "/api/memories/{id}", operation_id = "getMemory", tag = "Memories", params(Id),
    summary = "A memory with its history, source messages and decisions",
    responses((status = 200, body = MemoryDetails)))]
pub async fn get(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<MemoryDetails>> {
    Ok(axum::Json(pai_assistant::export::details(&*state.store, caller.user.id, MemoryId(id)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    text: String,
}

#[utoipa::path(patch, path = "/api/memories/{id}", operation_id = "editMemory", tag = "Memories", params(Id), request_body = Edit,
    summary = "Edit a memory's text", responses((status = 200, body = Memory)))]
pub async fn edit(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
    Json(body): Json<Edit>,
) -> ApiResult<axum::Json<Memory>> {
    let m = state.store.update_memory(caller.user.id, MemoryId(id), &body.text, &[]).await?;
    reindex(&state, &caller).await;
    Ok(axum::Json(m))
}

#[utoipa::path(delete, path = "/api/memories/{id}", operation_id = "deleteMemory", tag = "Memories", params(Id),
    summary = "Forget a memory", responses((status = 204, description = "Forgotten")))]
pub async fn delete(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_memory(caller.user.id, MemoryId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteAll {
    /// Must be true: deleting every memory is said explicitly.
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// How many were deleted.
    pub deleted: u64,
}

#[utoipa::path(delete, path = "/api/memories", operation_id = "deleteAllMemories", tag = "Memories", params(DeleteAll),
    summary = "Delete every memory (`?all=true`)", responses((status = 200, body = Deleted)))]
pub async fn delete_all(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<DeleteAll>,
) -> ApiResult<axum::Json<Deleted>> {
    if !q.all {
        return Err(ApiError::bad_request("to delete every memory, say so: DELETE /api/memories?all=true"));
    }
    Ok(axum::Json(Deleted { deleted: state.store.delete_all_memories(caller.user.id).await? }))
}

#[utoipa::path(get, path = "/api/memories/export", operation_id = "exportMemories", tag = "Memories",
    summary = "Every memory with sources and decisions, as one self-contained document",
    responses((status = 200, body = Object, description = "A `pai-memories/1` document (see the README)")))]
pub async fn export(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(pai_assistant::export::export(&*state.store, caller.user.id).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// What to look for (1 to 4096 bytes).
    q: String,
    /// How many (1 to 100, default 10).
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
#[utoipa::path(get, path = "/api/memories/search", operation_id = "searchMemories", tag = "Memories", params(Search),
    summary = "Search memories by words and meaning", responses((status = 200, body = List<Recalled>)))]
pub async fn search(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<Search>,
) -> ApiResult<axum::Json<List<Recalled>>> {
    let k = check_query(&q.q, q.k)?;
    let mut hits = recall(&*state.store, &*state.assistant.embedder, caller.user.id, &q.q, k * 2, Utc::now()).await?;
    hits.retain(|h| h.kind == RecalledKind::Memory);
    hits.truncate(k);
    Ok(axum::Json(hits.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallBody {
    /// What to recall for (1 to 4096 bytes).
    query: String,
    /// How many (1 to 100, default 10).
    #[serde(default)]
    k: Option<usize>,
}

/// Memories and messages, as a prompt would get them, each with provenance.
#[utoipa::path(post, path = "/api/recall", operation_id = "recall", tag = "Memories", request_body = RecallBody,
    summary = "Memories, messages and passages as a prompt gets them, with provenance",
    responses((status = 200, body = List<Recalled>)))]
pub async fn recall_items(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<RecallBody>,
) -> ApiResult<axum::Json<List<Recalled>>> {
    let k = check_query(&body.query, body.k)?;
    let hits = recall(&*state.store, &*state.assistant.embedder, caller.user.id, &body.query, k, Utc::now()).await?;
    Ok(axum::Json(hits.into()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only jobs in this state: pending, running, done or failed.
    #[serde(default)]
    state: Option<String>,
}

#[utoipa::path(get, path = "/api/jobs", operation_id = "listJobs", tag = "Memories", params(JobsQuery),
    summary = "Memory extraction jobs", responses((status = 200, body = List<ExtractionJob>)))]
pub async fn jobs(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<JobsQuery>,
) -> ApiResult<axum::Json<List<ExtractionJob>>> {
    let filter =
        match q.state.as_deref() {
            None => None,
            Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                ApiError::bad_request("state is one of pending, running, done, failed").param("state")
            })?),
        };
    Ok(axum::Json(state.store.extraction_jobs(caller.user.id, filter).await?.into()))
}

#[utoipa::path(post, path = "/api/jobs/{id}/retry", operation_id = "retryJob", tag = "Memories", params(Id),
    summary = "Queue a failed extraction job again", responses((status = 200, body = ExtractionJob)))]
pub async fn retry_job(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<axum::Json<ExtractionJob>> {
    let job = state.store.retry_extraction_job(caller.user.id, JobId(id)).await?;
    state.assistant.extractor.wake();
    Ok(axum::Json(job))
}
