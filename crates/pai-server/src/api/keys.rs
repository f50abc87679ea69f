//! The caller's API keys: create (the key is shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use pai_core::accounts::KeyId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extractors::{Id, Json};
use crate::secrets::{digest, new_api_key};
use crate::state::SharedState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    #[serde(default)]
    name: Option<String>,
}

pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewKey>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let (key, prefix) = new_api_key();
    let name = body.name.unwrap_or_else(|| "API key".into());
    let record = state.accounts.create_api_key(caller.user.id, &name, &prefix, &digest(&key)).await?;
    let mut v = json!(record);
    v["key"] = json!(key);
    Ok((StatusCode::CREATED, axum::Json(v)))
}

pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!({"data": state.accounts.api_keys(caller.user.id).await?})))
}

pub async fn revoke(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(json!(state.accounts.revoke_api_key(caller.user.id, KeyId(id)).await?)))
}
