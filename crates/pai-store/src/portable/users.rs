//! Reading accounts: what both backends do alike. Creating and changing
//! them differ (PostgreSQL serialises creation with an advisory lock, SQLite
//! in one statement; flags are booleans on one and integers on the other).

use pai_core::store::{User, UserId};
use pai_core::{Error, Result};

use super::{Arg, Run};
use crate::rows::{self, USER_COLUMNS};

pub(crate) async fn user(pool: &dyn Run, id: UserId) -> Result<User> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    let row = pool.optional(&sql, &[Arg::Int(id.0)]).await?.ok_or_else(|| Error::not_found(format!("no user {id}")))?;
    Ok(rows::user(&*row))
}

pub(crate) async fn user_by_name(pool: &dyn Run, name: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1 ORDER BY id LIMIT 1");
    Ok(pool.optional(&sql, &[Arg::Text(name.trim())]).await?.map(|r| rows::user(&*r)))
}

pub(crate) async fn users(pool: &dyn Run) -> Result<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
    Ok(pool.all(&sql, &[]).await?.iter().map(|r| rows::user(&**r)).collect())
}
