//! The extraction queue, the decisions it records, and conversation summaries.

use chrono::Utc;
use pai_core::store::{
    ConversationId, ConversationSummary, Decision, DecisionRecord, ExtractionJob, JobId, JobState, MemoryChange,
    MemoryId, MessageId, UserId,
};
use pai_core::{Error, Result};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::memories;
use crate::errors::SqlxResult;

macro_rules! job_columns {
    () => {
        "id, user_id, conversation_id, state, attempts, last_error, created_at, updated_at,
         (SELECT group_concat(message_id) FROM extraction_job_messages WHERE job_id = extraction_jobs.id) AS messages"
    };
}

pub(super) async fn job(pool: &SqlitePool, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let row = sqlx::query(concat!("SELECT ", job_columns!(), " FROM extraction_jobs WHERE id = ? AND user_id = ?"))
        .bind(id.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no extraction job {id}")))?;
    crate::rows::job(&row)
}

pub(super) async fn enqueue(
    pool: &SqlitePool,
    user: UserId,
    conversation: ConversationId,
    messages: &[MessageId],
) -> Result<ExtractionJob> {
    let mut tx = super::write_tx(pool).await?;
    let id = insert_job(&mut tx, user, conversation, messages).await?;
    tx.commit().await.db()?;
    job(pool, user, id).await
}

/// Queues a job over `messages` inside `tx` (an import's, or its own).
pub(super) async fn insert_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    user: UserId,
    conversation: ConversationId,
    messages: &[MessageId],
) -> Result<JobId> {
    if messages.is_empty() {
        return Err(Error::invalid("an extraction job needs at least one message"));
    }
    let now = Utc::now();
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO extraction_jobs (user_id, conversation_id, state, created_at, updated_at)
         SELECT user_id, id, 'pending', ?, ? FROM conversations WHERE id = ? AND user_id = ? RETURNING id",
    )
    .bind(now)
    .bind(now)
    .bind(conversation.0)
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await
    .db()?;
    let id = id.ok_or_else(|| Error::not_found(format!("no conversation {conversation}")))?;
    for m in messages {
        let linked = sqlx::query(
            "INSERT INTO extraction_job_messages (job_id, message_id)
             SELECT ?, id FROM messages WHERE id = ? AND user_id = ? AND conversation_id = ?",
        )
        .bind(id)
        .bind(m.0)
        .bind(user.0)
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

pub(super) async fn claim(pool: &SqlitePool) -> Result<Option<ExtractionJob>> {
    // One statement: two workers can never claim the same job.
    let claimed: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE extraction_jobs SET state = 'running', attempts = attempts + 1, updated_at = ?
         WHERE id = (SELECT id FROM extraction_jobs WHERE state = 'pending' ORDER BY id LIMIT 1)
         RETURNING id, user_id",
    )
    .bind(Utc::now())
    .fetch_optional(pool)
    .await
    .db()?;
    match claimed {
        Some((id, user)) => job(pool, UserId(user), JobId(id)).await.map(Some),
        None => Ok(None),
    }
}

pub(super) async fn fail(
    pool: &SqlitePool,
    user: UserId,
    id: JobId,
    error: &str,
    retry: bool,
) -> Result<ExtractionJob> {
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = ?, last_error = ?, updated_at = ?
         WHERE id = ? AND user_id = ? AND state = 'running'",
    )
    .bind(if retry { "pending" } else { "failed" })
    .bind(error)
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
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
pub(super) async fn release(pool: &SqlitePool, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), updated_at = ?
         WHERE id = ? AND user_id = ? AND state = 'running'",
    )
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    job(pool, user, id).await
}

pub(super) async fn retry(pool: &SqlitePool, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = 'pending', attempts = 0, updated_at = ?
         WHERE id = ? AND user_id = ? AND state = 'failed'",
    )
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
    .execute(pool)
    .await
    .db()?;
    if done.rows_affected() == 0 {
        let j = job(pool, user, id).await?;
        return Err(Error::Conflict(format!("extraction job {id} is {}, not failed", j.state.as_str())));
    }
    job(pool, user, id).await
}

pub(super) async fn requeue_interrupted(pool: &SqlitePool) -> Result<u64> {
    let done = sqlx::query("UPDATE extraction_jobs SET state = 'pending', updated_at = ? WHERE state = 'running'")
        .bind(Utc::now())
        .execute(pool)
        .await
        .db()?;
    Ok(done.rows_affected())
}

pub(super) async fn list(pool: &SqlitePool, user: UserId, state: Option<JobState>) -> Result<Vec<ExtractionJob>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        job_columns!(),
        " FROM extraction_jobs WHERE user_id = ? AND (? IS NULL OR state = ?) ORDER BY id DESC"
    ))
    .bind(user.0)
    .bind(state.map(JobState::as_str))
    .bind(state.map(JobState::as_str))
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(crate::rows::job).collect()
}

/// Applies one decision inside the job's transaction; returns (memory, target).
async fn apply(
    tx: &mut Transaction<'_, Sqlite>,
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
        MemoryChange::Add { memory } => (Some(memories::insert(tx, user, memory, Utc::now()).await?), None),
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

async fn ensure_current(tx: &mut Transaction<'_, Sqlite>, user: UserId, id: MemoryId) -> Result<()> {
    let current: Option<i64> =
        sqlx::query_scalar("SELECT id FROM memories WHERE id = ? AND user_id = ? AND valid_to IS NULL")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    current.map(|_| ()).ok_or_else(|| Error::Conflict(format!("memory {id} is gone or superseded")))
}

pub(super) async fn complete(
    pool: &SqlitePool,
    user: UserId,
    id: JobId,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let mut tx = super::write_tx(pool).await?;
    let now = Utc::now();
    let done = sqlx::query(
        "UPDATE extraction_jobs SET state = 'done', last_error = NULL, updated_at = ?
         WHERE id = ? AND user_id = ? AND state = 'running'",
    )
    .bind(now)
    .bind(id.0)
    .bind(user.0)
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
    pool: &SqlitePool,
    user: UserId,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let mut tx = super::write_tx(pool).await?;
    let records = record(&mut tx, user, None, decisions).await?;
    tx.commit().await.db()?;
    Ok(records)
}

/// Applies `decisions` and writes them to the audit trail, in the caller's transaction.
pub(super) async fn record(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    job: Option<JobId>,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let now = Utc::now();
    let mut records = Vec::with_capacity(decisions.len());
    for d in decisions {
        let (memory, target) = apply(tx, user, &d.change).await?;
        // A deleted memory keeps no trace, not even its id.
        let target = if matches!(d.change, MemoryChange::Delete { .. }) { None } else { target };
        sqlx::query(
            "INSERT INTO memory_decisions (user_id, job_id, action, candidate, memory_id, target_id, reason, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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

pub(super) async fn decisions(
    pool: &SqlitePool,
    user: UserId,
    memory: Option<MemoryId>,
) -> Result<Vec<DecisionRecord>> {
    let rows = sqlx::query(
        "SELECT job_id, action, candidate, memory_id, target_id, reason, created_at FROM memory_decisions
         WHERE user_id = ?1 AND (?2 IS NULL OR memory_id = ?2 OR target_id = ?2) ORDER BY id",
    )
    .bind(user.0)
    .bind(memory.map(|m| m.0))
    .fetch_all(pool)
    .await
    .db()?;
    Ok(rows
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
    pool: &SqlitePool,
    user: UserId,
    conversation: ConversationId,
) -> Result<Option<ConversationSummary>> {
    let row = sqlx::query(
        "SELECT summary, through_message_id, updated_at FROM conversation_summaries
         WHERE conversation_id = ? AND user_id = ?",
    )
    .bind(conversation.0)
    .bind(user.0)
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
    pool: &SqlitePool,
    user: UserId,
    conversation: ConversationId,
    text: &str,
    through: MessageId,
) -> Result<()> {
    super::check_text("a summary", "text", text)?;
    let owned: Option<i64> =
        sqlx::query_scalar("SELECT id FROM messages WHERE id = ? AND user_id = ? AND conversation_id = ?")
            .bind(through.0)
            .bind(user.0)
            .bind(conversation.0)
            .fetch_optional(pool)
            .await
            .db()?;
    if owned.is_none() {
        return Err(Error::not_found(format!("no message {through} in conversation {conversation}")));
    }
    sqlx::query(
        "INSERT INTO conversation_summaries (conversation_id, user_id, summary, through_message_id, updated_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (conversation_id) DO UPDATE SET summary = excluded.summary,
             through_message_id = excluded.through_message_id, updated_at = excluded.updated_at
         WHERE conversation_summaries.user_id = excluded.user_id",
    )
    .bind(conversation.0)
    .bind(user.0)
    .bind(text.trim())
    .bind(through.0)
    .bind(Utc::now())
    .execute(pool)
    .await
    .db()?;
    Ok(())
}

pub(super) async fn counts(pool: &SqlitePool) -> Result<Vec<(JobState, u64)>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM extraction_jobs GROUP BY state").fetch_all(pool).await.db()?;
    rows.into_iter()
        .map(|(s, n)| {
            let state = JobState::parse(&s).ok_or_else(|| Error::internal(format!("unknown job state {s}")))?;
            Ok((state, n as u64))
        })
        .collect()
}
