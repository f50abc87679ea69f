//! The caller's API keys: create (the key is shown once), list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use pai_core::accounts::{ApiKey, KeyId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::List;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extractors::{Id, Json};
use crate::secrets::{digest, new_api_key};
use crate::state::SharedState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for (default "API key").
    #[serde(default)]
    name: Option<String>,
}

/// A new key: the key itself is in this response only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: ApiKey,
    pub key: String,
}

#[utoipa::path(post, path = "/api/keys", operation_id = "createKey", tag = "Account", request_body = NewKey,
    summary = "Create an API key: the key is in this response only", responses((status = 201, body = CreatedKey)))]
pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewKey>,
) -> ApiResult<(StatusCode, axum::Json<CreatedKey>)> {
    let (key, prefix) = new_api_key();
    let name = body.name.unwrap_or_else(|| "API key".into());
    let record = state.accounts.create_api_key(caller.user.id, &name, &prefix, &digest(&key)).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { record, key })))
}

#[utoipa::path(get, path = "/api/keys", operation_id = "listKeys", tag = "Account", summary = "The caller's API keys (prefixes only)",
    responses((status = 200, body = List<ApiKey>)))]
pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<List<ApiKey>>> {
    Ok(axum::Json(state.accounts.api_keys(caller.user.id).await?.into()))
}

#[utoipa::path(delete, path = "/api/keys/{id}", operation_id = "revokeKey", tag = "Account", params(Id), summary = "Revoke an API key",
    responses((status = 200, body = ApiKey)))]
pub async fn revoke(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<ApiKey>> {
    Ok(axum::Json(state.accounts.revoke_api_key(caller.user.id, KeyId(id)).await?))
}
