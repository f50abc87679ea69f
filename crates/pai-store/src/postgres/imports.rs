//! The progress of imports started over HTTP.

use pai_core::store::{ImportRecord, UserId};
use pai_core::{Error, Result};
use sqlx::AssertSqlSafe;

use crate::errors::SqlxResult;
use crate::portable::Dialect;
use crate::rows::{self, IMPORT_COLUMNS as COLUMNS};

pub(super) use crate::portable::imports::{get, list, update};

/// The import runs in this store's process: it is recorded as this
/// instance's, so that only its death marks it interrupted.
pub(super) async fn create(db: &super::Db, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO imports (user_id, file_name, state, total, done, created_at, updated_at, claimed_by)
         SELECT id, $1, 'running', $2, 0, $3, $3, $5 FROM users WHERE id = $4 RETURNING {COLUMNS}"
    )))
    .bind(file_name)
    .bind(total as i64)
    .bind(Dialect::Postgres.now())
    .bind(user.0)
    .bind(db.instance)
    .fetch_optional(&**db)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    rows::import(&row)
}

/// Imports run inside the request's server; one that was running when its
/// server died never finishes. This store's own (it has just started) and
/// those of servers that are gone are marked failed; live servers' stay.
pub(super) async fn fail_interrupted(db: &super::Db) -> Result<u64> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE imports SET state = 'failed', updated_at = $1,
         error = 'interrupted by a restart; upload the file again (what was imported is skipped)'
         WHERE state = 'running' AND (claimed_by = $2 OR {})",
        super::abandoned("claimed_by")
    )))
    .bind(Dialect::Postgres.now())
    .bind(db.instance)
    .execute(&**db)
    .await
    .db()?;
    Ok(done.rows_affected())
}
