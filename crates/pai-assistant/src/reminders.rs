//! Reminders: a phrase read into a schedule and stored (`schedule_reminder`),
//! and the `Scheduler` that fires due reminders exactly once (see pai-core
//! `reminders` for the claim/lease/complete protocol), delivers them to
//! whoever listens (`subscribe`: the server's live stream and webhooks) and
//! shows them in the conversation they were asked for in.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pai_core::reminder_times::{Schedule, WhenError, next_occurrence, parse, written_in_korean};
use pai_core::reminders::{MAX_PHRASE_CHARS, MAX_REMINDER_CHARS, NewReminder, Notification, Reminder};
use pai_core::store::{ConversationId, NewMessage, Store, UserId};
use pai_core::{Error, Result, Role};
use tokio::sync::{Notify, broadcast};

/// Why a reminder was not scheduled, by the input to fix.
#[derive(Debug)]
pub enum ScheduleError {
    /// The time phrase needs the user's answer to this question.
    Unclear(String),
    /// The time (`when`): past, impossible, too long, or the user's zone unknown.
    BadTime(String),
    /// What to remind of (`text`): empty or too long.
    BadText(String),
    /// Everything else, the store's own refusals included: never blamed on
    /// one of the two inputs above.
    Store(Error),
}

impl From<Error> for ScheduleError {
    fn from(e: Error) -> Self {
        ScheduleError::Store(e)
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
        return Err(ScheduleError::BadText("say what to remind you of (`text` is empty)".into()));
    }
    if text.chars().count() > MAX_REMINDER_CHARS {
        return Err(ScheduleError::BadText(format!(
            "what to remind you of (`text`) is at most {MAX_REMINDER_CHARS} characters"
        )));
    }
    if when.chars().count() > MAX_PHRASE_CHARS {
        return Err(ScheduleError::BadTime(format!("a time phrase is at most {MAX_PHRASE_CHARS} characters")));
    }
    let profile = store.user(user).await?;
    let tz: chrono_tz::Tz = profile
        .timezone
        .parse()
        .map_err(|_| ScheduleError::BadTime(format!("unknown timezone {:?}; set an IANA zone", profile.timezone)))?;
    let schedule = parse(when, now, tz).map_err(|e| match e {
        WhenError::Unclear(q) => ScheduleError::Unclear(q),
        WhenError::Invalid(r) => ScheduleError::BadTime(r),
    })?;
    let new = new_reminder(&schedule, text.trim(), when.trim(), &profile.timezone, conversation);
    Ok(store.create_reminder(user, new).await?)
}

/// What the store keeps of a reminder read from `phrase`.
fn new_reminder(
    schedule: &Schedule,
    text: &str,
    phrase: &str,
    timezone: &str,
    conversation: Option<ConversationId>,
) -> NewReminder {
    let (rule, start) = match schedule {
        Schedule::Once { .. } => (None, None),
        Schedule::Recurring { rule, start, .. } => (Some(rule.clone()), Some(*start)),
    };
    NewReminder {
        text: text.to_string(),
        phrase: phrase.to_string(),
        timezone: timezone.to_string(),
        rule,
        start,
        next_at: schedule.first(),
        conversation,
    }
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

/// A message that asks for a reminder ("내일 오전 9시에 엄마한테 전화하라고
/// 알려줘", "remind me to call mom tomorrow at 9am"), recognised by rules like
/// explicit memory requests: the model is not asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderRequest {
    /// What to remind of ("엄마한테 전화하기", "call mom").
    pub task: String,
    pub when: pai_core::reminder_times::FoundTime,
}

static KO_TRIGGER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(?:(라고|다고|자고)\s*(?:꼭\s*)?알려\s*(?:줘|주세요|줄래|줄\s*수\s*있어)|\s*알림\s*(?:을\s*)?(?:설정해|맞춰|해|등록해)\s*(?:줘|주세요)|\s*리마인드\s*(?:해\s*)?(?:줘|주세요))[.!?~\s]*$",
    )
    .unwrap()
});
static EN_TRIGGER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)^\s*(?:please\s+|can you\s+|could you\s+)?(?:remind me|set an? (?:reminder|alarm))\b(?:\s+(?:to|that|for|about))?").unwrap()
});

/// Recognises a reminder request and cuts it into the task and the time.
pub fn reminder_request(text: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<ReminderRequest> {
    let text = text.trim();
    let korean = KO_TRIGGER.is_match(text);
    if !korean && !EN_TRIGGER.is_match(text) {
        return None;
    }
    let when = pai_core::reminder_times::find_in(text, now, tz)?;
    let rest = format!("{} {}", &text[..when.span.start], &text[when.span.end..]);
    let task = if korean {
        let m = KO_TRIGGER.captures(&rest)?;
        let stem = rest[..m.get(0)?.start()].trim();
        match m.get(1).map(|q| q.as_str()) {
            // "전화하라고" → "전화하기", "약 먹으라고" → "약 먹기"
            Some("라고") => format!("{}기", stem.strip_suffix('으').unwrap_or(stem)),
            // "회의 있다고" → "회의 있다", "운동하자고" → "운동하자"
            Some("다고") => format!("{stem}다"),
            Some("자고") => format!("{stem}자"),
            _ => stem.to_string(),
        }
    } else {
        let stripped = EN_TRIGGER.replace(&rest, "");
        let words: Vec<&str> = stripped.split_whitespace().collect();
        let mut words: &[&str] = &words;
        while let Some((first, tail)) = words.split_first() {
            if matches!(first.to_ascii_lowercase().as_str(), "to" | "that" | "about" | "for" | "i" | "should") {
                words = tail;
            } else {
                break;
            }
        }
        while let Some((last, head)) = words.split_last() {
            if matches!(last.to_ascii_lowercase().as_str(), "at" | "on" | "in" | "by" | "please") {
                words = head;
            } else {
                break;
            }
        }
        words.join(" ").trim_end_matches(['.', '!', '?']).to_string()
    };
    let task = task.split_whitespace().collect::<Vec<_>>().join(" ");
    (!task.is_empty()).then_some(ReminderRequest { task, when })
}

/// What pai answers to a reminder request: the confirmation with the time on
/// the user's clock, or the question / reason when it could not be set.
pub async fn answer_reminder_request(
    store: &dyn Store,
    user: UserId,
    request: &ReminderRequest,
    conversation: ConversationId,
    tz: chrono_tz::Tz,
) -> Result<String> {
    let korean = written_in_korean(&request.task) || written_in_korean(&request.when.phrase);
    let schedule = match &request.when.schedule {
        Ok(s) => s.clone(),
        Err(e) => return Ok(e.to_string()),
    };
    let profile = store.user(user).await?;
    let new = new_reminder(&schedule, &request.task, &request.when.phrase, &profile.timezone, Some(conversation));
    let rule = new.rule.clone();
    store.create_reminder(user, new).await?;
    let local = schedule.first().with_timezone(&tz);
    Ok(if korean {
        let ampm = if chrono::Timelike::hour(&local) < 12 { "오전" } else { "오후" };
        let weekday = ["월", "화", "수", "목", "금", "토", "일"]
            [chrono::Datelike::weekday(&local).num_days_from_monday() as usize];
        let at = format!("{} ({weekday}) {ampm} {}", local.format("%-m월 %-d일"), local.format("%-I:%M"));
        match rule {
            None => format!("알겠어요. {at}에 \"{}\" 알려 드릴게요.", request.task),
            Some(_) => format!(
                "알겠어요. \"{}\" 알림을 맞췄어요 ({}). 첫 알림은 {at}이에요.",
                request.task, request.when.phrase
            ),
        }
    } else {
        let at = local.format("%a %b %-d, %-I:%M %p").to_string();
        match rule {
            None => format!("Done: I'll remind you to {} on {at}.", request.task),
            Some(_) => {
                format!("Done: I'll remind you to {} {}; the first one is on {at}.", request.task, request.when.phrase)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::reminder_request;
    use chrono::TimeZone;

    fn task(text: &str) -> Option<(String, String)> {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 29, 5, 0, 0).unwrap();
        reminder_request(text, now, chrono_tz::Asia::Seoul).map(|r| (r.task, r.when.phrase))
    }

    #[test]
    fn requests_are_cut_into_task_and_time() {
        let cases = [
            ("내일 오전 9시에 엄마한테 전화하라고 알려줘", "엄마한테 전화하기", "내일 오전 9시에"),
            ("30분 뒤에 약 먹으라고 알려 줘", "약 먹기", "30분 뒤에"),
            ("금요일 오후 2시에 회의 있다고 알려주세요", "회의 있다", "금요일 오후 2시에"),
            ("매주 월요일 오전 8시에 주간 보고 쓰라고 알려줘", "주간 보고 쓰기", "매주 월요일 오전 8시에"),
            ("remind me to call mom tomorrow at 9am", "call mom", "tomorrow at 9am"),
            ("Remind me in 30 minutes to check the oven.", "check the oven", "in 30 minutes"),
            ("please remind me every weekday at 7 to stretch", "stretch", "every weekday at 7"),
            ("set a reminder for Dec 3 3pm to renew my passport", "renew my passport", "Dec 3 3pm"),
        ];
        for (text, want_task, want_when) in cases {
            assert_eq!(task(text), Some((want_task.to_string(), want_when.to_string())), "{text}");
        }
    }

    #[test]
    fn other_messages_are_not_requests() {
        for text in [
            "내일 날씨 알려줘",
            "오늘 뭐 먹을지 알려줘",
            "what time is it?",
            "I need to call mom tomorrow at 9am",
            "remind me what we talked about",
        ] {
            assert_eq!(task(text), None, "{text}");
        }
    }
}
