//! `/mcp`: pai's MCP server (`pai-mcp`) over Streamable HTTP, behind the same
//! API keys as `/v1`. The key's user goes into the request for the MCP
//! handler to scope every call by; a request without a valid key never
//! reaches it.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use pai_mcp::{McpUser, PaiMcp};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::SharedState;

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
    next.run(Request::from_parts(parts, body)).await
}
