//! The caller's documents: upload (multipart, field `file`, one or more
//! files), list, show with passages, delete. Each file succeeds or fails on
//! its own; a failed file changes nothing. A file is read, cut and stored
//! within the request (so a bad file is reported at once) and embedded in the
//! background: its `pending` count falls to 0 as its passages get vectors.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use pai_assistant::knowledge::store_bytes;
use pai_core::store::DocumentId;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::Id;
use crate::state::SharedState;

pub async fn upload(
    State(state): State<SharedState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "send the files as multipart/form-data with the field `file` ({})",
            e.body_text()
        ))
    })?;
    let mut results = Vec::new();
    let mut stored = 0;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the upload is larger than this server accepts",
                ));
            }
            Err(e) => return Err(ApiError::bad_request(format!("the multipart body is malformed: {e}"))),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string).filter(|n| !n.trim().is_empty());
        let Some(name) = name else {
            results.push(json!({"file": null, "error": "a file part needs a file name"}));
            continue;
        };
        let bytes = match field.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("{name}: the upload is larger than this server accepts"),
                ));
            }
            Err(e) => return Err(ApiError::bad_request(format!("{name}: the upload broke off ({e})"))),
        };
        // Uploads are their own sources, by name: the same name again replaces.
        let source = format!("upload:{name}");
        match store_bytes(&*state.store, caller.user.id, &source, bytes).await {
            Ok((document, change)) => {
                stored += 1;
                results.push(json!({"file": name, "status": change, "document": document}));
            }
            Err(pai_core::Error::Invalid(reason)) => results.push(json!({"file": name, "error": reason})),
            Err(e) => return Err(e.into()),
        }
    }
    if results.is_empty() {
        return Err(ApiError::bad_request("no file: send multipart/form-data with one or more `file` fields"));
    }
    if stored > 0 {
        state.assistant.indexer.queue(caller.user.id);
    }
    if stored == 0 {
        let reasons: Vec<&str> = results.iter().filter_map(|r| r["error"].as_str()).collect();
        return Err(ApiError::bad_request(reasons.join("; ")).param("file"));
    }
    Ok((StatusCode::CREATED, axum::Json(json!({"data": results}))))
}

pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!({"data": state.store.documents(caller.user.id).await?})))
}

pub async fn get(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Value>> {
    let user = caller.user.id;
    let document = state.store.document(user, DocumentId(id)).await?;
    let chunks = state.store.document_chunks(user, document.id).await?;
    let mut v = json!(document);
    v["passages"] = json!(chunks);
    Ok(axum::Json(v))
}

pub async fn delete(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_document(caller.user.id, DocumentId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
