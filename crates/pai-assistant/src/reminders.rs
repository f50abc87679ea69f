//! Reminders: a phrase read into a schedule and stored (`schedule_reminder`),
//! and the `Scheduler` that fires due reminders exactly once (see pai-core
//! `reminders` for the claim/lease/complete protocol), delivers them to
//! whoever listens (`subscribe`: the server's live stream and webhooks) and
//! shows them in the conversation they were asked for in.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pai_core::reminders::{NewReminder, Notification, Reminder};
use pai_core::schedule::{Schedule, WhenError, next_occurrence, parse};
use pai_core::store::{ConversationId, NewMessage, Store, UserId};
use pai_core::{Error, Result, Role};
use tokio::sync::{Notify, broadcast};

/// Why a reminder was not scheduled.
#[derive(Debug)]
pub enum ScheduleError {
    /// The time phrase needs the user's answer to this question.
    Unclear(String),
    /// Nothing to schedule: past, impossible, bad text, unknown zone.
    Invalid(String),
    Store(Error),
}

impl From<Error> for ScheduleError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(m) => ScheduleError::Invalid(m),
            e => ScheduleError::Store(e),
        }
    }
}

/// Reads `when` in the user's timezone and stores the reminder.
pub async fn schedule_reminder(
    store: &dyn Store,
    user: UserId,
    text: &str,
    when: &str,
    conversation: Option<ConversationId>,
    now: DateTime<Utc>,
) -> std::result::Result<Reminder, ScheduleError> {
    if text.trim().is_empty() {
        return Err(ScheduleError::Invalid("say what to remind you of (`text` is empty)".into()));
    }
    let profile = store.user(user).await?;
    let tz: chrono_tz::Tz = profile
        .timezone
        .parse()
        .map_err(|_| ScheduleError::Invalid(format!("unknown timezone {:?}; set an IANA zone", profile.timezone)))?;
    let schedule = parse(when, now, tz).map_err(|e| match e {
        WhenError::Unclear(q) => ScheduleError::Unclear(q),
        WhenError::Invalid(r) => ScheduleError::Invalid(r),
    })?;
    let (rule, start) = match &schedule {
        Schedule::Once { .. } => (None, None),
        Schedule::Recurring { rule, start, .. } => (Some(rule.clone()), Some(*start)),
    };
    let new = NewReminder {
        text: text.trim().to_string(),
        phrase: when.trim().to_string(),
        timezone: profile.timezone.clone(),
        rule,
        start,
        next_at: schedule.first(),
        conversation,
    };
    Ok(store.create_reminder(user, new).await?)
}

/// How long a claim holds: a scheduler that dies mid-delivery delays the
/// reminder by at most this.
pub const LEASE: Duration = Duration::seconds(60);
/// Longest sleep between looks at the store (reminders made by another process).
const POLL: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Scheduler {
    store: Arc<dyn Store>,
    /// Names this instance's claims.
    owner: String,
    sender: broadcast::Sender<Notification>,
    wake: Notify,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let owner = format!("{}-{}-{:x}", std::process::id(), Utc::now().timestamp_micros(), rand_u32());
        Scheduler { store, owner, sender: broadcast::channel(256).0, wake: Notify::new() }
    }

    /// Every notification this scheduler delivers from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.sender.subscribe()
    }

    /// A reminder was created or cancelled: look again now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Fires what is due at `now`. A recurrence missed while pai was down
    /// fires once, late, and moves to its next time after `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<Notification>> {
        let mut out = Vec::new();
        loop {
            let claimed = self.store.claim_due_reminders(&self.owner, now, now + LEASE, 100).await?;
            if claimed.is_empty() {
                return Ok(out);
            }
            for reminder in claimed {
                let Some(due) = reminder.next_at else { continue };
                let next = match (&reminder.rule, reminder.start) {
                    (Some(rule), Some(start)) => {
                        let tz: chrono_tz::Tz = reminder.timezone.parse().unwrap_or(chrono_tz::UTC);
                        next_occurrence(rule, start, tz, due.max(now))
                    }
                    _ => None,
                };
                let Some(notification) = self.store.complete_reminder(&self.owner, &reminder, due, now, next).await?
                else {
                    continue; // another instance had it
                };
                if let Some(conversation) = reminder.conversation {
                    let message = NewMessage {
                        role: Role::Assistant,
                        speaker: None,
                        content: format!("⏰ {}", reminder.text),
                        created_at: now,
                        external_id: Some(format!("reminder:{}:{}", reminder.id, due.timestamp())),
                    };
                    if let Err(e) = self.store.add_messages(reminder.user, conversation, vec![message]).await {
                        tracing::warn!(error = %e, "could not show a reminder in its conversation");
                    }
                }
                let _ = self.sender.send(notification.clone());
                out.push(notification);
            }
        }
    }

    /// Fires reminders as they come due until `stop` completes; `now` is the
    /// clock (tests pass their own).
    pub async fn run(&self, now: impl Fn() -> DateTime<Utc>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.tick(now()).await {
                tracing::error!(error = %e, "scheduler: store error");
            }
            let sleep = match self.store.next_due().await {
                Ok(Some(at)) => (at - now()).to_std().unwrap_or_default().min(POLL),
                _ => POLL,
            };
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep.max(std::time::Duration::from_millis(50))) => {}
            }
        }
    }
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish() as u32
}
