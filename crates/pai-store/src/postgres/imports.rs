//! The progress of imports started over HTTP.

use pai_core::store::{ImportId, ImportRecord, ImportState, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool};

use super::now;
use crate::errors::SqlxResult;
use crate::rows::{self, IMPORT_COLUMNS as COLUMNS};

/// The import runs in this store's process: it is recorded as this
/// instance's, so that only its death marks it interrupted.
pub(super) async fn create(db: &super::Db, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO imports (user_id, file_name, state, total, done, created_at, updated_at, claimed_by)
         SELECT id, $1, 'running', $2, 0, $3, $3, $5 FROM users WHERE id = $4 RETURNING {COLUMNS}"
    )))
    .bind(file_name)
    .bind(total as i64)
    .bind(now())
    .bind(user.0)
    .bind(db.instance)
    .fetch_optional(&**db)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    rows::import(&row)
}

pub(super) async fn update(
    pool: &PgPool,
    user: UserId,
    id: ImportId,
    state: ImportState,
    done: u64,
    report: Option<serde_json::Value>,
    error: Option<&str>,
) -> Result<ImportRecord> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE imports SET state = $1, done = $2, report = $3, error = $4, updated_at = $5
         WHERE user_id = $6 AND id = $7 RETURNING {COLUMNS}"
    )))
    .bind(state.as_str())
    .bind(done as i64)
    .bind(report.map(|r| r.to_string()))
    .bind(error)
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no import {id}")))?;
    rows::import(&row)
}

pub(super) async fn get(pool: &PgPool, user: UserId, id: ImportId) -> Result<ImportRecord> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM imports WHERE user_id = $1 AND id = $2")))
        .bind(user.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no import {id}")))?;
    rows::import(&row)
}

pub(super) async fn list(pool: &PgPool, user: UserId) -> Result<Vec<ImportRecord>> {
    let found =
        sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM imports WHERE user_id = $1 ORDER BY id DESC")))
            .bind(user.0)
            .fetch_all(pool)
            .await
            .db()?;
    found.iter().map(rows::import).collect()
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
    .bind(now())
    .bind(db.instance)
    .execute(&**db)
    .await
    .db()?;
    Ok(done.rows_affected())
}
