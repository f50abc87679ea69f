//! `POST /api/confirmations/{token}`: the user's yes to a destructive tool
//! call the model proposed (see pai-assistant's `tools`): only then is the
//! memory forgotten or the reminder cancelled.

use axum::extract::{Path, State};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::SharedState;

pub async fn confirm(
    State(state): State<SharedState>,
    caller: Caller,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let done = state.assistant.confirmations.confirm(&*state.store, caller.user.id, &token).await?;
    Ok(axum::Json(done))
}
