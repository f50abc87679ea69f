//! Conversations and their messages (portable/messages.rs); deleting a
//! conversation and redacting a message here.

use pai_core::analyzer::index_text;
use pai_core::store::{ConversationId, MessageId, StoredMessage, UserId};
use pai_core::{Error, Result};
use sqlx::PgPool;

use super::search::tsvector;
use crate::checks::check_text;
use crate::errors::SqlxResult;

pub(super) use crate::portable::messages::*;

/// Messages, their vectors, summary and jobs cascade from the conversation.
pub(super) async fn delete_conversation(pool: &PgPool, user: UserId, id: ConversationId) -> Result<()> {
    let done = sqlx::query("DELETE FROM conversations WHERE user_id = $1 AND id = $2")
        .bind(user.0)
        .bind(id.0)
        .execute(pool)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no conversation {id}")));
    }
    Ok(())
}

pub(super) async fn redact(pool: &PgPool, user: UserId, id: MessageId, content: &str) -> Result<StoredMessage> {
    check_text("a message", "content", content)?;
    let mut tx = pool.begin().await.db()?;
    // Unclaimed too: what it now says is to be embedded now.
    let conversation: Option<i64> = sqlx::query_scalar(
        "UPDATE messages SET content = $1, terms = $2::tsvector, embedded = false, embed_claimed_until = NULL
         WHERE user_id = $3 AND id = $4 RETURNING conversation_id",
    )
    .bind(content)
    .bind(tsvector(&index_text(content)))
    .bind(user.0)
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await
    .db()?;
    let conversation = conversation.ok_or_else(|| Error::not_found(format!("no message {id}")))?;
    sqlx::query("DELETE FROM message_vectors WHERE user_id = $1 AND id = $2")
        .bind(user.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .db()?;
    sqlx::query(
        "DELETE FROM conversation_summaries WHERE user_id = $1 AND conversation_id = $2 AND through_message_id >= $3",
    )
    .bind(user.0)
    .bind(conversation)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .db()?;
    tx.commit().await.db()?;
    messages_by_id(pool, user, &[id]).await?.pop().ok_or_else(|| Error::not_found(format!("no message {id}")))
}
