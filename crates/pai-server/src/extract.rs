//! Request extractors whose failures are OpenAI-shaped 4xx errors that say
//! what to fix, instead of axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Bad JSON, wrong types and unknown fields (types use
/// `deny_unknown_fields`) are a 400 naming the problem; an over-size body a 413.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("send the body as JSON with the header Content-Type: application/json")
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("the body is not valid JSON: {}", source(&e)))
        }
        JsonRejection::JsonDataError(e) => ApiError::bad_request(format!("the body does not fit: {}", source(&e))),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than this server accepts")
        }
        other => ApiError::new(other.status(), other.body_text()),
    }
}

/// The innermost cause: serde's own words ("unknown field `x`, expected ...
/// at line 1 column 9") without axum's wrapping.
fn source(e: &dyn std::error::Error) -> String {
    let mut e: &dyn std::error::Error = e;
    while let Some(inner) = e.source() {
        e = inner;
    }
    e.to_string()
}

/// A numeric id from the path. Anything else is "not found" like any unknown
/// id: guessing never tells more than a 404.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<i64>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(id)) => Ok(Id(id)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => Err(ApiError::not_found("no such item")),
            Err(other) => Err(ApiError::new(other.status(), other.body_text())),
        }
    }
}

/// Query parameters; a bad one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::bad_request(format!("bad query parameters: {}", source(&e))))
            }
            Err(other) => Err(ApiError::new(other.status(), other.body_text())),
        }
    }
}
