//! Time expressions, table-driven, with a fixed clock: Sunday 2026-11-29 at
//! 14:00 on the user's wall clock, in Asia/Seoul, UTC and America/New_York
//! (no DST change near it), then DST edges in New York.
//!
//! Expected: "YYYY-MM-DD HH:MM" a one-off at that wall time; "R <wall> | RULE"
//! a recurrence from that first wall time; "…Z" an instant in UTC; "?" asked
//! back; "!" refused.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use pai_core::reminder_times::{Schedule, WhenError, next_occurrence, parse, resolve};

const SUNDAY_2PM: &str = "2026-11-29 14:00";

#[rustfmt::skip]
const CASES: &[(&str, &str)] = &[
    // Korean: relative days and times
    ("내일 오전 9시", "2026-11-30 09:00"),
    ("내일 아침 9시", "2026-11-30 09:00"),
    ("내일 9시에", "2026-11-30 09:00"),
    ("내일 오후 3시쯤", "2026-11-30 15:00"),
    ("내일 아홉 시", "2026-11-30 09:00"),
    ("내일 오전 열한시", "2026-11-30 11:00"),
    ("내일 오후 열두 시", "2026-11-30 12:00"),
    ("내일 정오", "2026-11-30 12:00"),
    ("내일 자정", "2026-12-01 00:00"),
    ("모레", "2026-12-01 09:00"),
    ("모레 오후 3시", "2026-12-01 15:00"),
    ("글피 저녁 7시", "2026-12-02 19:00"),
    ("오후 3시", "2026-11-29 15:00"),
    ("오전 10시", "2026-11-30 10:00"),
    ("9시", "2026-11-30 09:00"),
    ("9시 반", "2026-11-30 09:30"),
    ("저녁 8시", "2026-11-29 20:00"),
    ("밤 11시", "2026-11-29 23:00"),
    ("새벽 2시", "2026-11-30 02:00"),
    ("낮 2시", "2026-11-30 14:00"),
    ("낮 1시", "2026-11-30 13:00"),
    ("정오", "2026-11-30 12:00"),
    ("자정", "2026-11-30 00:00"),
    ("오후 4시 15분", "2026-11-29 16:15"),
    // Korean: offsets
    ("30분 뒤", "2026-11-29 14:30"),
    ("2시간 뒤", "2026-11-29 16:00"),
    ("1시간 30분 후", "2026-11-29 15:30"),
    ("한 시간 반 뒤", "2026-11-29 15:30"),
    ("10분 있다가", "2026-11-29 14:10"),
    ("3일 후", "2026-12-02 14:00"),
    ("2주 뒤", "2026-12-13 14:00"),
    // Korean: dates
    ("12월 3일 오후 3시", "2026-12-03 15:00"),
    ("12월 3일", "2026-12-03 09:00"),
    ("12월 3일 오후 3시 15분", "2026-12-03 15:15"),
    ("2027년 1월 5일 오전 10시 30분", "2027-01-05 10:30"),
    ("1월 5일 10시", "2027-01-05 10:00"),
    ("11월 1일 9시", "2027-11-01 09:00"),
    ("2월 29일", "2028-02-29 09:00"),
    ("12월 말일 오후 6시", "2026-12-31 18:00"),
    ("15일 오후 2시", "2026-12-15 14:00"),
    ("30일", "2026-11-30 09:00"),
    // Korean: weekdays
    ("다음 주 금요일 오후 2시", "2026-12-04 14:00"),
    ("다음주 월요일", "2026-11-30 09:00"),
    ("담주 수요일 저녁 6시", "2026-12-02 18:00"),
    ("다다음 주 월요일", "2026-12-07 09:00"),
    ("금요일 오후 2시", "2026-12-04 14:00"),
    ("일요일 오후 5시", "2026-11-29 17:00"),
    ("일요일 오전 10시", "2026-12-06 10:00"),
    ("수요일", "2026-12-02 09:00"),
    // Korean: recurrences
    ("매주 월요일 오전 8시", "R 2026-11-30 08:00 | FREQ=WEEKLY;BYDAY=MO"),
    ("매일 오전 7시", "R 2026-11-30 07:00 | FREQ=DAILY"),
    ("매일 밤 10시", "R 2026-11-29 22:00 | FREQ=DAILY"),
    ("날마다 오후 3시", "R 2026-11-29 15:00 | FREQ=DAILY"),
    ("평일 오전 7시", "R 2026-11-30 07:00 | FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
    ("매주 평일 아침 7시 30분", "R 2026-11-30 07:30 | FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
    ("주말마다 오전 10시", "R 2026-12-05 10:00 | FREQ=WEEKLY;BYDAY=SA,SU"),
    ("매달 1일", "R 2026-12-01 09:00 | FREQ=MONTHLY;BYMONTHDAY=1"),
    ("매월 15일 오후 6시", "R 2026-12-15 18:00 | FREQ=MONTHLY;BYMONTHDAY=15"),
    ("매달 말일 오후 9시", "R 2026-11-30 21:00 | FREQ=MONTHLY;BYMONTHDAY=-1"),
    ("매달 29일 오후 3시", "R 2026-11-29 15:00 | FREQ=MONTHLY;BYMONTHDAY=29"),
    ("매년 3월 5일", "R 2027-03-05 09:00 | FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5"),
    ("격주 월요일 오전 9시", "R 2026-11-30 09:00 | FREQ=WEEKLY;BYDAY=MO;INTERVAL=2"),
    ("월요일마다 오전 9시", "R 2026-11-30 09:00 | FREQ=WEEKLY;BYDAY=MO"),
    ("매주 화요일 목요일 저녁 7시", "R 2026-12-01 19:00 | FREQ=WEEKLY;BYDAY=TU,TH"),
    // Korean: asked back or refused
    ("3시", "?"),
    ("내일 3시", "?"),
    ("매주 월요일 3시", "?"),
    ("내일 아침", "?"),
    ("오늘 저녁", "?"),
    ("매주", "?"),
    ("매달", "?"),
    ("매년", "?"),
    ("언젠가", "?"),
    ("", "?"),
    ("내일 30분 뒤", "?"),
    ("금요일 토요일", "?"),
    ("오늘", "?"),
    ("오늘 오전 9시", "!"),
    ("이번 주 금요일", "!"),
    ("2월 30일", "!"),
    ("4월 31일 오전 9시", "!"),
    ("25시", "!"),
    ("내일 오후 3시 75분", "!"),
    ("매달 32일", "!"),
    ("매년 2월 30일", "!"),
    // ISO and RFC 3339
    ("2026-12-03 15:00", "2026-12-03 15:00"),
    ("2026-12-03T15:00", "2026-12-03 15:00"),
    ("2026-12-03 03:00", "2026-12-03 03:00"),
    ("2026-12-03", "2026-12-03 09:00"),
    ("2026/12/03 18:30", "2026-12-03 18:30"),
    ("2026.12.03", "2026-12-03 09:00"),
    ("2025-01-01 09:00", "!"),
    ("2026-13-01", "!"),
    ("2026-02-30 10:00", "!"),
    // English: relative days and times
    ("tomorrow at 9am", "2026-11-30 09:00"),
    ("tomorrow 9am", "2026-11-30 09:00"),
    ("Tomorrow at 9 AM", "2026-11-30 09:00"),
    ("tomorrow at 3pm", "2026-11-30 15:00"),
    ("tomorrow at 3:30 p.m.", "2026-11-30 15:30"),
    ("tomorrow at 15:00", "2026-11-30 15:00"),
    ("3pm tomorrow", "2026-11-30 15:00"),
    ("the day after tomorrow at 8am", "2026-12-01 08:00"),
    ("tomorrow at noon", "2026-11-30 12:00"),
    ("at noon", "2026-11-30 12:00"),
    ("at midnight", "2026-11-30 00:00"),
    ("tonight at 9", "2026-11-29 21:00"),
    ("tonight at 11pm", "2026-11-29 23:00"),
    ("5pm", "2026-11-29 17:00"),
    ("10am", "2026-11-30 10:00"),
    ("at 7", "2026-11-30 07:00"),
    ("7 o'clock", "2026-11-30 07:00"),
    ("at 8 in the evening", "2026-11-29 20:00"),
    ("today at 6pm", "2026-11-29 18:00"),
    // English: offsets
    ("in 2 hours", "2026-11-29 16:00"),
    ("in 30 minutes", "2026-11-29 14:30"),
    ("in 5 mins", "2026-11-29 14:05"),
    ("in an hour", "2026-11-29 15:00"),
    ("in 1 hour and 30 minutes", "2026-11-29 15:30"),
    ("in an hour and a half", "2026-11-29 15:30"),
    ("in half an hour", "2026-11-29 14:30"),
    ("in 3 days", "2026-12-02 14:00"),
    ("in 2 weeks", "2026-12-13 14:00"),
    ("2 hours from now", "2026-11-29 16:00"),
    ("20 minutes later", "2026-11-29 14:20"),
    // English: dates
    ("Dec 3 3pm", "2026-12-03 15:00"),
    ("December 3rd at 3:30 pm", "2026-12-03 15:30"),
    ("3 December 2026 10am", "2026-12-03 10:00"),
    ("the 3rd of December at noon", "2026-12-03 12:00"),
    ("Jan 5", "2027-01-05 09:00"),
    ("january 5, 2027 at 8am", "2027-01-05 08:00"),
    ("Nov 1 at 9am", "2027-11-01 09:00"),
    ("on the 15th at 2pm", "2026-12-15 14:00"),
    // English: weekdays
    ("next Friday", "2026-12-04 09:00"),
    ("next friday at 5pm", "2026-12-04 17:00"),
    ("friday 10am", "2026-12-04 10:00"),
    ("on Sunday at 6pm", "2026-11-29 18:00"),
    ("Sunday 10am", "2026-12-06 10:00"),
    ("wed at 8:15am", "2026-12-02 08:15"),
    ("coming Tuesday at 9am", "2026-12-01 09:00"),
    // English: recurrences
    ("every Monday 8am", "R 2026-11-30 08:00 | FREQ=WEEKLY;BYDAY=MO"),
    ("every weekday at 7", "R 2026-11-30 07:00 | FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
    ("weekdays at 6:45am", "R 2026-11-30 06:45 | FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
    ("every day at 10pm", "R 2026-11-29 22:00 | FREQ=DAILY"),
    ("daily at 7:30", "R 2026-11-30 07:30 | FREQ=DAILY"),
    ("every month on the 1st", "R 2026-12-01 09:00 | FREQ=MONTHLY;BYMONTHDAY=1"),
    ("on the 15th of every month at 6pm", "R 2026-12-15 18:00 | FREQ=MONTHLY;BYMONTHDAY=15"),
    ("last day of every month at 9pm", "R 2026-11-30 21:00 | FREQ=MONTHLY;BYMONTHDAY=-1"),
    ("every year on March 5", "R 2027-03-05 09:00 | FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5"),
    ("every other Monday at 9am", "R 2026-11-30 09:00 | FREQ=WEEKLY;BYDAY=MO;INTERVAL=2"),
    ("mondays at 9am", "R 2026-11-30 09:00 | FREQ=WEEKLY;BYDAY=MO"),
    ("every Monday and Wednesday at 8am", "R 2026-11-30 08:00 | FREQ=WEEKLY;BYDAY=MO,WE"),
    ("weekends at 10am", "R 2026-12-05 10:00 | FREQ=WEEKLY;BYDAY=SA,SU"),
    ("every Sunday at 5pm", "R 2026-11-29 17:00 | FREQ=WEEKLY;BYDAY=SU"),
    // English: asked back or refused
    ("tomorrow at 3", "?"),
    ("tomorrow morning", "?"),
    ("tonight", "?"),
    ("every week", "?"),
    ("every month", "?"),
    ("every Monday at 4", "?"),
    ("sometime", "?"),
    ("yesterday", "?"),
    ("in 2 hours tomorrow", "?"),
    ("today at 9am", "!"),
    ("this friday", "!"),
    ("Feb 30", "!"),
    ("tomorrow at 25:00", "!"),
];

fn wall(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn at(tz: Tz, local: &str) -> DateTime<Utc> {
    resolve(tz, wall(local)).unwrap()
}

/// `None` when the outcome matches `expected`, else what went wrong.
fn check(tz: Tz, now: &str, phrase: &str, expected: &str) -> Option<String> {
    let got = parse(phrase, at(tz, now), tz);
    let ok = match (expected, &got) {
        ("?", Err(WhenError::Unclear(q))) => !q.is_empty(),
        ("!", Err(WhenError::Invalid(r))) => !r.is_empty(),
        (e, Ok(Schedule::Once { at: t })) if e.ends_with('Z') => t.to_rfc3339() == e.replace('Z', "+00:00"),
        (e, Ok(Schedule::Once { at: t })) if !e.starts_with("R ") => *t == at(tz, e),
        (e, Ok(Schedule::Recurring { rule, start, first })) if e.starts_with("R ") => {
            let (w, r) = e[2..].split_once(" | ").unwrap();
            *start == wall(w) && rule == r && *first > at(tz, now)
        }
        _ => false,
    };
    (!ok).then(|| format!("{tz} {now} {phrase:?}: expected {expected}, got {got:?}"))
}

#[test]
fn phrases_read_the_same_wall_time_in_every_zone() {
    let mut failures = Vec::new();
    for tz in [chrono_tz::Asia::Seoul, chrono_tz::UTC, chrono_tz::America::New_York] {
        for (phrase, expected) in CASES {
            failures.extend(check(tz, SUNDAY_2PM, phrase, expected));
        }
    }
    assert!(CASES.len() >= 150, "{} cases", CASES.len());
    assert!(failures.is_empty(), "{} of {}:\n{}", failures.len(), CASES.len() * 3, failures.join("\n"));
}

#[rustfmt::skip]
const DST: &[(&str, &str, &str)] = &[
    // New York springs forward 2027-03-14 02:00 → 03:00 and falls back 2027-11-07 02:00 → 01:00.
    ("2027-03-13 12:00", "2027-03-14 02:30", "?"),
    ("2027-03-13 12:00", "2027-03-14 03:30", "2027-03-14T07:30:00Z"),
    ("2027-03-13 12:00", "2027-03-14 01:30", "2027-03-14T06:30:00Z"),
    ("2027-03-13 12:00", "tomorrow at 9am", "2027-03-14T13:00:00Z"),
    ("2027-03-13 10:00", "내일 오전 9시", "2027-03-14T13:00:00Z"),
    ("2027-03-14 01:30", "in 2 hours", "2027-03-14T08:30:00Z"),
    ("2027-11-06 12:00", "2027-11-07 01:30", "2027-11-07T05:30:00Z"),
    ("2027-11-06 12:00", "tomorrow at 9am", "2027-11-07T14:00:00Z"),
    ("2027-11-07 00:30", "in 2 hours", "2027-11-07T06:30:00Z"),
    ("2027-03-13 12:00", "every day at 2:30am", "R 2027-03-14 02:30 | FREQ=DAILY"),
];

#[test]
fn dst_edges_in_new_york() {
    let tz = chrono_tz::America::New_York;
    let failures: Vec<String> = DST.iter().filter_map(|(now, p, e)| check(tz, now, p, e)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn recurrences_keep_their_wall_time_across_dst_and_fire_once_in_a_repeated_hour() {
    let ny = chrono_tz::America::New_York;
    let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let daily = |time: &str| wall(&format!("2027-03-01 {time}"));
    // 09:00 every day: 14:00Z in winter, 13:00Z in summer.
    let next = |start, after| next_occurrence("FREQ=DAILY", start, ny, utc(after)).unwrap().to_rfc3339();
    assert_eq!(next(daily("09:00"), "2027-03-13T14:00:00Z"), "2027-03-14T13:00:00+00:00");
    assert_eq!(next(daily("09:00"), "2027-03-14T13:00:00Z"), "2027-03-15T13:00:00+00:00");
    // 02:30 does not exist on 2027-03-14: it fires at 03:30 EDT, then 02:30 EDT.
    assert_eq!(next(daily("02:30"), "2027-03-13T07:30:00Z"), "2027-03-14T07:30:00+00:00");
    assert_eq!(next(daily("02:30"), "2027-03-14T07:30:00Z"), "2027-03-15T06:30:00+00:00");
    // 01:30 happens twice on 2027-11-07: it fires at the first, not again an hour later.
    assert_eq!(next(daily("01:30"), "2027-11-06T05:30:00Z"), "2027-11-07T05:30:00+00:00");
    assert_eq!(next(daily("01:30"), "2027-11-07T05:30:00Z"), "2027-11-08T06:30:00+00:00");
    // Weekly on Mondays at 08:00 in Seoul (no DST): every 7 days exactly.
    let seoul = chrono_tz::Asia::Seoul;
    let mon = wall("2026-11-30 08:00");
    let first = next_occurrence("FREQ=WEEKLY;BYDAY=MO", mon, seoul, utc("2026-11-29T00:00:00Z")).unwrap();
    let second = next_occurrence("FREQ=WEEKLY;BYDAY=MO", mon, seoul, first).unwrap();
    assert_eq!((first.to_rfc3339().as_str(), (second - first).num_days()), ("2026-11-29T23:00:00+00:00", 7));
    // Every other Monday: two weeks apart from the first.
    let biweekly = next_occurrence("FREQ=WEEKLY;BYDAY=MO;INTERVAL=2", mon, seoul, first).unwrap();
    assert_eq!((biweekly - first).num_days(), 14);
    // The last day of the month follows the month's length.
    let eom = wall("2027-01-31 21:00");
    let feb = next_occurrence("FREQ=MONTHLY;BYMONTHDAY=-1", eom, seoul, utc("2027-02-01T00:00:00Z")).unwrap();
    assert_eq!(feb.with_timezone(&seoul).format("%Y-%m-%d %H:%M").to_string(), "2027-02-28 21:00");
}

#[test]
fn times_are_found_inside_sentences() {
    let tz = chrono_tz::Asia::Seoul;
    let now = at(tz, SUNDAY_2PM);
    let found = |s: &str| pai_core::reminder_times::find_in(s, now, tz);
    let f = found("내일 오전 9시에 엄마한테 전화하라고 알려줘").unwrap();
    assert_eq!(
        (f.phrase.as_str(), &f.schedule),
        ("내일 오전 9시에", &Ok(Schedule::Once { at: at(tz, "2026-11-30 09:00") }))
    );
    let f = found("remind me to call mom tomorrow at 9am.").unwrap();
    assert_eq!(f.phrase, "tomorrow at 9am");
    let f = found("매주 월요일 오전 8시에 주간 보고 쓰라고 알려줘").unwrap();
    assert!(matches!(f.schedule, Ok(Schedule::Recurring { .. })) && f.phrase == "매주 월요일 오전 8시에", "{f:?}");
    // An ambiguous time is found with its question; a sentence without one finds nothing.
    assert!(matches!(found("내일 3시에 약 먹으라고 알려줘").unwrap().schedule, Err(WhenError::Unclear(_))));
    assert_eq!(found("엄마한테 전화하라고 알려줘"), None);
    // A time that is part of a past or impossible date is that date's, not one to schedule.
    for sentence in
        ["we met on March 3, 2020 at 9am.", "remind me on February 30 at 9am", "2020년 3월 3일 오전 9시에 만났어"]
    {
        let f = found(sentence).unwrap();
        assert!(matches!(f.schedule, Err(WhenError::Invalid(_))), "{sentence}: {f:?}");
    }
    assert_eq!(found("what is the capital of France?"), None);
}

/// Numbers too large to schedule are refused, never read as 1 (issue 21:
/// "in 99999999999 minutes" fired in a minute).
#[test]
fn numbers_too_large_are_refused_not_wrapped() {
    let now = at(chrono_tz::Asia::Seoul, "2026-03-01 10:00");
    for phrase in [
        "in 99999999999 minutes",
        "in 9999999999 days",
        "in 4294967296 hours",
        "99999999999분 뒤",
        "9999999999일 후",
        "at 99999999999",
    ] {
        let r = parse(phrase, now, chrono_tz::Asia::Seoul);
        assert!(matches!(r, Err(WhenError::Invalid(_)) | Err(WhenError::Unclear(_))), "{phrase}: {r:?}");
    }
    assert!(parse("in 3660 days", now, chrono_tz::Asia::Seoul).is_ok());
}
