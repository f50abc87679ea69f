//! The extraction queue (portable/jobs.rs): claiming jobs, requeueing
//! interrupted ones and applying decisions here.
//! Several servers share the queue: a job is claimed with `FOR UPDATE SKIP
//! LOCKED`, so each pending job goes to exactly one worker and none waits
//! on another's claim.

use pai_core::Result;
use pai_core::store::{ExtractionJob, JobId, UserId};
use sqlx::{AssertSqlSafe, PgPool};

use crate::errors::SqlxResult;
use crate::portable::Dialect;
pub(super) use crate::portable::jobs::*;

pub(super) async fn claim(pool: &PgPool, instance: i32) -> Result<Option<ExtractionJob>> {
    // SKIP LOCKED: a job another server is claiming right now is passed over,
    // never taken twice and never waited for. A job still "running" for a
    // server that died is taken over.
    let claimed: Option<(i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
        "UPDATE extraction_jobs SET state = 'running', attempts = attempts + 1, updated_at = $1, claimed_by = $2
         WHERE (user_id, id) = (SELECT user_id, id FROM extraction_jobs
                                WHERE state = 'pending' OR (state = 'running' AND {})
                                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, user_id",
        super::abandoned("claimed_by")
    )))
    .bind(Dialect::Postgres.now())
    .bind(instance)
    .fetch_optional(pool)
    .await
    .db()?;
    match claimed {
        Some((id, user)) => job(pool, UserId(user), JobId(id)).await.map(Some),
        None => Ok(None),
    }
}

/// Jobs left running by a process that died go back to pending: this
/// store's own (it has just started: nothing of it runs yet) and those of
/// servers whose liveness lock is gone. Jobs of live servers stay theirs.
pub(super) async fn requeue_interrupted(pool: &PgPool, instance: i32) -> Result<u64> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE extraction_jobs SET state = 'pending', updated_at = $1
         WHERE state = 'running' AND (claimed_by = $2 OR {})",
        super::abandoned("claimed_by")
    )))
    .bind(Dialect::Postgres.now())
    .bind(instance)
    .execute(pool)
    .await
    .db()?;
    Ok(done.rows_affected())
}
