//! `/mcp`: pai's MCP server (`pai-mcp`) over Streamable HTTP, behind the same
//! API keys as `/v1`. The key's user goes into the request for the MCP
//! handler to scope every call by; a request without a valid key never
//! reaches it.

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use pai_mcp::{McpUser, PaiMcp};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::SharedState;

/// `/mcp` in `/openapi.json`. The MCP SDK's service answers it, not an
/// axum handler, so the operation is declared on this empty function.
#[utoipa::path(
    post,
    path = "/mcp", operation_id = "mcp",
    tag = "MCP",
    summary = "The Model Context Protocol over Streamable HTTP",
    description = "Stateless JSON-RPC (`Accept: application/json, text/event-stream`) with an API key: tools \
                   remember, recall, list_memories, forget, search_documents, create_reminder, list_reminders, \
                   cancel_reminder; resources; the prompt what_pai_knows. See the README.",
    request_body(content = Object, description = "A JSON-RPC request or notification"),
    responses((status = 200, description = "The JSON-RPC response, as JSON or as an event stream"))
)]
#[allow(dead_code)] // read by the macro above, never called
pub(crate) fn operation() {}

pub fn routes(state: &SharedState) -> Router<SharedState> {
    let server =
        PaiMcp::per_request(state.store.clone(), state.assistant.embedder.clone(), state.assistant.scheduler.clone());
    Router::new()
        .route_service("/mcp", server.http_service(state.settings.limits.max_body_bytes))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
}

/// An API key's user, within their request rate, or the API's usual 401/429.
/// Session cookies are not taken: MCP clients are programs holding a key,
/// and a browser page must not reach the user's memory with their cookie.
async fn authenticate(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    if caller.key.is_none() {
        return ApiError::unauthorized("/mcp takes an API key: `Authorization: Bearer <key>` (pai key create)")
            .code("missing_credentials")
            .into_response();
    }
    parts.extensions.insert(McpUser(caller.user.id));
    // Read here (the SDK would read it anyway, with the same limit) so the
    // request's log line can say which call it was.
    let limit = state.settings.limits.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than this server accepts")
            .into_response();
    };
    let call = McpCall::of(&bytes);
    let mut response = json_errors(next.run(Request::from_parts(parts, Body::from(bytes))).await).await;
    response.extensions_mut().insert(call);
    response
}

/// The MCP SDK refuses some requests itself (406 without the right `Accept`,
/// 415, 405) with a bare text body; they leave as pai's JSON error, like
/// every other error (found by schemathesis checking responses against
/// `/openapi.json`).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let message = match text {
        Ok(t) if !t.is_empty() => t,
        _ => status.canonical_reason().unwrap_or("refused").to_string(),
    };
    let mut refused = ApiError::new(status, message).into_response();
    // What the SDK said beside the body (Allow, Mcp-Session-Id) still holds.
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            refused.headers_mut().entry(name).or_insert_with(|| value.clone());
        }
    }
    refused
}

/// What an MCP request asked for ("tools/call remember", "tools/list"), for
/// its log line; bounded by what the client sent, shortened.
#[derive(Debug, Clone)]
pub struct McpCall(pub String);

impl McpCall {
    fn of(body: &[u8]) -> McpCall {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return McpCall("(not JSON)".into());
        };
        let one = |m: &serde_json::Value| {
            let method = m["method"].as_str().unwrap_or("(response)");
            match m["params"]["name"].as_str().or(m["params"]["uri"].as_str()) {
                Some(name) => format!("{method} {name}"),
                None => method.to_string(),
            }
        };
        let mut text = match &v {
            serde_json::Value::Array(batch) => format!("batch of {}", batch.len()),
            single => one(single),
        };
        if text.chars().count() > 80 {
            text = text.chars().take(80).chain(std::iter::once('…')).collect();
        }
        McpCall(text.replace(|c: char| c.is_control(), " "))
    }
}
