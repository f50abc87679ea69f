//! Documents and their chunks: stored, replaced and deleted whole. A chunk's
//! terms are a column of its row and its vector cascades from it, so
//! replacing or deleting chunks takes everything derived from them along.

use pai_core::store::{Chunk, ChunkId, Document, DocumentChange, DocumentId, NewDocument, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool};

use super::now;
use super::search::tsvector;
use crate::errors::SqlxResult;
use crate::rows::{self, CHUNK_COLUMNS};

const DOCUMENT_COLUMNS: &str = "id, title, source, format, content_hash, bytes, pages, created_at, updated_at,
    (SELECT count(*) FROM chunks WHERE chunks.user_id = documents.user_id AND chunks.document_id = documents.id)
     AS chunk_count,
    (SELECT count(*) FROM chunks WHERE chunks.user_id = documents.user_id AND chunks.document_id = documents.id
     AND NOT chunks.embedded) AS pending_count";

/// Serialises document writes of one user (two uploads of the same file at
/// once would both find no copy and both insert): a transaction-scoped
/// advisory lock on (class, user).
const DOCUMENT_LOCK: i32 = 0x7061_6944; // "paiD"

pub(super) async fn put(pool: &PgPool, user: UserId, d: NewDocument) -> Result<(Document, DocumentChange)> {
    crate::checks::check_document(&d)?;
    let mut tx = pool.begin().await.db()?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
        .bind(DOCUMENT_LOCK)
        .bind(user.0.to_string())
        .execute(&mut *tx)
        .await
        .db()?;
    let existing: Option<(i64, String)> =
        sqlx::query_as("SELECT id, content_hash FROM documents WHERE user_id = $1 AND source = $2")
            .bind(user.0)
            .bind(&d.source)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
    let now = now();
    let (id, change) = match existing {
        Some((id, hash)) if hash == d.content_hash => {
            drop(tx);
            return Ok((get(pool, user, DocumentId(id)).await?, DocumentChange::Unchanged));
        }
        Some((id, _)) => {
            // Chunks go with their terms and vectors (ON DELETE CASCADE).
            sqlx::query("DELETE FROM chunks WHERE user_id = $1 AND document_id = $2")
                .bind(user.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .db()?;
            sqlx::query(
                "UPDATE documents SET title = $1, format = $2, content_hash = $3, bytes = $4, pages = $5, updated_at = $6
                 WHERE user_id = $7 AND id = $8",
            )
            .bind(d.title.trim())
            .bind(d.format.as_str())
            .bind(&d.content_hash)
            .bind(d.bytes as i64)
            .bind(d.pages.map(i64::from))
            .bind(now)
            .bind(user.0)
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?;
            (id, DocumentChange::Replaced)
        }
        None => {
            // The same bytes under another name (a copy, a second upload) are one document.
            let copy: Option<i64> =
                sqlx::query_scalar("SELECT id FROM documents WHERE user_id = $1 AND content_hash = $2 LIMIT 1")
                    .bind(user.0)
                    .bind(&d.content_hash)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
            if let Some(id) = copy {
                drop(tx);
                return Ok((get(pool, user, DocumentId(id)).await?, DocumentChange::Unchanged));
            }
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO documents (user_id, title, source, format, content_hash, bytes, pages, created_at, updated_at)
                 SELECT id, $1, $2, $3, $4, $5, $6, $7, $7 FROM users WHERE id = $8 RETURNING id",
            )
            .bind(d.title.trim())
            .bind(&d.source)
            .bind(d.format.as_str())
            .bind(&d.content_hash)
            .bind(d.bytes as i64)
            .bind(d.pages.map(i64::from))
            .bind(now)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
            (id.ok_or_else(|| Error::not_found(format!("no user {user}")))?, DocumentChange::Created)
        }
    };
    for (ordinal, c) in d.chunks.iter().enumerate() {
        sqlx::query(
            "INSERT INTO chunks (user_id, document_id, ordinal, text, page, heading, start_offset, end_offset, terms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::tsvector)",
        )
        .bind(user.0)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&c.text)
        .bind(c.page.map(i64::from))
        .bind(&c.heading)
        .bind(c.start as i64)
        .bind(c.end as i64)
        .bind(tsvector(&crate::indexed::chunk_terms(c.heading.as_deref(), &c.text)))
        .execute(&mut *tx)
        .await
        .db()?;
    }
    tx.commit().await.db()?;
    Ok((get(pool, user, DocumentId(id)).await?, change))
}

pub(super) async fn get(pool: &PgPool, user: UserId, id: DocumentId) -> Result<Document> {
    let row =
        sqlx::query(AssertSqlSafe(format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 AND id = $2")))
            .bind(user.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .db()?
            .ok_or_else(|| Error::not_found(format!("no document {id}")))?;
    rows::document(&row)
}

pub(super) async fn by_id(pool: &PgPool, user: UserId, ids: &[DocumentId]) -> Result<Vec<Document>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 AND id = ANY($2) ORDER BY id"
    )))
    .bind(user.0)
    .bind(&ids)
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(rows::document).collect()
}

pub(super) async fn list(pool: &PgPool, user: UserId) -> Result<Vec<Document>> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 ORDER BY id DESC"
    )))
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(rows::document).collect()
}

pub(super) async fn chunks(pool: &PgPool, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
    get(pool, user, id).await?;
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CHUNK_COLUMNS} FROM chunks WHERE user_id = $1 AND document_id = $2 ORDER BY ordinal"
    )))
    .bind(user.0)
    .bind(id.0)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(found.iter().map(rows::chunk).collect())
}

pub(super) async fn chunks_by_id(pool: &PgPool, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CHUNK_COLUMNS} FROM chunks WHERE user_id = $1 AND id = ANY($2) ORDER BY id"
    )))
    .bind(user.0)
    .bind(&ids)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(found.iter().map(rows::chunk).collect())
}

pub(super) async fn delete(pool: &PgPool, user: UserId, id: DocumentId) -> Result<()> {
    let done = sqlx::query("DELETE FROM documents WHERE user_id = $1 AND id = $2")
        .bind(user.0)
        .bind(id.0)
        .execute(pool)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no document {id}")));
    }
    Ok(())
}
