use chrono::{DateTime, Utc};
use pai_core::store::{Memory, MemoryId, MessageId, NewMemory, UserId};
use pai_core::{Error, Result};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::checks::{check_memory, check_text};
use crate::errors::SqlxResult;

/// The columns `from_row` reads; a macro so queries stay `&'static str` literals.
macro_rules! columns {
    () => {
        "id, user_id, text, kind, subject, importance, valid_from, valid_to, superseded_by, created_at, updated_at,
         (SELECT group_concat(message_id) FROM memory_sources WHERE memory_id = memories.id) AS sources"
    };
}

/// Links `sources` to `memory` after checking they are messages of `user`.
async fn add_sources(tx: &mut Transaction<'_, Sqlite>, user: UserId, memory: i64, sources: &[MessageId]) -> Result<()> {
    for source in sources {
        let owned: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE id = ? AND user_id = ?")
            .bind(source.0)
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
        if owned.is_none() {
            return Err(Error::invalid(format!("source message {source} does not exist")));
        }
        sqlx::query("INSERT OR IGNORE INTO memory_sources (memory_id, message_id) VALUES (?, ?)")
            .bind(memory)
            .bind(source.0)
            .execute(&mut **tx)
            .await
            .db()?;
    }
    Ok(())
}

/// Indexes the memory's text with its subject (`indexed::memory_terms`).
async fn index(tx: &mut Transaction<'_, Sqlite>, user: UserId, id: i64, text: &str) -> Result<()> {
    let subject: Option<String> = sqlx::query_scalar("SELECT subject FROM memories WHERE id = ? AND user_id = ?")
        .bind(id)
        .bind(user.0)
        .fetch_optional(&mut **tx)
        .await
        .db()?
        .flatten();
    sqlx::query("DELETE FROM memories_fts WHERE rowid = ? AND user_id = ?")
        .bind(id)
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .db()?;
    sqlx::query("INSERT INTO memories_fts (rowid, terms, owner, user_id) VALUES (?, ?, 'u' || ?3, ?3)")
        .bind(id)
        .bind(crate::indexed::memory_terms(subject.as_deref(), text))
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .db()?;
    Ok(())
}

pub(super) async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    m: &NewMemory,
    now: DateTime<Utc>,
) -> Result<MemoryId> {
    check_memory(m)?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO memories (user_id, text, kind, subject, importance, valid_from, created_at, updated_at)
         SELECT id, ?, ?, ?, ?, ?, ?, ? FROM users WHERE id = ? RETURNING id",
    )
    .bind(m.text.trim())
    .bind(m.kind.as_str())
    .bind(&m.subject)
    .bind(m.importance)
    .bind(m.valid_from)
    .bind(now)
    .bind(now)
    .bind(user.0)
    .fetch_optional(&mut **tx)
    .await
    .db()?;
    let id = id.ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    add_sources(tx, user, id, &m.sources).await?;
    index(tx, user, id, &m.text).await?;
    Ok(MemoryId(id))
}

pub(super) async fn get(pool: &SqlitePool, user: UserId, id: MemoryId) -> Result<Memory> {
    let row = sqlx::query(concat!("SELECT ", columns!(), " FROM memories WHERE id = ? AND user_id = ?"))
        .bind(id.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no memory {id}")))?;
    crate::rows::memory(&row)
}

pub(super) async fn by_id(pool: &SqlitePool, user: UserId, ids: &[MemoryId]) -> Result<Vec<Memory>> {
    let select = concat!("SELECT ", columns!(), " FROM memories WHERE user_id = ? AND id IN ({ids}) ORDER BY id");
    super::rows_by_id(pool, select, user, ids.iter().map(|i| i.0)).await?.iter().map(crate::rows::memory).collect()
}

pub(super) async fn predecessors(pool: &SqlitePool, user: UserId, id: MemoryId) -> Result<Vec<Memory>> {
    let mut out: Vec<Memory> = Vec::new();
    let mut next = id;
    // Chains are short (a home city changes a few times); the bound guards against a cycle.
    for _ in 0..100 {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM memories WHERE superseded_by = ? AND user_id = ?"))
            .bind(next.0)
            .bind(user.0)
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
    pool: &SqlitePool,
    user: UserId,
    include_history: bool,
    before: Option<MemoryId>,
    limit: Option<usize>,
) -> Result<Vec<Memory>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM memories WHERE user_id = ? AND (? OR valid_to IS NULL) AND id < ? ORDER BY id DESC LIMIT ?"
    ))
    .bind(user.0)
    .bind(include_history)
    .bind(before.map_or(i64::MAX, |b| b.0))
    .bind(limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64))
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(crate::rows::memory).collect()
}

pub(super) async fn update(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    id: MemoryId,
    text: &str,
    sources: &[MessageId],
) -> Result<()> {
    check_text("a memory", "text", text)?;
    let done = sqlx::query("UPDATE memories SET text = ?, updated_at = ? WHERE id = ? AND user_id = ?")
        .bind(text.trim())
        .bind(Utc::now())
        .bind(id.0)
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no memory {id}")));
    }
    add_sources(tx, user, id.0, sources).await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT id FROM memories WHERE id = ? AND user_id = ? AND valid_to IS NULL")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    if current.is_some() {
        index(tx, user, id.0, text).await?;
    }
    // The old vector describes the old text: drop it, the item is re-embedded.
    super::vectors::forget_memory(tx, user, id.0).await
}

pub(super) async fn supersede(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    old: MemoryId,
    new: &NewMemory,
    at: DateTime<Utc>,
) -> Result<MemoryId> {
    let current: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT valid_to FROM memories WHERE id = ? AND user_id = ?")
            .bind(old.0)
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    match current {
        None => return Err(Error::not_found(format!("no memory {old}"))),
        Some(Some(_)) => return Err(Error::Conflict(format!("memory {old} was already superseded"))),
        Some(None) => {}
    }
    let new_id = insert(tx, user, new, Utc::now()).await?;
    sqlx::query("UPDATE memories SET valid_to = ?, superseded_by = ?, updated_at = ? WHERE id = ? AND user_id = ?")
        .bind(at)
        .bind(new_id.0)
        .bind(Utc::now())
        .bind(old.0)
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .db()?;
    // History stays searchable for questions about the past, apart from current facts.
    sqlx::query(
        "INSERT INTO memory_history_fts (rowid, terms, owner, user_id)
         SELECT rowid, terms, owner, user_id FROM memories_fts WHERE rowid = ? AND user_id = ?",
    )
    .bind(old.0)
    .bind(user.0)
    .execute(&mut **tx)
    .await
    .db()?;
    sqlx::query("DELETE FROM memories_fts WHERE rowid = ? AND user_id = ?")
        .bind(old.0)
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .db()?;
    super::vectors::forget_memory(tx, user, old.0).await?;
    Ok(new_id)
}

/// Deletes one memory (`Some`) or all of a user's (`None`) with everything
/// derived from its text (index rows, vector, recorded decisions); returns how many.
pub(super) async fn delete(tx: &mut Transaction<'_, Sqlite>, user: UserId, id: Option<MemoryId>) -> Result<u64> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM memories WHERE user_id = ? AND (? IS NULL OR id = ?)")
        .bind(user.0)
        .bind(id.map(|i| i.0))
        .bind(id.map(|i| i.0))
        .fetch_all(&mut **tx)
        .await
        .db()?;
    if let (Some(id), true) = (id, ids.is_empty()) {
        return Err(Error::not_found(format!("no memory {id}")));
    }
    if id.is_none() {
        // Everything recorded about memories goes too, rejected candidates included.
        sqlx::query("DELETE FROM memory_decisions WHERE user_id = ?").bind(user.0).execute(&mut **tx).await.db()?;
    }
    for &row in &ids {
        for query in [
            "DELETE FROM memories_fts WHERE rowid = ? AND user_id = ?",
            "DELETE FROM memory_history_fts WHERE rowid = ? AND user_id = ?",
            // Decisions that produced it or merely matched it (their text is its text) go;
            // a successor's own decision stays, without the link.
            "DELETE FROM memory_decisions WHERE (memory_id = ?1 OR (target_id = ?1 AND memory_id IS NULL)) AND user_id = ?2",
            "UPDATE memory_decisions SET target_id = NULL WHERE target_id = ?1 AND user_id = ?2",
        ] {
            sqlx::query(query).bind(row).bind(user.0).execute(&mut **tx).await.db()?;
        }
        super::vectors::forget_memory(tx, user, row).await?;
        sqlx::query("DELETE FROM memories WHERE id = ? AND user_id = ?")
            .bind(row)
            .bind(user.0)
            .execute(&mut **tx)
            .await
            .db()?;
    }
    Ok(ids.len() as u64)
}

pub(super) async fn add(pool: &SqlitePool, user: UserId, memory: NewMemory) -> Result<Memory> {
    let mut tx = super::write_tx(pool).await?;
    let id = insert(&mut tx, user, &memory, Utc::now()).await?;
    tx.commit().await.db()?;
    get(pool, user, id).await
}

pub(super) async fn update_one(
    pool: &SqlitePool,
    user: UserId,
    id: MemoryId,
    text: &str,
    sources: &[MessageId],
) -> Result<Memory> {
    let mut tx = super::write_tx(pool).await?;
    update(&mut tx, user, id, text, sources).await?;
    tx.commit().await.db()?;
    get(pool, user, id).await
}

pub(super) async fn supersede_one(
    pool: &SqlitePool,
    user: UserId,
    old: MemoryId,
    new: NewMemory,
    at: DateTime<Utc>,
) -> Result<Memory> {
    let mut tx = super::write_tx(pool).await?;
    let id = supersede(&mut tx, user, old, &new, at).await?;
    tx.commit().await.db()?;
    get(pool, user, id).await
}

pub(super) async fn delete_some(pool: &SqlitePool, user: UserId, id: Option<MemoryId>) -> Result<u64> {
    let mut tx = super::write_tx(pool).await?;
    let n = delete(&mut tx, user, id).await?;
    tx.commit().await.db()?;
    Ok(n)
}
