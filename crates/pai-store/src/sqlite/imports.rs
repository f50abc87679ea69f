//! The progress of imports started over HTTP.

use chrono::Utc;
use pai_core::store::{ImportId, ImportRecord, ImportState, UserId};
use pai_core::{Error, Result};
use sqlx::SqlitePool;

use crate::errors::SqlxResult;

use crate::rows::{self, IMPORT_COLUMNS as COLUMNS};

pub(super) async fn create(pool: &SqlitePool, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord> {
    let now = Utc::now();
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

pub(super) async fn update(
    pool: &SqlitePool,
    user: UserId,
    id: ImportId,
    state: ImportState,
    done: u64,
    report: Option<serde_json::Value>,
    error: Option<&str>,
) -> Result<ImportRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE imports SET state = ?, done = ?, report = ?, error = ?, updated_at = ?
         WHERE id = ? AND user_id = ? RETURNING {COLUMNS}"
    )))
    .bind(state.as_str())
    .bind(done as i64)
    .bind(report.map(|r| r.to_string()))
    .bind(error)
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no import {id}")))?;
    rows::import(&row)
}

pub(super) async fn get(pool: &SqlitePool, user: UserId, id: ImportId) -> Result<ImportRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM imports WHERE id = ? AND user_id = ?")))
        .bind(id.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no import {id}")))?;
    rows::import(&row)
}

pub(super) async fn list(pool: &SqlitePool, user: UserId) -> Result<Vec<ImportRecord>> {
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM imports WHERE user_id = ? ORDER BY id DESC")))
            .bind(user.0)
            .fetch_all(pool)
            .await
            .db()?;
    rows.iter().map(rows::import).collect()
}

pub(super) async fn fail_interrupted(pool: &SqlitePool) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE imports SET state = 'failed', updated_at = ?,
         error = 'interrupted by a restart; upload the file again (what was imported is skipped)'
         WHERE state = 'running'",
    )
    .bind(Utc::now())
    .execute(pool)
    .await
    .db()?;
    Ok(done.rows_affected())
}
