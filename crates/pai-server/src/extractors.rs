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
        if !json_content_type(req.headers()) {
            return Err(ApiError::bad_request("send the body as JSON with the header Content-Type: application/json"));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than this server accepts")
            } else {
                ApiError::new(e.status(), e.body_text())
            }
        })?;
        // Refused here, once for every route, before anything is stored:
        // PostgreSQL cannot store NUL and a prompt ends at one.
        if has_nul_escape(&bytes) {
            let refused = ApiError::bad_request("text may not contain NUL characters (\\u0000)");
            let at = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| nul_at(&v));
            return Err(match at {
                Some(field) => refused.param(field),
                None => refused,
            });
        }
        axum::Json::<T>::from_bytes(&bytes).map(|axum::Json(v)| Json(v)).map_err(json_rejection)
    }
}

/// `application/json`, or a `+json` type, as axum's own `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether JSON text has a `\u0000` escape (a raw NUL byte is not valid
/// JSON at all): the `\` must not itself be escaped, so the run of
/// backslashes before `u0000` is odd.
fn has_nul_escape(json: &[u8]) -> bool {
    json.windows(5)
        .enumerate()
        .any(|(i, w)| w == b"u0000" && json[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1)
}

/// Where in a JSON value the first NUL is (`text`, `messages[0].content`),
/// for the error's `param`; a NUL in a key is at its object.
fn nul_at(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| Some(format!("[{i}]{}", dotted(nul_at(v)?)))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                return Some(String::new());
            }
            Some(format!("{k}{}", dotted(nul_at(v)?)).trim_start_matches('.').to_string())
        }),
        _ => None,
    }
}

fn dotted(rest: String) -> String {
    if rest.is_empty() || rest.starts_with('[') { rest } else { format!(".{rest}") }
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn the_nul_is_found_where_it_is() {
        use serde_json::json;
        assert_eq!(super::nul_at(&json!({"text": "a\u{0}b"})).as_deref(), Some("text"));
        let chat = json!({"model": "pai", "messages": [{"content": "ok"}, {"content": "no\u{0}"}]});
        assert_eq!(super::nul_at(&chat).as_deref(), Some("messages[1].content"));
        assert_eq!(super::nul_at(&json!({"input": ["a", "\u{0}"]})).as_deref(), Some("input[1]"));
        assert_eq!(super::nul_at(&json!({"text": "fine"})), None);
    }

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(has_nul_escape(br#"{"content": "hi\u0000there"}"#));
        assert!(has_nul_escape(br#"{"content": "\\\u0000"}"#), "a backslash, then NUL");
        assert!(!has_nul_escape(br#"{"content": "C:\\u0000 is a path"}"#), "an escaped backslash, then text");
        assert!(!has_nul_escape(br#"{"content": "u0000 and \u0001"}"#));
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
        path_value(parts, state).await.map(Id)
    }
}

/// The path's one parameter as `T`: one that does not parse (not a number,
/// not UTF-8) is "not found", any other refusal pai's JSON error.
async fn path_value<T, S>(parts: &mut Parts, state: &S) -> Result<T, ApiError>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    match axum::extract::Path::<T>::from_request_parts(parts, state).await {
        Ok(axum::extract::Path(value)) => Ok(value),
        Err(PathRejection::FailedToDeserializePathParams(_)) => Err(ApiError::not_found("no such item")),
        Err(other) => Err(ApiError::new(other.status(), other.body_text())),
    }
}

/// A text parameter from the path (a model name, a confirmation token).
/// One that is not UTF-8 is "not found", and every refusal is pai's JSON
/// error, not axum's plain text.
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        path_value(parts, state).await.map(PathText)
    }
}

/// In `/openapi.json`: `params(Id)` on a handler that takes one.
impl utoipa::IntoParams for Id {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Object, Required, Type};
        vec![
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The item's id (one of the caller's; anyone else's is 404)"))
                .schema(Some(Object::with_type(Type::Integer)))
                .build(),
        ]
    }
}

/// Query parameters; a bad one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::bad_request("text may not contain NUL characters (%00)"));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::bad_request(format!("bad query parameters: {}", source(&e))))
            }
            Err(other) => Err(ApiError::new(other.status(), other.body_text())),
        }
    }
}
