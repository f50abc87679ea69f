//! Users and their credentials: passwords, API keys, sessions.

use chrono::{DateTime, Utc};
use pai_core::accounts::{ApiKey, KeyId, Session};
use pai_core::store::{User, UserId};
use pai_core::{Error, Result};

use super::derived::{self, CHUNKS, MEMORIES, MESSAGES};
use super::{Arg, Dialect, Pool, Run};
use crate::rows::{self, KEY_COLUMNS, USER_COLUMNS};

/// Serialises account creation on PostgreSQL: "one user per name" is
/// checked and written under this lock, so two servers creating the same
/// name cannot both pass. SQLite's write transaction serialises it already.
const NAME_LOCK: i64 = 0x7061_695f_7573_6572; // "pai_user"

pub(crate) async fn create_user(
    pool: &dyn Pool,
    name: &str,
    timezone: &str,
    password_hash: Option<&str>,
    admin: bool,
) -> Result<User> {
    let name = crate::checks::check_user(name, timezone)?;
    let tx = pool.begin().await?;
    if tx.dialect() == Dialect::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[Arg::Int(NAME_LOCK)]).await?;
    }
    let sql = format!(
        "INSERT INTO users (name, timezone, created_at, password_hash, admin)
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = $1) RETURNING {USER_COLUMNS}"
    );
    let args = [
        Arg::Text(name),
        Arg::Text(timezone.trim()),
        Arg::Time(tx.dialect().now()),
        Arg::OptText(password_hash),
        Arg::Flag(admin),
    ];
    let row = tx
        .optional(&sql, &args)
        .await?
        .ok_or_else(|| Error::Conflict(format!("a user called {name:?} already exists")))?;
    let user = rows::user(&*row);
    tx.commit().await?;
    Ok(user)
}

pub(crate) async fn user(pool: &dyn Run, id: UserId) -> Result<User> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(rows::user(&*pool.one(&sql, &[Arg::Int(id.0)], &format!("no user {id}")).await?))
}

pub(crate) async fn user_by_name(pool: &dyn Run, name: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1 ORDER BY id LIMIT 1");
    Ok(pool.optional(&sql, &[Arg::Text(name.trim())]).await?.map(|r| rows::user(&*r)))
}

pub(crate) async fn users(pool: &dyn Run) -> Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
    Ok(pool.all(&sql, &[]).await?.iter().map(|r| rows::user(&**r)).collect())
}

pub(crate) async fn count(pool: &dyn Run) -> Result<u64> {
    Ok(pool.one("SELECT count(*) AS n FROM users", &[], "").await?.int("n") as u64)
}

/// Fails with `NotFound` when `changed` is 0: the statement found no user `id`.
fn found(changed: u64, id: UserId) -> Result<()> {
    if changed == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    Ok(())
}

pub(crate) async fn set_password(pool: &dyn Run, id: UserId, hash: &str) -> Result<()> {
    let changed =
        pool.execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[Arg::Text(hash), Arg::Int(id.0)]).await?;
    found(changed, id)
}

pub(crate) async fn login(pool: &dyn Run, name: &str) -> Result<Option<(User, String)>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users
         WHERE name = $1 AND NOT disabled AND password_hash IS NOT NULL ORDER BY id LIMIT 1"
    );
    let row = pool.optional(&sql, &[Arg::Text(name.trim())]).await?;
    Ok(row.map(|r| (rows::user(&*r), r.text("password_hash"))))
}

pub(crate) async fn set_disabled(pool: &dyn Pool, id: UserId, disabled: bool) -> Result<User> {
    let tx = pool.begin().await?;
    let changed =
        tx.execute("UPDATE users SET disabled = $1 WHERE id = $2", &[Arg::Flag(disabled), Arg::Int(id.0)]).await?;
    found(changed, id)?;
    if disabled {
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[Arg::Int(id.0)]).await?;
    }
    tx.commit().await?;
    user(pool, id).await
}

pub(crate) async fn set_timezone(pool: &dyn Run, id: UserId, timezone: &str) -> Result<User> {
    let changed =
        pool.execute("UPDATE users SET timezone = $1 WHERE id = $2", &[Arg::Text(timezone), Arg::Int(id.0)]).await?;
    found(changed, id)?;
    user(pool, id).await
}

/// Everything the user owns goes: rows cascade from `users`, and what
/// derives from their text goes first (`derived`).
pub(crate) async fn delete_user(pool: &dyn Pool, id: UserId) -> Result<()> {
    let tx = pool.begin().await?;
    for (of, table) in [(&MESSAGES, "messages"), (&MEMORIES, "memories"), (&CHUNKS, "chunks")] {
        let ids = format!("SELECT id FROM {table} WHERE user_id = $1");
        derived::drop_derived(&*tx, of, &ids, &[Arg::Int(id.0)]).await?;
    }
    found(tx.execute("DELETE FROM users WHERE id = $1", &[Arg::Int(id.0)]).await?, id)?;
    tx.commit().await
}

pub(crate) async fn create_api_key(
    pool: &dyn Run,
    user: UserId,
    name: &str,
    prefix: &str,
    digest: &str,
) -> Result<ApiKey> {
    crate::checks::check_key_name(name)?;
    let sql = format!(
        "INSERT INTO api_keys (user_id, name, prefix, digest, created_at)
         SELECT id, $1, $2, $3, $4 FROM users WHERE id = $5 RETURNING {KEY_COLUMNS}"
    );
    let args = [
        Arg::Text(name.trim()),
        Arg::Text(prefix),
        Arg::Text(digest),
        Arg::Time(pool.dialect().now()),
        Arg::Int(user.0),
    ];
    Ok(rows::api_key(&*pool.one(&sql, &args, &format!("no user {user}")).await?))
}

pub(crate) async fn api_keys(pool: &dyn Run, user: UserId) -> Result<Vec<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id DESC");
    Ok(pool.all(&sql, &[Arg::Int(user.0)]).await?.iter().map(|r| rows::api_key(&**r)).collect())
}

pub(crate) async fn revoke_api_key(pool: &dyn Run, user: UserId, id: KeyId) -> Result<ApiKey> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND user_id = $3 RETURNING {KEY_COLUMNS}"
    );
    let args = [Arg::Time(pool.dialect().now()), Arg::Int(id.0), Arg::Int(user.0)];
    Ok(rows::api_key(&*pool.one(&sql, &args, &format!("no API key {id}")).await?))
}

pub(crate) async fn authenticate_key(pool: &dyn Run, digest: &str) -> Result<Option<(User, KeyId)>> {
    let sql = "SELECT u.id, u.name, u.timezone, u.created_at, u.admin, u.disabled, k.id AS key_id, k.last_used_at
               FROM api_keys k JOIN users u ON u.id = k.user_id
               WHERE k.digest = $1 AND k.revoked_at IS NULL AND NOT u.disabled";
    let Some(row) = pool.optional(sql, &[Arg::Text(digest)]).await? else { return Ok(None) };
    let key = KeyId(row.int("key_id"));
    // "Last used" to the minute: a write per request would serialise every
    // reader behind SQLite's one writer, and load PostgreSQL for nothing.
    let now = pool.dialect().now();
    if row.opt_time("last_used_at").is_none_or(|t| now - t > chrono::TimeDelta::minutes(1)) {
        pool.execute("UPDATE api_keys SET last_used_at = $1 WHERE id = $2", &[Arg::Time(now), Arg::Int(key.0)]).await?;
    }
    Ok(Some((rows::user(&*row), key)))
}

pub(crate) async fn create_session(
    pool: &dyn Pool,
    user: UserId,
    digest: &str,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    let tx = pool.begin().await?;
    let now = tx.dialect().now();
    // Expired sessions are swept at each login: no separate janitor.
    tx.execute("DELETE FROM sessions WHERE expires_at < $1", &[Arg::Time(now)]).await?;
    tx.execute(
        "INSERT INTO sessions (digest, user_id, csrf, created_at, expires_at)
         SELECT $1, id, $2, $3, $4 FROM users WHERE id = $5 AND NOT disabled",
        &[Arg::Text(digest), Arg::Text(csrf), Arg::Time(now), Arg::Time(expires_at), Arg::Int(user.0)],
    )
    .await?;
    tx.commit().await
}

pub(crate) async fn session(pool: &dyn Run, digest: &str) -> Result<Option<Session>> {
    let sql = "SELECT u.id, u.name, u.timezone, u.created_at, u.admin, u.disabled, s.csrf, s.expires_at
               FROM sessions s JOIN users u ON u.id = s.user_id
               WHERE s.digest = $1 AND s.expires_at > $2 AND NOT u.disabled";
    let row = pool.optional(sql, &[Arg::Text(digest), Arg::Time(pool.dialect().now())]).await?;
    Ok(row.map(|r| Session { user: rows::user(&*r), csrf: r.text("csrf"), expires_at: r.time("expires_at") }))
}

pub(crate) async fn delete_session(pool: &dyn Run, digest: &str) -> Result<()> {
    pool.execute("DELETE FROM sessions WHERE digest = $1", &[Arg::Text(digest)]).await.map(|_| ())
}
