//! The caller's documents: upload (multipart, field `file`, one or more
//! files), list, show with passages, delete. Each file succeeds or fails on
//! its own; a failed file changes nothing. A file is read, cut and stored
//! within the request (so a bad file is reported at once) and embedded in the
//! background: its `pending` count falls to 0 as its passages get vectors.
//! A recording is transcribed within the request too (a client that hangs up
//! stops it, and nothing is stored) and kept as its transcript, in passages
//! headed by when they were said; the times said in it come back as reminder
//! suggestions, which are never scheduled until the user confirms one.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use pai_assistant::knowledge::recording::{KeepError, Learned, Upload as Recording, transcribe_and_store};
use pai_assistant::knowledge::summary::{Summary, summarise};
use pai_assistant::knowledge::{delete_document, store_bytes};
use pai_assistant::suggestions::{ReminderSuggestion, document_suggestions};
use pai_core::store::{Chunk, Document, DocumentChange, DocumentId, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::List;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Query};
use crate::state::SharedState;

/// One uploaded file's outcome: stored (`status`, `document`) or refused (`error`).
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResult {
    /// The file's name; null for a part without one.
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<DocumentChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    /// Why this file was not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a recording: what was heard, and the reminders it suggests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<Heard>,
}

/// A recording's transcription.
#[derive(Debug, Serialize, ToSchema)]
pub struct Heard {
    /// The language spoken (`ko`, `en`, …), detected.
    pub language: String,
    /// Seconds of audio.
    pub seconds: f64,
    /// Times said in it, to offer as reminders (`POST /api/reminders` with `text` and `when`).
    pub suggestions: Vec<ReminderSuggestion>,
    /// Its summary in its own sentences: one line, and one per part of about five minutes.
    pub summary: Summary,
    /// With `?learn=true`: the conversation of what was said, queued for memory extraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned: Option<Learned>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Learn about the caller from what is said in the recordings: for voice
    /// memos where the caller is the one speaking. A call's other side would
    /// be learned as the caller's words: voices are not told apart. Written
    /// documents are cited, not learned from.
    #[serde(default)]
    learn: bool,
}

impl FileResult {
    fn refused(file: Option<String>, error: impl Into<String>) -> Self {
        FileResult { file, status: None, document: None, error: Some(error.into()), recording: None }
    }
}

/// The form of an upload, for `/openapi.json`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Upload {
    /// One or more txt/md/html/pdf files, or recordings (WAV, MP3, M4A/AAC, FLAC, Ogg Vorbis, Opus).
    #[schema(format = Binary, value_type = Vec<String>)]
    file: Vec<Vec<u8>>,
}

#[utoipa::path(post, path = "/api/documents", operation_id = "uploadDocuments", tag = "Documents",
    params(UploadQuery), request_body(content = Upload, content_type = "multipart/form-data"),
    summary = "Upload txt/md/html/pdf files or recordings",
    description = "multipart/form-data, field `file`, one or more; per-file results. Passages are searchable \
                   by their words at once and embedded in the background: `pending` counts those still waiting. \
                   A recording is transcribed first and kept as its transcript, in passages headed by their time; \
                   `recording.suggestions` lists the times said in it as reminders to confirm (none is created), \
                   `recording.summary` sums it up in its own sentences, and with `?learn=true` what was said is also \
                   kept as a conversation (`recording.learned`) and learned from like an import. \
                   400 when no file was stored.",
    responses((status = 201, body = List<FileResult>)))]
pub async fn upload(
    State(state): State<SharedState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, axum::Json<List<FileResult>>)> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "send the files as multipart/form-data with the field `file` ({})",
            e.body_text()
        ))
    })?;
    let mut results = Vec::new();
    let (mut stored, mut learning) = (0, false);
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
            results.push(FileResult::refused(None, "a file part needs a file name"));
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
        let outcome = if pai_voice::audio::looks_like_audio(&name, &bytes) {
            let recording = Recording {
                name: &name,
                source: &source,
                bytes,
                limit_seconds: state.settings.limits.max_audio_seconds,
                learn: query.learn,
                progress: None,
            };
            store_recording_upload(&state, &caller.user, recording).await?
        } else {
            store_bytes(&*state.store, caller.user.id, &source, bytes).await.map(|(d, c)| (d, c, None))
        };
        match outcome {
            Ok((document, change, recording)) => {
                stored += 1;
                learning |= recording.as_ref().is_some_and(|r| r.learned.is_some_and(|l| l.jobs > 0));
                results.push(FileResult {
                    file: Some(name),
                    status: Some(change),
                    document: Some(document),
                    error: None,
                    recording,
                });
            }
            Err(pai_core::Error::Invalid { message: reason, .. }) => {
                results.push(FileResult::refused(Some(name), reason))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if results.is_empty() {
        return Err(ApiError::bad_request("no file: send multipart/form-data with one or more `file` fields"));
    }
    if stored > 0 {
        state.assistant.indexer.queue(caller.user.id);
    }
    if learning {
        state.assistant.extractor.wake();
    }
    if stored == 0 {
        let reasons: Vec<&str> = results.iter().filter_map(|r| r.error.as_deref()).collect();
        return Err(ApiError::bad_request(reasons.join("; ")).param("file"));
    }
    Ok((StatusCode::CREATED, axum::Json(results.into())))
}

/// Transcribes a recording and keeps its transcript. The outer error fails
/// the request (the server cannot transcribe); the inner one refuses this
/// file only (not audio, silent, too long).
async fn store_recording_upload(
    state: &SharedState,
    user: &User,
    recording: Recording<'_>,
) -> ApiResult<pai_core::Result<(Document, DocumentChange, Option<Heard>)>> {
    match transcribe_and_store(&*state.store, &state.speech, user.id, zone(user), recording).await {
        Ok(k) => {
            let heard = Heard {
                language: k.language,
                seconds: k.seconds,
                suggestions: k.suggestions,
                summary: k.summary,
                learned: k.learned,
            };
            Ok(Ok((k.document, k.change, Some(heard))))
        }
        Err(KeepError::Refused(e)) => Ok(Err(e)),
        Err(KeepError::Speech(e)) => Err(crate::openai::audio::speech_error(e)),
        Err(KeepError::Store(e)) => Err(e.into()),
    }
}

/// The user's zone, UTC when it does not parse (accounts are checked when made).
fn zone(user: &User) -> chrono_tz::Tz {
    user.timezone.parse().unwrap_or(chrono_tz::UTC)
}

#[utoipa::path(get, path = "/api/documents/{id}/suggestions", operation_id = "documentSuggestions", tag = "Documents",
    params(Id), summary = "Reminders a document suggests: the times said or written in it",
    description = "Each sentence with a time in it, read against when the document was stored (\"tomorrow\" in a \
                   recording is the day after it was uploaded). Confirm one with `POST /api/reminders` and its \
                   `text` and `when` (it then comes back `confirmed`); an ambiguous time has no `when` but the \
                   `question` to ask. Nothing is scheduled here.",
    responses((status = 200, body = List<ReminderSuggestion>)))]
pub async fn suggestions(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<axum::Json<List<ReminderSuggestion>>> {
    let user = &caller.user;
    let document = state.store.document(user.id, DocumentId(id)).await?;
    let passages = state.store.document_chunks(user.id, document.id).await?;
    let suggestions = document_suggestions(&*state.store, user.id, &passages, document.updated_at, zone(user)).await?;
    Ok(axum::Json(suggestions.into()))
}

#[utoipa::path(get, path = "/api/documents/{id}/summary", operation_id = "documentSummary", tag = "Documents",
    params(Id), summary = "A document's summary in its own sentences: one line, and one per part",
    description = "Sentences picked from the document, never written: `line` is the one that best says what the \
                   whole is about (null when no sentence says enough), and each of `parts` (for a recording about \
                   five minutes, else up to five passages of one section) has one or two of its own, with its time \
                   span or section heading. Works for any document; computed from its passages on each call.",
    responses((status = 200, body = Summary)))]
pub async fn summary(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Summary>> {
    let user = caller.user.id;
    let document = state.store.document(user, DocumentId(id)).await?;
    let passages = state.store.document_chunks(user, document.id).await?;
    Ok(axum::Json(summarise(&passages)))
}

#[utoipa::path(get, path = "/api/documents", operation_id = "listDocuments", tag = "Documents", summary = "The caller's documents, newest first",
    responses((status = 200, body = List<Document>)))]
pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<List<Document>>> {
    Ok(axum::Json(state.store.documents(caller.user.id).await?.into()))
}

/// A document with its passages in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentWithPassages {
    #[serde(flatten)]
    pub document: Document,
    pub passages: Vec<Chunk>,
}

#[utoipa::path(get, path = "/api/documents/{id}", operation_id = "getDocument", tag = "Documents", params(Id),
    summary = "A document with its passages (page, heading, offsets)",
    responses((status = 200, body = DocumentWithPassages)))]
pub async fn get(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<axum::Json<DocumentWithPassages>> {
    let user = caller.user.id;
    let document = state.store.document(user, DocumentId(id)).await?;
    let passages = state.store.document_chunks(user, document.id).await?;
    Ok(axum::Json(DocumentWithPassages { document, passages }))
}

#[utoipa::path(delete, path = "/api/documents/{id}", operation_id = "deleteDocument", tag = "Documents", params(Id),
    summary = "Delete a document with every passage and vector",
    description = "A recording learned from loses its conversation too; the memories learned from it stay.",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    delete_document(&*state.store, caller.user.id, DocumentId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
