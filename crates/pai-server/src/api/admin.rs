//! User management for admins: create, list, disable/enable, reset a
//! password, delete (with all of the user's data).

use axum::extract::State;
use axum::http::StatusCode;
use pai_core::store::{User, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

use super::session::create_user;
use crate::api::List;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json};
use crate::secrets::hash_password;
use crate::state::SharedState;

#[utoipa::path(get, path = "/api/admin/users", operation_id = "listUsers", tag = "Admin", summary = "Every user",
    responses((status = 200, body = List<User>)))]
pub async fn list(State(state): State<SharedState>, _admin: Admin) -> ApiResult<axum::Json<List<User>>> {
    Ok(axum::Json(state.accounts.users().await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    password: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    admin: bool,
}

#[utoipa::path(post, path = "/api/admin/users", operation_id = "createUser", tag = "Admin", request_body = NewUser, summary = "Create a user",
    responses((status = 201, body = User)))]
pub async fn create(
    State(state): State<SharedState>,
    _admin: Admin,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, axum::Json<User>)> {
    let user = create_user(&state, &body.name, body.password, body.timezone, body.admin).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeUser {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

#[utoipa::path(patch, path = "/api/admin/users/{id}", operation_id = "updateUser", tag = "Admin", params(Id), request_body = ChangeUser,
    summary = "Disable or enable a user, or set their password", responses((status = 200, body = User)))]
pub async fn change(
    State(state): State<SharedState>,
    Admin(admin): Admin,
    Id(id): Id,
    Json(body): Json<ChangeUser>,
) -> ApiResult<axum::Json<User>> {
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
    Ok(axum::Json(user))
}

#[utoipa::path(delete, path = "/api/admin/users/{id}", operation_id = "deleteUser", tag = "Admin", params(Id),
    summary = "Delete a user and all their data", responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<SharedState>, Admin(admin): Admin, Id(id): Id) -> ApiResult<StatusCode> {
    if UserId(id) == admin.user.id {
        return Err(ApiError::bad_request("you cannot delete yourself"));
    }
    state.accounts.delete_user(UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
