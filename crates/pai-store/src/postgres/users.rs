//! Users and their credentials (portable/users.rs); deleting a user here.

use pai_core::store::UserId;
use pai_core::{Error, Result};
use sqlx::PgPool;

use crate::errors::SqlxResult;

pub(super) use crate::portable::users::*;

/// Everything the user owns goes with the row: every table references users
/// (directly or through its parent) with ON DELETE CASCADE, vectors included.
pub(super) async fn delete_user(pool: &PgPool, id: UserId) -> Result<()> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0).execute(pool).await.db()?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("no user {id}")));
    }
    Ok(())
}
