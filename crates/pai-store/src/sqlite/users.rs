use chrono::Utc;
use pai_core::store::{User, UserId};
use pai_core::{Error, Result};
use sqlx::{Row, SqlitePool};

use crate::errors::SqlxResult;

pub(super) async fn create_user(pool: &SqlitePool, name: &str, timezone: &str) -> Result<User> {
    if name.trim().is_empty() || timezone.trim().is_empty() {
        return Err(Error::invalid("a user needs a name and a timezone (e.g. Asia/Seoul)"));
    }
    let now = Utc::now();
    let id: i64 = sqlx::query_scalar("INSERT INTO users (name, timezone, created_at) VALUES (?, ?, ?) RETURNING id")
        .bind(name.trim())
        .bind(timezone.trim())
        .bind(now)
        .fetch_one(pool)
        .await
        .db()?;
    user(pool, UserId(id)).await
}

pub(super) async fn user(pool: &SqlitePool, id: UserId) -> Result<User> {
    let row = sqlx::query("SELECT id, name, timezone, created_at FROM users WHERE id = ?")
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no user {id}")))?;
    Ok(User {
        id: UserId(row.get("id")),
        name: row.get("name"),
        timezone: row.get("timezone"),
        created_at: row.get("created_at"),
    })
}

pub(super) async fn user_by_name(pool: &SqlitePool, name: &str) -> Result<Option<User>> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ? ORDER BY id LIMIT 1")
        .bind(name.trim())
        .fetch_optional(pool)
        .await
        .db()?;
    match id {
        Some(id) => user(pool, UserId(id)).await.map(Some),
        None => Ok(None),
    }
}
