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

use axum::extract::DefaultBodyLimit;
use serde::Serialize;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::state::SharedState;

/// A list in a response body: `{"data": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
}

impl<T> From<Vec<T>> for List<T> {
    fn from(data: Vec<T>) -> Self {
        List { data }
    }
}

/// Every `/api` route with its operation in `/openapi.json`.
pub fn routes(import_limit: usize) -> OpenApiRouter<SharedState> {
    let uploads = DefaultBodyLimit::max(import_limit);
    OpenApiRouter::new()
        .routes(routes!(session::login, session::logout))
        .routes(routes!(session::signup))
        .routes(routes!(session::me, session::change_me))
        .routes(routes!(conversations::list, conversations::create))
        .routes(routes!(conversations::get, conversations::rename, conversations::delete))
        .routes(routes!(conversations::messages, conversations::say))
        .routes(routes!(memories::list, memories::create, memories::delete_all))
        .routes(routes!(memories::search))
        .routes(routes!(memories::export))
        .routes(routes!(memories::get, memories::edit, memories::delete))
        .routes(routes!(memories::recall_items))
        .routes(routes!(confirmations::confirm))
        .routes(routes!(memories::jobs))
        .routes(routes!(memories::retry_job))
        .routes(routes!(imports::list, imports::create).layer(uploads))
        .routes(routes!(imports::get))
        .routes(routes!(documents::list, documents::upload).layer(uploads))
        .routes(routes!(documents::get, documents::delete))
        .routes(routes!(documents::suggestions))
        .routes(routes!(documents::summary))
        .routes(routes!(reminders::list, reminders::create))
        .routes(routes!(reminders::get, reminders::cancel))
        .routes(routes!(reminders::notifications))
        .routes(routes!(reminders::stream))
        .routes(routes!(reminders::mark_read))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(admin::list, admin::create))
        .routes(routes!(admin::change, admin::delete))
}
