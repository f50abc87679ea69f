//! Relative times in memories ("tomorrow", "지난주 금요일") become dates,
//! resolved from the moment the user wrote the message, in the user's zone:
//! "내일" written at 23:30 in Seoul is the next Seoul day, whatever UTC says.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use pai_core::relative_dates::{self, DateSpan};
use pai_core::{Error, Result};

/// The user's zone; a stored zone pai cannot read is an error, never a silent UTC.
pub fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        Error::invalid_field("timezone", format!("unknown time zone {name:?}; use an IANA name like Asia/Seoul"))
    })
}

/// The user's calendar day at `at`.
pub fn local_day(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// Midnight starting `day` in the user's zone, as UTC.
pub fn start_of(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // A zone may skip midnight (DST): take the earliest valid instant.
    tz.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight).with_timezone(&tz))
        .with_timezone(&Utc)
}

/// A day as a date, a whole month or year by its name, other runs as a range.
fn format(span: DateSpan, latin: bool) -> String {
    use chrono::Datelike;
    let (a, b) = (span.start.format("%Y-%m-%d"), span.end.format("%Y-%m-%d"));
    let whole_month = span.start.day() == 1
        && span.start.year() == span.end.year()
        && span.start.month() == span.end.month()
        && (span.end + chrono::Duration::days(1)).day() == 1;
    let whole_year = span.start.ordinal() == 1 && span.end.month() == 12 && span.end.day() == 31;
    match (span.start == span.end, whole_year, whole_month, latin) {
        (true, ..) => a.to_string(),
        (_, true, _, true) => format!("in {}", span.start.year()),
        (_, true, _, false) => format!("{}년", span.start.year()),
        (_, _, true, true) => format!("in {}", span.start.format("%B %Y")),
        (_, _, true, false) => format!("{}년 {}월", span.start.year(), span.start.month()),
        (.., true) => format!("between {a} and {b}"),
        (.., false) => format!("{a}~{b}"),
    }
}

/// `text` with each relative date replaced by the dates it means, and the
/// first date found (for `valid_from` of events).
pub fn resolve(text: &str, today: NaiveDate) -> (String, Option<DateSpan>) {
    let found = relative_dates::find(text, today);
    let first = found.first().map(|f| f.dates);
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for f in &found {
        out.push_str(&text[last..f.span.start]);
        let before = out.trim_end().to_lowercase();
        let has_preposition = ["on", "in", "at", "since", "until", "from", "by", "before", "after", "during"]
            .iter()
            .any(|p| before.ends_with(&format!(" {p}")) || before == *p);
        let latin = text[f.span.clone()].is_ascii();
        if latin && !has_preposition && f.dates.start == f.dates.end && !out.trim_end().is_empty() {
            out.push_str("on ");
        }
        out.push_str(&format(f.dates, latin));
        last = f.span.end;
    }
    out.push_str(&text[last..]);
    (out, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn relative_dates_become_dates() {
        let today = day("2026-11-25"); // a Wednesday
        let cases = [
            ("Has a dentist appointment tomorrow", "Has a dentist appointment on 2026-11-26"),
            ("Went hiking last Friday", "Went hiking on 2026-11-20"),
            ("Started a new job last week", "Started a new job between 2026-11-16 and 2026-11-22"),
            ("내일 치과 예약", "2026-11-26 치과 예약"),
            ("지난주 금요일에 제주도에 갔다", "2026-11-20에 제주도에 갔다"),
            ("Likes tea", "Likes tea"),
            ("Started at Naver last month", "Started at Naver in October 2026"),
            ("Moved to Busan last year", "Moved to Busan in 2025"),
            ("올해 일곱 살", "2026년 일곱 살"),
            ("지난달에 입사", "2026년 10월에 입사"),
        ];
        for (text, want) in cases {
            assert_eq!(resolve(text, today).0, want, "{text}");
        }
        assert_eq!(resolve("Went hiking last Friday", today).1.unwrap().start, day("2026-11-20"));
    }

    #[test]
    fn the_users_zone_decides_which_day_it_is() {
        // 15:30 UTC on the 25th is already 00:30 on the 26th in Seoul.
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 15, 30, 0).unwrap();
        assert_eq!(local_day(at, zone("Asia/Seoul").unwrap()), day("2026-11-26"));
        assert_eq!(local_day(at, zone("America/New_York").unwrap()), day("2026-11-25"));
        assert_eq!(
            start_of(day("2026-11-26"), zone("Asia/Seoul").unwrap()),
            Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()
        );
        assert!(zone("Mars/Olympus").is_err());
    }
}
