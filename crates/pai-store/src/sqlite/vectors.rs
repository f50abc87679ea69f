//! Vector KNN with sqlite-vec, in two steps: a coarse scan over binary
//! (sign-bit) vectors in a `vec0` table per item kind, partitioned by user (a
//! query scans only that user's vectors, 48 bytes each at 384 dimensions
//! instead of 1,536), then an exact cosine rescoring of the best candidates
//! from the full float vectors kept beside it (`*_floats`). sqlite-vec is
//! brute force; the bits make a 300k-item history scan cheap, the rescoring
//! keeps the order exact among the candidates.
//!
//! vec0 fixes the dimension when the table is created, so the tables are made
//! at open for the embedder's dimension. When it changes (another embedding
//! model) or the layout does, the old vectors are dropped and every item is
//! marked for re-embedding (`items_without_vectors`).

use std::sync::Once;

use pai_core::store::{ChunkId, ItemRef, MemoryId, MessageId, UserId, VectorHit};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use crate::errors::SqlxResult;
use crate::portable::Dialect;

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

/// Names the table layout; a store written with another is rebuilt.
const LAYOUT: &str = "bit-coarse+f32-rescore/1";
/// Coarse candidates rescored per requested result (and at least `MIN_COARSE`).
const OVERSAMPLE: usize = 3;
const MIN_COARSE: usize = 64;

/// Creates the vector tables for `dimension`, rebuilding them if it or the layout changed.
pub(super) async fn prepare(pool: &SqlitePool, dimension: usize) -> Result<()> {
    crate::checks::check_dimension(dimension)?;
    let mut tx = super::write_tx(pool).await?;
    let meta =
        |key: &'static str| sqlx::query_scalar::<_, String>("SELECT value FROM store_meta WHERE key = ?").bind(key);
    let stored = meta("vector_dimension").fetch_optional(&mut *tx).await.db()?;
    let layout = meta("vector_layout").fetch_optional(&mut *tx).await.db()?;
    if stored.as_deref() != Some(dimension.to_string().as_str()) || layout.as_deref() != Some(LAYOUT) {
        if let Some(old) = &stored {
            tracing::warn!(
                old,
                new = dimension,
                "embedding dimension or index layout changed: vectors will be rebuilt"
            );
        }
        for kind in KINDS {
            for sql in [
                format!("DROP TABLE IF EXISTS {kind}_vectors"),
                format!("DROP TABLE IF EXISTS {kind}_floats"),
                // The dimension is a number we formatted ourselves: no injection possible.
                format!(
                    "CREATE VIRTUAL TABLE {kind}_vectors USING vec0(user_id integer partition key, embedding bit[{dimension}])"
                ),
                format!(
                    "CREATE TABLE {kind}_floats (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, embedding BLOB NOT NULL)"
                ),
            ] {
                sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await.db()?;
            }
        }
        for table in ["memories", "messages", "chunks"] {
            sqlx::query(AssertSqlSafe(format!("UPDATE {table} SET embedded = 0, embed_claimed_until = NULL")))
                .execute(&mut *tx)
                .await
                .db()?;
        }
        for (key, value) in [("vector_dimension", dimension.to_string()), ("vector_layout", LAYOUT.to_string())] {
            sqlx::query("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)")
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .db()?;
        }
    }
    // A kind added after the index was laid out (chunks) gets its tables now.
    for sql in [
        format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vectors USING vec0(user_id integer partition key, embedding bit[{dimension}])"
        ),
        "CREATE TABLE IF NOT EXISTS chunk_floats (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, embedding BLOB NOT NULL)"
            .to_string(),
    ] {
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await.db()?;
    }
    tx.commit().await.db()
}

/// The item kinds with vectors: `{kind}_vectors` and `{kind}_floats` each.
const KINDS: [&str; 3] = ["memory", "message", "chunk"];

fn blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) async fn put(
    pool: &SqlitePool,
    dimension: usize,
    user: UserId,
    vectors: Vec<(ItemRef, Vec<f32>)>,
) -> Result<()> {
    crate::checks::check_vectors(dimension, &vectors)?;
    let mut tx = super::write_tx(pool).await?;
    for (item, v) in &vectors {
        let (owned, kind, flag) = match item {
            ItemRef::Memory(MemoryId(id)) => (
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM memories WHERE id = ? AND user_id = ? AND valid_to IS NULL",
                )
                .bind(id)
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await
                .db()?,
                "memory",
                "UPDATE memories SET embedded = 1, embed_claimed_until = NULL WHERE id = ? AND user_id = ?",
            ),
            ItemRef::Message(MessageId(id)) => (
                sqlx::query_scalar::<_, i64>("SELECT id FROM messages WHERE id = ? AND user_id = ?")
                    .bind(id)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?,
                "message",
                "UPDATE messages SET embedded = 1, embed_claimed_until = NULL WHERE id = ? AND user_id = ?",
            ),
            ItemRef::Chunk(ChunkId(id)) => (
                sqlx::query_scalar::<_, i64>("SELECT id FROM chunks WHERE id = ? AND user_id = ?")
                    .bind(id)
                    .bind(user.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?,
                "chunk",
                "UPDATE chunks SET embedded = 1, embed_claimed_until = NULL WHERE id = ? AND user_id = ?",
            ),
        };
        let Some(id) = owned else {
            return Err(Error::not_found(format!("no current {item:?}")));
        };
        let v = blob(v);
        // `kind` is one of our two literals: no injection possible.
        for sql in
            [format!("DELETE FROM {kind}_vectors WHERE rowid = ?"), format!("DELETE FROM {kind}_floats WHERE id = ?")]
        {
            sqlx::query(AssertSqlSafe(sql)).bind(id).execute(&mut *tx).await.db()?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {kind}_vectors (rowid, user_id, embedding) VALUES (?, ?, vec_quantize_binary(vec_f32(?)))"
        )))
        .bind(id)
        .bind(user.0)
        .bind(&v)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {kind}_floats (id, user_id, embedding) VALUES (?, ?, ?)")))
            .bind(id)
            .bind(user.0)
            .bind(&v)
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
    crate::checks::check_query_vector(dimension, query)?;
    let limit = limit.clamp(1, 1000);
    let coarse = (limit * OVERSAMPLE).max(MIN_COARSE) as i64;
    let q = blob(query);
    // The tables are scanned at once, on separate connections.
    let (memories, messages, chunks) = futures_util::join!(
        search_kind(pool, "memory", user, query, &q, coarse),
        search_kind(pool, "message", user, query, &q, coarse),
        search_kind(pool, "chunk", user, query, &q, coarse)
    );
    let mut hits = memories?;
    hits.extend(messages?);
    hits.extend(chunks?);
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    hits.truncate(limit);
    Ok(hits)
}

/// Both steps for one item kind (one of `KINDS`, our own literals).
async fn search_kind(
    pool: &SqlitePool,
    kind: &'static str,
    user: UserId,
    query: &[f32],
    q: &[u8],
    coarse: i64,
) -> Result<Vec<VectorHit>> {
    // Step 1: nearest by Hamming distance over the sign bits, this user's partition only.
    let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT rowid FROM {kind}_vectors WHERE embedding MATCH vec_quantize_binary(vec_f32(?)) AND k = ? AND user_id = ?"
    )))
    .bind(q)
    .bind(coarse)
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    // Step 2: exact cosine on the full vectors of those candidates.
    let select = format!(
        "SELECT id, embedding FROM {kind}_floats WHERE user_id = $1 AND id {}",
        crate::portable::Dialect::Sqlite.any(2)
    );
    let rows = sqlx::query(AssertSqlSafe(select))
        .bind(user.0)
        .bind(crate::portable::ids_json(&ids))
        .fetch_all(pool)
        .await
        .db()?;
    let mut hits = Vec::with_capacity(ids.len());
    for row in rows {
        let (id, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
        let similarity = cosine_bytes(query, &bytes);
        let item = match kind {
            "memory" => ItemRef::Memory(MemoryId(id)),
            "message" => ItemRef::Message(MessageId(id)),
            _ => ItemRef::Chunk(ChunkId(id)),
        };
        hits.push(VectorHit { item, similarity });
    }
    Ok(hits)
}

/// Cosine similarity between `query` and a stored little-endian f32 vector.
fn cosine_bytes(query: &[f32], stored: &[u8]) -> f32 {
    let (mut dot, mut qq, mut ss) = (0f32, 0f32, 0f32);
    for (q, chunk) in query.iter().zip(stored.chunks_exact(4)) {
        let s = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        dot += q * s;
        qq += q * q;
        ss += s * s;
    }
    if qq == 0.0 || ss == 0.0 { 0.0 } else { dot / (qq.sqrt() * ss.sqrt()) }
}

pub(super) async fn users_missing(pool: &SqlitePool, limit: usize) -> Result<Vec<UserId>> {
    // Each arm is answered from a partial index over the unembedded rows.
    let users: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM memories WHERE embedded = 0 AND valid_to IS NULL
         UNION SELECT user_id FROM messages WHERE embedded = 0
         UNION SELECT user_id FROM chunks WHERE embedded = 0
         ORDER BY user_id LIMIT ?",
    )
    .bind(limit.min(100_000) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(users.into_iter().map(UserId).collect())
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
    let chunks: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM chunks WHERE user_id = ? AND embedded = 0 ORDER BY id LIMIT ?")
            .bind(user.0)
            .bind(limit)
            .fetch_all(pool)
            .await
            .db()?;
    Ok(memories
        .into_iter()
        .map(|id| ItemRef::Memory(MemoryId(id)))
        .chain(messages.into_iter().map(|id| ItemRef::Message(MessageId(id))))
        .chain(chunks.into_iter().map(|id| ItemRef::Chunk(ChunkId(id))))
        .take(limit as usize)
        .collect())
}

/// Claims up to `limit` unembedded items of `user` until `until` (see
/// `Store::claim_items_without_vectors`). Each UPDATE runs under SQLite's
/// one writer lock, so two processes never take the same item.
pub(super) async fn claim_missing(
    pool: &SqlitePool,
    user: UserId,
    limit: usize,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ItemRef>> {
    let now = Dialect::Sqlite.now();
    let mut left = limit.min(10_000) as i64;
    let mut out = Vec::new();
    for (table, current, make) in [
        ("memories", "AND valid_to IS NULL", (|id| ItemRef::Memory(MemoryId(id))) as fn(i64) -> ItemRef),
        ("messages", "", |id| ItemRef::Message(MessageId(id))),
        ("chunks", "", |id| ItemRef::Chunk(ChunkId(id))),
    ] {
        if left == 0 {
            break;
        }
        // table and current are our own literals.
        let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "UPDATE {table} SET embed_claimed_until = ?1
             WHERE id IN (SELECT id FROM {table} WHERE user_id = ?2 AND embedded = 0 {current}
                          AND (embed_claimed_until IS NULL OR embed_claimed_until < ?3) ORDER BY id LIMIT ?4)
             RETURNING id"
        )))
        .bind(until)
        .bind(user.0)
        .bind(now)
        .bind(left)
        .fetch_all(pool)
        .await
        .db()?;
        left -= ids.len() as i64;
        let mut ids = ids;
        ids.sort_unstable();
        out.extend(ids.into_iter().map(make));
    }
    Ok(out)
}
