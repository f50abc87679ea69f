//! Full-text search with FTS5 over the analyzed terms: BM25, the owner an
//! indexed token, very common terms left out of a large user's searches.

use pai_core::Result;
use pai_core::store::{ChunkId, ConversationId, DocumentId, MemoryId, MessageId, TextHit, UserId};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::errors::SqlxResult;

pub(super) async fn text(pool: &SqlitePool, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
    // Messages and documents each prune by their own term counts.
    let (terms, chunk_terms) = futures_util::join!(
        search_terms_for(pool, "messages_fts_vocab", user, query),
        search_terms_for(pool, "chunks_fts_vocab", user, query)
    );
    let (Some(q), Some(chunk_q)) = (fts_query(&terms?, user), fts_query(&chunk_terms?, user)) else {
        return Ok(Vec::new());
    };
    let limit = limit.min(1000) as i64;
    // bm25() is lower-is-better; negate so higher is better, as everywhere else.
    // Two tables, two connections: searched at once.
    let messages = sqlx::query_as::<_, (i64, i64, f64)>(
        "SELECT rowid, conversation_id, -bm25(messages_fts, 1.0, 0.0) FROM messages_fts
         WHERE messages_fts MATCH ? AND user_id = ? ORDER BY bm25(messages_fts, 1.0, 0.0) LIMIT ?",
    )
    .bind(&q)
    .bind(user.0)
    .bind(limit)
    .fetch_all(pool);
    let chunks = sqlx::query_as::<_, (i64, i64, f64)>(
        "SELECT rowid, document_id, -bm25(chunks_fts, 1.0, 0.0) FROM chunks_fts
         WHERE chunks_fts MATCH ? AND user_id = ? ORDER BY bm25(chunks_fts, 1.0, 0.0) LIMIT ?",
    )
    .bind(&chunk_q)
    .bind(user.0)
    .bind(limit)
    .fetch_all(pool);
    let (memory_hits, message_hits, chunk_hits) =
        futures_util::join!(memory_fts(pool, false, user, &q, limit), messages, chunks);
    let (memory_hits, message_hits, chunk_hits) = (memory_hits?, message_hits.db()?, chunk_hits.db()?);
    let mut hits: Vec<TextHit> = memory_hits
        .into_iter()
        .map(|(id, score)| TextHit::Memory { id: MemoryId(id), score: score as f32 })
        .chain(message_hits.into_iter().map(|(id, conv, score)| TextHit::Message {
            id: MessageId(id),
            conversation: ConversationId(conv),
            score: score as f32,
        }))
        .chain(chunk_hits.into_iter().map(|(id, doc, score)| TextHit::Chunk {
            id: ChunkId(id),
            document: DocumentId(doc),
            score: score as f32,
        }))
        .collect();
    let score = TextHit::score;
    hits.sort_by(|a, b| score(b).total_cmp(&score(a)));
    hits.truncate(limit as usize);
    Ok(hits)
}

pub(super) async fn history(pool: &SqlitePool, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
    let terms = search_terms_for(pool, "messages_fts_vocab", user, query).await?;
    let Some(q) = fts_query(&terms, user) else { return Ok(Vec::new()) };
    let hits = memory_fts(pool, true, user, &q, limit.min(1000) as i64).await?;
    Ok(hits.into_iter().map(|(id, score)| TextHit::Memory { id: MemoryId(id), score: score as f32 }).collect())
}

/// BM25 over one of the two memory tables (current or history): (id, score), best first.
async fn memory_fts(pool: &SqlitePool, history: bool, user: UserId, q: &str, limit: i64) -> Result<Vec<(i64, f64)>> {
    let table = if history { "memory_history_fts" } else { "memories_fts" };
    // bm25() is lower-is-better; negate so higher is better, as everywhere else.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT rowid, -bm25({table}, 1.0, 0.0) FROM {table} WHERE {table} MATCH ? AND user_id = ?
         ORDER BY bm25({table}, 1.0, 0.0) LIMIT ?"
    )))
    .bind(q)
    .bind(user.0)
    .bind(limit)
    .fetch_all(pool)
    .await
    .db()
}

/// A user with more rows than this gets very common terms left out of searches.
const PRUNE_FROM_ROWS: i64 = 20_000;
/// A term in more than this share of such a user's rows is left out (unless
/// it is all there is): it adds little to the ranking and costs a pass over a
/// large share of the index, as a search engine's stop list would.
const PRUNE_SHARE: f64 = 0.02;

/// The query's search terms, without those too common to rank by for a user
/// with a large history (only ever the commonest; the rarest term always stays).
/// `vocab` is the fts5vocab table of the index searched (our own literal).
async fn search_terms_for(pool: &SqlitePool, vocab: &'static str, user: UserId, text: &str) -> Result<Vec<String>> {
    let terms = pai_core::analyzer::search_terms(text);
    if terms.len() < 2 {
        return Ok(terms);
    }
    let owner = format!("u{user}");
    let rows: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT doc FROM {vocab} WHERE term = ? AND col = 'owner'")))
            .bind(&owner)
            .fetch_optional(pool)
            .await
            .db()?;
    let rows = rows.unwrap_or(0);
    if rows < PRUNE_FROM_ROWS {
        return Ok(terms);
    }
    let mut counted = Vec::with_capacity(terms.len());
    for t in terms {
        let doc: Option<i64> =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT doc FROM {vocab} WHERE term = ? AND col = 'terms'")))
                .bind(&t)
                .fetch_optional(pool)
                .await
                .db()?;
        counted.push((t, doc.unwrap_or(0)));
    }
    let rarest = counted.iter().map(|(_, d)| *d).min().unwrap_or(0);
    let limit = (rows as f64 * PRUNE_SHARE) as i64;
    Ok(counted.into_iter().filter(|(_, d)| *d <= limit || *d == rarest).map(|(t, _)| t).collect())
}

/// FTS5 query matching any of `terms` among `user`'s rows (each term quoted,
/// so none is read as FTS syntax). `None` when there is nothing to search for.
fn fts_query(terms: &[String], user: UserId) -> Option<String> {
    (!terms.is_empty()).then(|| {
        let any = terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" OR ");
        format!("owner : \"u{user}\" AND terms : ({any})")
    })
}
