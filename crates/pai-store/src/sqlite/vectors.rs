//! Vector KNN with sqlite-vec: one `vec0` table per item kind, partitioned by
//! user (a query scans only that user's vectors), cosine distance.
//!
//! vec0 fixes the dimension when the table is created, so the tables are made
//! at open for the embedder's dimension. When it changes (another embedding
//! model), the old vectors are dropped and every item is marked for
//! re-embedding (`items_without_vectors`).

use std::sync::Once;

use pai_core::store::{ItemRef, MemoryId, MessageId, UserId, VectorHit};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, Sqlite, SqlitePool, Transaction};

use crate::errors::SqlxResult;

/// Makes sqlite-vec available on every connection opened afterwards.
pub(super) fn register_extension() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        // SAFETY: sqlite3_vec_init has the signature of an SQLite extension entry
        // point; auto_extension only stores the pointer and calls it per connection.
        #[allow(clippy::missing_transmute_annotations)]
        libsqlite3_sys::sqlite3_auto_extension(Some(std::mem::transmute(sqlite_vec::sqlite3_vec_init as *const ())));
    });
}

/// Creates the vec0 tables for `dimension`, rebuilding them if it changed.
pub(super) async fn prepare(pool: &SqlitePool, dimension: usize) -> Result<()> {
    if dimension == 0 || dimension > 8192 {
        return Err(Error::invalid(format!("vector dimension {dimension} is out of range (1..=8192)")));
    }
    let mut tx = pool.begin().await.db()?;
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'vector_dimension'")
        .fetch_optional(&mut *tx)
        .await
        .db()?;
    if stored.as_deref() != Some(dimension.to_string().as_str()) {
        if let Some(old) = &stored {
            tracing::warn!(old, new = dimension, "embedding dimension changed: vectors will be rebuilt");
        }
        for table in ["memory_vectors", "message_vectors"] {
            sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}"))).execute(&mut *tx).await.db()?;
            // The dimension is a number we formatted ourselves: no injection possible.
            sqlx::query(AssertSqlSafe(format!(
                "CREATE VIRTUAL TABLE {table} USING vec0(user_id integer partition key, embedding float[{dimension}] distance_metric=cosine)"
            )))
            .execute(&mut *tx)
            .await
            .db()?;
        }
        sqlx::query("UPDATE memories SET embedded = 0").execute(&mut *tx).await.db()?;
        sqlx::query("UPDATE messages SET embedded = 0").execute(&mut *tx).await.db()?;
        sqlx::query("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('vector_dimension', ?)")
            .bind(dimension.to_string())
            .execute(&mut *tx)
            .await
            .db()?;
    }
    tx.commit().await.db()
}

fn blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Removes the vector of `user`'s memory `id` (edited, superseded or deleted).
pub(super) async fn forget_memory(tx: &mut Transaction<'_, Sqlite>, user: UserId, id: i64) -> Result<()> {
    let owned = sqlx::query("UPDATE memories SET embedded = 0 WHERE id = ? AND user_id = ?")
        .bind(id)
        .bind(user.0)
        .execute(&mut **tx)
        .await
        .db()?;
    if owned.rows_affected() > 0 {
        // vec0 deletes by rowid only; the owner check is the UPDATE above.
        sqlx::query("DELETE FROM memory_vectors WHERE rowid = ?").bind(id).execute(&mut **tx).await.db()?;
    }
    Ok(())
}

pub(super) async fn put(
    pool: &SqlitePool,
    dimension: usize,
    user: UserId,
    vectors: Vec<(ItemRef, Vec<f32>)>,
) -> Result<()> {
    if let Some((item, v)) = vectors.iter().find(|(_, v)| v.len() != dimension) {
        return Err(Error::invalid(format!(
            "vector for {item:?} has {} dimensions; this store holds {dimension}",
            v.len()
        )));
    }
    if vectors.iter().any(|(_, v)| v.iter().any(|x| !x.is_finite())) {
        return Err(Error::invalid("a vector contains NaN or infinity"));
    }
    let mut tx = pool.begin().await.db()?;
    for (item, v) in &vectors {
        let (owned, table, flag) = match item {
            ItemRef::Memory(MemoryId(id)) => (
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM memories WHERE id = ? AND user_id = ? AND valid_to IS NULL",
                )
                .bind(id)
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await
                .db()?,
                "memory_vectors",
                "UPDATE memories SET embedded = 1 WHERE id = ? AND user_id = ?",
            ),
            ItemRef::Message(MessageId(id)) => (
                sqlx::query_scalar::<_, i64>("SELECT id FROM messages WHERE id = ? AND user_id = ?")
                    .bind(id)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?,
                "message_vectors",
                "UPDATE messages SET embedded = 1 WHERE id = ? AND user_id = ?",
            ),
        };
        let Some(id) = owned else {
            return Err(Error::not_found(format!("no current {item:?}")));
        };
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE rowid = ?")))
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?;
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {table} (rowid, user_id, embedding) VALUES (?, ?, ?)")))
            .bind(id)
            .bind(user.0)
            .bind(blob(v))
            .execute(&mut *tx)
            .await
            .db()?;
        sqlx::query(flag).bind(id).bind(user.0).execute(&mut *tx).await.db()?;
    }
    tx.commit().await.db()
}

pub(super) async fn search(
    pool: &SqlitePool,
    dimension: usize,
    user: UserId,
    query: &[f32],
    limit: usize,
) -> Result<Vec<VectorHit>> {
    if query.len() != dimension {
        return Err(Error::invalid(format!(
            "query vector has {} dimensions; this store holds {dimension}",
            query.len()
        )));
    }
    let k = limit.clamp(1, 1000) as i64;
    let q = blob(query);
    let memories: Vec<(i64, f64)> = sqlx::query_as(
        "SELECT rowid, distance FROM memory_vectors WHERE embedding MATCH ? AND k = ? AND user_id = ? ORDER BY distance",
    )
    .bind(&q)
    .bind(k)
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    let messages: Vec<(i64, f64)> = sqlx::query_as(
        "SELECT rowid, distance FROM message_vectors WHERE embedding MATCH ? AND k = ? AND user_id = ? ORDER BY distance",
    )
    .bind(&q)
    .bind(k)
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    let mut hits: Vec<VectorHit> = memories
        .into_iter()
        .map(|(id, d)| VectorHit { item: ItemRef::Memory(MemoryId(id)), similarity: 1.0 - d as f32 })
        .chain(
            messages
                .into_iter()
                .map(|(id, d)| VectorHit { item: ItemRef::Message(MessageId(id)), similarity: 1.0 - d as f32 }),
        )
        .collect();
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    hits.truncate(limit);
    Ok(hits)
}

pub(super) async fn missing(pool: &SqlitePool, user: UserId, limit: usize) -> Result<Vec<ItemRef>> {
    let limit = limit.min(10_000) as i64;
    let memories: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM memories WHERE user_id = ? AND embedded = 0 AND valid_to IS NULL ORDER BY id LIMIT ?",
    )
    .bind(user.0)
    .bind(limit)
    .fetch_all(pool)
    .await
    .db()?;
    let messages: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM messages WHERE user_id = ? AND embedded = 0 ORDER BY id LIMIT ?")
            .bind(user.0)
            .bind(limit)
            .fetch_all(pool)
            .await
            .db()?;
    Ok(memories
        .into_iter()
        .map(|id| ItemRef::Memory(MemoryId(id)))
        .chain(messages.into_iter().map(|id| ItemRef::Message(MessageId(id))))
        .take(limit as usize)
        .collect())
}
