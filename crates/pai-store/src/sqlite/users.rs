//! Users and their credentials: passwords, API keys, sessions.

use chrono::{DateTime, Utc};
use pai_core::accounts::{ApiKey, KeyId, Session};
use pai_core::store::{User, UserId};
use pai_core::{Error, Result};
use sqlx::{Row, SqlitePool};

use crate::errors::SqlxResult;

use crate::rows::{self, KEY_COLUMNS, USER_COLUMNS};

pub(super) use crate::portable::users::{user, user_by_name, users};

pub(super) async fn create_user(
    pool: &SqlitePool,
    name: &str,
    timezone: &str,
    password_hash: Option<&str>,
    admin: bool,
) -> Result<User> {
    let name = crate::checks::check_user(name, timezone)?;
    // Check and insert in one statement: two concurrent creations cannot both pass.
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (name, timezone, created_at, password_hash, admin)
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = ?1) RETURNING id",
    )
    .bind(name)
    .bind(timezone.trim())
    .bind(Utc::now())
    .bind(password_hash)
    .bind(admin as i64)
    .fetch_optional(pool)
    .await
    .db()?;
    let id = id.ok_or_else(|| Error::Conflict(format!("a user called {name:?} already exists")))?;
    user(pool, UserId(id)).await
}

pub(super) async fn count(pool: &SqlitePool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await.db()?;
    Ok(n as u64)
}

pub(super) async fn set_password(pool: &SqlitePool, id: UserId, hash: &str) -> Result<()> {
    let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
        .bind(hash)
        .bind(id.0)
        .execute(pool)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    Ok(())
}

pub(super) async fn login(pool: &SqlitePool, name: &str) -> Result<Option<(User, String)>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users
         WHERE name = ? AND disabled = 0 AND password_hash IS NOT NULL ORDER BY id LIMIT 1"
    )))
    .bind(name.trim())
    .fetch_optional(pool)
    .await
    .db()?;
    Ok(row.map(|r| (rows::user(&r), r.get("password_hash"))))
}

pub(super) async fn set_disabled(pool: &SqlitePool, id: UserId, disabled: bool) -> Result<User> {
    let mut tx = super::write_tx(pool).await?;
    let done = sqlx::query("UPDATE users SET disabled = ? WHERE id = ?")
        .bind(disabled as i64)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    if disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = ?").bind(id.0).execute(&mut *tx).await.db()?;
    }
    tx.commit().await.db()?;
    user(pool, id).await
}

pub(super) async fn set_timezone(pool: &SqlitePool, id: UserId, timezone: &str) -> Result<User> {
    let done =
        sqlx::query("UPDATE users SET timezone = ? WHERE id = ?").bind(timezone).bind(id.0).execute(pool).await.db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    user(pool, id).await
}

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

pub(super) async fn create_api_key(
    pool: &SqlitePool,
    user: UserId,
    name: &str,
    prefix: &str,
    digest: &str,
) -> Result<ApiKey> {
    crate::checks::check_key_name(name)?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO api_keys (user_id, name, prefix, digest, created_at)
         SELECT id, ?, ?, ?, ? FROM users WHERE id = ? RETURNING {KEY_COLUMNS}"
    )))
    .bind(name.trim())
    .bind(prefix)
    .bind(digest)
    .bind(Utc::now())
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    Ok(rows::api_key(&row))
}

pub(super) async fn api_keys(pool: &SqlitePool, user: UserId) -> Result<Vec<ApiKey>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY id DESC"
    )))
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(rows.iter().map(rows::api_key).collect())
}

pub(super) async fn revoke_api_key(pool: &SqlitePool, user: UserId, id: KeyId) -> Result<ApiKey> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ? RETURNING {KEY_COLUMNS}"
    )))
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no API key {id}")))?;
    Ok(rows::api_key(&row))
}

pub(super) async fn authenticate_key(pool: &SqlitePool, digest: &str) -> Result<Option<(User, KeyId)>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.timezone, u.created_at, u.admin, u.disabled, k.id AS key_id, k.last_used_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.digest = ? AND k.revoked_at IS NULL AND u.disabled = 0",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await
    .db()?;
    let Some(row) = row else { return Ok(None) };
    let key = KeyId(row.get("key_id"));
    // A write per request would serialise every reader behind SQLite's one
    // writer; "last used" to the minute is enough.
    let last: Option<DateTime<Utc>> = row.get("last_used_at");
    let now = Utc::now();
    if last.is_none_or(|t| now - t > chrono::TimeDelta::minutes(1)) {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(now)
            .bind(key.0)
            .execute(pool)
            .await
            .db()?;
    }
    Ok(Some((rows::user(&row), key)))
}

pub(super) async fn create_session(
    pool: &SqlitePool,
    user: UserId,
    digest: &str,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let now = Utc::now();
    let mut tx = super::write_tx(pool).await?;
    // Expired sessions are swept at each login: no separate janitor.
    sqlx::query("DELETE FROM sessions WHERE expires_at < ?").bind(now).execute(&mut *tx).await.db()?;
    sqlx::query(
        "INSERT INTO sessions (digest, user_id, csrf, created_at, expires_at)
         SELECT ?, id, ?, ?, ? FROM users WHERE id = ? AND disabled = 0",
    )
    .bind(digest)
    .bind(csrf)
    .bind(now)
    .bind(expires_at)
    .bind(user.0)
    .execute(&mut *tx)
    .await
    .db()?;
    tx.commit().await.db()
}

pub(super) async fn session(pool: &SqlitePool, digest: &str) -> Result<Option<Session>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.timezone, u.created_at, u.admin, u.disabled, s.csrf, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.digest = ? AND s.expires_at > ? AND u.disabled = 0",
    )
    .bind(digest)
    .bind(Utc::now())
    .fetch_optional(pool)
    .await
    .db()?;
    Ok(row.map(|r| Session { user: rows::user(&r), csrf: r.get("csrf"), expires_at: r.get("expires_at") }))
}

pub(super) async fn delete_session(pool: &SqlitePool, digest: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE digest = ?").bind(digest).execute(pool).await.db()?;
    Ok(())
}
