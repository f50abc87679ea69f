//! Documents and their chunks: stored, replaced and deleted whole, with the
//! chunks' full-text rows and vectors in the same transaction.

use chrono::Utc;
use pai_core::store::{Chunk, ChunkId, Document, DocumentChange, DocumentId, NewDocument, UserId};
use pai_core::{Error, Result};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::errors::SqlxResult;

const DOCUMENT_COLUMNS: &str = "id, title, source, format, content_hash, bytes, pages, created_at, updated_at,
    (SELECT count(*) FROM chunks WHERE chunks.user_id = documents.user_id AND chunks.document_id = documents.id)
     AS chunk_count,
    (SELECT count(*) FROM chunks WHERE chunks.user_id = documents.user_id AND chunks.document_id = documents.id
     AND chunks.embedded = 0) AS pending_count";
use crate::rows::{self, CHUNK_COLUMNS};

pub(super) async fn put(pool: &SqlitePool, user: UserId, d: NewDocument) -> Result<(Document, DocumentChange)> {
    crate::checks::check_document(&d)?;
    let mut tx = super::write_tx(pool).await?;
    let existing: Option<(i64, String)> =
        sqlx::query_as("SELECT id, content_hash FROM documents WHERE user_id = ? AND source = ?")
            .bind(user.0)
            .bind(&d.source)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
    let now = Utc::now();
    let (id, change) = match existing {
        Some((id, hash)) if hash == d.content_hash => {
            drop(tx);
            return Ok((get(pool, user, DocumentId(id)).await?, DocumentChange::Unchanged));
        }
        Some((id, _)) => {
            remove_chunks(&mut tx, user, id).await?;
            sqlx::query(
                "UPDATE documents SET title = ?, format = ?, content_hash = ?, bytes = ?, pages = ?, updated_at = ?
                 WHERE id = ? AND user_id = ?",
            )
            .bind(d.title.trim())
            .bind(d.format.as_str())
            .bind(&d.content_hash)
            .bind(d.bytes as i64)
            .bind(d.pages.map(i64::from))
            .bind(now)
            .bind(id)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .db()?;
            (id, DocumentChange::Replaced)
        }
        None => {
            // The same bytes under another name (a copy, a second upload) are one document.
            let copy: Option<i64> =
                sqlx::query_scalar("SELECT id FROM documents WHERE user_id = ? AND content_hash = ? LIMIT 1")
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
                 SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE id = ? RETURNING id",
            )
            .bind(d.title.trim())
            .bind(&d.source)
            .bind(d.format.as_str())
            .bind(&d.content_hash)
            .bind(d.bytes as i64)
            .bind(d.pages.map(i64::from))
            .bind(now)
            .bind(now)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .db()?;
            (id.ok_or_else(|| Error::not_found(format!("no user {user}")))?, DocumentChange::Created)
        }
    };
    for (ordinal, c) in d.chunks.iter().enumerate() {
        let chunk: i64 = sqlx::query_scalar(
            "INSERT INTO chunks (user_id, document_id, ordinal, text, page, heading, start_offset, end_offset)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&c.text)
        .bind(c.page.map(i64::from))
        .bind(&c.heading)
        .bind(c.start as i64)
        .bind(c.end as i64)
        .fetch_one(&mut *tx)
        .await
        .db()?;
        sqlx::query(
            "INSERT INTO chunks_fts (rowid, terms, owner, user_id, document_id) VALUES (?, ?, 'u' || ?3, ?3, ?4)",
        )
        .bind(chunk)
        .bind(crate::indexed::chunk_terms(c.heading.as_deref(), &c.text))
        .bind(user.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .db()?;
    }
    tx.commit().await.db()?;
    Ok((get(pool, user, DocumentId(id)).await?, change))
}

/// Deletes a document's chunks with their full-text rows and vectors (vec0
/// deletes by rowid; the ids come from an owner-filtered select).
async fn remove_chunks(tx: &mut Transaction<'_, Sqlite>, user: UserId, document: i64) -> Result<()> {
    for sql in [
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?1 AND user_id = ?2)",
        "DELETE FROM chunk_vectors WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?1 AND user_id = ?2)",
        "DELETE FROM chunk_floats WHERE id IN (SELECT id FROM chunks WHERE document_id = ?1 AND user_id = ?2)",
        "DELETE FROM chunks WHERE document_id = ?1 AND user_id = ?2",
    ] {
        sqlx::query(sql).bind(document).bind(user.0).execute(&mut **tx).await.db()?;
    }
    Ok(())
}

pub(super) async fn get(pool: &SqlitePool, user: UserId, id: DocumentId) -> Result<Document> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ? AND user_id = ?"
    )))
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no document {id}")))?;
    rows::document(&row)
}

pub(super) async fn by_id(pool: &SqlitePool, user: UserId, ids: &[DocumentId]) -> Result<Vec<Document>> {
    let select = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = ? AND id IN ({{ids}}) ORDER BY id");
    super::rows_by_id(pool, &select, user, ids.iter().map(|i| i.0)).await?.iter().map(rows::document).collect()
}

pub(super) async fn list(pool: &SqlitePool, user: UserId) -> Result<Vec<Document>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = ? ORDER BY id DESC"
    )))
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(rows::document).collect()
}

pub(super) async fn chunks(pool: &SqlitePool, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
    get(pool, user, id).await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CHUNK_COLUMNS} FROM chunks WHERE document_id = ? AND user_id = ? ORDER BY ordinal"
    )))
    .bind(id.0)
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(rows.iter().map(rows::chunk).collect())
}

pub(super) async fn chunks_by_id(pool: &SqlitePool, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
    let select = format!("SELECT {CHUNK_COLUMNS} FROM chunks WHERE user_id = ? AND id IN ({{ids}}) ORDER BY id");
    Ok(super::rows_by_id(pool, &select, user, ids.iter().map(|i| i.0)).await?.iter().map(rows::chunk).collect())
}

pub(super) async fn delete(pool: &SqlitePool, user: UserId, id: DocumentId) -> Result<()> {
    let mut tx = super::write_tx(pool).await?;
    super::require_owned(&mut tx, "documents", "document", id.0, user).await?;
    remove_chunks(&mut tx, user, id.0).await?;
    sqlx::query("DELETE FROM documents WHERE id = ? AND user_id = ?")
        .bind(id.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .db()?;
    tx.commit().await.db()
}
