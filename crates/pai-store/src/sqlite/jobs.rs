//! The extraction queue (portable/jobs.rs): claiming jobs, requeueing
//! interrupted ones and applying decisions here.

use pai_core::Result;
use pai_core::store::{ExtractionJob, JobId, UserId};
use sqlx::SqlitePool;

use crate::errors::SqlxResult;
use crate::portable::Dialect;
pub(super) use crate::portable::jobs::*;

pub(super) async fn claim(pool: &SqlitePool) -> Result<Option<ExtractionJob>> {
    // One statement: two workers can never claim the same job.
    let claimed: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE extraction_jobs SET state = 'running', attempts = attempts + 1, updated_at = ?
         WHERE id = (SELECT id FROM extraction_jobs WHERE state = 'pending' ORDER BY id LIMIT 1)
         RETURNING id, user_id",
    )
    .bind(Dialect::Sqlite.now())
    .fetch_optional(pool)
    .await
    .db()?;
    match claimed {
        Some((id, user)) => job(pool, UserId(user), JobId(id)).await.map(Some),
        None => Ok(None),
    }
}

pub(super) async fn requeue_interrupted(pool: &SqlitePool) -> Result<u64> {
    let done = sqlx::query("UPDATE extraction_jobs SET state = 'pending', updated_at = ? WHERE state = 'running'")
        .bind(Dialect::Sqlite.now())
        .execute(pool)
        .await
        .db()?;
    Ok(done.rows_affected())
}
