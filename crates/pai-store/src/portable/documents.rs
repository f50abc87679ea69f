//! Documents and their chunks: stored, replaced and deleted whole, with the
//! chunks' full-text entries and vectors in the same transaction.

use pai_core::Result;
use pai_core::store::{Chunk, ChunkId, Document, DocumentChange, DocumentId, NewDocument, UserId};

use super::derived::{self, CHUNKS};
use super::{Arg, Dialect, Pool, Run, require_owned};
use crate::rows::{self, CHUNK_COLUMNS};

const DOCUMENT_COLUMNS: &str = "id, title, source, format, content_hash, bytes, pages, created_at, updated_at,
    (SELECT count(*) FROM chunks WHERE chunks.user_id = documents.user_id AND chunks.document_id = documents.id)
     AS chunk_count,
    (SELECT count(*) FROM chunks WHERE chunks.user_id = documents.user_id AND chunks.document_id = documents.id
     AND NOT chunks.embedded) AS pending_count";

/// Serialises document writes of one user on PostgreSQL (two uploads of
/// the same file at once would both find no copy and both insert): a
/// transaction-scoped advisory lock on (class, user). SQLite's write
/// transaction serialises them already.
const DOCUMENT_LOCK: i64 = 0x7061_6944; // "paiD"

pub(crate) async fn put(pool: &dyn Pool, user: UserId, d: NewDocument) -> Result<(Document, DocumentChange)> {
    crate::checks::check_document(&d)?;
    let tx = pool.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        let sql = "SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))";
        tx.execute(sql, &[Arg::Int(DOCUMENT_LOCK), Arg::Text(&user.0.to_string())]).await?;
    }
    let sql = "SELECT id, content_hash FROM documents WHERE user_id = $1 AND source = $2";
    let existing = tx.optional(sql, &[Arg::Int(user.0), Arg::Text(&d.source)]).await?;
    let now = tx.dialect().now();
    // What describes the document, the same whether it is new or replaced.
    let described = [
        Arg::Text(d.title.trim()),
        Arg::Text(d.format.as_str()),
        Arg::Text(&d.content_hash),
        Arg::Int(d.bytes as i64),
        Arg::OptInt(d.pages.map(i64::from)),
    ];
    let (id, change) = match existing.map(|r| (r.int("id"), r.text("content_hash"))) {
        Some((id, hash)) if hash == d.content_hash => {
            drop(tx);
            return Ok((get(pool, user, DocumentId(id)).await?, DocumentChange::Unchanged));
        }
        Some((id, _)) => {
            remove_chunks(&*tx, user, id).await?;
            let sql = "UPDATE documents SET title = $1, format = $2, content_hash = $3, bytes = $4, pages = $5,
                           updated_at = $6 WHERE user_id = $7 AND id = $8";
            tx.execute(sql, &[&described[..], &[Arg::Time(now), Arg::Int(user.0), Arg::Int(id)]].concat()).await?;
            (id, DocumentChange::Replaced)
        }
        None => {
            // The same bytes under another name (a copy, a second upload) are one document.
            let sql = "SELECT id FROM documents WHERE user_id = $1 AND content_hash = $2 LIMIT 1";
            if let Some(copy) = tx.optional(sql, &[Arg::Int(user.0), Arg::Text(&d.content_hash)]).await? {
                drop(tx);
                return Ok((get(pool, user, DocumentId(copy.int("id"))).await?, DocumentChange::Unchanged));
            }
            let sql = "INSERT INTO documents (user_id, title, format, content_hash, bytes, pages, created_at, updated_at, source)
                       SELECT id, $1, $2, $3, $4, $5, $6, $6, $7 FROM users WHERE id = $8 RETURNING id";
            let args = [&described[..], &[Arg::Time(now), Arg::Text(&d.source), Arg::Int(user.0)]].concat();
            (tx.one(sql, &args, &format!("no user {user}")).await?.int("id"), DocumentChange::Created)
        }
    };
    for (ordinal, c) in d.chunks.iter().enumerate() {
        let sql =
            "INSERT INTO chunks (user_id, document_id, ordinal, text, page, heading, start_offset, end_offset{terms})
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8{value}) RETURNING id";
        let args = [
            Arg::Int(user.0),
            Arg::Int(id),
            Arg::Int(ordinal as i64),
            Arg::Text(&c.text),
            Arg::OptInt(c.page.map(i64::from)),
            Arg::OptText(c.heading.as_deref()),
            Arg::Int(c.start as i64),
            Arg::Int(c.end as i64),
        ];
        let terms = crate::indexed::chunk_terms(c.heading.as_deref(), &c.text);
        derived::insert(&*tx, &CHUNKS, sql, &args, user, Some(id), &terms).await?;
    }
    tx.commit().await?;
    Ok((get(pool, user, DocumentId(id)).await?, change))
}

/// Deletes a document's chunks with what derives from them.
async fn remove_chunks(tx: &dyn Run, user: UserId, document: i64) -> Result<()> {
    let args = [Arg::Int(document), Arg::Int(user.0)];
    let ids = "SELECT id FROM chunks WHERE document_id = $1 AND user_id = $2";
    derived::drop_derived(tx, &CHUNKS, ids, &args).await?;
    tx.execute("DELETE FROM chunks WHERE document_id = $1 AND user_id = $2", &args).await.map(|_| ())
}

pub(crate) async fn get(pool: &dyn Run, user: UserId, id: DocumentId) -> Result<Document> {
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 AND id = $2");
    rows::document(&*pool.one(&sql, &[Arg::Int(user.0), Arg::Int(id.0)], &format!("no document {id}")).await?)
}

pub(crate) async fn by_id(pool: &dyn Run, user: UserId, ids: &[DocumentId]) -> Result<Vec<Document>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let sql = format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 AND id {} ORDER BY id",
        pool.dialect().any(2)
    );
    pool.all(&sql, &[Arg::Int(user.0), Arg::Ids(&ids)]).await?.iter().map(|r| rows::document(&**r)).collect()
}

pub(crate) async fn list(pool: &dyn Run, user: UserId) -> Result<Vec<Document>> {
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 ORDER BY id DESC");
    pool.all(&sql, &[Arg::Int(user.0)]).await?.iter().map(|r| rows::document(&**r)).collect()
}

pub(crate) async fn chunks(pool: &dyn Run, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
    get(pool, user, id).await?;
    let sql = format!("SELECT {CHUNK_COLUMNS} FROM chunks WHERE user_id = $1 AND document_id = $2 ORDER BY ordinal");
    Ok(pool.all(&sql, &[Arg::Int(user.0), Arg::Int(id.0)]).await?.iter().map(|r| rows::chunk(&**r)).collect())
}

pub(crate) async fn chunks_by_id(pool: &dyn Run, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let sql =
        format!("SELECT {CHUNK_COLUMNS} FROM chunks WHERE user_id = $1 AND id {} ORDER BY id", pool.dialect().any(2));
    Ok(pool.all(&sql, &[Arg::Int(user.0), Arg::Ids(&ids)]).await?.iter().map(|r| rows::chunk(&**r)).collect())
}

pub(crate) async fn delete(pool: &dyn Pool, user: UserId, id: DocumentId) -> Result<()> {
    let tx = pool.begin().await?;
    require_owned(&*tx, "documents", "document", id.0, user).await?;
    remove_chunks(&*tx, user, id.0).await?;
    tx.execute("DELETE FROM documents WHERE user_id = $1 AND id = $2", &[Arg::Int(user.0), Arg::Int(id.0)]).await?;
    tx.commit().await?;
    Ok(())
}
