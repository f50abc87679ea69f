//! `POST /api/confirmations/{token}`: the user's yes to a destructive tool
//! call the model proposed (see pai-assistant's `tools`): only then is the
//! memory forgotten or the reminder cancelled.

use axum::extract::State;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extractors::PathText;
use crate::state::SharedState;

#[utoipa::path(post, path = "/api/confirmations/{token}", operation_id = "confirmToolCall", tag = "Memories",
    params(("token" = String, Path, description = "The token the proposal carried")),
    summary = "Confirm a destructive tool call the model proposed",
    description = "The user's yes to `pai_forget` or `pai_cancel_reminder`: only then is it carried out.",
    responses((status = 200, body = Object, description = "What was done")))]
pub async fn confirm(
    State(state): State<SharedState>,
    caller: Caller,
    PathText(token): PathText,
) -> ApiResult<axum::Json<Value>> {
    let done = state.assistant.confirmations.confirm(&*state.store, caller.user.id, &token).await?;
    Ok(axum::Json(done))
}
