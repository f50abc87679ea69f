//! Imports over HTTP: the file is checked whole at upload (a bad file is a
//! 400 and nothing is stored), then stored, indexed and queued for memory
//! extraction in the background, with progress kept in the store.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use pai_assistant::import::{Format, ParseOptions, Progress, import, parse};
use pai_core::store::{ImportId, ImportRecord, ImportState, UserId};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::api::List;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Query};
use crate::state::SharedState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Upload {
    /// "pai", "chatgpt" or "kakaotalk"; detected from the content when absent.
    #[serde(default)]
    format: Option<String>,
    /// The caller's name in a chat export whose file does not mark it (a KakaoTalk group chat).
    #[serde(default)]
    me: Option<String>,
    /// The file's name, for the record.
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/imports", operation_id = "createImport", tag = "Imports", params(Upload),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "pai JSON, ChatGPT's conversations.json or a KakaoTalk .txt export"),
    summary = "Upload chat history; it is checked whole, then imported in the background",
    responses((status = 202, body = ImportRecord)))]
pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<Upload>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<ImportRecord>)> {
    let bytes = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an import is at most {} MiB", state.settings.limits.max_import_bytes >> 20),
        ),
        status => ApiError::new(status, e.body_text()),
    })?;
    let format = match q.format.as_deref() {
        None => None,
        Some(name) => Some(Format::parse_name(name).ok_or_else(|| {
            ApiError::bad_request(format!("format {name:?} is not pai, chatgpt or kakaotalk")).param("format")
        })?),
    };
    // Times written without a zone (KakaoTalk) are the caller's.
    let zone = pai_assistant::extract::zone(&caller.user.timezone)?;
    let (_, conversations) = parse(&bytes, &ParseOptions { format, me: q.me, zone: Some(zone) })?;
    let user = caller.user.id;
    let name = q.name.unwrap_or_else(|| "upload".into());
    let record = state.store.create_import(user, &name, conversations.len() as u64).await?;
    tokio::spawn(run(state.clone(), user, record.id, conversations));
    Ok((StatusCode::ACCEPTED, axum::Json(record)))
}

async fn run(state: SharedState, user: UserId, id: ImportId, conversations: Vec<pai_assistant::import::Conversation>) {
    let store = state.store.clone();
    let embedder = state.assistant.embedder.clone();
    // Progress is written at most twice a second; the callback is sync, so it
    // hands the number to a task that writes it.
    let (tx, mut rx) = tokio::sync::watch::channel(0u64);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let done = *rx.borrow_and_update();
                let _ = store.update_import(user, id, ImportState::Running, done, None, None).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let mut last = Instant::now();
    let mut done = 0;
    let result = import(&*store, &*embedder, user, conversations, &mut |p| {
        if let Progress::Stored { done: d, .. } = p {
            done = d as u64;
            if last.elapsed() > Duration::from_millis(200) {
                last = Instant::now();
                let _ = tx.send(done);
            }
        }
    })
    .await;
    drop(tx);
    let _ = writer.await;
    let outcome = match result {
        Ok(report) => {
            state.assistant.extractor.wake();
            store.update_import(user, id, ImportState::Done, done, Some(json!(report)), None).await
        }
        Err(e) => store.update_import(user, id, ImportState::Failed, done, None, Some(&e.to_string())).await,
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, import = %id, "recording the end of an import failed");
    }
}

#[utoipa::path(get, path = "/api/imports/{id}", operation_id = "getImport", tag = "Imports", params(Id), summary = "An import's state and progress",
    responses((status = 200, body = ImportRecord)))]
pub async fn get(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<ImportRecord>> {
    Ok(axum::Json(state.store.import_record(caller.user.id, ImportId(id)).await?))
}

#[utoipa::path(get, path = "/api/imports", operation_id = "listImports", tag = "Imports", summary = "The caller's imports",
    responses((status = 200, body = List<ImportRecord>)))]
pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<List<ImportRecord>>> {
    Ok(axum::Json(state.store.imports(caller.user.id).await?.into()))
}
