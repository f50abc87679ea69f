//! When a reminder fires: Korean and English time expressions ("내일 오전 9시",
//! "Dec 3 3pm", "30분 뒤", "every weekday at 7", "매달 1일", RFC 3339) read
//! deterministically into one instant or a recurrence (an RRULE over the
//! user's wall clock). Never guessed: a phrase that could mean two things
//! ("3시": 3 am or 3 pm?) or none comes back as a question to ask the user.
//!
//! Conventions, so that the same words always mean the same time:
//! - a bare hour 7–11 is morning, 12–23 is read on the 24-hour clock, 1–6 is
//!   asked back (오전/오후); 오후/저녁/밤/pm/evening make it afternoon;
//! - a day without a time of day means 09:00 on that day;
//! - a time without a day means its next occurrence (today, else tomorrow);
//! - a month and day without a year means the next such date;
//! - "금요일"/"friday" is the next Friday (today if the time is still ahead),
//!   "이번 주"/"this" the Friday of this week (Monday first), "다음 주"/"next"
//!   the Friday of next week;
//! - a wall time that does not exist (the hour skipped when clocks go
//!   forward) is asked back for a one-off and moved past the gap for a
//!   recurrence; a wall time that happens twice is the first of the two.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use regex::Regex;
use std::sync::LazyLock;

/// What a phrase was read as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Once, at this instant.
    Once { at: DateTime<Utc> },
    /// Repeating on the user's wall clock: `rule` is an RRULE (RFC 5545)
    /// without DTSTART; `start` is the first occurrence as wall time.
    Recurring { rule: String, start: NaiveDateTime, first: DateTime<Utc> },
}

impl Schedule {
    /// The first time it fires.
    pub fn first(&self) -> DateTime<Utc> {
        match self {
            Schedule::Once { at } => *at,
            Schedule::Recurring { first, .. } => *first,
        }
    }
}

/// Why a phrase gave no schedule; both carry a sentence for the user, in the
/// phrase's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhenError {
    /// Ambiguous or unreadable: ask the user this, schedule nothing.
    Unclear(String),
    /// Understood, but cannot be scheduled (in the past, no such date).
    Invalid(String),
}

impl std::fmt::Display for WhenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WhenError::Unclear(s) | WhenError::Invalid(s) => f.write_str(s),
        }
    }
}

/// A message in the phrase's language.
struct Say {
    korean: bool,
}

impl Say {
    fn pick(&self, ko: &str, en: &str) -> String {
        if self.korean { ko.to_string() } else { en.to_string() }
    }
    fn unclear(&self, ko: &str, en: &str) -> WhenError {
        WhenError::Unclear(self.pick(ko, en))
    }
    fn invalid(&self, ko: &str, en: &str) -> WhenError {
        WhenError::Invalid(self.pick(ko, en))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// Morning or afternoon, when the phrase says which.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Half {
    Am,
    Pm,
    /// 낮: noon-ish; 1–6 are afternoon, 7–11 morning.
    Day,
    /// 밤: evening, but 1–5 are small hours.
    Night,
}

#[derive(Debug, Default)]
struct Parts {
    freq: Option<Freq>,
    interval: u32,
    weekdays: Vec<Weekday>,
    /// Day of month; -1 is the last day.
    month_day: Option<i32>,
    month: Option<u32>,
    year: Option<i32>,
    /// An explicit calendar date.
    date: Option<NaiveDate>,
    /// Days from today (오늘 0, 내일 1, 모레 2…).
    day_offset: Option<i64>,
    /// this / next week for a weekday.
    week: Option<i64>,
    hour: Option<u32>,
    minute: u32,
    /// Written on the 24-hour clock ("03:00", ISO): never am/pm-ambiguous.
    clock24: bool,
    half: Option<Half>,
    /// A time of day named without a number ("내일 아침").
    vague_period: bool,
    offset: Option<Duration>,
}

fn re(s: &str) -> Regex {
    Regex::new(s).unwrap()
}

static RFC3339_LIKE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})$"));
static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|\s)(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[t ](\d{1,2}):(\d{2})(?::\d{2})?)?(?:\s|$)"));
static KO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:(\d{4})\s*년\s*)?(\d{1,2})\s*월\s*(\d{1,2}|말)\s*일?"));
static KO_MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{1,2})\s*일(?:\s*(?:에|마다))?(?:\s|$)|말일"));
static EN_MONTH: &str = "(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?";
static EN_DATE_MD: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"\b{EN_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b")));
static EN_DATE_DM: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(r"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{EN_MONTH}(?:,?\s+(\d{{4}}))?\b"))
});
static EN_ORDINAL_DAY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:on\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b(?:\s+of\s+(?:every|each|the)\s+month)?"));
static EN_LAST_DAY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:on\s+)?(?:the\s+)?last\s+day(?:\s+of\s+(?:every|each|the)\s+month)?\b"));
static KO_OFFSET: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:(\d+)\s*일\s*)?(?:(\d+|한|두|세)\s*시간\s*(반)?\s*)?(?:(\d+)\s*분\s*)?(?:(\d+)\s*주\s*)?(?:뒤|후|있다가|지나서)",
    )
});
static EN_OFFSET: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:in\s+)?(\d+|an?|one|two|three|half\s+an)\s+(minutes?|mins?|hours?|hrs?|days?|weeks?)(?:\s+and\s+(?:(\d+)\s+minutes?|a\s+half))?(?:\s+from\s+now|\s+later)?\b",
    )
});
static KO_TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(오전|오후|아침|저녁|밤|새벽|낮)?\s*(\d{1,2}|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열한|열두|열)\s*시(?:\s*(\d{1,2})\s*분|\s*(반))?",
    )
});
static EN_TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?|o'?clock)|\b(?:at\s+)?(\d{1,2}):(\d{2})\b|\bat\s+(\d{1,2})\b",
    )
});
static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"오전|오후|아침|저녁|새벽|낮|밤|\bin\s+the\s+(?:morning|afternoon|evening)\b|\b(?:morning|afternoon|evening|tonight|night)\b",
    )
});
static FILLER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^(?:at|on|the|of|every|each|and|,|에|에는|마다|쯤|경|부터|에서|정각|o'clock|starting|from|now)$")
});

const KO_WEEKDAYS: &[(&str, Weekday)] = &[
    ("월", Weekday::Mon),
    ("화", Weekday::Tue),
    ("수", Weekday::Wed),
    ("목", Weekday::Thu),
    ("금", Weekday::Fri),
    ("토", Weekday::Sat),
    ("일", Weekday::Sun),
];
const EN_WEEKDAYS: &[(&str, Weekday)] = &[
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];
static KO_WEEKDAY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(다다음\s*주|다음\s*주|이번\s*주|담주)?\s*([월화수목금토일])요일(마다)?"));
static EN_WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(next|this|coming)?\s*(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday|rsday)?(s)?\b")
});

fn number(word: &str) -> Option<u32> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        // Too large for a u32 is still a number: the largest, which every
        // caller then refuses as out of range (it used to be read as 1).
        return Some(word.parse().unwrap_or(u32::MAX));
    }
    let n = match word {
        "한" | "a" | "an" | "one" => 1,
        "두" | "two" => 2,
        "세" | "three" => 3,
        "네" => 4,
        "다섯" => 5,
        "여섯" => 6,
        "일곱" => 7,
        "여덟" => 8,
        "아홉" => 9,
        "열" => 10,
        "열한" => 11,
        "열두" => 12,
        _ => return None,
    };
    Some(n)
}

fn month_number(abbr: &str) -> u32 {
    const M: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    M.iter().position(|m| abbr.starts_with(m)).map_or(0, |i| i as u32 + 1)
}

/// Blanks out what `re` matched (so leftovers can be checked), calling `f`
/// with each match; `f` returns false to leave a match in place.
fn take(
    text: &mut String,
    re: &Regex,
    mut f: impl FnMut(&regex::Captures) -> Result<bool, WhenError>,
) -> Result<(), WhenError> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let m = caps.get(0).unwrap();
        if m.as_str().trim().is_empty() || !f(&caps)? {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        out.push(' ');
        last = m.end();
    }
    out.push_str(&text[last..]);
    *text = out;
    Ok(())
}

/// Whether `text` has Hangul in it: answers and questions follow its language.
pub fn written_in_korean(text: &str) -> bool {
    text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
}

/// The question for a phrase with no time in it at all.
const WHEN_KO: &str = "언제 알려 드릴까요?";
const WHEN_EN: &str = "When should it be?";

/// A time expression found inside a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundTime {
    /// Byte range of the expression in the sentence.
    pub span: std::ops::Range<usize>,
    pub phrase: String,
    /// What it was read as, or why it cannot be scheduled.
    pub schedule: Result<Schedule, WhenError>,
}

/// The longest run of words in `sentence` that reads as a time ("내일 오전
/// 9시에 엄마한테 전화하라고 알려줘" → "내일 오전 9시에"). A run that reads but
/// is ambiguous or impossible is returned too (with its question or reason)
/// when no longer one reads cleanly.
pub fn find_in(sentence: &str, now: DateTime<Utc>, tz: Tz) -> Option<FoundTime> {
    let words: Vec<(usize, usize)> = sentence
        .split_whitespace()
        .map(|w| {
            let start = w.as_ptr() as usize - sentence.as_ptr() as usize;
            (start, start + w.len())
        })
        .collect();
    let mut best: Option<(usize, FoundTime)> = None;
    for i in 0..words.len() {
        for j in (i + 1..=words.len().min(i + 10)).rev() {
            let span = words[i].0..words[j - 1].1;
            // Sentence punctuation is not part of the time.
            let phrase = sentence[span.clone()].trim_end_matches(['.', ',', '!', '?', '~']);
            let schedule = parse(phrase, now, tz);
            if matches!(&schedule, Err(WhenError::Unclear(q)) if q == WHEN_KO || q == WHEN_EN || q.contains('"')) {
                continue; // nothing in it reads as a time
            }
            let len = j - i;
            let span = span.start..span.start + phrase.len();
            let better = match &best {
                None => true,
                // A time inside an impossible or past one is part of it: the
                // 9am of "March 3, 2020 at 9am" is not a 9am to schedule.
                Some((_, f)) if matches!(f.schedule, Err(WhenError::Invalid(_))) && within(&span, &f.span) => false,
                Some((l, f)) => {
                    (f.schedule.is_err() && schedule.is_ok()) || (len > *l && (schedule.is_ok() || f.schedule.is_err()))
                }
            };
            if better {
                best = Some((len, FoundTime { span, phrase: phrase.to_string(), schedule }));
            }
            break; // shorter runs from the same start are worse
        }
    }
    best.map(|(_, f)| f)
}

fn within(inner: &std::ops::Range<usize>, outer: &std::ops::Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Reads `phrase` against `now` in the user's zone `tz`.
pub fn parse(phrase: &str, now: DateTime<Utc>, tz: Tz) -> Result<Schedule, WhenError> {
    let say = Say { korean: written_in_korean(phrase) };
    let mut text = phrase.trim().to_lowercase().replace(['\u{3000}', '\t', '\n'], " ");
    if text.is_empty() {
        return Err(say.unclear(WHEN_KO, WHEN_EN));
    }
    if RFC3339_LIKE.is_match(&text) {
        let at = DateTime::parse_from_rfc3339(&text.replace(' ', "t").to_uppercase())
            .map_err(|_| say.invalid("그런 날짜나 시각은 없습니다.", "That date or time does not exist."))?;
        return once(at.with_timezone(&Utc), now, &say);
    }
    let mut p = Parts { interval: 1, ..Default::default() };
    read_recurrence(&mut text, &mut p);
    read_offset(&mut text, &mut p)?;
    read_dates(&mut text, &mut p, &say)?;
    read_weekdays(&mut text, &mut p);
    read_times(&mut text, &mut p)?;
    let leftover: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?'))
        .filter(|w| !w.is_empty() && !FILLER.is_match(w))
        .collect();
    if !leftover.is_empty() {
        let words = leftover.join(" ");
        return Err(WhenError::Unclear(say.pick(
            &format!("\"{words}\"을(를) 시간으로 이해하지 못했어요. 예: \"내일 오전 9시\", \"30분 뒤\", \"매주 월요일 오전 8시\"."),
            &format!("I could not read \"{words}\" as a time. Try \"tomorrow 9am\", \"in 30 minutes\" or \"every Monday at 8am\"."),
        )));
    }
    build(p, now, tz, &say)
}

/// Words that make a schedule repeat, compiled once (a sentence is read many
/// times over by `find_in`).
static RECURRENCES: LazyLock<Vec<(Regex, Freq, &'static [Weekday], u32)>> = LazyLock::new(|| {
    let rules: &[(&str, Freq, &'static [Weekday], u32)] = &[
        (r"격주|every\s+other\s+week|every\s+two\s+weeks|biweekly", Freq::Weekly, &[], 2),
        (r"매주\s*평일|평일\s*마다|평일|every\s+weekday|weekdays|on\s+weekdays", Freq::Weekly, &WORKDAYS, 1),
        (
            r"매주\s*주말|주말\s*마다|every\s+weekend|weekends|on\s+weekends",
            Freq::Weekly,
            &[Weekday::Sat, Weekday::Sun],
            1,
        ),
        (r"매일|날마다|every\s*day|daily|each\s+day", Freq::Daily, &[], 1),
        (r"매주|every\s+week|weekly|each\s+week", Freq::Weekly, &[], 1),
        (r"매달|매월|every\s+month|monthly|of\s+(?:every|each)\s+month|each\s+month", Freq::Monthly, &[], 1),
        (r"매년|매해|every\s+year|yearly|annually|each\s+year", Freq::Yearly, &[], 1),
    ];
    rules.iter().map(|(pattern, freq, days, interval)| (re(pattern), *freq, *days, *interval)).collect()
});
static EVERY_WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bevery\s+((?:mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:\s*(?:,|and)\s*(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*)*)")
});
static EVERY_OTHER: LazyLock<Regex> = LazyLock::new(|| re(r"every\s+other"));
static RELATIVE_DAYS: LazyLock<Vec<(Regex, i64)>> = LazyLock::new(|| {
    [
        (r"글피", 3),
        (r"모레|내일\s*모레|the\s+day\s+after\s+tomorrow", 2),
        (r"내일|tomorrow|tmrw", 1),
        (r"오늘|today|tonight", 0),
    ]
    .iter()
    .map(|(pattern, days)| (re(pattern), *days))
    .collect()
});

fn read_recurrence(text: &mut String, p: &mut Parts) {
    for (r, freq, days, interval) in RECURRENCES.iter() {
        if r.is_match(text) {
            *text = r.replace_all(text, " ").into_owned();
            if p.freq.is_none() || *interval > 1 {
                p.freq = Some(*freq);
            }
            p.interval = p.interval.max(*interval);
            p.weekdays.extend_from_slice(days);
        }
    }
    // "every Monday (and Wednesday)": the days themselves are read later.
    if EVERY_WEEKDAY.is_match(text) {
        *text = EVERY_WEEKDAY.replace_all(text, " $1").into_owned();
        p.freq.get_or_insert(Freq::Weekly);
    }
    // "every other Monday" leaves "every other" before a weekday.
    if EVERY_OTHER.is_match(text) {
        *text = EVERY_OTHER.replace_all(text, " ").into_owned();
        p.freq = Some(Freq::Weekly);
        p.interval = 2;
    }
}

const WORKDAYS: [Weekday; 5] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];

fn read_offset(text: &mut String, p: &mut Parts) -> Result<(), WhenError> {
    take(text, &KO_OFFSET, |c| {
        let days = c.get(1).and_then(|m| number(m.as_str())).unwrap_or(0) as i64;
        let hours = c.get(2).and_then(|m| number(m.as_str())).unwrap_or(0) as i64;
        let half = if c.get(3).is_some() { 30 } else { 0 };
        let minutes = c.get(4).and_then(|m| number(m.as_str())).unwrap_or(0) as i64;
        let weeks = c.get(5).and_then(|m| number(m.as_str())).unwrap_or(0) as i64;
        if days + hours + minutes + weeks == 0 && half == 0 {
            return Ok(false);
        }
        p.offset = Some(
            Duration::days(days) + Duration::hours(hours) + Duration::minutes(minutes + half) + Duration::weeks(weeks),
        );
        Ok(true)
    })?;
    take(text, &EN_OFFSET, |c| {
        let whole = c.get(0).unwrap().as_str();
        // "3 days" alone is not an offset; "in 3 days", "3 days from now" are.
        if !(whole.starts_with("in ") || whole.ends_with("from now") || whole.ends_with("later")) {
            return Ok(false);
        }
        let n = c.get(1).map(|m| m.as_str()).unwrap_or("1");
        let unit = c.get(2).unwrap().as_str();
        let (n, half) = if n.starts_with("half") { (0, 30) } else { (number(n).unwrap_or(1) as i64, 0) };
        let extra = c.get(3).and_then(|m| m.as_str().parse::<i64>().ok()).unwrap_or(0)
            + if whole.contains("a half") { if unit.starts_with('h') { 30 } else { 0 } } else { 0 };
        let base = match unit.chars().next() {
            Some('m') => Duration::minutes(n),
            Some('h') => Duration::hours(n),
            Some('d') => Duration::days(n),
            _ => Duration::weeks(n),
        };
        p.offset = Some(base + Duration::minutes(half + extra));
        Ok(true)
    })
}

fn read_dates(text: &mut String, p: &mut Parts, say: &Say) -> Result<(), WhenError> {
    let no_such = || say.invalid("그런 날짜는 없습니다.", "There is no such date.");
    take(text, &ISO_DATE, |c| {
        let y: i32 = c[1].parse().unwrap_or(0);
        let (m, d): (u32, u32) = (c[2].parse().unwrap_or(0), c[3].parse().unwrap_or(0));
        p.date = Some(NaiveDate::from_ymd_opt(y, m, d).ok_or_else(no_such)?);
        if let (Some(h), Some(min)) = (c.get(4), c.get(5)) {
            p.hour = Some(h.as_str().parse().unwrap_or(99));
            p.minute = min.as_str().parse().unwrap_or(99);
            p.clock24 = true;
        }
        Ok(true)
    })?;
    take(text, &KO_DATE, |c| {
        p.year = c.get(1).and_then(|m| m.as_str().parse().ok());
        p.month = c[2].parse().ok();
        p.month_day = Some(if &c[3] == "말" { -1 } else { c[3].parse().unwrap_or(0) });
        Ok(true)
    })?;
    for r in [&*EN_DATE_MD, &*EN_DATE_DM] {
        take(text, r, |c| {
            let (month, day) = if r.as_str() == EN_DATE_MD.as_str() { (&c[1], &c[2]) } else { (&c[2], &c[1]) };
            p.month = Some(month_number(month));
            p.month_day = day.parse().ok();
            p.year = c.get(3).and_then(|m| m.as_str().parse().ok());
            Ok(true)
        })?;
    }
    take(text, &EN_LAST_DAY, |_| {
        p.month_day = Some(-1);
        Ok(true)
    })?;
    take(text, &EN_ORDINAL_DAY, |c| {
        p.month_day = c[1].parse().ok();
        if c.get(0).unwrap().as_str().contains("month") {
            p.freq.get_or_insert(Freq::Monthly);
        }
        Ok(true)
    })?;
    for (r, days) in RELATIVE_DAYS.iter() {
        if r.is_match(text) {
            if text.contains("tonight") {
                p.half.get_or_insert(Half::Pm);
                p.vague_period = true;
            }
            *text = r.replace_all(text, " ").into_owned();
            p.day_offset.get_or_insert(*days);
        }
    }
    // A day of the month alone ("15일", "매달 1일", "말일") after the dates above.
    take(text, &KO_MONTH_DAY, |c| {
        if c.get(0).unwrap().as_str().starts_with("말일") {
            p.month_day = Some(-1);
            return Ok(true);
        }
        // "3일 뒤" was taken as an offset already; what is left is a day of the month.
        p.month_day = c[1].parse().ok();
        Ok(true)
    })
}

fn read_weekdays(text: &mut String, p: &mut Parts) {
    let _ = take(text, &KO_WEEKDAY, |c| {
        let day = KO_WEEKDAYS.iter().find(|(k, _)| *k == &c[2]).map(|(_, d)| *d).unwrap();
        p.weekdays.push(day);
        match c.get(1).map(|m| m.as_str().replace(' ', "")) {
            Some(w) if w == "다다음주" => p.week = Some(2),
            Some(w) if w == "다음주" || w == "담주" => p.week = Some(1),
            Some(_) => p.week = Some(0),
            None => {}
        }
        if c.get(3).is_some() {
            p.freq.get_or_insert(Freq::Weekly);
        }
        Ok(true)
    });
    // "월, 수, 금요일" / "월수금": day letters before a weekday that was read.
    let _ = take(text, &EN_WEEKDAY, |c| {
        let day = EN_WEEKDAYS.iter().find(|(k, _)| c[2].starts_with(k)).map(|(_, d)| *d).unwrap();
        p.weekdays.push(day);
        match c.get(1).map(|m| m.as_str()) {
            Some("next") => p.week = Some(1),
            Some("this") => p.week = Some(0),
            _ => {}
        }
        if c.get(3).is_some() {
            p.freq.get_or_insert(Freq::Weekly);
        }
        Ok(true)
    });
    p.weekdays.sort_by_key(|d| d.num_days_from_monday());
    p.weekdays.dedup();
}

fn read_times(text: &mut String, p: &mut Parts) -> Result<(), WhenError> {
    for (word, hour) in [("정오", 12), ("noon", 12), ("자정", 0), ("midnight", 0)] {
        if text.contains(word) {
            *text = text.replace(word, " ");
            p.hour = Some(hour);
            p.half = None;
            if hour == 0 && p.day_offset.is_some() {
                // Midnight ends the day named: "내일 자정" is the night after tomorrow.
                p.day_offset = p.day_offset.map(|d| d + 1);
            }
        }
    }
    take(text, &KO_TIME, |c| {
        p.hour = number(&c[2]);
        p.minute = if c.get(4).is_some() { 30 } else { c.get(3).and_then(|m| m.as_str().parse().ok()).unwrap_or(0) };
        if let Some(period) = c.get(1) {
            p.half = Some(match period.as_str() {
                "오전" | "아침" | "새벽" => Half::Am,
                "낮" => Half::Day,
                "밤" => Half::Night,
                _ => Half::Pm,
            });
        }
        Ok(true)
    })?;
    take(text, &EN_TIME, |c| {
        if let Some(h) = c.get(1) {
            p.hour = h.as_str().parse().ok();
            p.minute = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
            let marker = &c[3];
            if marker.starts_with('a') {
                p.half = Some(Half::Am);
            } else if marker.starts_with('p') {
                p.half = Some(Half::Pm);
            }
        } else if let Some(h) = c.get(4) {
            p.hour = h.as_str().parse().ok();
            p.clock24 = h.as_str().starts_with('0');
            p.minute = c[5].parse().unwrap_or(99);
        } else {
            p.hour = c[6].parse().ok();
            p.minute = 0;
        }
        Ok(true)
    })?;
    take(text, &PERIOD, |c| {
        let w = c.get(0).unwrap().as_str();
        let half = match w {
            "오전" | "아침" | "새벽" => Half::Am,
            "낮" => Half::Day,
            "밤" => Half::Night,
            _ if w.contains("morning") => Half::Am,
            _ => Half::Pm,
        };
        p.half = Some(half);
        p.vague_period = true;
        Ok(true)
    })
}

/// The time of a day named without one.
const DEFAULT_TIME: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).unwrap();

/// The hour on the 24-hour clock, or the question to ask.
fn hour24(hour: u32, half: Option<Half>, say: &Say) -> Result<u32, WhenError> {
    if hour > 24 {
        return Err(say.invalid("그런 시각은 없습니다.", "There is no such time."));
    }
    Ok(match (half, hour) {
        (_, 24) => 0,
        (_, 13..=23) | (_, 0) => hour,
        (Some(Half::Am), 12) => 0,
        (Some(Half::Am), h) => h,
        (Some(Half::Pm), 12) => 12,
        (Some(Half::Pm), h) => h + 12,
        (Some(Half::Day), h) if h <= 6 => h + 12,
        (Some(Half::Day), h) => h,
        (Some(Half::Night), h) if h <= 4 || h == 12 => h % 12,
        (Some(Half::Night), h) => h + 12,
        (None, 12) => 12,
        (None, h @ 7..=11) => h,
        (None, h) => {
            return Err(WhenError::Unclear(say.pick(
                &format!("오전 {h}시인가요, 오후 {h}시인가요?"),
                &format!("{h} in the morning or {h} in the afternoon ({h} am or {h} pm)?"),
            )));
        }
    })
}

fn build(p: Parts, now: DateTime<Utc>, tz: Tz, say: &Say) -> Result<Schedule, WhenError> {
    let local_now = now.with_timezone(&tz).naive_local();
    let today = local_now.date();
    let has_day = p.date.is_some() || p.day_offset.is_some() || p.month_day.is_some() || !p.weekdays.is_empty();
    if let Some(offset) = p.offset {
        if p.freq.is_some() || has_day || p.hour.is_some() {
            return Err(say.unclear(
                "\"30분 뒤\" 같은 상대 시간과 날짜·시각을 함께 쓸 수 없어요. 하나만 말씀해 주세요.",
                "Give either a delay (\"in 30 minutes\") or a date and time, not both.",
            ));
        }
        if offset <= Duration::zero() || offset > Duration::days(3660) {
            return Err(say.invalid("그 시간으로는 알림을 맞출 수 없어요.", "That delay cannot be scheduled."));
        }
        return Ok(Schedule::Once { at: now + offset });
    }
    let time = match p.hour {
        Some(h) => {
            let h = if p.clock24 { h } else { hour24(h, p.half, say)? };
            NaiveTime::from_hms_opt(h, p.minute, 0)
                .ok_or_else(|| say.invalid("그런 시각은 없습니다.", "There is no such time."))?
        }
        None if p.vague_period => {
            return Err(say.unclear("몇 시에 알려 드릴까요?", "At what time?"));
        }
        None if has_day || p.freq.is_some() => DEFAULT_TIME,
        None => return Err(say.unclear(WHEN_KO, WHEN_EN)),
    };
    if let Some(freq) = p.freq {
        return recurring(freq, &p, time, local_now, tz, say);
    }
    let date = if let Some(d) = p.date {
        d
    } else if let Some(month) = p.month {
        let day = p.month_day.unwrap_or(1);
        let year = p.year.unwrap_or(today.year());
        let make = |y: i32| -> Option<NaiveDate> {
            if day == -1 { last_day(y, month) } else { NaiveDate::from_ymd_opt(y, month, day as u32) }
        };
        if p.year.is_some() {
            make(year).ok_or_else(|| say.invalid("그런 날짜는 없습니다.", "There is no such date."))?
        } else {
            // The next such date: this year's if still ahead; 2월 29일 waits for a leap year.
            (year..year + 9)
                .filter_map(make)
                .find(|d| d.and_time(time) > local_now)
                .ok_or_else(|| say.invalid("그런 날짜는 없습니다.", "There is no such date."))?
        }
    } else if let Some(day) = p.month_day {
        // This month's day if still ahead, else next month's.
        let this = if day == -1 {
            last_day(today.year(), today.month())
        } else {
            NaiveDate::from_ymd_opt(today.year(), today.month(), day as u32)
        };
        match this {
            Some(d) if d.and_time(time) > local_now => d,
            _ => {
                let next = today.checked_add_months(chrono::Months::new(1)).unwrap();
                let d = if day == -1 {
                    last_day(next.year(), next.month())
                } else {
                    NaiveDate::from_ymd_opt(next.year(), next.month(), day as u32)
                };
                d.ok_or_else(|| say.invalid("그런 날짜는 없습니다.", "There is no such date."))?
            }
        }
    } else if let Some(&weekday) = p.weekdays.first() {
        if p.weekdays.len() > 1 {
            return Err(say.unclear(
                "한 번만 알려 드릴 요일을 하나만 말씀해 주세요. 반복이라면 \"매주\"를 붙여 주세요.",
                "Name one day, or say \"every\" for a repeating reminder.",
            ));
        }
        let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
        match p.week {
            Some(w) => monday + Duration::days(7 * w + weekday.num_days_from_monday() as i64),
            None => {
                let ahead = (weekday.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64)
                    .rem_euclid(7);
                let d = today + Duration::days(ahead);
                if d.and_time(time) > local_now { d } else { d + Duration::days(7) }
            }
        }
    } else if let Some(days) = p.day_offset {
        today + Duration::days(days)
    } else if today.and_time(time) > local_now {
        today
    } else {
        today + Duration::days(1)
    };
    if p.hour.is_none() && date == today && date.and_time(time) <= local_now {
        // "오늘" after nine: the day is fine, the time is missing.
        return Err(say.unclear("몇 시에 알려 드릴까요?", "At what time?"));
    }
    let at = resolve(tz, date.and_time(time)).ok_or_else(|| {
        say.unclear(
            "그 시각은 서머타임으로 시계를 앞당기는 날이라 존재하지 않아요. 한 시간 뒤로 할까요?",
            "That time does not exist that day (clocks move forward). Should it be an hour later?",
        )
    })?;
    once(at, now, say)
}

fn once(at: DateTime<Utc>, now: DateTime<Utc>, say: &Say) -> Result<Schedule, WhenError> {
    if at <= now {
        return Err(say.invalid("이미 지난 시각이에요.", "That time has already passed."));
    }
    Ok(Schedule::Once { at })
}

fn last_day(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)?.checked_add_months(chrono::Months::new(1))?.pred_opt()
}

/// The instant of a wall time: the first of two when clocks go back, none
/// when it is skipped.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// Like `resolve`, but a skipped wall time moves forward by the gap (02:30 on
/// the spring-forward night becomes 03:30): a recurrence still fires that day.
pub fn resolve_forward(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    use chrono::Offset;
    if let Some(t) = resolve(tz, local) {
        return t;
    }
    // Read with the offset in force before the gap: 02:30 EST is 03:30 EDT.
    let before = tz.offset_from_utc_datetime(&(local - Duration::hours(12))).fix();
    Utc.from_utc_datetime(&(local - Duration::seconds(before.local_minus_utc() as i64)))
}

fn recurring(
    freq: Freq,
    p: &Parts,
    time: NaiveTime,
    local_now: NaiveDateTime,
    tz: Tz,
    say: &Say,
) -> Result<Schedule, WhenError> {
    let mut rule = match freq {
        Freq::Daily => "FREQ=DAILY".to_string(),
        Freq::Weekly => {
            if p.weekdays.is_empty() {
                return Err(say.unclear("매주 무슨 요일에 알려 드릴까요?", "Which day of the week?"));
            }
            let days: Vec<&str> =
                p.weekdays.iter().map(|d| &ICAL_DAYS[d.num_days_from_monday() as usize]).copied().collect();
            format!("FREQ=WEEKLY;BYDAY={}", days.join(","))
        }
        Freq::Monthly => {
            let Some(day) = p.month_day else {
                return Err(say.unclear("매달 며칠에 알려 드릴까요?", "Which day of the month?"));
            };
            if day == 0 || day > 31 {
                return Err(say.invalid("그런 날짜는 없습니다.", "There is no such date."));
            }
            format!("FREQ=MONTHLY;BYMONTHDAY={day}")
        }
        Freq::Yearly => {
            let (Some(month), Some(day)) = (p.month, p.month_day) else {
                return Err(say.unclear("매년 몇 월 며칠에 알려 드릴까요?", "Which date each year?"));
            };
            if day != -1 && NaiveDate::from_ymd_opt(2024, month, day as u32).is_none() {
                return Err(say.invalid("그런 날짜는 없습니다.", "There is no such date."));
            }
            format!("FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day}")
        }
    };
    // The first occurrence after now, found without the interval (an interval
    // counts from the series' start, which is this occurrence).
    let anchor = local_now.date().and_time(time);
    let start = next_wall_time(&rule, anchor, local_now)
        .ok_or_else(|| say.invalid("이 반복은 일어나지 않아요.", "That repetition never happens."))?;
    if p.interval > 1 {
        rule.push_str(&format!(";INTERVAL={}", p.interval));
    }
    let first = resolve_forward(tz, start);
    Ok(Schedule::Recurring { rule, start, first })
}

const ICAL_DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// The first wall time of the series (`rule` from `dtstart`) after `after`.
/// Wall times are expanded as a floating
/// calendar (RFC 5545 local time), then placed in a zone by the caller.
pub fn next_wall_time(rule: &str, dtstart: NaiveDateTime, after: NaiveDateTime) -> Option<NaiveDateTime> {
    let floating = rrule::Tz::UTC;
    let parsed: rrule::RRule<rrule::Unvalidated> = rule.parse().ok()?;
    let start = floating.from_utc_datetime(&dtstart);
    let set = parsed.build(start).ok()?;
    // rrule's `after` includes its bound; ours does not.
    let after = floating.from_utc_datetime(&(after + Duration::seconds(1)));
    let result = set.after(after).all(1);
    result.dates.first().map(|d| d.naive_utc())
}

/// The next time a recurrence fires after `after`, as an instant in `tz`.
pub fn next_occurrence(rule: &str, start: NaiveDateTime, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Ask for wall times from a little before `after` in wall-clock terms, and
    // keep the first whose instant is after it (offsets shift around DST).
    let mut from = after.with_timezone(&tz).naive_local() - Duration::hours(3);
    for _ in 0..8 {
        let wall = next_wall_time(rule, start, from)?;
        let at = resolve_forward(tz, wall);
        if at > after {
            return Some(at);
        }
        from = wall;
    }
    None
}
