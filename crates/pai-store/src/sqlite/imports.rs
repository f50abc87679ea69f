//! The progress of imports started over HTTP.

use pai_core::store::{ImportRecord, UserId};
use pai_core::{Error, Result};
use sqlx::SqlitePool;

use crate::errors::SqlxResult;
use crate::portable::Dialect;

use crate::rows::{self, IMPORT_COLUMNS as COLUMNS};

pub(super) use crate::portable::imports::{get, list, update};

pub(super) async fn create(pool: &SqlitePool, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord> {
    let now = Dialect::Sqlite.now();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO imports (user_id, file_name, state, total, done, created_at, updated_at)
         SELECT id, ?, 'running', ?, 0, ?, ? FROM users WHERE id = ? RETURNING {COLUMNS}"
    )))
    .bind(file_name)
    .bind(total as i64)
    .bind(now)
    .bind(now)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    rows::import(&row)
}

pub(super) async fn fail_interrupted(pool: &SqlitePool) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE imports SET state = 'failed', updated_at = ?,
         error = 'interrupted by a restart; upload the file again (what was imported is skipped)'
         WHERE state = 'running'",
    )
    .bind(Dialect::Sqlite.now())
    .execute(pool)
    .await
    .db()?;
    Ok(done.rows_affected())
}
