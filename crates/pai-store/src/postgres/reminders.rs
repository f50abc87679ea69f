//! Reminders and notifications (see pai-core `reminders` for the protocol).
//! Several servers run schedulers on one database: due reminders are
//! claimed with `FOR UPDATE SKIP LOCKED` under a lease, completions check
//! the lease and the occurrence in one transaction.

use chrono::{DateTime, Utc};
use pai_core::reminders::{NewReminder, Notification, Reminder, ReminderState};
use pai_core::store::{NotificationId, ReminderId, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, PgPool};

use super::{micros, now};
use crate::checks;
use crate::errors::SqlxResult;
use crate::rows::{self, NOTIFICATION_COLUMNS, REMINDER_COLUMNS as COLUMNS};

pub(super) async fn create(pool: &PgPool, user: UserId, new: NewReminder) -> Result<Reminder> {
    checks::check_reminder(&new)?;
    let mut tx = pool.begin().await.db()?;
    if let Some(c) = new.conversation {
        super::require_owned(&mut tx, "conversations", "conversation", c.0, user).await?;
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO reminders (user_id, text, phrase, timezone, rule, start_local, next_at, state,
             conversation_id, created_at, updated_at)
         SELECT id, $1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $8 FROM users WHERE id = $9 RETURNING {COLUMNS}"
    )))
    .bind(new.text.trim())
    .bind(&new.phrase)
    .bind(&new.timezone)
    .bind(&new.rule)
    .bind(new.start)
    .bind(micros(new.next_at))
    .bind(new.conversation.map(|c| c.0))
    .bind(now())
    .bind(user.0)
    .fetch_optional(&mut *tx)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    let reminder = rows::reminder(&row)?;
    tx.commit().await.db()?;
    Ok(reminder)
}

pub(super) async fn list(pool: &PgPool, user: UserId) -> Result<Vec<Reminder>> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reminders WHERE user_id = $1
         ORDER BY state <> 'scheduled', CASE WHEN state = 'scheduled' THEN next_at END, id DESC LIMIT 1000"
    )))
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(rows::reminder).collect()
}

pub(super) async fn get(pool: &PgPool, user: UserId, id: ReminderId) -> Result<Reminder> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM reminders WHERE user_id = $1 AND id = $2")))
        .bind(user.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no reminder {id}")))?;
    rows::reminder(&row)
}

pub(super) async fn cancel(pool: &PgPool, user: UserId, id: ReminderId) -> Result<Reminder> {
    let current = get(pool, user, id).await?;
    if current.state != ReminderState::Scheduled {
        return Err(Error::Conflict(format!("reminder {id} is already {}", current.state.as_str())));
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE reminders SET state = 'cancelled', next_at = NULL, lease_owner = NULL, lease_until = NULL,
             updated_at = $1 WHERE user_id = $2 AND id = $3 AND state = 'scheduled' RETURNING {COLUMNS}"
    )))
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::Conflict(format!("reminder {id} fired or was cancelled meanwhile")))?;
    rows::reminder(&row)
}

pub(super) async fn claim(
    pool: &PgPool,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Reminder>> {
    // SKIP LOCKED: rows another scheduler is claiming this instant are passed
    // over, not waited for; its lease then keeps them from everyone else.
    let found = sqlx::query(AssertSqlSafe(format!(
        "UPDATE reminders SET lease_owner = $1, lease_until = $2
         WHERE (user_id, id) IN (SELECT user_id, id FROM reminders WHERE state = 'scheduled' AND next_at <= $3
                                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_at LIMIT $4
                                 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    )))
    .bind(owner)
    .bind(micros(lease_until))
    .bind(now)
    .bind(limit.min(1000) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    found.iter().map(rows::reminder).collect()
}

pub(super) async fn complete(
    pool: &PgPool,
    owner: &str,
    reminder: &Reminder,
    due_at: DateTime<Utc>,
    fired_at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<Option<Notification>> {
    let mut tx = pool.begin().await.db()?;
    // Still ours, still scheduled, still at this occurrence?
    let moved = sqlx::query(
        "UPDATE reminders SET next_at = $1, state = $2, fired = fired + 1, lease_owner = NULL, lease_until = NULL,
             updated_at = $3
         WHERE user_id = $4 AND id = $5 AND state = 'scheduled' AND lease_owner = $6 AND next_at = $7",
    )
    .bind(next.map(micros))
    .bind(if next.is_some() { "scheduled" } else { "done" })
    .bind(micros(fired_at))
    .bind(reminder.user.0)
    .bind(reminder.id.0)
    .bind(owner)
    .bind(micros(due_at))
    .execute(&mut *tx)
    .await
    .db()?;
    if moved.rows_affected() == 0 {
        return Ok(None);
    }
    let late = fired_at - due_at > chrono::Duration::seconds(60);
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO notifications (user_id, reminder_id, text, due_at, fired_at, late)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, reminder_id, due_at) DO NOTHING
         RETURNING {NOTIFICATION_COLUMNS}"
    )))
    .bind(reminder.user.0)
    .bind(reminder.id.0)
    .bind(&reminder.text)
    .bind(micros(due_at))
    .bind(micros(fired_at))
    .bind(late)
    .fetch_optional(&mut *tx)
    .await
    .db()?;
    let Some(row) = row else {
        // Recorded already: leave the reminder as it was.
        return Ok(None);
    };
    let notification = rows::notification(&row);
    tx.commit().await.db()?;
    Ok(Some(notification))
}

pub(super) async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT min(next_at) FROM reminders WHERE state = 'scheduled'").fetch_one(pool).await.db()
}

pub(super) async fn notifications(
    pool: &PgPool,
    user: UserId,
    limit: usize,
    before: Option<NotificationId>,
) -> Result<Vec<Notification>> {
    let found = sqlx::query(AssertSqlSafe(format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    )))
    .bind(user.0)
    .bind(before.map_or(i64::MAX, |b| b.0))
    .bind(limit.clamp(1, 500) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(found.iter().map(rows::notification).collect())
}

pub(super) async fn mark_read(pool: &PgPool, user: UserId, id: NotificationId) -> Result<Notification> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE notifications SET read_at = coalesce(read_at, $1) WHERE user_id = $2 AND id = $3
         RETURNING {NOTIFICATION_COLUMNS}"
    )))
    .bind(now())
    .bind(user.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no notification {id}")))?;
    Ok(rows::notification(&row))
}
