//! User management for admins: create, list, disable/enable, reset a
//! password, delete (with all of the user's data).

use axum::extract::State;
use axum::http::StatusCode;
use pai_core::store::UserId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{create_user, user_json};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json};
use crate::secrets::hash_password;
use crate::state::SharedState;

pub async fn list(State(state): State<SharedState>, _admin: Admin) -> ApiResult<axum::Json<Value>> {
    let users: Vec<Value> = state.accounts.users().await?.iter().map(user_json).collect();
    Ok(axum::Json(json!({"data": users})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    admin: bool,
}

pub async fn create(
    State(state): State<SharedState>,
    _admin: Admin,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let user = create_user(&state, &body.name, body.password, body.timezone, body.admin).await?;
    Ok((StatusCode::CREATED, axum::Json(user_json(&user))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

pub async fn change(
    State(state): State<SharedState>,
    Admin(admin): Admin,
    Id(id): Id,
    Json(body): Json<ChangeUser>,
) -> ApiResult<axum::Json<Value>> {
    let id = UserId(id);
    if body.disabled == Some(true) && id == admin.user.id {
        return Err(ApiError::bad_request("you cannot disable yourself"));
    }
    // Hash first: a bad password changes nothing.
    let hash = match body.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    state.store.user(id).await?;
    if let Some(h) = hash {
        state.accounts.set_password(id, &h).await?;
    }
    let user = match body.disabled {
        Some(d) => state.accounts.set_disabled(id, d).await?,
        None => state.store.user(id).await?,
    };
    Ok(axum::Json(user_json(&user)))
}

pub async fn delete(State(state): State<SharedState>, Admin(admin): Admin, Id(id): Id) -> ApiResult<StatusCode> {
    if UserId(id) == admin.user.id {
        return Err(ApiError::bad_request("you cannot delete yourself"));
    }
    state.accounts.delete_user(UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
