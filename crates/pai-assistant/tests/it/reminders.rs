//! The scheduler with an injected clock over a real SQLite file: fires at the
//! right minute, exactly once with two schedulers racing, and after a crash.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pai_assistant::reminders::{LEASE, ScheduleError, Scheduler, schedule_reminder};
use pai_core::reminders::{NewReminder, ReminderState, Reminders};
use pai_core::store::{Store, UserId};
use pai_store::SqliteStore;

fn db_path() -> PathBuf {
    pai_testkit::scratch_dir("reminders").join("pai.db")
}

/// Sunday 2026-11-29 14:00 in Seoul.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 5, 0, 0).unwrap()
}

async fn store_with_user(path: &std::path::Path) -> (Arc<SqliteStore>, UserId) {
    let store = Arc::new(SqliteStore::open(path, 8).await.unwrap());
    let user = store.create_user("minji", "Asia/Seoul").await.unwrap().id;
    (store, user)
}

#[tokio::test]
async fn a_reminder_fires_at_its_minute_once_and_shows_in_its_conversation() {
    let (store, user) = store_with_user(&db_path()).await;
    let conv = store.create_conversation(user, "chat").await.unwrap().id;
    let r = schedule_reminder(&*store, user, "엄마한테 전화하기", "내일 오전 9시", Some(conv), now()).await.unwrap();
    // 09:00 Seoul is 00:00 UTC.
    assert_eq!(r.next_at, Some(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()));
    let scheduler = Scheduler::new(store.clone());
    let mut live = scheduler.subscribe();
    let due = r.next_at.unwrap();
    assert!(scheduler.tick(due - Duration::seconds(1)).await.unwrap().is_empty());
    let fired = scheduler.tick(due).await.unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0].text.as_str(), fired[0].late, fired[0].due_at), ("엄마한테 전화하기", false, due));
    assert_eq!(live.try_recv().unwrap().id, fired[0].id);
    assert!(scheduler.tick(due + Duration::minutes(5)).await.unwrap().is_empty());
    let r = store.reminder(user, r.id).await.unwrap();
    assert_eq!((r.state, r.next_at, r.fired), (ReminderState::Done, None, 1));
    let messages = store.messages(user, conv).await.unwrap();
    assert!(messages.last().unwrap().content.contains("엄마한테 전화하기"), "{messages:?}");
    assert_eq!(store.notifications(user, 10, None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_phrases_schedule_nothing() {
    let (store, user) = store_with_user(&db_path()).await;
    let ask = schedule_reminder(&*store, user, "약 먹기", "3시", None, now()).await.unwrap_err();
    assert!(matches!(&ask, ScheduleError::Unclear(q) if q.contains("오전 3시")), "{ask:?}");
    for when in ["2월 30일", "어제", "2020-01-01 09:00"] {
        assert!(schedule_reminder(&*store, user, "약 먹기", when, None, now()).await.is_err(), "{when}");
    }
    assert!(matches!(
        schedule_reminder(&*store, user, "  ", "내일 9시", None, now()).await,
        Err(ScheduleError::BadText(_))
    ));
    // A conversation of another user cannot be the reminder's.
    let other = store.create_user("tom", "UTC").await.unwrap().id;
    let theirs = store.create_conversation(other, "x").await.unwrap().id;
    assert!(schedule_reminder(&*store, user, "약 먹기", "내일 9시", Some(theirs), now()).await.is_err());
    assert!(store.reminders(user).await.unwrap().is_empty());
}

#[tokio::test]
async fn two_schedulers_racing_never_fire_twice() {
    let path = db_path();
    let (store, user) = store_with_user(&path).await;
    let due = now() + Duration::minutes(1);
    for i in 0..150 {
        let new = NewReminder {
            text: format!("reminder {i}"),
            phrase: "in a minute".into(),
            timezone: "Asia/Seoul".into(),
            rule: (i % 3 == 0).then(|| "FREQ=DAILY".to_string()),
            start: (i % 3 == 0).then(|| due.with_timezone(&chrono_tz::Asia::Seoul).naive_local()),
            next_at: due,
            conversation: None,
        };
        store.create_reminder(user, new).await.unwrap();
    }
    // Two instances with their own connection pools on one database file.
    let other: Arc<SqliteStore> = Arc::new(SqliteStore::open(&path, 8).await.unwrap());
    let a = Arc::new(Scheduler::new(store.clone()));
    let b = Arc::new(Scheduler::new(other.clone()));
    let race = |s: Arc<Scheduler>| {
        tokio::spawn(async move {
            let mut n = 0;
            for step in 0..20 {
                n += s.tick(due + Duration::milliseconds(step)).await.unwrap().len();
            }
            n
        })
    };
    let (na, nb) = (race(a.clone()), race(b.clone()));
    let (na, nb) = (na.await.unwrap(), nb.await.unwrap());
    assert_eq!(na + nb, 150, "a fired {na}, b fired {nb}");
    let all = store.notifications(user, 500, None).await.unwrap();
    let mut ids: Vec<_> = all.iter().map(|n| n.reminder).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((all.len(), ids.len()), (150, 150));
    // The daily ones moved to tomorrow, the rest are done.
    let reminders = store.reminders(user).await.unwrap();
    assert_eq!(reminders.iter().filter(|r| r.state == ReminderState::Scheduled).count(), 50);
    assert!(reminders.iter().filter_map(|r| r.next_at).all(|t| t == due + Duration::days(1)));
}

#[tokio::test]
async fn a_crash_mid_delivery_and_downtime_are_recovered_late_and_once() {
    let (store, user) = store_with_user(&db_path()).await;
    let once = schedule_reminder(&*store, user, "회의 준비", "오후 3시", None, now()).await.unwrap();
    let daily = schedule_reminder(&*store, user, "물 마시기", "매일 오후 4시", None, now()).await.unwrap();
    let due = once.next_at.unwrap();
    // An instance claims the reminder and dies before completing it.
    let claimed = store.claim_due_reminders("dead", due, due + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // A restarted scheduler leaves it while the lease lives, then takes it over.
    let restarted = Scheduler::new(store.clone());
    assert!(restarted.tick(due + Duration::seconds(30)).await.unwrap().is_empty());
    let fired = restarted.tick(due + LEASE + Duration::seconds(1)).await.unwrap();
    assert_eq!(fired.len(), 1);
    assert!(fired[0].late, "delivered after its minute: marked late");
    // The dead instance's completion, if it ever came, records nothing.
    assert!(store.complete_reminder("dead", &claimed[0], due, due, None).await.unwrap().is_none());
    // Three days down: the daily reminder fires once, late, and moves past now.
    let back = daily.next_at.unwrap() + Duration::days(3) + Duration::hours(1);
    let fired = restarted.tick(back).await.unwrap();
    assert_eq!(fired.len(), 1);
    assert!(fired[0].late && fired[0].text == "물 마시기");
    let daily = store.reminder(user, daily.id).await.unwrap();
    let next = daily.next_at.unwrap();
    assert!(next > back && next - back < Duration::days(1), "{next}");
    assert_eq!(next.with_timezone(&chrono_tz::Asia::Seoul).format("%H:%M").to_string(), "16:00");
    assert_eq!(store.notifications(user, 10, None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn cancelled_reminders_never_fire() {
    let (store, user) = store_with_user(&db_path()).await;
    let r = schedule_reminder(&*store, user, "stretch", "in 10 minutes", None, now()).await.unwrap();
    let cancelled = store.cancel_reminder(user, r.id).await.unwrap();
    assert_eq!(cancelled.state, ReminderState::Cancelled);
    assert!(store.cancel_reminder(user, r.id).await.is_err());
    let scheduler = Scheduler::new(store.clone());
    assert!(scheduler.tick(now() + Duration::hours(1)).await.unwrap().is_empty());
    // Another user's id is not found.
    let tom = store.create_user("tom", "UTC").await.unwrap().id;
    let mine = schedule_reminder(&*store, user, "stretch", "in 20 minutes", None, now()).await.unwrap();
    assert!(matches!(store.cancel_reminder(tom, mine.id).await, Err(pai_core::Error::NotFound(_))));
    assert_eq!(store.reminder(user, mine.id).await.unwrap().state, ReminderState::Scheduled);
}
