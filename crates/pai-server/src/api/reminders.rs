//! The caller's reminders and notifications. `POST /api/reminders` reads
//! `when` (Korean or English, or RFC 3339) in the caller's timezone: 201 with
//! the schedule, 422 with the question to ask back when the phrase is
//! ambiguous, 400 when it cannot be scheduled (past, no such date). The
//! notification stream (`/api/notifications/stream`, SSE) delivers each
//! firing live.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures_util::Stream;
use pai_assistant::reminders::{ScheduleError, schedule_reminder};
use pai_core::reminders::{Notification, Reminder, ReminderView};
use pai_core::store::{ConversationId, NotificationId, ReminderId};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::api::List;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::{Id, Json, Query};
use crate::state::SharedState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReminderBody {
    /// What to remind of (at most 1000 characters).
    text: String,
    /// When, in Korean or English ("내일 오전 9시", "every Monday 8am") or RFC 3339, in the caller's zone.
    when: String,
    /// The conversation it was asked in; it is shown there when it fires.
    #[serde(default)]
    conversation: Option<i64>,
}

#[utoipa::path(post, path = "/api/reminders", operation_id = "createReminder", tag = "Reminders", request_body = NewReminderBody,
    summary = "Schedule a reminder",
    description = "201 with the schedule; 422 `unclear_time` with the question to ask back; 400 when it cannot \
                   be scheduled (past, no such date), naming `text` or `when`.",
    responses((status = 201, body = ReminderView)))]
pub async fn create(
    State(state): State<SharedState>,
    caller: Caller,
    Json(body): Json<NewReminderBody>,
) -> ApiResult<(StatusCode, axum::Json<ReminderView>)> {
    let user = caller.user.id;
    let conversation = body.conversation.map(ConversationId);
    let reminder = schedule_reminder(&*state.store, user, &body.text, &body.when, conversation, Utc::now())
        .await
        .map_err(|e| match e {
            ScheduleError::Unclear(question) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, question).code("unclear_time").param("when")
            }
            ScheduleError::BadTime(reason) => ApiError::bad_request(reason).param("when"),
            ScheduleError::BadText(reason) => ApiError::bad_request(reason).param("text"),
            ScheduleError::Store(e) => e.into(),
        })?;
    state.assistant.scheduler.wake();
    Ok((StatusCode::CREATED, axum::Json(reminder.view())))
}

#[utoipa::path(get, path = "/api/reminders", operation_id = "listReminders", tag = "Reminders",
    summary = "The caller's reminders: scheduled (soonest first), then done and cancelled",
    responses((status = 200, body = List<ReminderView>)))]
pub async fn list(State(state): State<SharedState>, caller: Caller) -> ApiResult<axum::Json<List<ReminderView>>> {
    let reminders = state.store.reminders(caller.user.id).await?;
    Ok(axum::Json(reminders.iter().map(Reminder::view).collect::<Vec<_>>().into()))
}

#[utoipa::path(get, path = "/api/reminders/{id}", operation_id = "getReminder", tag = "Reminders", params(Id), summary = "One reminder",
    responses((status = 200, body = ReminderView)))]
pub async fn get(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<axum::Json<ReminderView>> {
    Ok(axum::Json(state.store.reminder(caller.user.id, ReminderId(id)).await?.view()))
}

/// Cancels: it stays listed as cancelled and never fires.
#[utoipa::path(delete, path = "/api/reminders/{id}", operation_id = "cancelReminder", tag = "Reminders", params(Id),
    summary = "Cancel a scheduled reminder", responses((status = 204, description = "Cancelled")))]
pub async fn cancel(State(state): State<SharedState>, caller: Caller, Id(id): Id) -> ApiResult<StatusCode> {
    state.store.cancel_reminder(caller.user.id, ReminderId(id)).await?;
    state.assistant.scheduler.wake();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size, 1 to 500 (default 50).
    #[serde(default)]
    limit: Option<usize>,
    /// Only notifications older than this id.
    #[serde(default)]
    before: Option<i64>,
}

#[utoipa::path(get, path = "/api/notifications", operation_id = "listNotifications", tag = "Reminders", params(Page),
    summary = "Fired reminders, newest first; `late` when delivered after their time",
    responses((status = 200, body = List<Notification>)))]
pub async fn notifications(
    State(state): State<SharedState>,
    caller: Caller,
    Query(q): Query<Page>,
) -> ApiResult<axum::Json<List<Notification>>> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(ApiError::bad_request("limit must be between 1 and 500").param("limit"));
    }
    let page = state.store.notifications(caller.user.id, limit, q.before.map(NotificationId)).await?;
    Ok(axum::Json(page.into()))
}

#[utoipa::path(post, path = "/api/notifications/{id}/read", operation_id = "markNotificationRead", tag = "Reminders", params(Id),
    summary = "Mark a notification read", responses((status = 200, body = Notification)))]
pub async fn mark_read(
    State(state): State<SharedState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<axum::Json<Notification>> {
    Ok(axum::Json(state.store.mark_notification_read(caller.user.id, NotificationId(id)).await?))
}

/// Server-sent events: one `notification` event per firing of the caller's
/// reminders, as it happens (others' never reach this stream).
#[utoipa::path(get, path = "/api/notifications/stream", operation_id = "streamNotifications", tag = "Reminders",
    summary = "Server-sent events: a `notification` event per firing, live",
    responses((status = 200, content_type = "text/event-stream", body = String,
               description = "`event: notification` with a Notification as `data`; `lagged` when some were missed")))]
pub async fn stream(
    State(state): State<SharedState>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let user = caller.user.id;
    let live = state.assistant.scheduler.subscribe();
    let mut check = tokio::time::interval(CREDENTIAL_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopping = state.stopping.subscribe();
    let events = futures_util::stream::unfold((live, check, stopping), move |(mut live, mut check, mut stopping)| {
        let (state, caller) = (state.clone(), caller.clone());
        async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let event = tokio::select! {
                    // The server is stopping: the client reconnects to the next one.
                    _ = stopped(&mut stopping) => return None,
                    received = live.recv() => match received {
                        Ok(n) if n.user == user => Event::default().event("notification").data(json!(n).to_string()),
                        Ok(_) => continue,
                        // A slow reader missed some: they are in /api/notifications.
                        Err(RecvError::Lagged(_)) => Event::default().event("lagged").data("{}"),
                        Err(RecvError::Closed) => return None,
                    },
                    // A revoked key, an ended session or a disabled user ends the stream.
                    _ = check.tick() => {
                        if caller.still_valid(&state).await {
                            continue;
                        }
                        return None;
                    }
                };
                return Some((Ok(event), (live, check, stopping)));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns may not be held across an await.
    let _ = stopping.wait_for(|s| *s).await.is_ok();
}

/// How often an open notification stream checks that its credential still holds.
const CREDENTIAL_CHECK: std::time::Duration = std::time::Duration::from_secs(5);
