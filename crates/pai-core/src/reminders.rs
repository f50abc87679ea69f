//! Reminders and what their firing leaves behind (notifications), and the
//! `Reminders` trait the stores implement.
//!
//! Exactly once: a scheduler claims due reminders with a lease (an instance
//! that dies mid-delivery loses the claim when the lease runs out), then
//! completes each in one transaction that records the notification and moves
//! the reminder to its next occurrence. A notification is unique per
//! (reminder, due time), so even two schedulers completing the same
//! occurrence record it once. The store never computes times: the next
//! occurrence is the scheduler's (pai-core `schedule`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{ConversationId, NotificationId, ReminderId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderState {
    Scheduled,
    /// A one-off that fired, or a recurrence that ended.
    Done,
    Cancelled,
}

impl ReminderState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderState::Scheduled => "scheduled",
            ReminderState::Done => "done",
            ReminderState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "scheduled" => ReminderState::Scheduled,
            "done" => ReminderState::Done,
            "cancelled" => ReminderState::Cancelled,
            _ => return None,
        })
    }
}

/// Longest reminder text, in characters (a Korean one is three bytes each).
pub const MAX_REMINDER_CHARS: usize = 1000;
/// Longest time phrase read ("every other Monday at 8:30 in the morning" is
/// 40): a longer one is not a time someone said.
pub const MAX_PHRASE_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReminder {
    /// What to remind of.
    pub text: String,
    /// When, as the user said it.
    pub phrase: String,
    pub timezone: String,
    /// RRULE of a recurrence (None: once) and its first wall time.
    pub rule: Option<String>,
    pub start: Option<NaiveDateTime>,
    pub next_at: DateTime<Utc>,
    /// Where it was asked for; the reminder is shown there when it fires.
    pub conversation: Option<ConversationId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reminder {
    pub id: ReminderId,
    #[serde(skip)]
    pub user: UserId,
    pub text: String,
    pub phrase: String,
    pub timezone: String,
    pub rule: Option<String>,
    pub start: Option<NaiveDateTime>,
    /// The next time it fires; None once done or cancelled.
    pub next_at: Option<DateTime<Utc>>,
    pub state: ReminderState,
    pub fired: u32,
    pub conversation: Option<ConversationId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Reminder {
    /// The next time on the user's wall clock (RFC 3339 with the zone's
    /// offset), as people read it.
    pub fn next_at_local(&self) -> Option<String> {
        let tz: chrono_tz::Tz = self.timezone.parse().ok()?;
        Some(self.next_at?.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S%:z").to_string())
    }

    /// The reminder as the APIs show it.
    pub fn view(&self) -> ReminderView {
        ReminderView { reminder: self.clone(), next_at_local: self.next_at_local(), recurring: self.rule.is_some() }
    }
}

/// A reminder as the APIs show it: the stored fields, the next time also on
/// the wall clock, and whether it repeats.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReminderView {
    #[serde(flatten)]
    pub reminder: Reminder,
    /// `next_at` in the reminder's zone (RFC 3339 with its offset).
    pub next_at_local: Option<String>,
    pub recurring: bool,
}

/// One firing of a reminder, as delivered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: NotificationId,
    #[serde(skip)]
    pub user: UserId,
    pub reminder: Option<ReminderId>,
    pub text: String,
    /// When it was due, and when it was delivered.
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    /// Delivered later than due (pai was not running): the user is told.
    pub late: bool,
    pub read_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait Reminders: Send + Sync {
    async fn create_reminder(&self, user: UserId, reminder: NewReminder) -> Result<Reminder>;
    /// The user's reminders, scheduled first (soonest first), then the rest newest first.
    async fn reminders(&self, user: UserId) -> Result<Vec<Reminder>>;
    async fn reminder(&self, user: UserId, id: ReminderId) -> Result<Reminder>;
    /// Cancels a scheduled reminder (a done or cancelled one is a `Conflict`).
    async fn cancel_reminder(&self, user: UserId, id: ReminderId) -> Result<Reminder>;

    /// Scheduler side, across users: up to `limit` reminders due at `now`
    /// that no live lease holds, leased to `owner` until `lease_until`.
    async fn claim_due_reminders(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reminder>>;
    /// Records the firing of the occurrence due at `due_at` and moves the
    /// reminder to `next` (None: done), in one transaction. `None` when the
    /// claim was lost (lease taken over, reminder cancelled or already moved):
    /// nothing is recorded then.
    async fn complete_reminder(
        &self,
        owner: &str,
        reminder: &Reminder,
        due_at: DateTime<Utc>,
        fired_at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<Option<Notification>>;
    /// The soonest `next_at` of any scheduled reminder: how long a scheduler may sleep.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>>;

    /// The user's notifications, newest first, `before` an id for paging.
    async fn notifications(
        &self,
        user: UserId,
        limit: usize,
        before: Option<NotificationId>,
    ) -> Result<Vec<Notification>>;
    async fn mark_notification_read(&self, user: UserId, id: NotificationId) -> Result<Notification>;
}
