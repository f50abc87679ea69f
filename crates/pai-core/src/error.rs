//! One error type for everything above the drivers, classified by what the
//! caller should do about it (the qdrant / meilisearch pattern). Drivers
//! (llama.cpp, HTTP, SQL) convert their errors into this at their boundary.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist (for this user). Do not retry.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong; the message says how to fix it. Do not retry as is.
    /// `field` names the input at fault (as the APIs call it: `text`, `when`,
    /// `title`), when one is; the server reports it as the error's `param`.
    #[error("{message}")]
    Invalid { message: String, field: Option<&'static str> },
    /// The request clashes with current state (already exists, changed meanwhile).
    #[error("{0}")]
    Conflict(String),
    /// Missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// A dependency is down or overloaded; the same request may work later.
    #[error("{message}")]
    Unavailable { message: String, retry_after: Option<Duration> },
    /// A bug or an unexpected failure; details are logged, not shown to end users.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid { message: msg.into(), field: None }
    }
    /// Invalid, naming the input at fault.
    pub fn invalid_field(field: &'static str, msg: impl Into<String>) -> Self {
        Error::Invalid { message: msg.into(), field: Some(field) }
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Error::Unavailable { message: msg.into(), retry_after: None }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
