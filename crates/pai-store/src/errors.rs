//! Driver errors become `pai_core::Error` here; `sqlx::Error` never leaves the crate.

use pai_core::Error;

pub(crate) fn from_sqlx(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::RowNotFound => Error::not_found("not found"),
        sqlx::Error::PoolTimedOut => Error::unavailable("the database is busy; try again"),
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict("already exists".into()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            Error::invalid("refers to something that does not exist")
        }
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            Error::unavailable("the database is busy; try again")
        }
        _ => {
            tracing::error!(error = %e, "database error");
            Error::internal("database error")
        }
    }
}

/// Shorthand for `.map_err(from_sqlx)`.
pub(crate) trait SqlxResult<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> SqlxResult<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(from_sqlx)
    }
}
