use chrono::Utc;
use pai_core::analyzer::index_text;
use pai_core::store::{Conversation, ConversationId, MessageId, NewMessage, StoredMessage, UserId};
use pai_core::{Error, Result};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::checks::{check_text, check_title};
use crate::errors::SqlxResult;

pub(super) async fn create_conversation(pool: &SqlitePool, user: UserId, title: &str) -> Result<Conversation> {
    check_title(title)?;
    let now = Utc::now();
    // INSERT ... SELECT FROM users: an unknown user inserts nothing instead of failing on a foreign key.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (user_id, title, created_at) SELECT id, ?, ? FROM users WHERE id = ? RETURNING id",
    )
    .bind(title.trim())
    .bind(now)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?;
    let id = id.ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    Ok(Conversation { id: ConversationId(id), user, title: title.trim().to_string(), created_at: now })
}

pub(super) async fn conversations(pool: &SqlitePool, user: UserId) -> Result<Vec<Conversation>> {
    let rows = sqlx::query("SELECT id, title, created_at FROM conversations WHERE user_id = ? ORDER BY id DESC")
        .bind(user.0)
        .fetch_all(pool)
        .await
        .db()?;
    Ok(rows
        .into_iter()
        .map(|r| Conversation {
            id: ConversationId(r.get("id")),
            user,
            title: r.get("title"),
            created_at: r.get("created_at"),
        })
        .collect())
}

pub(super) async fn conversation(pool: &SqlitePool, user: UserId, id: ConversationId) -> Result<Conversation> {
    let r = sqlx::query("SELECT id, title, created_at FROM conversations WHERE id = ? AND user_id = ?")
        .bind(id.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no conversation {id}")))?;
    Ok(Conversation { id, user, title: r.get("title"), created_at: r.get("created_at") })
}

pub(super) async fn rename_conversation(
    pool: &SqlitePool,
    user: UserId,
    id: ConversationId,
    title: &str,
) -> Result<Conversation> {
    check_title(title)?;
    let done = sqlx::query("UPDATE conversations SET title = ? WHERE id = ? AND user_id = ?")
        .bind(title.trim())
        .bind(id.0)
        .bind(user.0)
        .execute(pool)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no conversation {id}")));
    }
    conversation(pool, user, id).await
}

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

pub(super) async fn add_messages(
    pool: &SqlitePool,
    user: UserId,
    conversation: ConversationId,
    new: Vec<NewMessage>,
) -> Result<Vec<StoredMessage>> {
    for m in &new {
        check_text("a message", "content", &m.content)?;
    }
    let mut tx = super::write_tx(pool).await?;
    super::require_owned(&mut tx, "conversations", "conversation", conversation.0, user).await?;
    let ids = insert(&mut tx, user, conversation, &new).await?;
    tx.commit().await.db()?;
    Ok(stored(conversation, ids, new))
}

/// A conversation and all its messages, in one transaction (imports).
pub(super) async fn import_conversation(
    pool: &SqlitePool,
    user: UserId,
    title: &str,
    new: Vec<NewMessage>,
    jobs: &[Vec<usize>],
) -> Result<(Conversation, Vec<StoredMessage>)> {
    for m in &new {
        check_text("a message", "content", &m.content)?;
    }
    let created_at = new.first().map(|m| m.created_at).unwrap_or_else(Utc::now);
    let mut tx = super::write_tx(pool).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (user_id, title, created_at) SELECT id, ?, ? FROM users WHERE id = ? RETURNING id",
    )
    .bind(title.trim())
    .bind(created_at)
    .bind(user.0)
    .fetch_optional(&mut *tx)
    .await
    .db()?;
    let conversation = ConversationId(id.ok_or_else(|| Error::not_found(format!("no user {user}")))?);
    let ids = insert(&mut tx, user, conversation, &new).await?;
    for group in jobs {
        let messages = crate::checks::job_messages(&ids, group)?;
        super::jobs::insert_job(&mut tx, user, conversation, &messages).await?;
    }
    tx.commit().await.db()?;
    let conv = Conversation { id: conversation, user, title: title.trim().to_string(), created_at };
    Ok((conv, stored(conversation, ids, new)))
}

pub(super) async fn message_by_external_id(
    pool: &SqlitePool,
    user: UserId,
    external_id: &str,
) -> Result<Option<StoredMessage>> {
    let row = sqlx::query(
        "SELECT id, conversation_id, role, speaker, content, created_at, external_id FROM messages
         WHERE user_id = ? AND external_id = ? ORDER BY id LIMIT 1",
    )
    .bind(user.0)
    .bind(external_id)
    .fetch_optional(pool)
    .await
    .db()?;
    row.as_ref().map(crate::rows::message).transpose()
}

fn stored(conversation: ConversationId, ids: Vec<MessageId>, new: Vec<NewMessage>) -> Vec<StoredMessage> {
    ids.into_iter()
        .zip(new)
        .map(|(id, m)| StoredMessage {
            id,
            conversation,
            role: m.role,
            speaker: m.speaker,
            content: m.content,
            created_at: m.created_at,
            external_id: m.external_id,
        })
        .collect()
}

async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
    user: UserId,
    conversation: ConversationId,
    new: &[NewMessage],
) -> Result<Vec<MessageId>> {
    let mut ids = Vec::with_capacity(new.len());
    for m in new {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (user_id, conversation_id, role, speaker, content, created_at, external_id)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(conversation.0)
        .bind(m.role.as_str())
        .bind(&m.speaker)
        .bind(&m.content)
        .bind(m.created_at)
        .bind(&m.external_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match crate::errors::from_sqlx(e) {
            Error::Conflict(_) => Error::Conflict(format!(
                "a message with external id {:?} is already in this conversation",
                m.external_id.as_deref().unwrap_or_default()
            )),
            other => other,
        })?;
        sqlx::query(
            "INSERT INTO messages_fts (rowid, terms, owner, user_id, conversation_id) VALUES (?, ?, 'u' || ?3, ?3, ?4)",
        )
        .bind(id)
        .bind(index_text(&m.content))
        .bind(user.0)
        .bind(conversation.0)
        .execute(&mut **tx)
        .await
        .db()?;
        ids.push(MessageId(id));
    }
    Ok(ids)
}

pub(super) async fn messages(
    pool: &SqlitePool,
    user: UserId,
    conversation: ConversationId,
) -> Result<Vec<StoredMessage>> {
    let owned: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations WHERE id = ? AND user_id = ?")
        .bind(conversation.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .db()?;
    if owned.is_none() {
        return Err(Error::not_found(format!("no conversation {conversation}")));
    }
    let rows = sqlx::query(
        "SELECT id, conversation_id, role, speaker, content, created_at, external_id FROM messages
         WHERE user_id = ? AND conversation_id = ? ORDER BY id",
    )
    .bind(user.0)
    .bind(conversation.0)
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(crate::rows::message).collect()
}

pub(super) async fn messages_by_id(pool: &SqlitePool, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>> {
    let select = "SELECT id, conversation_id, role, speaker, content, created_at, external_id FROM messages
                  WHERE user_id = ? AND id IN ({ids}) ORDER BY id";
    super::rows_by_id(pool, select, user, ids.iter().map(|i| i.0)).await?.iter().map(crate::rows::message).collect()
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
