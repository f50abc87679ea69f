//! What a row's text derives besides the row: its full-text entry and its
//! vector. This is where the backends' writes differ, written once here with
//! both sides next to each other:
//! - PostgreSQL keeps the terms in the row's own `terms` column (a
//!   tsvector) and the vector in a table with a foreign key, so both go
//!   with the row (ON DELETE CASCADE);
//! - SQLite keeps the terms in an FTS5 table (`rowid` = the row's id, the
//!   owner an indexed token) and the vector in a vec0 table and a float
//!   table; virtual tables have no foreign keys, so they are written and
//!   deleted beside the row, in the same transaction.

use pai_core::store::UserId;
use pai_core::{Error, Result};

use super::{Arg, Dialect, Run};

/// A table whose rows are searched by their text.
pub(crate) struct Indexed {
    table: &'static str,
    /// SQLite's FTS5 tables of the rows (the first is written on insert).
    fts: &'static [&'static str],
    /// SQLite's vec0 table (by rowid) and float table (by id).
    vectors: &'static str,
    floats: &'static str,
    /// The column a search is narrowed by, kept in SQLite's FTS row too.
    scope: Option<&'static str>,
}

pub(crate) const MESSAGES: Indexed = Indexed {
    table: "messages",
    fts: &["messages_fts"],
    vectors: "message_vectors",
    floats: "message_floats",
    scope: Some("conversation_id"),
};

pub(crate) const CHUNKS: Indexed = Indexed {
    table: "chunks",
    fts: &["chunks_fts"],
    vectors: "chunk_vectors",
    floats: "chunk_floats",
    scope: Some("document_id"),
};

/// A memory's entry moves to `memory_history_fts` when it is superseded
/// (`retire`); on PostgreSQL `valid_to` tells the two apart.
pub(crate) const MEMORIES: Indexed = Indexed {
    table: "memories",
    fts: &["memories_fts", "memory_history_fts"],
    vectors: "memory_vectors",
    floats: "memory_floats",
    scope: None,
};

/// Runs `sql`, an `INSERT … RETURNING id` of a row of `of` whose column
/// list ends in `{terms}` and whose values end in `{value}`, and writes the
/// row's full-text entry of `terms` (already analyzed). `None` when the
/// INSERT … SELECT inserted nothing.
pub(crate) async fn insert(
    tx: &dyn Run,
    of: &Indexed,
    sql: &str,
    args: &[Arg<'_>],
    user: UserId,
    scope: Option<i64>,
    terms: &str,
) -> Result<Option<i64>> {
    let id = match tx.dialect() {
        Dialect::Postgres => {
            let tsvector = crate::postgres::search::tsvector(terms);
            let sql = sql.replace("{terms}", ", terms").replace("{value}", &format!(", ${}::tsvector", args.len() + 1));
            let mut args = args.to_vec();
            args.push(Arg::Text(&tsvector));
            return Ok(tx.optional(&sql, &args).await?.map(|r| r.int("id")));
        }
        Dialect::Sqlite => {
            let sql = sql.replace("{terms}", "").replace("{value}", "");
            match tx.optional(&sql, args).await? {
                Some(row) => row.int("id"),
                None => return Ok(None),
            }
        }
    };
    write_fts(tx, of, of.fts[0], id, user, scope, terms).await?;
    Ok(Some(id))
}

/// SQLite: the row's entry in `fts`.
async fn write_fts(
    tx: &dyn Run,
    of: &Indexed,
    fts: &str,
    id: i64,
    user: UserId,
    scope: Option<i64>,
    terms: &str,
) -> Result<()> {
    let (column, value) = match of.scope {
        Some(column) => (format!(", {column}"), ", $4"),
        None => (String::new(), ""),
    };
    let sql = format!("INSERT INTO {fts} (rowid, terms, owner, user_id{column}) VALUES ($1, $2, 'u' || $3, $3{value})");
    let mut args = vec![Arg::Int(id), Arg::Text(terms), Arg::Int(user.0)];
    args.extend(scope.map(Arg::Int));
    tx.execute(&sql, &args).await.map(|_| ())
}

/// The entry of row `id` (of `user`, already checked) says `terms` now.
pub(crate) async fn reindex(
    tx: &dyn Run,
    of: &Indexed,
    id: i64,
    user: UserId,
    scope: Option<i64>,
    terms: &str,
) -> Result<()> {
    match tx.dialect() {
        Dialect::Postgres => {
            let tsvector = crate::postgres::search::tsvector(terms);
            let sql = format!("UPDATE {} SET terms = $1::tsvector WHERE user_id = $2 AND id = $3", of.table);
            tx.execute(&sql, &[Arg::Text(&tsvector), Arg::Int(user.0), Arg::Int(id)]).await?;
        }
        Dialect::Sqlite => {
            let sql = format!("DELETE FROM {} WHERE rowid = $1 AND user_id = $2", of.fts[0]);
            tx.execute(&sql, &[Arg::Int(id), Arg::Int(user.0)]).await?;
            write_fts(tx, of, of.fts[0], id, user, scope, terms).await?;
        }
    }
    Ok(())
}

/// SQLite: a superseded memory's entry moves to the history table, where
/// questions about the past still find it apart from current facts.
pub(crate) async fn retire(tx: &dyn Run, of: &Indexed, id: i64, user: UserId) -> Result<()> {
    if tx.dialect() == Dialect::Sqlite {
        let [current, history] = of.fts else { return Err(Error::internal("no history table")) };
        let sql = format!(
            "INSERT INTO {history} (rowid, terms, owner, user_id)
             SELECT rowid, terms, owner, user_id FROM {current} WHERE rowid = $1 AND user_id = $2"
        );
        tx.execute(&sql, &[Arg::Int(id), Arg::Int(user.0)]).await?;
        let sql = format!("DELETE FROM {current} WHERE rowid = $1 AND user_id = $2");
        tx.execute(&sql, &[Arg::Int(id), Arg::Int(user.0)]).await?;
    }
    Ok(())
}

/// Row `id`'s vector, which describes text it no longer says: gone, and the
/// row to be embedded again now (its claim dropped too, not waited out).
/// Nothing happens unless the row is `user`'s.
pub(crate) async fn forget_vector(tx: &dyn Run, of: &Indexed, id: i64, user: UserId) -> Result<()> {
    let sql =
        format!("UPDATE {} SET embedded = $1, embed_claimed_until = NULL WHERE user_id = $2 AND id = $3", of.table);
    if tx.execute(&sql, &[Arg::Flag(false), Arg::Int(user.0), Arg::Int(id)]).await? == 0 {
        return Ok(());
    }
    match tx.dialect() {
        Dialect::Postgres => {
            let sql = format!("DELETE FROM {} WHERE user_id = $1 AND id = $2", of.vectors);
            tx.execute(&sql, &[Arg::Int(user.0), Arg::Int(id)]).await?;
        }
        Dialect::Sqlite => {
            // vec0 deletes by rowid only; the owner check is the UPDATE above.
            tx.execute(&format!("DELETE FROM {} WHERE rowid = $1", of.vectors), &[Arg::Int(id)]).await?;
            let sql = format!("DELETE FROM {} WHERE id = $1 AND user_id = $2", of.floats);
            tx.execute(&sql, &[Arg::Int(id), Arg::Int(user.0)]).await?;
        }
    }
    Ok(())
}

/// SQLite: deletes what derives from the rows of `of` that `ids` (SQL
/// selecting their ids, over `args`) selects, before the rows themselves
/// go. PostgreSQL's go with the rows.
pub(crate) async fn drop_derived(tx: &dyn Run, of: &Indexed, ids: &str, args: &[Arg<'_>]) -> Result<()> {
    if tx.dialect() == Dialect::Sqlite {
        for table in of.fts.iter().chain([&of.vectors]) {
            tx.execute(&format!("DELETE FROM {table} WHERE rowid IN ({ids})"), args).await?;
        }
        tx.execute(&format!("DELETE FROM {} WHERE id IN ({ids})", of.floats), args).await?;
    }
    Ok(())
}
