use chrono::{DateTime, Utc};
use pai_core::store::{Memory, MemoryId, MessageId, NewMemory, UserId};
use pai_core::{Error, Result};
use sqlx::{PgPool, Postgres, Transaction};

use super::search::tsvector;
use super::{micros, now};
use crate::checks::{check_memory, check_text};
use crate::errors::SqlxResult;

/// The columns `rows::memory` reads; a macro so queries stay `&'static str` literals.
macro_rules! columns {
    () => {
        "id, user_id, text, kind, subject, importance, valid_from, valid_to, superseded_by, created_at, updated_at,
         (SELECT string_agg(message_id::text, ',') FROM memory_sources s
          WHERE s.user_id = memories.user_id AND s.memory_id = memories.id) AS sources"
    };
}

fn terms(subject: Option<&str>, text: &str) -> String {
    tsvector(&crate::indexed::memory_terms(subject, text))
}

/// Links `sources` to `memory` after checking they are messages of `user`.
async fn add_sources(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    memory: i64,
    sources: &[MessageId],
) -> Result<()> {
    for source in sources {
        let linked = sqlx::query(
            "INSERT INTO memory_sources (user_id, memory_id, message_id)
             SELECT user_id, $2, id FROM messages WHERE user_id = $1 AND id = $3 ON CONFLICT DO NOTHING",
        )
        .bind(user.0)
        .bind(memory)
        .bind(source.0)
        .execute(&mut **tx)
        .await
        .db()?;
        if linked.rows_affected() == 0 {
            let known: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE user_id = $1 AND id = $2")
                .bind(user.0)
                .bind(source.0)
                .fetch_optional(&mut **tx)
                .await
                .db()?;
            if known.is_none() {
                return Err(Error::invalid(format!("source message {source} does not exist")));
            }
        }
    }
    Ok(())
}

pub(super) async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    m: &NewMemory,
    now: DateTime<Utc>,
) -> Result<MemoryId> {
    check_memory(m)?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO memories (user_id, text, kind, subject, importance, valid_from, created_at, updated_at, terms)
         SELECT id, $1, $2, $3, $4, $5, $6, $6, $7::tsvector FROM users WHERE id = $8 RETURNING id",
    )
    .bind(m.text.trim())
    .bind(m.kind.as_str())
    .bind(&m.subject)
    .bind(f64::from(m.importance))
    .bind(m.valid_from.map(micros))
    .bind(now)
    .bind(terms(m.subject.as_deref(), &m.text))
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await
    .db()?;
    let id = id.ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    add_sources(tx, user, id, &m.sources).await?;
    Ok(MemoryId(id))
}

pub(super) async fn get(pool: &PgPool, user: UserId, id: MemoryId) -> Result<Memory> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM memories WHERE user_id = $1 AND id = $2"))
        .bind(user.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no memory {id}")))?;
    crate::rows::memory(&row)
}

pub(super) async fn by_id(pool: &PgPool, user: UserId, ids: &[MemoryId]) -> Result<Vec<Memory>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let found =
        sqlx::query(concat!("SELECT ", columns!(), " FROM memories WHERE user_id = $1 AND id = ANY($2) ORDER BY id"))
            .bind(user.0)
            .bind(&ids)
            .fetch_all(pool)
            .await
            .db()?;
    found.iter().map(crate::rows::memory).collect()
}

pub(super) async fn predecessors(pool: &PgPool, user: UserId, id: MemoryId) -> Result<Vec<Memory>> {
    let mut out: Vec<Memory> = Vec::new();
    let mut next = id;
    // Chains are short (a home city changes a few times); the bound guards against a cycle.
    for _ in 0..100 {
        let row =
            sqlx::query(concat!("SELECT ", columns!(), " FROM memories WHERE user_id = $1 AND superseded_by = $2"))
                .bind(user.0)
                .bind(next.0)
                .fetch_optional(pool)
                .await
                .db()?;
        let Some(row) = row else { break };
        let m = crate::rows::memory(&row)?;
        next = m.id;
        out.push(m);
    }
    Ok(out)
}

pub(super) async fn list(
    pool: &PgPool,
    user: UserId,
    include_history: bool,
    before: Option<MemoryId>,
    limit: Option<usize>,
) -> Result<Vec<Memory>> {
    let found = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM memories WHERE user_id = $1 AND ($2 OR valid_to IS NULL) AND id < $3 ORDER BY id DESC LIMIT $4"
    ))
    .bind(user.0)
    .bind(include_history)
    .bind(before.map_or(i64::MAX, |b| b.0))
    .bind(limit.map(|l| l.min(i64::MAX as usize) as i64))
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(crate::rows::memory).collect()
}

pub(super) async fn update(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    id: MemoryId,
    text: &str,
    sources: &[MessageId],
) -> Result<()> {
    check_text("a memory", "text", text)?;
    let subject: Option<Option<String>> = sqlx::query_scalar(
        "UPDATE memories SET text = $1, updated_at = $2 WHERE user_id = $3 AND id = $4 RETURNING subject",
    )
    .bind(text.trim())
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .db()?;
    let Some(subject) = subject else {
        return Err(Error::not_found(format!("no memory {id}")));
    };
    sqlx::query("UPDATE memories SET terms = $1::tsvector WHERE user_id = $2 AND id = $3")
        .bind(terms(subject.as_deref(), text))
        .bind(user.0)
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .db()?;
    add_sources(tx, user, id.0, sources).await?;
    // The old vector describes the old text: drop it, the item is re-embedded.
    super::vectors::forget_memory(tx, user, id.0).await
}

pub(super) async fn supersede(
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    old: MemoryId,
    new: &NewMemory,
    at: DateTime<Utc>,
) -> Result<MemoryId> {
    // Locked: a concurrent supersede of the same memory waits, then sees it ended.
    let current: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT valid_to FROM memories WHERE user_id = $1 AND id = $2 FOR UPDATE")
            .bind(user.0)
            .bind(old.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    match current {
        None => return Err(Error::not_found(format!("no memory {old}"))),
        Some(Some(_)) => return Err(Error::Conflict(format!("memory {old} was already superseded"))),
        Some(None) => {}
    }
    let new_id = insert(tx, user, new, now()).await?;
    // Ended, it is searched only as history (valid_to IS NOT NULL) and has no vector.
    sqlx::query(
        "UPDATE memories SET valid_to = $1, superseded_by = $2, updated_at = $3 WHERE user_id = $4 AND id = $5",
    )
    .bind(micros(at))
    .bind(new_id.0)
    .bind(now())
    .bind(user.0)
    .bind(old.0)
    .execute(&mut **tx)
    .await
    .db()?;
    super::vectors::forget_memory(tx, user, old.0).await?;
    Ok(new_id)
}

/// Deletes one memory (`Some`) or all of a user's (`None`) with everything
/// derived from its text (sources and vector cascade; recorded decisions
/// here); returns how many.
pub(super) async fn delete(tx: &mut Transaction<'_, Postgres>, user: UserId, id: Option<MemoryId>) -> Result<u64> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM memories WHERE user_id = $1 AND ($2::bigint IS NULL OR id = $2) FOR UPDATE")
            .bind(user.0)
            .bind(id.map(|i| i.0))
            .fetch_all(&mut **tx)
            .await
            .db()?;
    if let (Some(id), true) = (id, ids.is_empty()) {
        return Err(Error::not_found(format!("no memory {id}")));
    }
    if id.is_none() {
        // Everything recorded about memories goes too, rejected candidates included.
        sqlx::query("DELETE FROM memory_decisions WHERE user_id = $1").bind(user.0).execute(&mut **tx).await.db()?;
    } else {
        for query in [
            // Decisions that produced it or merely matched it (their text is its text) go;
            // a successor's own decision stays, without the link.
            "DELETE FROM memory_decisions WHERE user_id = $1 AND (memory_id = ANY($2) OR (target_id = ANY($2) AND memory_id IS NULL))",
            "UPDATE memory_decisions SET target_id = NULL WHERE user_id = $1 AND target_id = ANY($2)",
        ] {
            sqlx::query(query).bind(user.0).bind(&ids).execute(&mut **tx).await.db()?;
        }
    }
    sqlx::query("DELETE FROM memories WHERE user_id = $1 AND id = ANY($2)")
        .bind(user.0)
        .bind(&ids)
        .execute(&mut **tx)
        .await
        .db()?;
    Ok(ids.len() as u64)
}

pub(super) async fn add(pool: &PgPool, user: UserId, memory: NewMemory) -> Result<Memory> {
    let mut tx = pool.begin().await.db()?;
    let id = insert(&mut tx, user, &memory, now()).await?;
    tx.commit().await.db()?;
    get(pool, user, id).await
}

pub(super) async fn update_one(
    pool: &PgPool,
    user: UserId,
    id: MemoryId,
    text: &str,
    sources: &[MessageId],
) -> Result<Memory> {
    let mut tx = pool.begin().await.db()?;
    update(&mut tx, user, id, text, sources).await?;
    tx.commit().await.db()?;
    get(pool, user, id).await
}

pub(super) async fn supersede_one(
    pool: &PgPool,
    user: UserId,
    old: MemoryId,
    new: NewMemory,
    at: DateTime<Utc>,
) -> Result<Memory> {
    let mut tx = pool.begin().await.db()?;
    let id = supersede(&mut tx, user, old, &new, at).await?;
    tx.commit().await.db()?;
    get(pool, user, id).await
}

pub(super) async fn delete_some(pool: &PgPool, user: UserId, id: Option<MemoryId>) -> Result<u64> {
    let mut tx = pool.begin().await.db()?;
    let n = delete(&mut tx, user, id).await?;
    tx.commit().await.db()?;
    Ok(n)
}
