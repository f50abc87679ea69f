//! Relative dates in Korean and English ("내일", "지난주 금요일", "3 days ago",
//! "last month") resolved against the moment a message was written, in the
//! user's own calendar. Pure: the caller supplies "today" in the user's zone.
//!
//! Weeks start on Monday (ISO, and the Korean convention for 이번 주/지난주).

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};

/// A day or a run of days (a week, a month, a year), both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSpan {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateSpan {
    fn day(d: NaiveDate) -> Self {
        DateSpan { start: d, end: d }
    }
}

/// One relative expression found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range of the expression in the text.
    pub span: std::ops::Range<usize>,
    pub dates: DateSpan,
}

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
    ("월요일", Weekday::Mon),
    ("화요일", Weekday::Tue),
    ("수요일", Weekday::Wed),
    ("목요일", Weekday::Thu),
    ("금요일", Weekday::Fri),
    ("토요일", Weekday::Sat),
    ("일요일", Weekday::Sun),
];

#[derive(Clone, Copy)]
enum Week {
    Last,
    This,
    Next,
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

fn week_span(today: NaiveDate, which: Week) -> DateSpan {
    let monday = monday_of(today)
        + Duration::weeks(match which {
            Week::Last => -1,
            Week::This => 0,
            Week::Next => 1,
        });
    DateSpan { start: monday, end: monday + Duration::days(6) }
}

fn month_span(today: NaiveDate, delta: i32) -> DateSpan {
    let first = today.with_day(1).expect("day 1 exists");
    let start = if delta >= 0 { first + Months::new(delta as u32) } else { first - Months::new(delta.unsigned_abs()) };
    DateSpan { start, end: start + Months::new(1) - Duration::days(1) }
}

fn year_span(today: NaiveDate, delta: i32) -> DateSpan {
    let y = today.year() + delta;
    DateSpan {
        start: NaiveDate::from_ymd_opt(y, 1, 1).expect("valid"),
        end: NaiveDate::from_ymd_opt(y, 12, 31).expect("valid"),
    }
}

/// Fixed phrases, longest first so "day after tomorrow" wins over "tomorrow".
fn fixed(today: NaiveDate) -> Vec<(&'static str, DateSpan)> {
    let d = |n: i64| DateSpan::day(today + Duration::days(n));
    vec![
        ("the day after tomorrow", d(2)),
        ("day after tomorrow", d(2)),
        ("the day before yesterday", d(-2)),
        ("day before yesterday", d(-2)),
        ("tomorrow", d(1)),
        ("yesterday", d(-1)),
        ("today", d(0)),
        ("tonight", d(0)),
        ("last night", d(-1)),
        ("this morning", d(0)),
        ("this afternoon", d(0)),
        ("this evening", d(0)),
        ("last week", week_span(today, Week::Last)),
        ("this week", week_span(today, Week::This)),
        ("next week", week_span(today, Week::Next)),
        ("last month", month_span(today, -1)),
        ("this month", month_span(today, 0)),
        ("next month", month_span(today, 1)),
        ("last year", year_span(today, -1)),
        ("this year", year_span(today, 0)),
        ("next year", year_span(today, 1)),
        ("그저께", d(-2)),
        ("그제", d(-2)),
        ("어젯밤", d(-1)),
        ("어제", d(-1)),
        ("오늘", d(0)),
        ("내일", d(1)),
        ("모레", d(2)),
        ("글피", d(3)),
        ("지난주", week_span(today, Week::Last)),
        ("저번 주", week_span(today, Week::Last)),
        ("저번주", week_span(today, Week::Last)),
        ("지난 주", week_span(today, Week::Last)),
        ("이번 주", week_span(today, Week::This)),
        ("이번주", week_span(today, Week::This)),
        ("다음 주", week_span(today, Week::Next)),
        ("다음주", week_span(today, Week::Next)),
        ("지난달", month_span(today, -1)),
        ("지난 달", month_span(today, -1)),
        ("이번 달", month_span(today, 0)),
        ("이번달", month_span(today, 0)),
        ("다음 달", month_span(today, 1)),
        ("다음달", month_span(today, 1)),
        ("재작년", year_span(today, -2)),
        ("작년", year_span(today, -1)),
        ("올해", year_span(today, 0)),
        ("내년", year_span(today, 1)),
    ]
}

/// Finds every relative date in `text`, earliest first, non-overlapping.
pub fn find(text: &str, today: NaiveDate) -> Vec<Found> {
    let lower = text.to_lowercase();
    // Lowercasing can change byte lengths outside ASCII; only use it when it does not.
    let hay = if lower.len() == text.len() { lower } else { text.to_string() };
    let mut found: Vec<Found> = Vec::new();
    let mut taken = vec![false; hay.len()];
    let mut claim = |start: usize, end: usize, dates: DateSpan, found: &mut Vec<Found>| {
        if taken[start..end].iter().any(|t| *t) || !at_word_boundary(&hay, start, end) {
            return;
        }
        taken[start..end].iter_mut().for_each(|t| *t = true);
        found.push(Found { span: start..end, dates });
    };

    // Weekdays with a week modifier first ("지난주 금요일", "last friday"), then counted days.
    for (pos, len, dates) in weekday_phrases(&hay, today).into_iter().chain(counted(&hay, today)) {
        claim(pos, pos + len, dates, &mut found);
    }
    for (phrase, dates) in fixed(today) {
        for (pos, _) in hay.match_indices(phrase) {
            claim(pos, pos + phrase.len(), dates, &mut found);
        }
    }
    found.sort_by_key(|f| f.span.start);
    found
}

/// Latin phrases must stand as words ("today" not inside "todays"); Korean ones may carry particles.
fn at_word_boundary(hay: &str, start: usize, end: usize) -> bool {
    let before = hay[..start].chars().next_back();
    let after = hay[end..].chars().next();
    let first = hay[start..].chars().next();
    let latin = first.is_some_and(|c| c.is_ascii_alphanumeric());
    !latin || (!before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphabetic()))
}

fn weekday_phrases(hay: &str, today: NaiveDate) -> Vec<(usize, usize, DateSpan)> {
    let mut out = Vec::new();
    for (name, weekday) in WEEKDAYS {
        for (pos, _) in hay.match_indices(name) {
            let before = hay[..pos].trim_end();
            let modifiers: &[(&str, Option<Week>)] = &[
                ("last", Some(Week::Last)),
                ("this", Some(Week::This)),
                ("next", Some(Week::Next)),
                ("지난주", Some(Week::Last)),
                ("지난 주", Some(Week::Last)),
                ("저번 주", Some(Week::Last)),
                ("저번주", Some(Week::Last)),
                ("이번 주", Some(Week::This)),
                ("이번주", Some(Week::This)),
                ("다음 주", Some(Week::Next)),
                ("다음주", Some(Week::Next)),
                ("on", None),
            ];
            let modifier = modifiers.iter().find(|(m, _)| before.ends_with(m));
            let (start, date) = match modifier {
                Some((m, Some(week))) => {
                    let monday = week_span(today, *week).start;
                    let mut date = monday + Duration::days(weekday.num_days_from_monday() as i64);
                    // English "last friday" on a Wednesday means two days ago, not last week's.
                    if matches!(week, Week::Last) && m.is_ascii() {
                        date = previous(today, *weekday);
                    }
                    (before.len() - m.len(), date)
                }
                // A bare weekday ("on Friday", "금요일에") is the next one, today included.
                _ => (pos, upcoming(today, *weekday)),
            };
            out.push((start, pos + name.len() - start, DateSpan::day(date)));
        }
    }
    out
}

fn previous(today: NaiveDate, weekday: Weekday) -> NaiveDate {
    let back = (7 + today.weekday().num_days_from_monday() as i64 - weekday.num_days_from_monday() as i64 - 1) % 7 + 1;
    today - Duration::days(back)
}

fn upcoming(today: NaiveDate, weekday: Weekday) -> NaiveDate {
    let ahead = (7 + weekday.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64) % 7;
    today + Duration::days(ahead)
}

/// "3 days ago", "in 2 weeks", "3일 전", "2주 후", "5일 뒤".
fn counted(hay: &str, today: NaiveDate) -> Vec<(usize, usize, DateSpan)> {
    let mut out = Vec::new();
    let bytes = hay.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let Ok(n) = hay[start..i].parse::<i64>() else { continue };
        if n > 3650 {
            continue;
        }
        let rest = &hay[i..];
        let units: &[(&str, i64)] =
            &[(" days", 1), (" day", 1), (" weeks", 7), (" week", 7), ("일", 1), (" 일", 1), ("주", 7), (" 주", 7)];
        let Some((unit, days)) = units.iter().find(|(u, _)| rest.starts_with(u)) else { continue };
        let after = &rest[unit.len()..];
        let signs: &[(&str, i64)] =
            &[(" ago", -1), (" later", 1), (" 전", -1), ("전", -1), (" 후", 1), ("후", 1), (" 뒤", 1), ("뒤", 1)];
        if let Some((word, sign)) = signs.iter().find(|(w, _)| after.starts_with(w)) {
            let len = i - start + unit.len() + word.len();
            out.push((start, len, DateSpan::day(today + Duration::days(sign * n * days))));
        } else if hay[..start].ends_with("in ") {
            let len = i - start + unit.len() + 3;
            out.push((start - 3, len, DateSpan::day(today + Duration::days(n * days))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// 2026-11-25 is a Wednesday.
    const TODAY: &str = "2026-11-25";

    fn one(text: &str) -> (String, String, String) {
        let found = find(text, date(TODAY));
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        let f = &found[0];
        (text[f.span.clone()].to_string(), f.dates.start.to_string(), f.dates.end.to_string())
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("내일 오전 9시에 엄마한테 전화", "내일", "2026-11-26", "2026-11-26"),
            ("모레 만나자", "모레", "2026-11-27", "2026-11-27"),
            ("어제 부산에 갔어", "어제", "2026-11-24", "2026-11-24"),
            ("그저께 산 책", "그저께", "2026-11-23", "2026-11-23"),
            ("지난주 금요일에 이사했어", "지난주 금요일", "2026-11-20", "2026-11-20"),
            ("다음 주 월요일 회의", "다음 주 월요일", "2026-11-30", "2026-11-30"),
            ("이번 주 일요일", "이번 주 일요일", "2026-11-29", "2026-11-29"),
            ("금요일에 보자", "금요일", "2026-11-27", "2026-11-27"),
            ("지난주에 바빴어", "지난주", "2026-11-16", "2026-11-22"),
            ("지난달 월급", "지난달", "2026-10-01", "2026-10-31"),
            ("작년에 서울로 왔어", "작년", "2025-01-01", "2025-12-31"),
            ("3일 전에 시작했어", "3일 전", "2026-11-22", "2026-11-22"),
            ("2주 후에 봐", "2주 후", "2026-12-09", "2026-12-09"),
            ("I moved to Busan last week", "last week", "2026-11-16", "2026-11-22"),
            ("Call mom tomorrow at 9", "tomorrow", "2026-11-26", "2026-11-26"),
            ("the day after tomorrow works", "the day after tomorrow", "2026-11-27", "2026-11-27"),
            ("Last Friday we met", "Last Friday", "2026-11-20", "2026-11-20"),
            ("last Monday", "last Monday", "2026-11-23", "2026-11-23"),
            ("see you next Tuesday", "next Tuesday", "2026-12-01", "2026-12-01"),
            ("on Wednesday", "Wednesday", "2026-11-25", "2026-11-25"),
            ("It started 10 days ago", "10 days ago", "2026-11-15", "2026-11-15"),
            ("in 2 weeks", "in 2 weeks", "2026-12-09", "2026-12-09"),
            ("next month I travel", "next month", "2026-12-01", "2026-12-31"),
        ];
        for (text, phrase, start, end) in cases {
            assert_eq!(one(text), (phrase.to_string(), start.to_string(), end.to_string()), "{text}");
        }
    }

    #[test]
    fn nothing_inside_other_words_and_several_in_order() {
        assert!(find("todays special, yesterdays news", date(TODAY)).is_empty());
        let f = find("어제 만났고 내일 또 만나", date(TODAY));
        assert_eq!(f.iter().map(|f| f.dates.start.to_string()).collect::<Vec<_>>(), ["2026-11-24", "2026-11-26"]);
    }

    #[test]
    fn month_and_year_edges() {
        let f = find("지난달", date("2026-01-31"));
        assert_eq!((f[0].dates.start, f[0].dates.end), (date("2025-12-01"), date("2025-12-31")));
        let f = find("next month", date("2026-01-31"));
        assert_eq!((f[0].dates.start, f[0].dates.end), (date("2026-02-01"), date("2026-02-28")));
    }
}
