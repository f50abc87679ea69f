//! Users and their credentials: passwords, API keys, sessions.

use chrono::{DateTime, Utc};
use pai_core::accounts::{ApiKey, KeyId, Session};
use pai_core::store::{User, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool, Row};

use super::now;
use crate::errors::SqlxResult;
use crate::rows::{self, KEY_COLUMNS, USER_COLUMNS};

pub(super) use crate::portable::users::{user, user_by_name, users};

/// Serialises account creation: "one user per name" is checked and written
/// under this lock, so two servers creating the same name cannot both pass.
const NAME_LOCK: i64 = 0x7061_695f_7573_6572; // "pai_user"

pub(super) async fn create_user(
    pool: &PgPool,
    name: &str,
    timezone: &str,
    password_hash: Option<&str>,
    admin: bool,
) -> Result<User> {
    let name = crate::checks::check_user(name, timezone)?;
    let mut tx = pool.begin().await.db()?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(NAME_LOCK).execute(&mut *tx).await.db()?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO users (name, timezone, created_at, password_hash, admin)
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = $1) RETURNING {USER_COLUMNS}"
    )))
    .bind(name)
    .bind(timezone.trim())
    .bind(now())
    .bind(password_hash)
    .bind(admin)
    .fetch_optional(&mut *tx)
    .await
    .db()?
    .ok_or_else(|| Error::Conflict(format!("a user called {name:?} already exists")))?;
    tx.commit().await.db()?;
    Ok(rows::user(&row))
}

pub(super) async fn count(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await.db()?;
    Ok(n as u64)
}

pub(super) async fn set_password(pool: &PgPool, id: UserId, hash: &str) -> Result<()> {
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
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

pub(super) async fn login(pool: &PgPool, name: &str) -> Result<Option<(User, String)>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users
         WHERE name = $1 AND NOT disabled AND password_hash IS NOT NULL ORDER BY id LIMIT 1"
    )))
    .bind(name.trim())
    .fetch_optional(pool)
    .await
    .db()?;
    Ok(row.map(|r| (rows::user(&r), r.get("password_hash"))))
}

pub(super) async fn set_disabled(pool: &PgPool, id: UserId, disabled: bool) -> Result<User> {
    let mut tx = pool.begin().await.db()?;
    let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(disabled)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    if disabled {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id.0).execute(&mut *tx).await.db()?;
    }
    tx.commit().await.db()?;
    user(pool, id).await
}

pub(super) async fn set_timezone(pool: &PgPool, id: UserId, timezone: &str) -> Result<User> {
    let done = sqlx::query("UPDATE users SET timezone = $1 WHERE id = $2")
        .bind(timezone)
        .bind(id.0)
        .execute(pool)
        .await
        .db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    user(pool, id).await
}

/// Everything the user owns goes with the row: every table references users
/// (directly or through its parent) with ON DELETE CASCADE, vectors included.
pub(super) async fn delete_user(pool: &PgPool, id: UserId) -> Result<()> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0).execute(pool).await.db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    Ok(())
}

pub(super) async fn create_api_key(
    pool: &PgPool,
    user: UserId,
    name: &str,
    prefix: &str,
    digest: &str,
) -> Result<ApiKey> {
    crate::checks::check_key_name(name)?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO api_keys (user_id, name, prefix, digest, created_at)
         SELECT id, $1, $2, $3, $4 FROM users WHERE id = $5 RETURNING {KEY_COLUMNS}"
    )))
    .bind(name.trim())
    .bind(prefix)
    .bind(digest)
    .bind(now())
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    Ok(rows::api_key(&row))
}

pub(super) async fn api_keys(pool: &PgPool, user: UserId) -> Result<Vec<ApiKey>> {
    let found =
        sqlx::query(AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id DESC")))
            .bind(user.0)
            .fetch_all(pool)
            .await
            .db()?;
    Ok(found.iter().map(rows::api_key).collect())
}

pub(super) async fn revoke_api_key(pool: &PgPool, user: UserId, id: KeyId) -> Result<ApiKey> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND user_id = $3 RETURNING {KEY_COLUMNS}"
    )))
    .bind(now())
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no API key {id}")))?;
    Ok(rows::api_key(&row))
}

pub(super) async fn authenticate_key(pool: &PgPool, digest: &str) -> Result<Option<(User, KeyId)>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.timezone, u.created_at, u.admin, u.disabled, k.id AS key_id, k.last_used_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.digest = $1 AND k.revoked_at IS NULL AND NOT u.disabled",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await
    .db()?;
    let Some(row) = row else { return Ok(None) };
    let key = KeyId(row.get("key_id"));
    // "Last used" to the minute: not a write per request.
    let last: Option<DateTime<Utc>> = row.get("last_used_at");
    let now = now();
    if last.is_none_or(|t| now - t > chrono::TimeDelta::minutes(1)) {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(key.0)
            .execute(pool)
            .await
            .db()?;
    }
    Ok(Some((rows::user(&row), key)))
}

pub(super) async fn create_session(
    pool: &PgPool,
    user: UserId,
    digest: &str,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let now = now();
    let mut tx = pool.begin().await.db()?;
    // Expired sessions are swept at each login: no separate janitor.
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&mut *tx).await.db()?;
    sqlx::query(
        "INSERT INTO sessions (digest, user_id, csrf, created_at, expires_at)
         SELECT $1, id, $2, $3, $4 FROM users WHERE id = $5 AND NOT disabled",
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

pub(super) async fn session(pool: &PgPool, digest: &str) -> Result<Option<Session>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.timezone, u.created_at, u.admin, u.disabled, s.csrf, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.digest = $1 AND s.expires_at > $2 AND NOT u.disabled",
    )
    .bind(digest)
    .bind(Utc::now())
    .fetch_optional(pool)
    .await
    .db()?;
    Ok(row.map(|r| Session { user: rows::user(&r), csrf: r.get("csrf"), expires_at: r.get("expires_at") }))
}

pub(super) async fn delete_session(pool: &PgPool, digest: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE digest = $1").bind(digest).execute(pool).await.db()?;
    Ok(())
}
