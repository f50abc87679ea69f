use pai_core::analyzer::index_text;
use pai_core::store::{Conversation, ConversationId, MessageId, NewMessage, StoredMessage, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

use super::search::tsvector;
use super::{micros, now};
use crate::checks::{check_text, check_title};
use crate::errors::SqlxResult;
use crate::rows::{self, MESSAGE_COLUMNS};

pub(super) async fn create_conversation(pool: &PgPool, user: UserId, title: &str) -> Result<Conversation> {
    check_title(title)?;
    let now = now();
    // INSERT ... SELECT FROM users: an unknown user inserts nothing instead of failing on a foreign key.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (user_id, title, created_at) SELECT id, $1, $2 FROM users WHERE id = $3 RETURNING id",
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

pub(super) async fn conversations(pool: &PgPool, user: UserId) -> Result<Vec<Conversation>> {
    let found: Vec<(i64, String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT id, title, created_at FROM conversations WHERE user_id = $1 ORDER BY id DESC")
            .bind(user.0)
            .fetch_all(pool)
            .await
            .db()?;
    Ok(found
        .into_iter()
        .map(|(id, title, created_at)| Conversation { id: ConversationId(id), user, title, created_at })
        .collect())
}

pub(super) async fn conversation(pool: &PgPool, user: UserId, id: ConversationId) -> Result<Conversation> {
    let (title, created_at): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT title, created_at FROM conversations WHERE user_id = $1 AND id = $2")
            .bind(user.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .db()?
            .ok_or_else(|| Error::not_found(format!("no conversation {id}")))?;
    Ok(Conversation { id, user, title, created_at })
}

pub(super) async fn rename_conversation(
    pool: &PgPool,
    user: UserId,
    id: ConversationId,
    title: &str,
) -> Result<Conversation> {
    check_title(title)?;
    let done = sqlx::query("UPDATE conversations SET title = $1 WHERE user_id = $2 AND id = $3")
        .bind(title.trim())
        .bind(user.0)
        .bind(id.0)
        .execute(pool)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no conversation {id}")));
    }
    conversation(pool, user, id).await
}

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

pub(super) async fn add_messages(
    pool: &PgPool,
    user: UserId,
    conversation: ConversationId,
    new: Vec<NewMessage>,
) -> Result<Vec<StoredMessage>> {
    let new = checked(new)?;
    let mut tx = pool.begin().await.db()?;
    super::require_owned(&mut tx, "conversations", "conversation", conversation.0, user).await?;
    let ids = insert(&mut tx, user, conversation, &new).await?;
    tx.commit().await.db()?;
    Ok(stored(conversation, ids, new))
}

/// The messages if all are acceptable, their times cut to what PostgreSQL keeps.
fn checked(new: Vec<NewMessage>) -> Result<Vec<NewMessage>> {
    for m in &new {
        check_text("a message", "content", &m.content)?;
    }
    Ok(new.into_iter().map(|m| NewMessage { created_at: micros(m.created_at), ..m }).collect())
}

/// A conversation and all its messages, in one transaction (imports).
pub(super) async fn import_conversation(
    pool: &PgPool,
    user: UserId,
    title: &str,
    new: Vec<NewMessage>,
    jobs: &[Vec<usize>],
) -> Result<(Conversation, Vec<StoredMessage>)> {
    let new = checked(new)?;
    let created_at = new.first().map(|m| m.created_at).unwrap_or_else(now);
    let mut tx = pool.begin().await.db()?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (user_id, title, created_at) SELECT id, $1, $2 FROM users WHERE id = $3 RETURNING id",
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
    pool: &PgPool,
    user: UserId,
    external_id: &str,
) -> Result<Option<StoredMessage>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND external_id = $2 ORDER BY id LIMIT 1"
    )))
    .bind(user.0)
    .bind(external_id)
    .fetch_optional(pool)
    .await
    .db()?;
    row.as_ref().map(rows::message).transpose()
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
    tx: &mut Transaction<'_, Postgres>,
    user: UserId,
    conversation: ConversationId,
    new: &[NewMessage],
) -> Result<Vec<MessageId>> {
    let mut ids = Vec::with_capacity(new.len());
    for m in new {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO messages (user_id, conversation_id, role, speaker, content, created_at, external_id, terms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::tsvector) RETURNING id",
        )
        .bind(user.0)
        .bind(conversation.0)
        .bind(m.role.as_str())
        .bind(&m.speaker)
        .bind(&m.content)
        .bind(m.created_at)
        .bind(&m.external_id)
        .bind(tsvector(&index_text(&m.content)))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| match crate::errors::from_sqlx(e) {
            Error::Conflict(_) => Error::Conflict(format!(
                "a message with external id {:?} is already in this conversation",
                m.external_id.as_deref().unwrap_or_default()
            )),
            other => other,
        })?;
        ids.push(MessageId(id));
    }
    Ok(ids)
}

pub(super) async fn messages(pool: &PgPool, user: UserId, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
    conversation_exists(pool, user, conversation).await?;
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND conversation_id = $2 ORDER BY id"
    )))
    .bind(user.0)
    .bind(conversation.0)
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(rows::message).collect()
}

async fn conversation_exists(pool: &PgPool, user: UserId, conversation: ConversationId) -> Result<()> {
    let owned: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations WHERE user_id = $1 AND id = $2")
        .bind(user.0)
        .bind(conversation.0)
        .fetch_optional(pool)
        .await
        .db()?;
    owned.map(|_| ()).ok_or_else(|| Error::not_found(format!("no conversation {conversation}")))
}

pub(super) async fn messages_by_id(pool: &PgPool, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND id = ANY($2) ORDER BY id"
    )))
    .bind(user.0)
    .bind(&ids)
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(rows::message).collect()
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
