//! Conversations and their messages, and a non-streamed turn for simple clients.

use axum::extract::State;
use axum::http::StatusCode;
use pai_assistant::recall::Recalled;
use pai_core::Sampling;
use pai_core::store::{Conversation, ConversationId, StoredMessage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::List;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json};
use crate::state::SharedState;

#[utoipa::path(get, path = "/api/conversations", operation_id = "listConversations", tag = "Conversations",
    summary = "The caller's conversations, newest first", responses((status = 200, body = List<Conversation>)))]
pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<List<Conversation>>> {
    Ok(axum::Json(state.store.conversations(caller.user.id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    /// Default: "New conversation".
    #[serde(default)]
    title: Option<String>,
}

#[utoipa::path(post, path = "/api/conversations", operation_id = "createConversation", tag = "Conversations", request_body = NewConversation,
    summary = "Start a conversation", responses((status = 201, body = Conversation)))]
pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewConversation>,
) -> ApiResult<(StatusCode, axum::Json<Conversation>)> {
    let title = body.title.unwrap_or_else(|| "New conversation".into());
    let c = state.store.create_conversation(caller.user.id, &title).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// A conversation with its messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationWithMessages {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: Vec<StoredMessage>,
}

#[utoipa::path(get, path = "/api/conversations/{id}", operation_id = "getConversation", tag = "Conversations", params(Id),
    summary = "A conversation with its messages", responses((status = 200, body = ConversationWithMessages)))]
pub async fn get(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<axum::Json<ConversationWithMessages>> {
    let user = caller.user.id;
    let conversation = state.store.conversation(user, ConversationId(id)).await?;
    let messages = state.store.messages(user, conversation.id).await?;
    Ok(axum::Json(ConversationWithMessages { conversation, messages }))
}

#[utoipa::path(get, path = "/api/conversations/{id}/messages", operation_id = "listMessages", tag = "Conversations", params(Id),
    summary = "A conversation's messages, oldest first", responses((status = 200, body = List<StoredMessage>)))]
pub async fn messages(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<axum::Json<List<StoredMessage>>> {
    Ok(axum::Json(state.store.messages(caller.user.id, ConversationId(id)).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    title: String,
}

#[utoipa::path(patch, path = "/api/conversations/{id}", operation_id = "renameConversation", tag = "Conversations", params(Id), request_body = Rename,
    summary = "Rename a conversation", responses((status = 200, body = Conversation)))]
pub async fn rename(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
    Json(body): Json<Rename>,
) -> ApiResult<axum::Json<Conversation>> {
    Ok(axum::Json(state.store.rename_conversation(caller.user.id, ConversationId(id), &body.title).await?))
}

#[utoipa::path(delete, path = "/api/conversations/{id}", operation_id = "deleteConversation", tag = "Conversations", params(Id),
    summary = "Delete a conversation and its messages (memories stay)",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_conversation(caller.user.id, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Say {
    content: String,
}

/// A turn's outcome: both messages as stored, and what was recalled for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Turn {
    pub user_message: StoredMessage,
    /// The answer as stored; null when the model said nothing.
    pub answer: Option<StoredMessage>,
    pub recalled: Vec<Recalled>,
}

/// One remembering turn, answered whole.
#[utoipa::path(post, path = "/api/conversations/{id}/messages", operation_id = "say", tag = "Conversations", params(Id),
    request_body = Say, summary = "Say something; the answer comes back whole",
    responses((status = 200, body = Turn)))]
pub async fn say(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
    Json(body): Json<Say>,
) -> ApiResult<axum::Json<Turn>> {
    let user = caller.user.id;
    if body.content.trim().is_empty() {
        return Err(ApiError::bad_request("content must not be empty").param("content"));
    }
    let conversation = state.store.conversation(user, ConversationId(id)).await?.id;
    let _permit = state.gate.acquire(user).await?;
    let sampling = Sampling { max_tokens: Some(state.settings.limits.max_tokens), ..Sampling::default() };
    let said = state.assistant.say(user, conversation, &body.content, sampling).await?;
    Ok(axum::Json(Turn { user_message: said.turn.user_message, answer: said.answer, recalled: said.turn.recalled }))
}
