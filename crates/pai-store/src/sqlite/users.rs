//! Users and their credentials (portable/users.rs); deleting a user here.

use pai_core::store::UserId;
use pai_core::{Error, Result};
use sqlx::SqlitePool;

use crate::errors::SqlxResult;

pub(super) use crate::portable::users::*;

/// Everything the user owns goes: rows cascade from `users`; full-text rows
/// and vectors live in virtual tables without foreign keys and go first.
pub(super) async fn delete_user(pool: &SqlitePool, id: UserId) -> Result<()> {
    let mut tx = super::write_tx(pool).await?;
    for sql in [
        "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE user_id = ?1)",
        "DELETE FROM memories_fts WHERE rowid IN (SELECT id FROM memories WHERE user_id = ?1)",
        "DELETE FROM memory_history_fts WHERE rowid IN (SELECT id FROM memories WHERE user_id = ?1)",
        "DELETE FROM message_vectors WHERE rowid IN (SELECT id FROM messages WHERE user_id = ?1)",
        "DELETE FROM memory_vectors WHERE rowid IN (SELECT id FROM memories WHERE user_id = ?1)",
        "DELETE FROM message_floats WHERE user_id = ?1",
        "DELETE FROM memory_floats WHERE user_id = ?1",
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE user_id = ?1)",
        "DELETE FROM chunk_vectors WHERE rowid IN (SELECT id FROM chunks WHERE user_id = ?1)",
        "DELETE FROM chunk_floats WHERE user_id = ?1",
    ] {
        sqlx::query(sql).bind(id.0).execute(&mut *tx).await.db()?;
    }
    let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(id.0).execute(&mut *tx).await.db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    tx.commit().await.db()
}
