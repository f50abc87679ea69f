//! Who is asking. The owner of every request comes from here (an API key or
//! a session cookie), never from a body or a path.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use pai_core::store::User;

use crate::error::{ApiError, ApiResult};
use crate::secrets::{KEY_PREFIX, digest};
use crate::state::SharedState;

pub const SESSION_COOKIE: &str = "pai_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated, enabled user within their request rate.
#[derive(Clone)]
pub struct Caller {
    pub user: User,
    /// Set when the request came with a session cookie (its CSRF token).
    pub csrf: Option<String>,
    /// The session token's digest, for logging out.
    pub session: Option<String>,
    /// The API key's digest, when the request came with one.
    pub key: Option<String>,
}

impl Caller {
    /// Whether the credential this request came with still lets its user in
    /// (the key not revoked, the session not ended, the user not disabled):
    /// what a long-lived stream asks from time to time.
    pub async fn still_valid(&self, state: &SharedState) -> bool {
        let found = match (&self.key, &self.session) {
            (Some(key), _) => state.accounts.authenticate_key(key).await.map(|k| k.map(|(user, _)| user.id)),
            (None, Some(session)) => state.accounts.session(session).await.map(|s| s.map(|s| s.user.id)),
            (None, None) => return false,
        };
        // A store that cannot answer now is not a revocation.
        found.map_or(true, |user| user == Some(self.user.id))
    }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let caller = authenticate(parts, state).await?;
        if let Err(wait) = state.rate.check(&format!("u{}", caller.user.id)) {
            return Err(ApiError::too_many(
                format!("too many requests: at most {} a minute", state.settings.limits.requests_per_minute),
                wait,
            )
            .code("rate_limit_exceeded"));
        }
        Ok(caller)
    }
}

async fn authenticate(parts: &Parts, state: &SharedState) -> ApiResult<Caller> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <API key>`"))?;
        if !token.starts_with(KEY_PREFIX) {
            return Err(invalid_key());
        }
        let key = digest(token);
        let (user, _) = state.accounts.authenticate_key(&key).await?.ok_or_else(invalid_key)?;
        return Ok(Caller { user, csrf: None, session: None, key: Some(key) });
    }
    if let Some(token) = cookie(parts, SESSION_COOKIE) {
        let d = digest(&token);
        let session = state.accounts.session(&d).await?.ok_or_else(|| {
            ApiError::unauthorized("your session has expired or was ended; log in again").code("session_expired")
        })?;
        // A cross-site page can make the browser send the cookie but cannot
        // read the token: every change must echo it.
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(session.csrf.as_str()) {
                return Err(ApiError::forbidden("missing or wrong X-CSRF-Token header").code("csrf_failed"));
            }
        }
        return Ok(Caller { user: session.user, csrf: Some(session.csrf), session: Some(d), key: None });
    }
    Err(ApiError::unauthorized("no credentials: send `Authorization: Bearer <API key>` (pai key create) or log in")
        .code("missing_credentials"))
}

fn invalid_key() -> ApiError {
    ApiError::unauthorized("the API key is wrong, revoked, or its user is disabled").code("invalid_api_key")
}

/// The value of cookie `name`, if the request has it.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A caller who is an admin.
pub struct Admin(pub Caller);

impl FromRequestParts<SharedState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.user.admin {
            return Err(ApiError::forbidden("only an admin may do this"));
        }
        Ok(Admin(caller))
    }
}
