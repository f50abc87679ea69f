//! The REST API under `/api`, for the web app and scripts.

pub mod admin;
pub mod confirmations;
pub mod conversations;
pub mod documents;
pub mod imports;
pub mod keys;
pub mod memories;
pub mod reminders;
pub mod session;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::state::SharedState;

pub fn routes(import_limit: usize) -> Router<SharedState> {
    Router::new()
        .route("/api/session", post(session::login).delete(session::logout))
        .route("/api/signup", post(session::signup))
        .route("/api/me", get(session::me).patch(session::change_me))
        .route("/api/conversations", get(conversations::list).post(conversations::create))
        .route(
            "/api/conversations/{id}",
            get(conversations::get).patch(conversations::rename).delete(conversations::delete),
        )
        .route("/api/conversations/{id}/messages", get(conversations::messages).post(conversations::say))
        .route("/api/memories", get(memories::list).post(memories::create).delete(memories::delete_all))
        .route("/api/memories/search", get(memories::search))
        .route("/api/memories/export", get(memories::export))
        .route("/api/memories/{id}", get(memories::get).patch(memories::edit).delete(memories::delete))
        .route("/api/recall", post(memories::recall_items))
        .route("/api/confirmations/{token}", post(confirmations::confirm))
        .route("/api/jobs", get(memories::jobs))
        .route("/api/jobs/{id}/retry", post(memories::retry_job))
        .route("/api/imports", get(imports::list).post(imports::create).layer(DefaultBodyLimit::max(import_limit)))
        .route("/api/imports/{id}", get(imports::get))
        .route(
            "/api/documents",
            get(documents::list).post(documents::upload).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route("/api/documents/{id}", get(documents::get).delete(documents::delete))
        .route("/api/reminders", get(reminders::list).post(reminders::create))
        .route("/api/reminders/{id}", get(reminders::get).delete(reminders::cancel))
        .route("/api/notifications", get(reminders::notifications))
        .route("/api/notifications/stream", get(reminders::stream))
        .route("/api/notifications/{id}/read", post(reminders::mark_read))
        .route("/api/keys", get(keys::list).post(keys::create))
        .route("/api/keys/{id}", axum::routing::delete(keys::revoke))
        .route("/api/admin/users", get(admin::list).post(admin::create))
        .route("/api/admin/users/{id}", axum::routing::patch(admin::change).delete(admin::delete))
}
