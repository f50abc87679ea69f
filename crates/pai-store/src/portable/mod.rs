//! Statements written once for both backends. A statement is SQL with `$n`
//! placeholders (PostgreSQL's; sqlx-sqlite binds `$n` by its number too) and
//! its arguments as `Arg`s; `Run` executes it on either pool, and the rows
//! come back as `Get` for `rows.rs`. What differs between the dialects (a
//! lock clause, the claiming instance, how writes begin) stays in the
//! backend's own module; a module here holds only what is the same.

pub(crate) mod imports;
pub(crate) mod users;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pai_core::Result;
use sqlx::AssertSqlSafe;

use crate::errors::SqlxResult;
use crate::rows::Get;

/// One argument of a statement, in the column types pai uses.
pub(crate) enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
    Time(DateTime<Utc>),
}

pub(crate) type Row = Box<dyn Get + Send>;

/// A pool that runs portable statements.
#[async_trait]
pub(crate) trait Run: Send + Sync {
    /// The row the statement returns, if any.
    async fn optional(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>>;
    /// Every row it returns.
    async fn all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>>;
}

/// The statement with its arguments bound (a macro: the query's type is
/// the backend's).
macro_rules! bound {
    ($sql:expr, $args:expr, $time:expr) => {{
        let mut query = sqlx::query(AssertSqlSafe($sql.to_string()));
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.to_string()),
                Arg::OptText(v) => query.bind(v.map(str::to_string)),
                Arg::Time(v) => query.bind($time(*v)),
            };
        }
        query
    }};
}

/// `Run` for a pool: `$time` is how the backend stores a time (PostgreSQL
/// keeps microseconds, so times are cut to that first).
macro_rules! run_on {
    ($pool:ty, $time:expr) => {
        #[async_trait]
        impl Run for $pool {
            async fn optional(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
                let query = bound!(sql, args, $time);
                Ok(query.fetch_optional(self).await.db()?.map(|r| Box::new(r) as Row))
            }

            async fn all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
                let query = bound!(sql, args, $time);
                Ok(query.fetch_all(self).await.db()?.into_iter().map(|r| Box::new(r) as Row).collect())
            }
        }
    };
}

run_on!(sqlx::SqlitePool, std::convert::identity::<DateTime<Utc>>);
run_on!(sqlx::PgPool, crate::postgres::micros);
