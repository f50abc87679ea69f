//! The extraction queue (portable/jobs.rs): claiming jobs, requeueing
//! interrupted ones and applying decisions here.
//! Several servers share the queue: a job is claimed with `FOR UPDATE SKIP
//! LOCKED`, so each pending job goes to exactly one worker and none waits
//! on another's claim.

use pai_core::store::{Decision, DecisionRecord, ExtractionJob, JobId, MemoryChange, MemoryId, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

use super::{memories, now};
pub(super) use crate::portable::jobs::*;
use crate::errors::SqlxResult;

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
    .bind(now())
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
    .bind(now())
    .bind(instance)
    .execute(pool)
    .await
    .db()?;
    Ok(done.rows_affected())
}

/// Applies one decision inside the job's transaction; returns (memory, target).
async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    change: &MemoryChange,
) -> Result<(Option<MemoryId>, Option<MemoryId>)> {
    // A decision was taken against memories as they were; if one changed since,
    // the unit fails with Conflict and the job is decided again.
    let stale = |e: Error| match e {
        Error::NotFound(m) => Error::Conflict(format!("{m}: it changed while the decision was taken")),
        e => e,
    };
    Ok(match change {
        MemoryChange::Add { memory } => (Some(memories::insert(tx, user, memory, now()).await?), None),
        MemoryChange::Update { id, text, sources } => {
            ensure_current(tx, user, *id).await?;
            memories::update(tx, user, *id, text, sources).await.map_err(stale)?;
            (Some(*id), Some(*id))
        }
        MemoryChange::Supersede { old, memory, at } => {
            let new = memories::supersede(tx, user, *old, memory, *at).await.map_err(stale)?;
            (Some(new), Some(*old))
        }
        MemoryChange::Delete { id } => {
            memories::delete(tx, user, Some(*id)).await.map_err(stale)?;
            (None, Some(*id))
        }
        MemoryChange::Noop { existing } => (None, *existing),
    })
}

async fn ensure_current(tx: &mut Transaction<'_, Postgres>, user: UserId, id: MemoryId) -> Result<()> {
    let current: Option<i64> =
        sqlx::query_scalar("SELECT id FROM memories WHERE user_id = $1 AND id = $2 AND valid_to IS NULL FOR UPDATE")
            .bind(user.0)
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    current.map(|_| ()).ok_or_else(|| Error::Conflict(format!("memory {id} is gone or superseded")))
}

pub(super) async fn complete(
    pool: &PgPool,
    user: UserId,
    id: JobId,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let mut tx = pool.begin().await.db()?;
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = 'done', last_error = NULL, updated_at = $1
         WHERE user_id = $2 AND id = $3 AND state = 'running'",
    )
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    let records = record(&mut tx, user, Some(id), decisions).await?;
    tx.commit().await.db()?;
    Ok(records)
}

/// Applies decisions taken outside a job, with their audit trail, in one transaction.
pub(super) async fn apply_outside_job(
    pool: &PgPool,
    user: UserId,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let mut tx = pool.begin().await.db()?;
    let records = record(&mut tx, user, None, decisions).await?;
    tx.commit().await.db()?;
    Ok(records)
}

/// Applies `decisions` and writes them to the audit trail, in the caller's transaction.
async fn record(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    job: Option<JobId>,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let now = now();
    let mut records = Vec::with_capacity(decisions.len());
    for d in decisions {
        let (memory, target) = apply(tx, user, &d.change).await?;
        // A deleted memory keeps no trace, not even its id.
        let target = if matches!(d.change, MemoryChange::Delete { .. }) { None } else { target };
        sqlx::query(
            "INSERT INTO memory_decisions (user_id, job_id, action, candidate, memory_id, target_id, reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.0)
        .bind(job.map(|j| j.0))
        .bind(d.change.action())
        .bind(&d.candidate)
        .bind(memory.map(|m| m.0))
        .bind(target.map(|t| t.0))
        .bind(&d.reason)
        .bind(now)
        .execute(&mut **tx)
        .await
        .db()?;
        records.push(DecisionRecord {
            job,
            action: d.change.action().to_string(),
            candidate: d.candidate,
            memory,
            target,
            reason: d.reason,
            created_at: now,
        });
    }
    Ok(records)
}
