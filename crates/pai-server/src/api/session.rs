//! Logging in and out (browser sessions), signing up when allowed, and `/api/me`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use pai_core::store::User;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Caller, SESSION_COOKIE};
use crate::client_address::ClientAddress;
use crate::error::{ApiError, ApiResult};
use crate::extractors::Json;
use crate::secrets::{digest, hash_password, random_hex, verify_password};
use crate::state::SharedState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    name: String,
    password: String,
}

pub fn user_json(u: &User) -> Value {
    json!({"id": u.id, "name": u.name, "timezone": u.timezone, "admin": u.admin, "disabled": u.disabled,
           "created_at": u.created_at})
}

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
    let mut response =
        axum::Json(json!({"user": user_json(&user), "csrf_token": csrf, "expires_at": expires})).into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii cookie"));
    Ok(response)
}

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

pub async fn me(caller: Caller) -> axum::Json<Value> {
    let mut v = user_json(&caller.user);
    // The web app needs the CSRF token again after a reload.
    if let Some(csrf) = caller.csrf {
        v["csrf_token"] = json!(csrf);
    }
    axum::Json(v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeMe {
    timezone: String,
}

/// The caller's own settings: the time zone reminders and dates are read in.
pub async fn change_me(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<ChangeMe>,
) -> ApiResult<axum::Json<Value>> {
    if body.timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::bad_request(format!(
            "{:?} is not an IANA time zone (like Asia/Seoul or America/New_York)",
            body.timezone
        ))
        .param("timezone"));
    }
    let user = state.accounts.set_timezone(caller.user.id, &body.timezone).await?;
    Ok(axum::Json(user_json(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    name: String,
    password: String,
    #[serde(default)]
    timezone: Option<String>,
}

pub async fn signup(
    State(state): State<SharedState>,
    Json(body): Json<Signup>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    if !state.settings.open_signup {
        return Err(ApiError::forbidden("sign-up is closed on this server; ask its admin for an account"));
    }
    let user = create_user(&state, &body.name, body.password, body.timezone, false).await?;
    Ok((StatusCode::CREATED, axum::Json(user_json(&user))))
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
