//! Reminders and notifications (see pai-core `reminders` for the protocol).
//! Several schedulers may share a database: due reminders are claimed under
//! a lease in one statement (on PostgreSQL passing over rows another server
//! is claiming, `Dialect::skip_locked`; SQLite runs it under its one write
//! lock), and a completion checks the lease and the occurrence in the same
//! transaction that records the notification.

use chrono::{DateTime, Utc};
use pai_core::reminders::{NewReminder, Notification, Reminder, ReminderState};
use pai_core::store::{NotificationId, ReminderId, UserId};
use pai_core::{Error, Result};

use super::{Arg, Pool, Run, require_owned};
use crate::checks;
use crate::rows::{self, NOTIFICATION_COLUMNS, REMINDER_COLUMNS as COLUMNS};

pub(crate) async fn create(pool: &dyn Pool, user: UserId, new: NewReminder) -> Result<Reminder> {
    checks::check_reminder(&new)?;
    let tx = pool.begin().await?;
    if let Some(c) = new.conversation {
        require_owned(&*tx, "conversations", "conversation", c.0, user).await?;
    }
    let sql = format!(
        "INSERT INTO reminders (user_id, text, phrase, timezone, rule, start_local, next_at, state,
             conversation_id, created_at, updated_at)
         SELECT id, $1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $8 FROM users WHERE id = $9 RETURNING {COLUMNS}"
    );
    let args = [
        Arg::Text(new.text.trim()),
        Arg::Text(&new.phrase),
        Arg::Text(&new.timezone),
        Arg::OptText(new.rule.as_deref()),
        Arg::OptLocal(new.start),
        Arg::Time(new.next_at),
        Arg::OptInt(new.conversation.map(|c| c.0)),
        Arg::Time(tx.dialect().now()),
        Arg::Int(user.0),
    ];
    let reminder = rows::reminder(&*tx.one(&sql, &args, &format!("no user {user}")).await?)?;
    tx.commit().await?;
    Ok(reminder)
}

pub(crate) async fn list(pool: &dyn Run, user: UserId) -> Result<Vec<Reminder>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders WHERE user_id = $1
         ORDER BY state <> 'scheduled', CASE WHEN state = 'scheduled' THEN next_at END, id DESC LIMIT 1000"
    );
    pool.all(&sql, &[Arg::Int(user.0)]).await?.iter().map(|r| rows::reminder(&**r)).collect()
}

pub(crate) async fn get(pool: &dyn Run, user: UserId, id: ReminderId) -> Result<Reminder> {
    let sql = format!("SELECT {COLUMNS} FROM reminders WHERE user_id = $1 AND id = $2");
    rows::reminder(&*pool.one(&sql, &[Arg::Int(user.0), Arg::Int(id.0)], &format!("no reminder {id}")).await?)
}

pub(crate) async fn cancel(pool: &dyn Run, user: UserId, id: ReminderId) -> Result<Reminder> {
    let current = get(pool, user, id).await?;
    if current.state != ReminderState::Scheduled {
        return Err(Error::Conflict(format!("reminder {id} is already {}", current.state.as_str())));
    }
    let sql = format!(
        "UPDATE reminders SET state = 'cancelled', next_at = NULL, lease_owner = NULL, lease_until = NULL,
             updated_at = $1 WHERE user_id = $2 AND id = $3 AND state = 'scheduled' RETURNING {COLUMNS}"
    );
    let row = pool
        .optional(&sql, &[Arg::Time(pool.dialect().now()), Arg::Int(user.0), Arg::Int(id.0)])
        .await?
        .ok_or_else(|| Error::Conflict(format!("reminder {id} fired or was cancelled meanwhile")))?;
    rows::reminder(&*row)
}

pub(crate) async fn claim(
    pool: &dyn Run,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Reminder>> {
    let sql = format!(
        "UPDATE reminders SET lease_owner = $1, lease_until = $2
         WHERE (user_id, id) IN (SELECT user_id, id FROM reminders WHERE state = 'scheduled' AND next_at <= $3
                                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_at LIMIT $4{})
         RETURNING {COLUMNS}",
        pool.dialect().skip_locked()
    );
    let args = [Arg::Text(owner), Arg::Time(lease_until), Arg::Time(now), Arg::Int(limit.min(1000) as i64)];
    pool.all(&sql, &args).await?.iter().map(|r| rows::reminder(&**r)).collect()
}

pub(crate) async fn complete(
    pool: &dyn Pool,
    owner: &str,
    reminder: &Reminder,
    due_at: DateTime<Utc>,
    fired_at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<Option<Notification>> {
    let tx = pool.begin().await?;
    // Still ours, still scheduled, still at this occurrence?
    let moved = tx
        .execute(
            "UPDATE reminders SET next_at = $1, state = $2, fired = fired + 1, lease_owner = NULL, lease_until = NULL,
                 updated_at = $3
             WHERE user_id = $4 AND id = $5 AND state = 'scheduled' AND lease_owner = $6 AND next_at = $7",
            &[
                Arg::OptTime(next),
                Arg::Text(if next.is_some() { "scheduled" } else { "done" }),
                Arg::Time(fired_at),
                Arg::Int(reminder.user.0),
                Arg::Int(reminder.id.0),
                Arg::Text(owner),
                Arg::Time(due_at),
            ],
        )
        .await?;
    if moved == 0 {
        return Ok(None);
    }
    let late = fired_at - due_at > chrono::Duration::seconds(60);
    let key = tx.dialect().user_key("reminder_id, due_at");
    let sql = format!(
        "INSERT INTO notifications (user_id, reminder_id, text, due_at, fired_at, late)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ({key}) DO NOTHING RETURNING {NOTIFICATION_COLUMNS}"
    );
    let args = [
        Arg::Int(reminder.user.0),
        Arg::Int(reminder.id.0),
        Arg::Text(&reminder.text),
        Arg::Time(due_at),
        Arg::Time(fired_at),
        Arg::Flag(late),
    ];
    let Some(row) = tx.optional(&sql, &args).await? else {
        // Recorded already: leave the reminder as it was.
        return Ok(None);
    };
    let notification = rows::notification(&*row);
    tx.commit().await?;
    Ok(Some(notification))
}

pub(crate) async fn next_due(pool: &dyn Run) -> Result<Option<DateTime<Utc>>> {
    let row = pool.one("SELECT min(next_at) AS next_at FROM reminders WHERE state = 'scheduled'", &[], "").await?;
    Ok(row.opt_time("next_at"))
}

pub(crate) async fn notifications(
    pool: &dyn Run,
    user: UserId,
    limit: usize,
    before: Option<NotificationId>,
) -> Result<Vec<Notification>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    let args = [Arg::Int(user.0), Arg::Int(before.map_or(i64::MAX, |b| b.0)), Arg::Int(limit.clamp(1, 500) as i64)];
    Ok(pool.all(&sql, &args).await?.iter().map(|r| rows::notification(&**r)).collect())
}

pub(crate) async fn mark_read(pool: &dyn Run, user: UserId, id: NotificationId) -> Result<Notification> {
    let sql = format!(
        "UPDATE notifications SET read_at = coalesce(read_at, $1) WHERE user_id = $2 AND id = $3
         RETURNING {NOTIFICATION_COLUMNS}"
    );
    let args = [Arg::Time(pool.dialect().now()), Arg::Int(user.0), Arg::Int(id.0)];
    Ok(rows::notification(&*pool.one(&sql, &args, &format!("no notification {id}")).await?))
}
