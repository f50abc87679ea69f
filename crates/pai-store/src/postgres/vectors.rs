//! Vectors with pgvector: one table per item kind (`memory_vectors`,
//! `message_vectors`, `chunk_vectors`) keyed like its items and deleted
//! with them (ON DELETE CASCADE), a `vector(D)` column under an HNSW index
//! for cosine distance. A user's search filters by user_id; pgvector's
//! iterative index scan (set per connection in mod.rs) keeps reading the
//! graph until enough of the user's rows are found, and for a user with few
//! rows the planner reads them by user_id and sorts exactly.
//!
//! `vector(D)` fixes the dimension, so the tables are made at open for the
//! embedder's. When it changes (another embedding model) they are rebuilt
//! and every item is marked for re-embedding (`items_without_vectors`).

use pai_core::store::{ChunkId, ItemRef, MemoryId, MessageId, UserId, VectorHit};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool};

use crate::errors::SqlxResult;
use crate::portable::Dialect;

/// Names the table layout; a store written with another is rebuilt.
const LAYOUT: &str = "pgvector-hnsw-cosine/1";

/// (kind, item table): `{kind}_vectors` holds the vectors of `{items}`.
const KINDS: [(&str, &str); 3] = [("memory", "memories"), ("message", "messages"), ("chunk", "chunks")];

/// Serialises vector-table rebuilds between servers starting at once.
const PREPARE_LOCK: i64 = 0x7061_695f_7665_6374; // "pai_vect"

/// Creates the vector tables for `dimension`, rebuilding them if it or the layout changed.
pub(super) async fn prepare(pool: &PgPool, dimension: usize) -> Result<()> {
    crate::checks::check_dimension(dimension)?;
    let mut tx = pool.begin().await.db()?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PREPARE_LOCK).execute(&mut *tx).await.db()?;
    let meta =
        |key: &'static str| sqlx::query_scalar::<_, String>("SELECT value FROM store_meta WHERE key = $1").bind(key);
    let stored = meta("vector_dimension").fetch_optional(&mut *tx).await.db()?;
    let layout = meta("vector_layout").fetch_optional(&mut *tx).await.db()?;
    if stored.as_deref() == Some(dimension.to_string().as_str()) && layout.as_deref() == Some(LAYOUT) {
        return Ok(());
    }
    if let Some(old) = &stored {
        tracing::warn!(old, new = dimension, "embedding dimension or index layout changed: vectors will be rebuilt");
    }
    for (kind, items) in KINDS {
        // The dimension is a number we formatted ourselves, kind/items our literals.
        for sql in [
            format!("DROP TABLE IF EXISTS {kind}_vectors"),
            format!(
                "CREATE TABLE {kind}_vectors (
                     user_id BIGINT NOT NULL, id BIGINT NOT NULL, embedding vector({dimension}) NOT NULL,
                     PRIMARY KEY (user_id, id),
                     FOREIGN KEY (user_id, id) REFERENCES {items} (user_id, id) ON DELETE CASCADE)"
            ),
            hnsw_index(kind),
            format!("UPDATE {items} SET embedded = false, embed_claimed_until = NULL WHERE embedded"),
        ] {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await.db()?;
        }
    }
    for (key, value) in [("vector_dimension", dimension.to_string()), ("vector_layout", LAYOUT.to_string())] {
        sqlx::query(
            "INSERT INTO store_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .db()?;
    }
    tx.commit().await.db()
}

/// The HNSW index of `{kind}_vectors` (`kind` is one of our literals).
pub(crate) fn hnsw_index(kind: &str) -> String {
    format!("CREATE INDEX {kind}_vectors_hnsw ON {kind}_vectors USING hnsw (embedding vector_cosine_ops)")
}

/// pgvector's text form, `[x,y,…]`: Rust prints each f32 so it reads back exactly.
pub(crate) fn literal(v: &[f32]) -> String {
    let mut out = String::with_capacity(v.len() * 12);
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&x.to_string());
    }
    out.push(']');
    out
}

fn kind_of(item: &ItemRef) -> (&'static str, &'static str, i64) {
    match *item {
        ItemRef::Memory(MemoryId(id)) => ("memory", "memories", id),
        ItemRef::Message(MessageId(id)) => ("message", "messages", id),
        ItemRef::Chunk(ChunkId(id)) => ("chunk", "chunks", id),
    }
}

pub(super) async fn put(
    pool: &PgPool,
    dimension: usize,
    user: UserId,
    vectors: Vec<(ItemRef, Vec<f32>)>,
) -> Result<()> {
    crate::checks::check_vectors(dimension, &vectors)?;
    let mut tx = pool.begin().await.db()?;
    for (item, v) in &vectors {
        let (kind, items, id) = kind_of(item);
        // Marks the item embedded if it is the user's (and, for memories, current).
        let current = if kind == "memory" { "AND valid_to IS NULL" } else { "" };
        let owned = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {items} SET embedded = true, embed_claimed_until = NULL WHERE user_id = $1 AND id = $2 {current}"
        )))
        .bind(user.0)
        .bind(id)
        .execute(&mut *tx)
        .await
        .db()?;
        if owned.rows_affected() == 0 {
            return Err(Error::not_found(format!("no current {item:?}")));
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {kind}_vectors (user_id, id, embedding) VALUES ($1, $2, $3::vector)
             ON CONFLICT (user_id, id) DO UPDATE SET embedding = excluded.embedding"
        )))
        .bind(user.0)
        .bind(id)
        .bind(literal(v))
        .execute(&mut *tx)
        .await
        .db()?;
    }
    tx.commit().await.db()
}

pub(super) async fn search(
    pool: &PgPool,
    dimension: usize,
    user: UserId,
    query: &[f32],
    limit: usize,
) -> Result<Vec<VectorHit>> {
    crate::checks::check_query_vector(dimension, query)?;
    let limit = limit.clamp(1, 1000) as i64;
    let q = literal(query);
    let nearest = |kind: &'static str| {
        // `kind` is one of our literals.
        sqlx::query_as::<_, (i64, f64)>(AssertSqlSafe(format!(
            "SELECT id, 1 - (embedding <=> $2::vector) FROM {kind}_vectors
             WHERE user_id = $1 ORDER BY embedding <=> $2::vector LIMIT $3"
        )))
        .bind(user.0)
        .bind(q.clone())
        .bind(limit)
        .fetch_all(pool)
    };
    // The three tables are searched at once, on separate connections.
    let (memories, messages, chunks) = futures_util::join!(nearest("memory"), nearest("message"), nearest("chunk"));
    let mut hits: Vec<VectorHit> = Vec::new();
    for (found, make) in [
        (memories.db()?, (|id| ItemRef::Memory(MemoryId(id))) as fn(i64) -> ItemRef),
        (messages.db()?, |id| ItemRef::Message(MessageId(id))),
        (chunks.db()?, |id| ItemRef::Chunk(ChunkId(id))),
    ] {
        hits.extend(
            found.into_iter().map(|(id, similarity)| VectorHit { item: make(id), similarity: similarity as f32 }),
        );
    }
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    hits.truncate(limit as usize);
    Ok(hits)
}

pub(super) async fn users_missing(pool: &PgPool, limit: usize) -> Result<Vec<UserId>> {
    // Each arm is answered from a partial index over the unembedded rows.
    let users: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM memories WHERE NOT embedded AND valid_to IS NULL
         UNION SELECT user_id FROM messages WHERE NOT embedded
         UNION SELECT user_id FROM chunks WHERE NOT embedded
         ORDER BY user_id LIMIT $1",
    )
    .bind(limit.min(100_000) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(users.into_iter().map(UserId).collect())
}

pub(super) async fn missing(pool: &PgPool, user: UserId, limit: usize) -> Result<Vec<ItemRef>> {
    let limit = limit.min(10_000) as i64;
    let ids = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).bind(user.0).bind(limit).fetch_all(pool);
    let (memories, messages, chunks) = futures_util::join!(
        ids("SELECT id FROM memories WHERE user_id = $1 AND NOT embedded AND valid_to IS NULL ORDER BY id LIMIT $2"),
        ids("SELECT id FROM messages WHERE user_id = $1 AND NOT embedded ORDER BY id LIMIT $2"),
        ids("SELECT id FROM chunks WHERE user_id = $1 AND NOT embedded ORDER BY id LIMIT $2")
    );
    Ok(memories
        .db()?
        .into_iter()
        .map(|id| ItemRef::Memory(MemoryId(id)))
        .chain(messages.db()?.into_iter().map(|id| ItemRef::Message(MessageId(id))))
        .chain(chunks.db()?.into_iter().map(|id| ItemRef::Chunk(ChunkId(id))))
        .take(limit as usize)
        .collect())
}

/// Claims up to `limit` unembedded items of `user` until `until` (see
/// `Store::claim_items_without_vectors`). `FOR UPDATE SKIP LOCKED`: rows
/// another server is claiming this instant are passed over, so two indexers
/// never take the same item and neither waits for the other.
pub(super) async fn claim_missing(
    pool: &PgPool,
    user: UserId,
    limit: usize,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ItemRef>> {
    let now = Dialect::Postgres.now();
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
        let mut ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "UPDATE {table} SET embed_claimed_until = $1
             WHERE (user_id, id) IN (SELECT user_id, id FROM {table} WHERE user_id = $2 AND NOT embedded {current}
                                     AND (embed_claimed_until IS NULL OR embed_claimed_until < $3)
                                     ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING id"
        )))
        .bind(Dialect::Postgres.kept(until))
        .bind(user.0)
        .bind(now)
        .bind(left)
        .fetch_all(pool)
        .await
        .db()?;
        left -= ids.len() as i64;
        ids.sort_unstable();
        out.extend(ids.into_iter().map(make));
    }
    Ok(out)
}
