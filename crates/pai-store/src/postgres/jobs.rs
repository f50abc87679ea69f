//! The extraction queue, the decisions it records, and conversation summaries.
//! Several servers share the queue: a job is claimed with `FOR UPDATE SKIP
//! LOCKED`, so each pending job goes to exactly one worker and none waits
//! on another's claim.

use pai_core::store::{
    ConversationId, ConversationSummary, Decision, DecisionRecord, ExtractionJob, JobId, JobState, MemoryChange,
    MemoryId, MessageId, UserId,
};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use super::{memories, now};
use crate::errors::SqlxResult;

macro_rules! job_columns {
    () => {
        "id, user_id, conversation_id, state, attempts, last_error, created_at, updated_at,
         (SELECT string_agg(message_id::text, ',') FROM extraction_job_messages m
          WHERE m.user_id = extraction_jobs.user_id AND m.job_id = extraction_jobs.id) AS messages"
    };
}

pub(super) async fn job(pool: &PgPool, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM extraction_jobs WHERE user_id = $1 AND id = $2"))
        .bind(user.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no extraction job {id}")))?;
    crate::rows::job(&row)
}

pub(super) async fn enqueue(
    pool: &PgPool,
    user: UserId,
    conversation: ConversationId,
    messages: &[MessageId],
) -> Result<ExtractionJob> {
    let mut tx = pool.begin().await.db()?;
    let id = insert_job(&mut tx, user, conversation, messages).await?;
    tx.commit().await.db()?;
    job(pool, user, id).await
}

/// Queues a job over `messages` inside `tx` (an import's, or its own).
pub(super) async fn insert_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user: UserId,
    conversation: ConversationId,
    messages: &[MessageId],
) -> Result<JobId> {
    if messages.is_empty() {
        return Err(Error::invalid("an extraction job needs at least one message"));
    }
    let now = now();
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO extraction_jobs (user_id, conversation_id, state, created_at, updated_at)
         SELECT user_id, id, 'pending', $1, $1 FROM conversations WHERE user_id = $2 AND id = $3 RETURNING id",
    )
    .bind(now)
    .bind(user.0)
    .bind(conversation.0)
    .fetch_optional(&mut **tx)
    .await
    .db()?;
    let id = id.ok_or_else(|| Error::not_found(format!("no conversation {conversation}")))?;
    let mut unique = messages.to_vec();
    unique.sort();
    unique.dedup();
    for m in &unique {
        let linked = sqlx::query(
            "INSERT INTO extraction_job_messages (user_id, job_id, message_id)
             SELECT user_id, $1, id FROM messages WHERE user_id = $2 AND id = $3 AND conversation_id = $4
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(user.0)
        .bind(m.0)
        .bind(conversation.0)
        .execute(&mut **tx)
        .await
        .db()?;
        if linked.rows_affected() == 0 {
            return Err(Error::invalid(format!("message {m} is not in conversation {conversation}")));
        }
    }
    Ok(JobId(id))
}

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

pub(super) async fn fail(pool: &PgPool, user: UserId, id: JobId, error: &str, retry: bool) -> Result<ExtractionJob> {
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = $1, last_error = $2, updated_at = $3
         WHERE user_id = $4 AND id = $5 AND state = 'running'",
    )
    .bind(if retry { "pending" } else { "failed" })
    .bind(error)
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    job(pool, user, id).await
}

/// Gives a running job back unfinished (the server is stopping): pending
/// again, its attempt not counted.
pub(super) async fn release(pool: &PgPool, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = 'pending', attempts = GREATEST(attempts - 1, 0), updated_at = $1
         WHERE user_id = $2 AND id = $3 AND state = 'running'",
    )
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    job(pool, user, id).await
}

pub(super) async fn retry(pool: &PgPool, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = 'pending', attempts = 0, updated_at = $1
         WHERE user_id = $2 AND id = $3 AND state = 'failed'",
    )
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        let j = job(pool, user, id).await?;
        return Err(Error::Conflict(format!("extraction job {id} is {}, not failed", j.state.as_str())));
    }
    job(pool, user, id).await
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

pub(super) async fn list(pool: &PgPool, user: UserId, state: Option<JobState>) -> Result<Vec<ExtractionJob>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        job_columns!(),
        " FROM extraction_jobs WHERE user_id = $1 AND ($2::text IS NULL OR state = $2) ORDER BY id DESC"
    ))
    .bind(user.0)
    .bind(state.map(JobState::as_str))
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(crate::rows::job).collect()
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

pub(super) async fn decisions(pool: &PgPool, user: UserId, memory: Option<MemoryId>) -> Result<Vec<DecisionRecord>> {
    let found = sqlx::query(
        "SELECT job_id, action, candidate, memory_id, target_id, reason, created_at FROM memory_decisions
         WHERE user_id = $1 AND ($2::bigint IS NULL OR memory_id = $2 OR target_id = $2) ORDER BY id",
    )
    .bind(user.0)
    .bind(memory.map(|m| m.0))
    .fetch_all(pool)
    .await
    .db()?;
    Ok(found
        .iter()
        .map(|r| DecisionRecord {
            job: r.get::<Option<i64>, _>("job_id").map(JobId),
            action: r.get("action"),
            candidate: r.get("candidate"),
            memory: r.get::<Option<i64>, _>("memory_id").map(MemoryId),
            target: r.get::<Option<i64>, _>("target_id").map(MemoryId),
            reason: r.get("reason"),
            created_at: r.get("created_at"),
        })
        .collect())
}

pub(super) async fn summary(
    pool: &PgPool,
    user: UserId,
    conversation: ConversationId,
) -> Result<Option<ConversationSummary>> {
    let row = sqlx::query(
        "SELECT summary, through_message_id, updated_at FROM conversation_summaries
         WHERE user_id = $1 AND conversation_id = $2",
    )
    .bind(user.0)
    .bind(conversation.0)
    .fetch_optional(pool)
    .await
    .db()?;
    Ok(row.map(|r| ConversationSummary {
        text: r.get("summary"),
        through: MessageId(r.get("through_message_id")),
        updated_at: r.get("updated_at"),
    }))
}

pub(super) async fn set_summary(
    pool: &PgPool,
    user: UserId,
    conversation: ConversationId,
    text: &str,
    through: MessageId,
) -> Result<()> {
    crate::checks::check_text("a summary", "text", text)?;
    // Written only when `through` is a message of the user's conversation.
    let done = sqlx::query(
        "INSERT INTO conversation_summaries (user_id, conversation_id, summary, through_message_id, updated_at)
         SELECT user_id, conversation_id, $3, id, $5 FROM messages WHERE user_id = $1 AND conversation_id = $2 AND id = $4
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET summary = excluded.summary,
             through_message_id = excluded.through_message_id, updated_at = excluded.updated_at",
    )
    .bind(user.0)
    .bind(conversation.0)
    .bind(text.trim())
    .bind(through.0)
    .bind(now())
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no message {through} in conversation {conversation}")));
    }
    Ok(())
}

pub(super) async fn counts(pool: &PgPool) -> Result<Vec<(JobState, u64)>> {
    let found: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM extraction_jobs GROUP BY state").fetch_all(pool).await.db()?;
    found
        .into_iter()
        .map(|(s, n)| {
            let state = JobState::parse(&s).ok_or_else(|| Error::internal(format!("unknown job state {s}")))?;
            Ok((state, n as u64))
        })
        .collect()
}
