//! The extraction queue, the decisions it records, and conversation
//! summaries. Claiming a job and requeueing interrupted ones differ
//! (PostgreSQL records which server runs a job and passes over rows being
//! claimed) and stay in each backend.

use pai_core::store::{
    ConversationId, ConversationSummary, Decision, DecisionRecord, ExtractionJob, JobId, JobState, MemoryChange,
    MemoryId, MessageId, UserId,
};
use pai_core::{Error, Result};

use super::{Arg, Dialect, Pool, Run, memories};
use crate::rows;

/// The columns `rows::job` reads. PostgreSQL's job-message links carry the
/// user (its distribution column); SQLite's do not.
fn columns(dialect: Dialect) -> String {
    let messages = dialect.comma_list("message_id");
    let link = match dialect {
        Dialect::Sqlite => "m.job_id = extraction_jobs.id",
        Dialect::Postgres => "m.user_id = extraction_jobs.user_id AND m.job_id = extraction_jobs.id",
    };
    format!(
        "id, user_id, conversation_id, state, attempts, last_error, created_at, updated_at,
         (SELECT {messages} FROM extraction_job_messages m WHERE {link}) AS messages"
    )
}

pub(crate) async fn job(pool: &dyn Run, user: UserId, id: JobId) -> Result<ExtractionJob> {
    let sql = format!("SELECT {} FROM extraction_jobs WHERE user_id = $1 AND id = $2", columns(pool.dialect()));
    rows::job(&*pool.one(&sql, &[Arg::Int(user.0), Arg::Int(id.0)], &format!("no extraction job {id}")).await?)
}

pub(crate) async fn enqueue(
    pool: &dyn Pool,
    user: UserId,
    conversation: ConversationId,
    messages: &[MessageId],
) -> Result<ExtractionJob> {
    let tx = pool.begin().await?;
    let id = insert_job(&*tx, user, conversation, messages).await?;
    tx.commit().await?;
    job(pool, user, id).await
}

/// Queues a job over `messages` inside `tx` (an import's, or its own).
pub(crate) async fn insert_job(
    tx: &dyn Run,
    user: UserId,
    conversation: ConversationId,
    messages: &[MessageId],
) -> Result<JobId> {
    crate::checks::check_job(messages)?;
    let sql = "INSERT INTO extraction_jobs (user_id, conversation_id, state, created_at, updated_at)
               SELECT user_id, id, 'pending', $1, $1 FROM conversations WHERE user_id = $2 AND id = $3 RETURNING id";
    let args = [Arg::Time(tx.dialect().now()), Arg::Int(user.0), Arg::Int(conversation.0)];
    let id = tx.one(sql, &args, &format!("no conversation {conversation}")).await?.int("id");
    let link = match tx.dialect() {
        Dialect::Sqlite => {
            "INSERT INTO extraction_job_messages (job_id, message_id)
             SELECT $1, id FROM messages WHERE user_id = $2 AND id = $3 AND conversation_id = $4"
        }
        Dialect::Postgres => {
            "INSERT INTO extraction_job_messages (user_id, job_id, message_id)
             SELECT user_id, $1, id FROM messages WHERE user_id = $2 AND id = $3 AND conversation_id = $4"
        }
    };
    let mut unique = messages.to_vec();
    unique.sort();
    unique.dedup();
    for m in &unique {
        let args = [Arg::Int(id), Arg::Int(user.0), Arg::Int(m.0), Arg::Int(conversation.0)];
        if tx.execute(link, &args).await? == 0 {
            return Err(Error::invalid(format!("message {m} is not in conversation {conversation}")));
        }
    }
    Ok(JobId(id))
}

/// Changes a job of `user` that is in state `from` by `set` (SQL whose
/// arguments `more` are `$4`…); how many rows changed (0 or 1).
async fn moved(pool: &dyn Run, user: UserId, id: JobId, from: &str, set: &str, more: &[Arg<'_>]) -> Result<u64> {
    let sql = format!(
        "UPDATE extraction_jobs SET {set}, updated_at = $1 WHERE user_id = $2 AND id = $3 AND state = '{from}'"
    );
    let mut args = vec![Arg::Time(pool.dialect().now()), Arg::Int(user.0), Arg::Int(id.0)];
    args.extend_from_slice(more);
    pool.execute(&sql, &args).await
}

pub(crate) async fn fail(pool: &dyn Run, user: UserId, id: JobId, error: &str, retry: bool) -> Result<ExtractionJob> {
    let state = if retry { "pending" } else { "failed" };
    let changed =
        moved(pool, user, id, "running", "state = $4, last_error = $5", &[Arg::Text(state), Arg::Text(error)]).await?;
    if changed == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    job(pool, user, id).await
}

/// Gives a running job back unfinished (the server is stopping): pending
/// again, its attempt not counted.
pub(crate) async fn release(pool: &dyn Run, user: UserId, id: JobId) -> Result<ExtractionJob> {
    // CASE, not GREATEST/MAX: the one spelling both dialects share.
    let set = "state = 'pending', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END";
    if moved(pool, user, id, "running", set, &[]).await? == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    job(pool, user, id).await
}

pub(crate) async fn retry(pool: &dyn Run, user: UserId, id: JobId) -> Result<ExtractionJob> {
    if moved(pool, user, id, "failed", "state = 'pending', attempts = 0", &[]).await? == 0 {
        let j = job(pool, user, id).await?;
        return Err(Error::Conflict(format!("extraction job {id} is {}, not failed", j.state.as_str())));
    }
    job(pool, user, id).await
}

/// Applies one decision inside the job's transaction; returns (memory, target).
async fn apply(tx: &dyn Run, user: UserId, change: &MemoryChange) -> Result<(Option<MemoryId>, Option<MemoryId>)> {
    // A decision was taken against memories as they were; if one changed since,
    // the unit fails with Conflict and the job is decided again.
    let stale = |e: Error| match e {
        Error::NotFound(m) => Error::Conflict(format!("{m}: it changed while the decision was taken")),
        e => e,
    };
    Ok(match change {
        MemoryChange::Add { memory } => (Some(memories::insert(tx, user, memory).await?), None),
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

async fn ensure_current(tx: &dyn Run, user: UserId, id: MemoryId) -> Result<()> {
    let sql = format!(
        "SELECT id FROM memories WHERE user_id = $1 AND id = $2 AND valid_to IS NULL{}",
        tx.dialect().for_update()
    );
    match tx.optional(&sql, &[Arg::Int(user.0), Arg::Int(id.0)]).await? {
        Some(_) => Ok(()),
        None => Err(Error::Conflict(format!("memory {id} is gone or superseded"))),
    }
}

pub(crate) async fn complete(
    pool: &dyn Pool,
    user: UserId,
    id: JobId,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let tx = pool.begin().await?;
    if moved(&*tx, user, id, "running", "state = 'done', last_error = NULL", &[]).await? == 0 {
        return Err(Error::not_found(format!("no running extraction job {id}")));
    }
    let records = record(&*tx, user, Some(id), decisions).await?;
    tx.commit().await?;
    Ok(records)
}

/// Applies decisions taken outside a job, with their audit trail, in one transaction.
pub(crate) async fn apply_outside_job(
    pool: &dyn Pool,
    user: UserId,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let tx = pool.begin().await?;
    let records = record(&*tx, user, None, decisions).await?;
    tx.commit().await?;
    Ok(records)
}

/// Applies `decisions` and writes them to the audit trail, in the caller's transaction.
async fn record(
    tx: &dyn Run,
    user: UserId,
    job: Option<JobId>,
    decisions: Vec<Decision>,
) -> Result<Vec<DecisionRecord>> {
    let now = tx.dialect().now();
    let mut records = Vec::with_capacity(decisions.len());
    for d in decisions {
        let (memory, target) = apply(tx, user, &d.change).await?;
        // A deleted memory keeps no trace, not even its id.
        let target = if matches!(d.change, MemoryChange::Delete { .. }) { None } else { target };
        tx.execute(
            "INSERT INTO memory_decisions (user_id, job_id, action, candidate, memory_id, target_id, reason, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                Arg::Int(user.0),
                Arg::OptInt(job.map(|j| j.0)),
                Arg::Text(d.change.action()),
                Arg::Text(&d.candidate),
                Arg::OptInt(memory.map(|m| m.0)),
                Arg::OptInt(target.map(|t| t.0)),
                Arg::Text(&d.reason),
                Arg::Time(now),
            ],
        )
        .await?;
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

pub(crate) async fn list(pool: &dyn Run, user: UserId, state: Option<JobState>) -> Result<Vec<ExtractionJob>> {
    let (filter, args) = match state {
        None => ("", vec![Arg::Int(user.0)]),
        Some(s) => (" AND state = $2", vec![Arg::Int(user.0), Arg::Text(s.as_str())]),
    };
    let sql =
        format!("SELECT {} FROM extraction_jobs WHERE user_id = $1{filter} ORDER BY id DESC", columns(pool.dialect()));
    pool.all(&sql, &args).await?.iter().map(|r| rows::job(&**r)).collect()
}

pub(crate) async fn decisions(pool: &dyn Run, user: UserId, memory: Option<MemoryId>) -> Result<Vec<DecisionRecord>> {
    let (filter, args) = match memory {
        None => ("", vec![Arg::Int(user.0)]),
        Some(m) => (" AND (memory_id = $2 OR target_id = $2)", vec![Arg::Int(user.0), Arg::Int(m.0)]),
    };
    let sql = format!(
        "SELECT job_id, action, candidate, memory_id, target_id, reason, created_at FROM memory_decisions
         WHERE user_id = $1{filter} ORDER BY id"
    );
    Ok(pool
        .all(&sql, &args)
        .await?
        .iter()
        .map(|r| DecisionRecord {
            job: r.opt_int("job_id").map(JobId),
            action: r.text("action"),
            candidate: r.text("candidate"),
            memory: r.opt_int("memory_id").map(MemoryId),
            target: r.opt_int("target_id").map(MemoryId),
            reason: r.text("reason"),
            created_at: r.time("created_at"),
        })
        .collect())
}

pub(crate) async fn summary(
    pool: &dyn Run,
    user: UserId,
    conversation: ConversationId,
) -> Result<Option<ConversationSummary>> {
    let sql = "SELECT summary, through_message_id, updated_at FROM conversation_summaries
               WHERE user_id = $1 AND conversation_id = $2";
    let row = pool.optional(sql, &[Arg::Int(user.0), Arg::Int(conversation.0)]).await?;
    Ok(row.map(|r| ConversationSummary {
        text: r.text("summary"),
        through: MessageId(r.int("through_message_id")),
        updated_at: r.time("updated_at"),
    }))
}

pub(crate) async fn set_summary(
    pool: &dyn Run,
    user: UserId,
    conversation: ConversationId,
    text: &str,
    through: MessageId,
) -> Result<()> {
    crate::checks::check_text("a summary", "text", text)?;
    // Written only when `through` is a message of the user's conversation.
    let sql = format!(
        "INSERT INTO conversation_summaries (user_id, conversation_id, summary, through_message_id, updated_at)
         SELECT user_id, conversation_id, $3, id, $5 FROM messages WHERE user_id = $1 AND conversation_id = $2 AND id = $4
         ON CONFLICT ({}) DO UPDATE SET summary = excluded.summary,
             through_message_id = excluded.through_message_id, updated_at = excluded.updated_at",
        pool.dialect().user_key("conversation_id")
    );
    let args = [
        Arg::Int(user.0),
        Arg::Int(conversation.0),
        Arg::Text(text.trim()),
        Arg::Int(through.0),
        Arg::Time(pool.dialect().now()),
    ];
    if pool.execute(&sql, &args).await? == 0 {
        return Err(Error::not_found(format!("no message {through} in conversation {conversation}")));
    }
    Ok(())
}

pub(crate) async fn counts(pool: &dyn Run) -> Result<Vec<(JobState, u64)>> {
    let found = pool.all("SELECT state, count(*) AS n FROM extraction_jobs GROUP BY state", &[]).await?;
    found
        .iter()
        .map(|r| {
            let s = r.text("state");
            let state = JobState::parse(&s).ok_or_else(|| Error::internal(format!("unknown job state {s}")))?;
            Ok((state, r.int("n") as u64))
        })
        .collect()
}
