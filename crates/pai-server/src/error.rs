//! Every error leaves the server in OpenAI's shape,
//! `{"error": {"message", "type", "param", "code"}}`, so OpenAI SDKs raise
//! their usual exceptions and the web app has one format to read. Internal
//! details are logged, never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pai_core::Error;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `code` ("invalid_api_key", "model_not_found", ...).
    pub code: Option<&'static str>,
    pub param: Option<String>,
    pub retry_after: Option<Duration>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), code: None, param: None, retry_after: None }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn too_many(message: impl Into<String>, retry_after: Duration) -> Self {
        ApiError { retry_after: Some(retry_after), ..Self::new(StatusCode::TOO_MANY_REQUESTS, message) }
    }
    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// OpenAI's error `type` for a status.
    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            409 => "conflict_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            503 => "service_unavailable",
            _ => "server_error",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind(),
                param: self.param.clone(),
                code: self.code,
            },
        }
    }
}

/// Every error response's body (OpenAI's shape).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// What went wrong and how to fix it, for people.
    pub message: String,
    /// OpenAI's class of error: `invalid_request_error`, `authentication_error`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The input at fault (a body field or query parameter), when one is.
    pub param: Option<String>,
    /// A stable code for programs (`invalid_api_key`, `unclear_time`, ...).
    pub code: Option<&'static str>,
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Invalid { message, field: Some(field) } => ApiError::bad_request(message).param(field),
            Error::Invalid { message, field: None } => ApiError::bad_request(message),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            Error::Unauthorized(m) => ApiError::unauthorized(m),
            Error::Unavailable { message, retry_after } => ApiError {
                retry_after: retry_after.or(Some(Duration::from_secs(1))),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
            },
            Error::Internal(m) => {
                tracing::error!(error = m, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
            }
        }
    }
}

/// Why a request failed, carried on the response for the request log line
/// (`lib.rs`'s `observe`): the operator sees the reason the client got.
#[derive(Debug, Clone)]
pub struct FailureReason {
    pub message: String,
    pub param: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.extensions_mut().insert(FailureReason { message: self.message.clone(), param: self.param.clone() });
        if let Some(after) = self.retry_after {
            let secs = after.as_secs_f64().ceil().max(1.0) as u64;
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
