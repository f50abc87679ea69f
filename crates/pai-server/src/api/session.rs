//! Logging in and out (browser sessions), signing up when allowed, and `/api/me`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use chrono::{TimeDelta, Utc};
use pai_core::store::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, SESSION_COOKIE};
use crate::client_address::ClientAddress;
use crate::error::{ApiError, ApiResult};
use crate::extractors::Json;
use crate::secrets::{digest, hash_password, random_hex, verify_password};
use crate::state::SharedState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    name: String,
    password: String,
}

/// A logged-in browser session: the cookie is set; changes need the CSRF token.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub user: User,
    /// Send it as `X-CSRF-Token` with every change.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// The caller, and the CSRF token when they came with a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

#[utoipa::path(post, path = "/api/session", operation_id = "login", tag = "Account", request_body = Login, security(()),
    summary = "Log in with name and password: sets the session cookie, returns the CSRF token",
    responses((status = 200, body = LoggedIn)))]
pub async fn login(
    State(state): State<SharedState>,
    ClientAddress(address): ClientAddress,
    Json(body): Json<Login>,
) -> ApiResult<Response> {
    // Taken before the password is checked, given back when it is right:
    // concurrent guesses cannot all slip past a limit they have not yet hit.
    let address = address.map(|a| format!("address:{a}"));
    if let Some(Err(wait)) = address.as_deref().map(|a| state.login_failures.check(a)) {
        return Err(ApiError::too_many("too many failed logins from this address; wait a little", wait));
    }
    if let Err(wait) = state.logins.check(&format!("login:{}", body.name.trim())) {
        return Err(ApiError::too_many("too many login attempts for this name; wait a little", wait));
    }
    let found = state.accounts.login(&body.name).await?;
    let hash = found.as_ref().map(|(_, h)| h.clone());
    if !verify_password(body.password, hash).await {
        return Err(ApiError::unauthorized("wrong name or password").code("invalid_credentials"));
    }
    if let Some(a) = &address {
        state.login_failures.refund(a);
    }
    let (user, _) = found.expect("verified");
    let token = random_hex(32);
    let csrf = random_hex(16);
    let hours = state.settings.session_hours.max(1);
    let expires = Utc::now() + TimeDelta::hours(hours as i64);
    state.accounts.create_session(user.id, &digest(&token), &csrf, expires).await?;
    let secure = if state.settings.cookie_secure { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", hours as u64 * 3600);
    let mut response = axum::Json(LoggedIn { user, csrf_token: csrf, expires_at: expires }).into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii cookie"));
    Ok(response)
}

#[utoipa::path(delete, path = "/api/session", operation_id = "logout", tag = "Account", summary = "Log out",
    responses((status = 204, description = "Logged out; the cookie is cleared")))]
pub async fn logout(State(state): State<SharedState>, caller: Caller) -> ApiResult<Response> {
    if let Some(d) = &caller.session {
        state.accounts.delete_session(d).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))
            .expect("ascii cookie"),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/api/me", operation_id = "getMe", tag = "Account", summary = "The caller (and the CSRF token of a session)",
    responses((status = 200, body = Me)))]
pub async fn me(caller: Caller) -> axum::Json<Me> {
    // The web app needs the CSRF token again after a reload.
    axum::Json(Me { user: caller.user, csrf_token: caller.csrf })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMe {
    /// An IANA zone (Asia/Seoul): reminders and dates are read in it.
    timezone: String,
}

/// The caller's own settings: the time zone reminders and dates are read in.
#[utoipa::path(patch, path = "/api/me", operation_id = "updateMe", tag = "Account", request_body = ChangeMe,
    summary = "Change the caller's time zone", responses((status = 200, body = User)))]
pub async fn change_me(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<ChangeMe>,
) -> ApiResult<axum::Json<User>> {
    if body.timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::bad_request(format!(
            "{:?} is not an IANA time zone (like Asia/Seoul or America/New_York)",
            body.timezone
        ))
        .param("timezone"));
    }
    let user = state.accounts.set_timezone(caller.user.id, &body.timezone).await?;
    Ok(axum::Json(user))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    name: String,
    password: String,
    #[serde(default)]
    timezone: Option<String>,
}

#[utoipa::path(post, path = "/api/signup", operation_id = "signup", tag = "Account", request_body = Signup, security(()),
    summary = "Create an account (only when the server allows sign-up)", responses((status = 201, body = User)))]
pub async fn signup(
    State(state): State<SharedState>,
    Json(body): Json<Signup>,
) -> ApiResult<(StatusCode, axum::Json<User>)> {
    if !state.settings.open_signup {
        return Err(ApiError::forbidden("sign-up is closed on this server; ask its admin for an account"));
    }
    let user = create_user(&state, &body.name, body.password, body.timezone, false).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

/// Checks the time zone and password, then creates the account.
pub async fn create_user(
    state: &SharedState,
    name: &str,
    password: String,
    timezone: Option<String>,
    admin: bool,
) -> ApiResult<User> {
    let timezone = timezone.unwrap_or_else(|| state.settings.default_timezone.clone());
    pai_assistant::extract::zone(&timezone)?;
    let hash = hash_password(password).await?;
    Ok(state.accounts.create_account(name, &timezone, Some(&hash), admin).await?)
}
