//! Memories: what pai knows of a user, each with its sources, its history
//! (a superseded memory ends and links to its successor) and what derives
//! from its text (`derived`).

use chrono::{DateTime, Utc};
use pai_core::store::{Memory, MemoryId, MessageId, NewMemory, UserId};
use pai_core::{Error, Result};

use super::derived::{self, MEMORIES};
use super::{Arg, Dialect, Pool, Run};
use crate::checks::{check_memory, check_text};
use crate::rows;

/// The columns `rows::memory` reads. PostgreSQL's source links carry the
/// user (its distribution column); SQLite's do not.
fn columns(dialect: Dialect) -> String {
    let sources = dialect.comma_list("message_id");
    let link = match dialect {
        Dialect::Sqlite => "s.memory_id = memories.id",
        Dialect::Postgres => "s.user_id = memories.user_id AND s.memory_id = memories.id",
    };
    format!(
        "id, user_id, text, kind, subject, importance, valid_from, valid_to, superseded_by, created_at, updated_at,
         (SELECT {sources} FROM memory_sources s WHERE {link}) AS sources"
    )
}

/// Links `sources` to `memory` after checking they are messages of `user`.
async fn add_sources(tx: &dyn Run, user: UserId, memory: i64, sources: &[MessageId]) -> Result<()> {
    let link = match tx.dialect() {
        Dialect::Sqlite => {
            "INSERT INTO memory_sources (memory_id, message_id)
             SELECT $2, id FROM messages WHERE user_id = $1 AND id = $3 ON CONFLICT DO NOTHING"
        }
        Dialect::Postgres => {
            "INSERT INTO memory_sources (user_id, memory_id, message_id)
             SELECT user_id, $2, id FROM messages WHERE user_id = $1 AND id = $3 ON CONFLICT DO NOTHING"
        }
    };
    for source in sources {
        let args = [Arg::Int(user.0), Arg::Int(memory), Arg::Int(source.0)];
        if tx.execute(link, &args).await? == 0 {
            // Linked already, or not the user's message at all?
            let known = "SELECT id FROM messages WHERE user_id = $1 AND id = $2";
            if tx.optional(known, &[Arg::Int(user.0), Arg::Int(source.0)]).await?.is_none() {
                return Err(Error::invalid(format!("source message {source} does not exist")));
            }
        }
    }
    Ok(())
}

pub(crate) async fn insert(tx: &dyn Run, user: UserId, m: &NewMemory) -> Result<MemoryId> {
    check_memory(m)?;
    let sql =
        "INSERT INTO memories (user_id, text, kind, subject, importance, valid_from, created_at, updated_at{terms})
               SELECT id, $1, $2, $3, $4, $5, $6, $6{value} FROM users WHERE id = $7 RETURNING id";
    let args = [
        Arg::Text(m.text.trim()),
        Arg::Text(m.kind.as_str()),
        Arg::OptText(m.subject.as_deref()),
        Arg::Float(f64::from(m.importance)),
        Arg::OptTime(m.valid_from),
        Arg::Time(tx.dialect().now()),
        Arg::Int(user.0),
    ];
    let terms = crate::indexed::memory_terms(m.subject.as_deref(), &m.text);
    let id = derived::insert(tx, &MEMORIES, sql, &args, user, None, &terms)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    add_sources(tx, user, id, &m.sources).await?;
    Ok(MemoryId(id))
}

pub(crate) async fn get(pool: &dyn Run, user: UserId, id: MemoryId) -> Result<Memory> {
    let sql = format!("SELECT {} FROM memories WHERE user_id = $1 AND id = $2", columns(pool.dialect()));
    rows::memory(&*pool.one(&sql, &[Arg::Int(user.0), Arg::Int(id.0)], &format!("no memory {id}")).await?)
}

pub(crate) async fn by_id(pool: &dyn Run, user: UserId, ids: &[MemoryId]) -> Result<Vec<Memory>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let dialect = pool.dialect();
    let sql =
        format!("SELECT {} FROM memories WHERE user_id = $1 AND id {} ORDER BY id", columns(dialect), dialect.any(2));
    pool.all(&sql, &[Arg::Int(user.0), Arg::Ids(&ids)]).await?.iter().map(|r| rows::memory(&**r)).collect()
}

pub(crate) async fn predecessors(pool: &dyn Run, user: UserId, id: MemoryId) -> Result<Vec<Memory>> {
    let sql = format!("SELECT {} FROM memories WHERE user_id = $1 AND superseded_by = $2", columns(pool.dialect()));
    let mut out: Vec<Memory> = Vec::new();
    let mut next = id;
    // Chains are short (a home city changes a few times); the bound guards against a cycle.
    for _ in 0..100 {
        let Some(row) = pool.optional(&sql, &[Arg::Int(user.0), Arg::Int(next.0)]).await? else { break };
        let m = rows::memory(&*row)?;
        next = m.id;
        out.push(m);
    }
    Ok(out)
}

pub(crate) async fn list(
    pool: &dyn Run,
    user: UserId,
    include_history: bool,
    before: Option<MemoryId>,
    limit: Option<usize>,
) -> Result<Vec<Memory>> {
    let current = if include_history { "" } else { " AND valid_to IS NULL" };
    let mut args = vec![Arg::Int(user.0), Arg::Int(before.map_or(i64::MAX, |b| b.0))];
    let limit = match limit {
        Some(l) => {
            args.push(Arg::Int(l.min(i64::MAX as usize) as i64));
            " LIMIT $3"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {} FROM memories WHERE user_id = $1{current} AND id < $2 ORDER BY id DESC{limit}",
        columns(pool.dialect())
    );
    pool.all(&sql, &args).await?.iter().map(|r| rows::memory(&**r)).collect()
}

pub(crate) async fn update(tx: &dyn Run, user: UserId, id: MemoryId, text: &str, sources: &[MessageId]) -> Result<()> {
    check_text("a memory", "text", text)?;
    let sql =
        "UPDATE memories SET text = $1, updated_at = $2 WHERE user_id = $3 AND id = $4 RETURNING subject, valid_to";
    let args = [Arg::Text(text.trim()), Arg::Time(tx.dialect().now()), Arg::Int(user.0), Arg::Int(id.0)];
    let row = tx.one(sql, &args, &format!("no memory {id}")).await?;
    add_sources(tx, user, id.0, sources).await?;
    // SQLite's entry of an ended memory is in the history table, left as it was.
    if row.opt_time("valid_to").is_none() || tx.dialect() == Dialect::Postgres {
        let terms = crate::indexed::memory_terms(row.opt_text("subject").as_deref(), text);
        derived::reindex(tx, &MEMORIES, id.0, user, None, &terms).await?;
    }
    // The old vector describes the old text: drop it, the item is re-embedded.
    derived::forget_vector(tx, &MEMORIES, id.0, user).await
}

pub(crate) async fn supersede(
    tx: &dyn Run,
    user: UserId,
    old: MemoryId,
    new: &NewMemory,
    at: DateTime<Utc>,
) -> Result<MemoryId> {
    // Locked: a concurrent supersede of the same memory waits, then sees it ended.
    let sql = format!("SELECT valid_to FROM memories WHERE user_id = $1 AND id = $2{}", tx.dialect().for_update());
    let current = tx.one(&sql, &[Arg::Int(user.0), Arg::Int(old.0)], &format!("no memory {old}")).await?;
    if current.opt_time("valid_to").is_some() {
        return Err(Error::Conflict(format!("memory {old} was already superseded")));
    }
    let new_id = insert(tx, user, new).await?;
    // Ended, it is searched only as history and has no vector.
    tx.execute(
        "UPDATE memories SET valid_to = $1, superseded_by = $2, updated_at = $3 WHERE user_id = $4 AND id = $5",
        &[Arg::Time(at), Arg::Int(new_id.0), Arg::Time(tx.dialect().now()), Arg::Int(user.0), Arg::Int(old.0)],
    )
    .await?;
    derived::retire(tx, &MEMORIES, old.0, user).await?;
    derived::forget_vector(tx, &MEMORIES, old.0, user).await?;
    Ok(new_id)
}

/// Deletes one memory (`Some`) or all of a user's (`None`) with everything
/// derived from its text (sources, entries, vector, recorded decisions);
/// returns how many.
pub(crate) async fn delete(tx: &dyn Run, user: UserId, id: Option<MemoryId>) -> Result<u64> {
    let (only, args) = match id {
        Some(id) => (" AND id = $2", vec![Arg::Int(user.0), Arg::Int(id.0)]),
        None => ("", vec![Arg::Int(user.0)]),
    };
    let sql = format!("SELECT id FROM memories WHERE user_id = $1{only}{}", tx.dialect().for_update());
    let ids: Vec<i64> = tx.all(&sql, &args).await?.iter().map(|r| r.int("id")).collect();
    if let (Some(id), true) = (id, ids.is_empty()) {
        return Err(Error::not_found(format!("no memory {id}")));
    }
    if id.is_none() {
        // Everything recorded about memories goes too, rejected candidates included.
        tx.execute("DELETE FROM memory_decisions WHERE user_id = $1", &args).await?;
    } else {
        for sql in [
            // Decisions that produced it or merely matched it (their text is its text) go;
            // a successor's own decision stays, without the link.
            "DELETE FROM memory_decisions WHERE user_id = $1 AND (memory_id = $2 OR (target_id = $2 AND memory_id IS NULL))",
            "UPDATE memory_decisions SET target_id = NULL WHERE user_id = $1 AND target_id = $2",
        ] {
            tx.execute(sql, &args).await?;
        }
    }
    let ids_sql = format!("SELECT id FROM memories WHERE user_id = $1{only}");
    derived::drop_derived(tx, &MEMORIES, &ids_sql, &args).await?;
    tx.execute(&format!("DELETE FROM memories WHERE user_id = $1{only}"), &args).await?;
    Ok(ids.len() as u64)
}

pub(crate) async fn add(pool: &dyn Pool, user: UserId, memory: NewMemory) -> Result<Memory> {
    let tx = pool.begin().await?;
    let id = insert(&*tx, user, &memory).await?;
    tx.commit().await?;
    get(pool, user, id).await
}

pub(crate) async fn update_one(
    pool: &dyn Pool,
    user: UserId,
    id: MemoryId,
    text: &str,
    sources: &[MessageId],
) -> Result<Memory> {
    let tx = pool.begin().await?;
    update(&*tx, user, id, text, sources).await?;
    tx.commit().await?;
    get(pool, user, id).await
}

pub(crate) async fn supersede_one(
    pool: &dyn Pool,
    user: UserId,
    old: MemoryId,
    new: NewMemory,
    at: DateTime<Utc>,
) -> Result<Memory> {
    let tx = pool.begin().await?;
    let id = supersede(&*tx, user, old, &new, at).await?;
    tx.commit().await?;
    get(pool, user, id).await
}

pub(crate) async fn delete_some(pool: &dyn Pool, user: UserId, id: Option<MemoryId>) -> Result<u64> {
    let tx = pool.begin().await?;
    let n = delete(&*tx, user, id).await?;
    tx.commit().await?;
    Ok(n)
}
