//! Conversations and their messages, with each message's full-text entry
//! and vector (`derived`).

use pai_core::analyzer::index_text;
use pai_core::store::{Conversation, ConversationId, MessageId, NewMessage, StoredMessage, UserId};
use pai_core::{Error, Result};

use super::derived::{self, MESSAGES};
use super::{Arg, Dialect, Pool, Run, require_owned};
use crate::checks::{check_text, check_title};
use crate::rows::{self, MESSAGE_COLUMNS};

/// Makes the conversation row; an unknown user inserts nothing (INSERT …
/// SELECT FROM users) instead of failing on a foreign key.
async fn insert_conversation(
    pool: &dyn Run,
    user: UserId,
    title: &str,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<Conversation> {
    let sql = "INSERT INTO conversations (user_id, title, created_at) SELECT id, $1, $2 FROM users WHERE id = $3
               RETURNING id";
    let args = [Arg::Text(title.trim()), Arg::Time(created_at), Arg::Int(user.0)];
    let id = pool.one(sql, &args, &format!("no user {user}")).await?.int("id");
    let created_at = pool.dialect().kept(created_at);
    Ok(Conversation { id: ConversationId(id), user, title: title.trim().to_string(), created_at })
}

pub(crate) async fn create_conversation(pool: &dyn Run, user: UserId, title: &str) -> Result<Conversation> {
    check_title(title)?;
    insert_conversation(pool, user, title, pool.dialect().now()).await
}

pub(crate) async fn conversations(pool: &dyn Run, user: UserId) -> Result<Vec<Conversation>> {
    let sql = "SELECT id, title, created_at FROM conversations WHERE user_id = $1 ORDER BY id DESC";
    let found = pool.all(sql, &[Arg::Int(user.0)]).await?;
    Ok(found
        .iter()
        .map(|r| Conversation {
            id: ConversationId(r.int("id")),
            user,
            title: r.text("title"),
            created_at: r.time("created_at"),
        })
        .collect())
}

pub(crate) async fn conversation(pool: &dyn Run, user: UserId, id: ConversationId) -> Result<Conversation> {
    let sql = "SELECT title, created_at FROM conversations WHERE user_id = $1 AND id = $2";
    let r = pool.one(sql, &[Arg::Int(user.0), Arg::Int(id.0)], &format!("no conversation {id}")).await?;
    Ok(Conversation { id, user, title: r.text("title"), created_at: r.time("created_at") })
}

pub(crate) async fn rename_conversation(
    pool: &dyn Run,
    user: UserId,
    id: ConversationId,
    title: &str,
) -> Result<Conversation> {
    check_title(title)?;
    let sql = "UPDATE conversations SET title = $1 WHERE user_id = $2 AND id = $3";
    if pool.execute(sql, &[Arg::Text(title.trim()), Arg::Int(user.0), Arg::Int(id.0)]).await? == 0 {
        return Err(Error::not_found(format!("no conversation {id}")));
    }
    conversation(pool, user, id).await
}

/// The messages if all are acceptable, their times as the store keeps them.
fn checked(dialect: Dialect, new: Vec<NewMessage>) -> Result<Vec<NewMessage>> {
    for m in &new {
        check_text("a message", "content", &m.content)?;
    }
    Ok(new.into_iter().map(|m| NewMessage { created_at: dialect.kept(m.created_at), ..m }).collect())
}

pub(crate) async fn add_messages(
    pool: &dyn Pool,
    user: UserId,
    conversation: ConversationId,
    new: Vec<NewMessage>,
) -> Result<Vec<StoredMessage>> {
    let new = checked(pool.dialect(), new)?;
    let tx = pool.begin().await?;
    require_owned(&*tx, "conversations", "conversation", conversation.0, user).await?;
    let ids = insert(&*tx, user, conversation, &new).await?;
    tx.commit().await?;
    Ok(stored(conversation, ids, new))
}

/// A conversation and all its messages, in one transaction (imports).
pub(crate) async fn import_conversation(
    pool: &dyn Pool,
    user: UserId,
    title: &str,
    new: Vec<NewMessage>,
    jobs: &[Vec<usize>],
) -> Result<(Conversation, Vec<StoredMessage>)> {
    let new = checked(pool.dialect(), new)?;
    let created_at = new.first().map(|m| m.created_at).unwrap_or_else(|| pool.dialect().now());
    let tx = pool.begin().await?;
    let conversation = insert_conversation(&*tx, user, title, created_at).await?;
    let ids = insert(&*tx, user, conversation.id, &new).await?;
    for group in jobs {
        let messages = crate::checks::job_messages(&ids, group)?;
        super::jobs::insert_job(&*tx, user, conversation.id, &messages).await?;
    }
    tx.commit().await?;
    let messages = stored(conversation.id, ids, new);
    Ok((conversation, messages))
}

pub(crate) async fn message_by_external_id(
    pool: &dyn Run,
    user: UserId,
    external_id: &str,
) -> Result<Option<StoredMessage>> {
    let sql =
        format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND external_id = $2 ORDER BY id LIMIT 1");
    let row = pool.optional(&sql, &[Arg::Int(user.0), Arg::Text(external_id)]).await?;
    row.map(|r| rows::message(&*r)).transpose()
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

/// Inserts the messages with their full-text entries, inside `tx`.
async fn insert(
    tx: &dyn Run,
    user: UserId,
    conversation: ConversationId,
    new: &[NewMessage],
) -> Result<Vec<MessageId>> {
    let mut ids = Vec::with_capacity(new.len());
    for m in new {
        let sql =
            "INSERT INTO messages (user_id, conversation_id, role, speaker, content, created_at, external_id{terms})
                   VALUES ($1, $2, $3, $4, $5, $6, $7{value}) RETURNING id";
        let args = [
            Arg::Int(user.0),
            Arg::Int(conversation.0),
            Arg::Text(m.role.as_str()),
            Arg::OptText(m.speaker.as_deref()),
            Arg::Text(&m.content),
            Arg::Time(m.created_at),
            Arg::OptText(m.external_id.as_deref()),
        ];
        let id = match derived::insert(tx, &MESSAGES, sql, &args, user, Some(conversation.0), &index_text(&m.content))
            .await
        {
            Ok(id) => id.ok_or_else(|| Error::internal("a message INSERT returned no id"))?,
            Err(Error::Conflict(_)) => {
                return Err(Error::Conflict(format!(
                    "a message with external id {:?} is already in this conversation",
                    m.external_id.as_deref().unwrap_or_default()
                )));
            }
            Err(e) => return Err(e),
        };
        ids.push(MessageId(id));
    }
    Ok(ids)
}

/// Messages, their vectors, summary and jobs go with the conversation.
pub(crate) async fn delete_conversation(pool: &dyn Pool, user: UserId, id: ConversationId) -> Result<()> {
    let tx = pool.begin().await?;
    require_owned(&*tx, "conversations", "conversation", id.0, user).await?;
    let args = [Arg::Int(id.0), Arg::Int(user.0)];
    derived::drop_derived(
        &*tx,
        &MESSAGES,
        "SELECT id FROM messages WHERE conversation_id = $1 AND user_id = $2",
        &args,
    )
    .await?;
    tx.execute("DELETE FROM conversations WHERE id = $1 AND user_id = $2", &args).await?;
    tx.commit().await
}

/// The message says `content` now: searched by it, embedded again, and the
/// conversation's summary from it on made again.
pub(crate) async fn redact(pool: &dyn Pool, user: UserId, id: MessageId, content: &str) -> Result<StoredMessage> {
    check_text("a message", "content", content)?;
    let tx = pool.begin().await?;
    let sql = "UPDATE messages SET content = $1 WHERE user_id = $2 AND id = $3 RETURNING conversation_id";
    let row = tx.one(sql, &[Arg::Text(content), Arg::Int(user.0), Arg::Int(id.0)], &format!("no message {id}")).await?;
    let conversation = row.int("conversation_id");
    derived::reindex(&*tx, &MESSAGES, id.0, user, Some(conversation), &index_text(content)).await?;
    derived::forget_vector(&*tx, &MESSAGES, id.0, user).await?;
    tx.execute(
        "DELETE FROM conversation_summaries WHERE user_id = $1 AND conversation_id = $2 AND through_message_id >= $3",
        &[Arg::Int(user.0), Arg::Int(conversation), Arg::Int(id.0)],
    )
    .await?;
    tx.commit().await?;
    messages_by_id(pool, user, &[id]).await?.pop().ok_or_else(|| Error::not_found(format!("no message {id}")))
}

pub(crate) async fn messages(pool: &dyn Run, user: UserId, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
    // A conversation of no messages is there; one of another user is not.
    self::conversation(pool, user, conversation).await?;
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND conversation_id = $2 ORDER BY id");
    pool.all(&sql, &[Arg::Int(user.0), Arg::Int(conversation.0)]).await?.iter().map(|r| rows::message(&**r)).collect()
}

pub(crate) async fn messages_by_id(pool: &dyn Run, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>> {
    let ids: Vec<i64> = ids.iter().map(|i| i.0).collect();
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND id {} ORDER BY id",
        pool.dialect().any(2)
    );
    pool.all(&sql, &[Arg::Int(user.0), Arg::Ids(&ids)]).await?.iter().map(|r| rows::message(&**r)).collect()
}
