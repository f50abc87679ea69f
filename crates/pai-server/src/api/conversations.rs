//! Conversations and their messages, and a non-streamed turn for simple clients.

use axum::extract::State;
use axum::http::StatusCode;
use pai_core::Sampling;
use pai_core::store::ConversationId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json};
use crate::state::SharedState;

pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!({"data": state.store.conversations(caller.user.id).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    #[serde(default)]
    title: Option<String>,
}

pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewConversation>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let title = body.title.unwrap_or_else(|| "New conversation".into());
    let c = state.store.create_conversation(caller.user.id, &title).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(c))))
}

pub async fn get(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Value>> {
    let user = caller.user.id;
    let c = state.store.conversation(user, ConversationId(id)).await?;
    let messages = state.store.messages(user, c.id).await?;
    let mut v = json!(c);
    v["messages"] = json!(messages);
    Ok(axum::Json(v))
}

pub async fn messages(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!({"data": state.store.messages(caller.user.id, ConversationId(id)).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    title: String,
}

pub async fn rename(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
    Json(body): Json<Rename>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!(state.store.rename_conversation(caller.user.id, ConversationId(id), &body.title).await?)))
}

pub async fn delete(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.delete_conversation(caller.user.id, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Say {
    content: String,
}

/// One remembering turn, answered whole: `{"user_message", "answer", "recalled"}`.
pub async fn say(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
    Json(body): Json<Say>,
) -> ApiResult<axum::Json<Value>> {
    let user = caller.user.id;
    if body.content.trim().is_empty() {
        return Err(ApiError::bad_request("content must not be empty").param("content"));
    }
    let conversation = state.store.conversation(user, ConversationId(id)).await?.id;
    let _permit = state.gate.acquire(user).await?;
    let sampling = Sampling { max_tokens: Some(state.settings.limits.max_tokens), ..Sampling::default() };
    let said = state.assistant.say(user, conversation, &body.content, sampling).await?;
    Ok(axum::Json(
        json!({"user_message": said.turn.user_message, "answer": said.answer, "recalled": said.turn.recalled}),
    ))
}
