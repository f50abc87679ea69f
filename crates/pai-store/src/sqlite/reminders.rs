//! Reminders and notifications (see pai-core `reminders` for the protocol):
//! claims are one UPDATE … RETURNING, completions one transaction.

use chrono::{DateTime, Utc};
use pai_core::reminders::{NewReminder, Notification, Reminder, ReminderState};
use pai_core::store::{NotificationId, ReminderId, UserId};
use pai_core::{Error, Result};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::checks;
use crate::errors::SqlxResult;

use crate::rows::{self, NOTIFICATION_COLUMNS, REMINDER_COLUMNS as COLUMNS};

pub(super) async fn create(pool: &SqlitePool, user: UserId, new: NewReminder) -> Result<Reminder> {
    checks::check_reminder(&new)?;
    let mut tx = super::write_tx(pool).await?;
    if let Some(c) = new.conversation {
        super::require_owned(&mut tx, "conversations", "conversation", c.0, user).await?;
    }
    let now = Utc::now();
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO reminders (user_id, text, phrase, timezone, rule, start_local, next_at, state,
             conversation_id, created_at, updated_at)
         SELECT id, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ? FROM users WHERE id = ? RETURNING {COLUMNS}"
    )))
    .bind(new.text.trim())
    .bind(&new.phrase)
    .bind(&new.timezone)
    .bind(&new.rule)
    .bind(new.start)
    .bind(new.next_at)
    .bind(new.conversation.map(|c| c.0))
    .bind(now)
    .bind(now)
    .bind(user.0)
    .fetch_optional(&mut *tx)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no user {user}")))?;
    let reminder = rows::reminder(&row)?;
    tx.commit().await.db()?;
    Ok(reminder)
}

pub(super) async fn list(pool: &SqlitePool, user: UserId) -> Result<Vec<Reminder>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reminders WHERE user_id = ?
         ORDER BY state <> 'scheduled', CASE WHEN state = 'scheduled' THEN next_at END, id DESC LIMIT 1000"
    )))
    .bind(user.0)
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(rows::reminder).collect()
}

pub(super) async fn get(pool: &SqlitePool, user: UserId, id: ReminderId) -> Result<Reminder> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM reminders WHERE id = ? AND user_id = ?")))
        .bind(id.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .db()?
        .ok_or_else(|| Error::not_found(format!("no reminder {id}")))?;
    rows::reminder(&row)
}

pub(super) async fn cancel(pool: &SqlitePool, user: UserId, id: ReminderId) -> Result<Reminder> {
    let current = get(pool, user, id).await?;
    if current.state != ReminderState::Scheduled {
        return Err(Error::Conflict(format!("reminder {id} is already {}", current.state.as_str())));
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE reminders SET state = 'cancelled', next_at = NULL, lease_owner = NULL, lease_until = NULL,
             updated_at = ? WHERE id = ? AND user_id = ? AND state = 'scheduled' RETURNING {COLUMNS}"
    )))
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::Conflict(format!("reminder {id} fired or was cancelled meanwhile")))?;
    rows::reminder(&row)
}

pub(super) async fn claim(
    pool: &SqlitePool,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Reminder>> {
    // One statement: SQLite runs it under the write lock, so two schedulers
    // never claim the same row.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "UPDATE reminders SET lease_owner = ?, lease_until = ?
         WHERE id IN (SELECT id FROM reminders WHERE state = 'scheduled' AND next_at <= ?
                      AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_at LIMIT ?)
         RETURNING {COLUMNS}"
    )))
    .bind(owner)
    .bind(lease_until)
    .bind(now)
    .bind(now)
    .bind(limit.min(1000) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(rows::reminder).collect()
}

pub(super) async fn complete(
    pool: &SqlitePool,
    owner: &str,
    reminder: &Reminder,
    due_at: DateTime<Utc>,
    fired_at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<Option<Notification>> {
    let mut tx = super::write_tx(pool).await?;
    // Still ours, still scheduled, still at this occurrence?
    let moved = sqlx::query(
        "UPDATE reminders SET next_at = ?, state = ?, fired = fired + 1, lease_owner = NULL, lease_until = NULL,
             updated_at = ?
         WHERE id = ? AND user_id = ? AND state = 'scheduled' AND lease_owner = ? AND next_at = ?",
    )
    .bind(next)
    .bind(if next.is_some() { "scheduled" } else { "done" })
    .bind(fired_at)
    .bind(reminder.id.0)
    .bind(reminder.user.0)
    .bind(owner)
    .bind(due_at)
    .execute(&mut *tx)
    .await
    .db()?;
    if moved.rows_affected() == 0 {
        return Ok(None);
    }
    let late = fired_at - due_at > chrono::Duration::seconds(60);
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO notifications (user_id, reminder_id, text, due_at, fired_at, late)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (reminder_id, due_at) DO NOTHING RETURNING {NOTIFICATION_COLUMNS}"
    )))
    .bind(reminder.user.0)
    .bind(reminder.id.0)
    .bind(&reminder.text)
    .bind(due_at)
    .bind(fired_at)
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

pub(super) async fn next_due(pool: &SqlitePool) -> Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT min(next_at) FROM reminders WHERE state = 'scheduled'").fetch_one(pool).await.db()
}

pub(super) async fn notifications(
    pool: &SqlitePool,
    user: UserId,
    limit: usize,
    before: Option<NotificationId>,
) -> Result<Vec<Notification>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
    )))
    .bind(user.0)
    .bind(before.map_or(i64::MAX, |b| b.0))
    .bind(limit.clamp(1, 500) as i64)
    .fetch_all(pool)
    .await
    .db()?;
    Ok(rows.iter().map(rows::notification).collect())
}

pub(super) async fn mark_read(pool: &SqlitePool, user: UserId, id: NotificationId) -> Result<Notification> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE notifications SET read_at = coalesce(read_at, ?) WHERE id = ? AND user_id = ?
         RETURNING {NOTIFICATION_COLUMNS}"
    )))
    .bind(Utc::now())
    .bind(id.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .db()?
    .ok_or_else(|| Error::not_found(format!("no notification {id}")))?;
    Ok(rows::notification(&row))
}
