//! Conversations and their messages (portable/messages.rs); deleting a
//! conversation and redacting a message here: the full-text row and the
//! vectors live in virtual tables without foreign keys.

use pai_core::analyzer::index_text;
use pai_core::store::{ConversationId, MessageId, StoredMessage, UserId};
use pai_core::{Error, Result};
use sqlx::SqlitePool;

use crate::checks::check_text;
use crate::errors::SqlxResult;

pub(super) use crate::portable::messages::*;

/// Messages cascade from the conversation; their full-text rows and vectors
/// (virtual tables, no foreign keys) are deleted first, in the same transaction.
pub(super) async fn delete_conversation(pool: &SqlitePool, user: UserId, id: ConversationId) -> Result<()> {
    let mut tx = super::write_tx(pool).await?;
    super::require_owned(&mut tx, "conversations", "conversation", id.0, user).await?;
    for sql in [
        "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE conversation_id = ?1 AND user_id = ?2)",
        "DELETE FROM message_vectors WHERE rowid IN (SELECT id FROM messages WHERE conversation_id = ?1 AND user_id = ?2)",
        "DELETE FROM message_floats WHERE id IN (SELECT id FROM messages WHERE conversation_id = ?1 AND user_id = ?2)",
        "DELETE FROM conversations WHERE id = ?1 AND user_id = ?2",
    ] {
        sqlx::query(sql).bind(id.0).bind(user.0).execute(&mut *tx).await.db()?;
    }
    tx.commit().await.db()
}

pub(super) async fn redact(pool: &SqlitePool, user: UserId, id: MessageId, content: &str) -> Result<StoredMessage> {
    check_text("a message", "content", content)?;
    let mut tx = super::write_tx(pool).await?;
    // Unclaimed too: what it now says is to be embedded now.
    let conversation: Option<i64> = sqlx::query_scalar(
        "UPDATE messages SET content = ?, embedded = 0, embed_claimed_until = NULL WHERE id = ? AND user_id = ?
         RETURNING conversation_id",
    )
    .bind(content)
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(&mut *tx)
    .await
    .db()?;
    let conversation = conversation.ok_or_else(|| Error::not_found(format!("no message {id}")))?;
    // The full-text row and vec0 go by rowid only; the owner check is the UPDATE above.
    sqlx::query("UPDATE messages_fts SET terms = ? WHERE rowid = ?")
        .bind(index_text(content))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .db()?;
    sqlx::query("DELETE FROM message_vectors WHERE rowid = ?").bind(id.0).execute(&mut *tx).await.db()?;
    sqlx::query("DELETE FROM message_floats WHERE id = ? AND user_id = ?")
        .bind(id.0)
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .db()?;
    sqlx::query(
        "DELETE FROM conversation_summaries WHERE conversation_id = ? AND user_id = ? AND through_message_id >= ?",
    )
    .bind(conversation)
    .bind(user.0)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .db()?;
    tx.commit().await.db()?;
    messages_by_id(pool, user, &[id]).await?.pop().ok_or_else(|| Error::not_found(format!("no message {id}")))
}
