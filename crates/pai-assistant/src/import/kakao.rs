//! KakaoTalk's "대화 내보내기" text exports, as the PC app (Windows/macOS)
//! and the mobile apps (Android, iOS) write them, in the Korean and the
//! English UI:
//!
//! ```text
//! 지우 님과 카카오톡 대화                         KakaoTalk Chats with Jiwoo
//! 저장한 날짜 : 2024-01-10 15:30:12               Date Saved : Jan 10, 2024 at 3:30 PM
//! --------------- 2024년 1월 5일 금요일 ---------------   (PC)
//! [김민지] [오후 3:04] 안녕!                       [Minji] [3:04 PM] hi!
//! 2024년 1월 5일 오후 3:04, 김민지 : 안녕!         (Android)
//! 2024. 1. 5. 오후 3:04, 김민지 : 안녕!           (iOS)
//! January 5, 2024, 3:04 PM, Minji : hi!           (mobile, English)
//! ```
//!
//! A message runs until the next message line, so multi-line messages are
//! kept whole. Join/leave notices and deleted messages are left out;
//! "사진"/"Photo", emoticons, videos, voice messages and files become a note
//! of what was sent ("[photo]"). Times carry no zone: they are read in the
//! user's. Only the owner's lines are the user's; everyone else in a group
//! chat is "other", kept with their name. One conversation per day, so a
//! newer export of the same chat imports only the days not seen before.
//!
//! The whole file is checked first: a line that starts like a message but
//! does not read as one is an error naming the line, and nothing is kept.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use pai_core::store::NewMessage;
use pai_core::{Error, Result, Role};
use regex::Regex;
use sha2::{Digest, Sha256};

use super::Conversation;

/// How the owner appears in mobile exports of their own lines.
const OWNER_LABELS: &[&str] = &["회원님", "you", "You", "나"];

static PC_DAY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^-{3,}\s*(.+?)\s*-{3,}$").unwrap());
static PC_MESSAGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[([^\]]+)\] \[([^\]]+)\] ?(.*)$").unwrap());
/// The date-time that starts a mobile line, in any of its spellings.
static MOBILE_STAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:(?P<ky>\d{4})년 (?P<km>\d{1,2})월 (?P<kd>\d{1,2})일",
        r"|(?P<iy>\d{4})\. ?(?P<im>\d{1,2})\. ?(?P<id>\d{1,2})\.",
        r"|(?P<em>[A-Z][a-z]{2,8})\.? (?P<ed>\d{1,2}), (?P<ey>\d{4}),?(?: at)?)",
        r" (?P<time>(?:오전|오후) \d{1,2}:\d{2}|\d{1,2}:\d{2}(?: ?[AaPp][Mm])?)",
    ))
    .unwrap()
});
/// What looks like the start of a dated line, to tell a damaged one from text.
static LOOKS_DATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{4}년 \d{1,2}월|\d{4}\. ?\d{1,2}\. ?\d{1,2}\.|[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4})").unwrap()
});
static SAVED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(저장한 날짜|Date Saved)\s*:").unwrap());
static TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?P<ko>.+?) 님과 카카오톡 대화|KakaoTalk Chats with (?P<en>.+?)|(?P<pc>.+?) KakaoTalk Chats?)$")
        .unwrap()
});

/// True when `text` reads as a KakaoTalk export (its header, or its first
/// message line, within the first lines).
pub fn looks_like(text: &str) -> bool {
    text.lines().take(12).any(|l| {
        let l = l.trim_start_matches('\u{feff}').trim();
        SAVED.is_match(l)
            || l.ends_with("님과 카카오톡 대화")
            || l.starts_with("KakaoTalk Chats with ")
            || PC_DAY.captures(l).is_some_and(|c| written_date(&c[1]).is_some())
            || mobile_message(l).is_some()
    })
}

/// One parsed line of the body.
enum Line<'a> {
    Day(NaiveDate),
    Message {
        at: NaiveDateTime,
        speaker: &'a str,
        text: &'a str,
    },
    /// A join/leave notice or a dated line with no speaker.
    Notice,
    /// A line of a multi-line message.
    Text,
}

struct Raw {
    at: NaiveDateTime,
    speaker: String,
    text: String,
    line: usize,
}

/// Parses a whole export. `me` names the owner when the file does not say
/// (mobile exports label the owner "회원님"/"you"; a two-person PC export is
/// "<other> 님과 카카오톡 대화"); `zone` places the local times.
pub fn parse(text: &str, me: Option<&str>, zone: Tz) -> Result<Vec<Conversation>> {
    let text = text.trim_start_matches('\u{feff}');
    let mut room: Option<String> = None;
    let mut day: Option<NaiveDate> = None;
    let mut raws: Vec<Raw> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_end_matches('\r');
        let bare = trimmed.trim();
        if raws.is_empty() && day.is_none() {
            // The header: the chat's name, when it was saved, blank lines.
            if let Some(c) = TITLE.captures(bare) {
                room = ["ko", "en", "pc"].iter().find_map(|k| c.name(k)).map(|m| m.as_str().trim().to_string());
                continue;
            }
            if bare.is_empty() || SAVED.is_match(bare) || bare.starts_with("Talk_") {
                continue;
            }
        }
        match classify(bare, day).map_err(|e| Error::invalid(format!("KakaoTalk export, line {n}: {e}")))? {
            Line::Day(d) => day = Some(d),
            Line::Notice => {}
            Line::Message { at, speaker, text } => {
                raws.push(Raw { at, speaker: speaker.trim().to_string(), text: text.to_string(), line: n })
            }
            Line::Text if raws.is_empty() => {
                return Err(Error::invalid(format!(
                    "KakaoTalk export, line {n}: expected a message (\"[name] [time] text\" or \"date time, name : text\"), found {:?}",
                    short(bare)
                )));
            }
            Line::Text => {
                let last = raws.last_mut().expect("not empty");
                last.text.push('\n');
                last.text.push_str(trimmed);
            }
        }
    }
    if raws.is_empty() {
        return Err(Error::invalid("KakaoTalk export: no messages found"));
    }
    let owner = owner(&raws, me, room.as_deref())?;
    let room = room.unwrap_or_else(|| "KakaoTalk".to_string());
    let mut days: Vec<(NaiveDate, Vec<NewMessage>)> = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for r in raws {
        let Some(content) = content(r.text.trim_end()) else { continue };
        let created_at = local_to_utc(r.at, zone).ok_or_else(|| {
            Error::invalid(format!("KakaoTalk export, line {}: {} does not exist in {zone}", r.line, r.at))
        })?;
        // Everyone's lines are people's words; only the owner's are the user's own.
        let speaker = (r.speaker != owner).then(|| r.speaker.clone());
        // Stable across exports of the same chat: a re-import skips what it has.
        let key = format!("{room}\u{1f}{}\u{1f}{}\u{1f}{}", r.at, r.speaker, content);
        let count = seen.entry(key.clone()).or_default();
        *count += 1;
        let digest = Sha256::digest(format!("{key}\u{1f}{count}").as_bytes());
        let external_id = format!("kakao:{}", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
        let message = NewMessage { role: Role::User, speaker, content, created_at, external_id: Some(external_id) };
        match days.last_mut() {
            Some((d, messages)) if *d == r.at.date() => messages.push(message),
            _ => days.push((r.at.date(), vec![message])),
        }
    }
    Ok(days
        .into_iter()
        .map(|(d, messages)| Conversation { title: format!("{room} {}", d.format("%Y-%m-%d")), messages })
        .collect())
}

fn short(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() { format!("{cut}…") } else { cut }
}

fn classify(line: &str, day: Option<NaiveDate>) -> std::result::Result<Line<'_>, String> {
    if let Some(c) = PC_DAY.captures(line) {
        let inner = c.get(1).expect("group").as_str();
        return written_date(inner).map(Line::Day).ok_or_else(|| format!("{inner:?} is not a date"));
    }
    if let Some(c) = PC_MESSAGE.captures(line) {
        let stamp = c.get(2).expect("group").as_str();
        if let Some(time) = clock(stamp) {
            let day = day.ok_or("a message before the first date line")?;
            let speaker = c.get(1).expect("group").as_str();
            return Ok(Line::Message { at: day.and_time(time), speaker, text: c.get(3).map_or("", |m| m.as_str()) });
        }
        if looks_like_clock(stamp) {
            return Err(format!("{stamp:?} is not a time"));
        }
    }
    if LOOKS_DATED.is_match(line) {
        let Some((at, rest)) = mobile_stamp(line)? else {
            // "2024년 1월 5일 금요일", "2025. 10. 14. 월요일": a day line on mobile.
            return written_date(line)
                .map(Line::Day)
                .ok_or_else(|| format!("{:?} is not a date and time", short(line)));
        };
        if rest.is_empty() {
            return Ok(Line::Day(at.date()));
        }
        if let Some(body) = rest.strip_prefix(", ") {
            if let Some((speaker, text)) = body.split_once(" : ") {
                return Ok(Line::Message { at, speaker, text });
            }
            if let Some(speaker) = body.strip_suffix(" :") {
                return Ok(Line::Message { at, speaker, text: "" });
            }
        }
        // "…오후 3:04: 민지님이 들어왔습니다." and other lines without a speaker.
        return Ok(Line::Notice);
    }
    if is_notice(line) {
        return Ok(Line::Notice);
    }
    Ok(Line::Text)
}

fn mobile_message(line: &str) -> Option<()> {
    let (_, rest) = mobile_stamp(line).ok()??;
    rest.strip_prefix(", ")?.contains(" : ").then_some(())
}

/// The date-time at the start of a mobile line and what follows it; `None`
/// when the line has no time; an error when its date or time is impossible.
fn mobile_stamp(line: &str) -> std::result::Result<Option<(NaiveDateTime, &str)>, String> {
    let Some(c) = MOBILE_STAMP.captures(line) else { return Ok(None) };
    let num = |k: &str| c.name(k).and_then(|m| m.as_str().parse::<u32>().ok());
    let date = if let (Some(y), Some(m), Some(d)) = (num("ky"), num("km"), num("kd")) {
        NaiveDate::from_ymd_opt(y as i32, m, d)
    } else if let (Some(y), Some(m), Some(d)) = (num("iy"), num("im"), num("id")) {
        NaiveDate::from_ymd_opt(y as i32, m, d)
    } else {
        let month = c.name("em").and_then(|m| month(m.as_str()));
        match (month, num("ed"), num("ey")) {
            (Some(m), Some(d), Some(y)) => NaiveDate::from_ymd_opt(y as i32, m, d),
            _ => None,
        }
    };
    let whole = c.get(0).expect("match");
    let stamp = &line[..whole.end()];
    let date = date.ok_or_else(|| format!("{stamp:?} is not a date"))?;
    let time = c.name("time").expect("group").as_str();
    let time = clock(time).ok_or_else(|| format!("{time:?} is not a time"))?;
    Ok(Some((date.and_time(time), &line[whole.end()..])))
}

/// "오후 3:04", "3:04 PM", "15:04".
fn clock(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    let (pm, rest) = if let Some(r) = s.strip_prefix("오전 ") {
        (Some(false), r)
    } else if let Some(r) = s.strip_prefix("오후 ") {
        (Some(true), r)
    } else if let Some(r) = s.strip_suffix("AM").or_else(|| s.strip_suffix("am")) {
        (Some(false), r.trim_end())
    } else if let Some(r) = s.strip_suffix("PM").or_else(|| s.strip_suffix("pm")) {
        (Some(true), r.trim_end())
    } else {
        (None, s)
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let h = match pm {
        None => h,
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(false) => h % 12,
        Some(true) => h % 12 + 12,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

fn looks_like_clock(s: &str) -> bool {
    s.contains(':') && (s.starts_with("오전") || s.starts_with("오후") || s.ends_with('M') || s.ends_with('m'))
}

/// "2024년 1월 5일 금요일", "2025. 10. 14. 월요일", "Friday, January 5, 2024".
fn written_date(s: &str) -> Option<NaiveDate> {
    static KO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4})년 (\d{1,2})월 (\d{1,2})일").unwrap());
    static DOTS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{4})\. ?(\d{1,2})\. ?(\d{1,2})\.").unwrap());
    static EN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(?:[A-Z][a-z]+, )?([A-Z][a-z]{2,8})\.? (\d{1,2}), (\d{4})").unwrap());
    let n = |c: &regex::Captures, i| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    if let Some(c) = KO.captures(s).or_else(|| DOTS.captures(s)) {
        return NaiveDate::from_ymd_opt(n(&c, 1)? as i32, n(&c, 2)?, n(&c, 3)?);
    }
    let c = EN.captures(s)?;
    NaiveDate::from_ymd_opt(n(&c, 3)? as i32, month(c.get(1)?.as_str())?, n(&c, 2)?)
}

fn month(name: &str) -> Option<u32> {
    const NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let lower = name.to_lowercase();
    let i = NAMES.iter().position(|m| lower.starts_with(m))?;
    // The full name or a three-letter (or "Sept") abbreviation, nothing else.
    let full = chrono::Month::try_from(i as u8 + 1).ok()?.name().to_lowercase();
    (full.starts_with(&lower) && lower.len() >= 3).then_some(i as u32 + 1)
}

/// Join/leave/invite notices and the open-chat policy line.
fn is_notice(line: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "님이 들어왔습니다.",
        "님이 나갔습니다.",
        "초대했습니다.",
        "초대하였습니다.",
        "내보냈습니다.",
        "메시지를 가렸습니다.",
        "joined this chatroom.",
        "left this chatroom.",
        "left the chatroom.",
    ];
    ENDINGS.iter().any(|e| line.ends_with(e)) || line.starts_with("운영정책을 위반한 메시지로 신고 접수 시")
}

/// A message's text, with what the export writes for things sent in place
/// of text turned into a note; `None` for a deleted message.
fn content(text: &str) -> Option<String> {
    static COUNTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:사진 (\d+)장|(\d+) [Pp]hotos)$").unwrap());
    let t = text.trim();
    let note = match t {
        "" => return None,
        "삭제된 메시지입니다." | "This message was deleted." | "Deleted message" | "Message deleted." => {
            return None;
        }
        "사진" | "Photo" | "photo" => "[photo]".to_string(),
        "동영상" | "Video" | "video" => "[video]".to_string(),
        "이모티콘" | "Emoticon" | "Emoticons" | "emoticon" => "[emoticon]".to_string(),
        "음성메시지" | "Voice Message" | "Voice message" | "Voice Note" => "[voice message]".to_string(),
        _ => {
            if let Some(c) = COUNTED.captures(t) {
                let n = c.get(1).or(c.get(2)).expect("one group").as_str();
                format!("[{n} photos]")
            } else if let Some(name) = t.strip_prefix("파일: ").or_else(|| t.strip_prefix("File: ")) {
                format!("[file: {}]", name.trim())
            } else {
                return Some(text.to_string());
            }
        }
    };
    Some(note)
}

/// Who the owner is: `me` when given, else what the file says.
fn owner(raws: &[Raw], me: Option<&str>, room: Option<&str>) -> Result<String> {
    let mut speakers: Vec<&str> = Vec::new();
    for r in raws {
        if !speakers.contains(&r.speaker.as_str()) {
            speakers.push(&r.speaker);
        }
    }
    let list = speakers.join(", ");
    if let Some(me) = me.map(str::trim).filter(|m| !m.is_empty()) {
        return match speakers.iter().find(|s| **s == me) {
            Some(s) => Ok(s.to_string()),
            None => {
                Err(Error::invalid(format!("KakaoTalk export: nobody called {me:?} speaks in it (speakers: {list})")))
            }
        };
    }
    if let Some(label) = speakers.iter().find(|s| OWNER_LABELS.contains(s)) {
        return Ok(label.to_string());
    }
    if let (Some(room), [a, b]) = (room, speakers.as_slice()) {
        // "<other> 님과 카카오톡 대화": the one who is not the room is the owner.
        if *a == room {
            return Ok(b.to_string());
        }
        if *b == room {
            return Ok(a.to_string());
        }
    }
    if let [only] = speakers.as_slice() {
        return Ok(only.to_string());
    }
    Err(Error::invalid(format!("KakaoTalk export: which name is yours? Say it with `me` (speakers: {list})")))
}

/// A local wall-clock time in `zone`, the earlier one when a DST change makes
/// it twice, the one after the gap when it does not exist.
fn local_to_utc(at: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&at) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            zone.from_local_datetime(&(at + chrono::Duration::hours(1))).earliest().map(|t| t.with_timezone(&Utc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seoul() -> Tz {
        "Asia/Seoul".parse().unwrap()
    }

    fn lines(convs: &[Conversation]) -> Vec<(String, Option<String>, String)> {
        convs
            .iter()
            .flat_map(|c| &c.messages)
            .map(|m| (m.created_at.to_rfc3339(), m.speaker.clone(), m.content.clone()))
            .collect()
    }

    #[test]
    fn pc_export_in_the_korean_ui() {
        let file = "\u{feff}지수 님과 카카오톡 대화\n저장한 날짜 : 2024-01-10 15:30:12\n\n\
            --------------- 2024년 1월 5일 금요일 ---------------\n\
            [지수] [오후 3:04] 민지야 주말에 뭐 해?\n\
            [민지] [오후 3:05] 도자기 공방 가!\n첫 수업이야\n\n\
            [민지] [오후 3:05] 사진\n\
            [지수] [오후 3:06] 이모티콘\n\
            [지수] [오후 3:07] 삭제된 메시지입니다.\n\
            --------------- 2024년 1월 6일 토요일 ---------------\n\
            [민지] [오전 12:30] 사진 3장\n\
            [지수] [오전 9:00] 파일: 수업안내.pdf\n";
        let convs = parse(file, None, seoul()).unwrap();
        assert_eq!(convs.len(), 2);
        assert_eq!(convs[0].title, "지수 2024-01-05");
        let got = lines(&convs);
        let want = [
            ("2024-01-05T06:04:00+00:00", Some("지수"), "민지야 주말에 뭐 해?"),
            ("2024-01-05T06:05:00+00:00", None, "도자기 공방 가!\n첫 수업이야"),
            ("2024-01-05T06:05:00+00:00", None, "[photo]"),
            ("2024-01-05T06:06:00+00:00", Some("지수"), "[emoticon]"),
            ("2024-01-05T15:30:00+00:00", None, "[3 photos]"),
            ("2024-01-06T00:00:00+00:00", Some("지수"), "[file: 수업안내.pdf]"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.as_str(), g.1.as_deref(), g.2.as_str()), w);
        }
        // The owner's lines are the user's; ids are stable and distinct.
        assert!(convs[0].messages.iter().all(|m| m.role == Role::User));
        let again = parse(file, None, seoul()).unwrap();
        let ids: Vec<_> = convs.iter().flat_map(|c| &c.messages).map(|m| m.external_id.clone().unwrap()).collect();
        let ids2: Vec<_> = again.iter().flat_map(|c| &c.messages).map(|m| m.external_id.clone().unwrap()).collect();
        assert_eq!(ids, ids2);
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn pc_export_in_the_english_ui_with_a_group_and_notices() {
        let file = "Book club KakaoTalk Chats\nDate Saved : 2024-03-02 21:00:00\n\n\
            --------------- Friday, March 1, 2024 ---------------\n\
            Minji joined this chatroom.\n\
            [Daniel] [9:58 PM] Welcome Minji!\n\
            [Minji] [10:01 PM] Thanks! I'm reading Pachinko now\n\
            [Sora] [10:02 PM] Photo\n\
            Sora left this chatroom.\n";
        // Three speakers and no label: the owner has to be named.
        let e = parse(file, None, seoul()).unwrap_err().to_string();
        assert!(e.contains("which name is yours") && e.contains("Daniel, Minji, Sora"), "{e}");
        let convs = parse(file, Some("Minji"), seoul()).unwrap();
        let got = lines(&convs);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].1.as_deref(), Some("Daniel"));
        assert_eq!((got[1].0.as_str(), got[1].1.as_deref()), ("2024-03-01T13:01:00+00:00", None));
        assert_eq!(got[2].2, "[photo]");
        assert_eq!(convs[0].title, "Book club 2024-03-01");
        let e = parse(file, Some("Jiwoo"), seoul()).unwrap_err().to_string();
        assert!(e.contains("nobody called \"Jiwoo\""), "{e}");
    }

    #[test]
    fn android_and_ios_exports_in_both_languages() {
        let android_ko = "지수 님과 카카오톡 대화\n저장한 날짜 : 2024년 1월 10일 오후 3:30\n\n\n\
            2024년 1월 5일 오후 3:04\n\
            2024년 1월 5일 오후 3:04, 지수 : 내일 몇 시?\n\
            2024년 1월 5일 오후 3:05, 회원님 : 열 시!\n\n같이 가자\n\n\
            2024년 1월 5일 오후 3:06: 지수님이 나갔습니다.\n";
        let got = lines(&parse(android_ko, None, seoul()).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!((got[1].1.as_deref(), got[1].2.as_str()), (None, "열 시!\n\n같이 가자"));
        let ios_ko = "2024. 1. 5. 오후 3:04, 지수 : 내일 몇 시?\n2024. 1. 5. 15:05, 민지 : 열 시!\n";
        let got = lines(&parse(ios_ko, Some("민지"), seoul()).unwrap());
        assert_eq!(got[1], ("2024-01-05T06:05:00+00:00".into(), None, "열 시!".into()));
        let android_en = "KakaoTalk Chats with Jisoo\nDate Saved : November 3, 2024, 1:08 PM\n\n\n\
            November 1, 2024, 9:33 AM\n\
            November 1, 2024, 9:33 AM, Jisoo : Coffee later?\n\
            November 1, 2024, 9:35 AM, you : Sure, 3 PM at the usual place\n\
            Nov 2, 2024 at 10:00 PM, you : Photo\n";
        let convs = parse(android_en, None, "America/New_York".parse().unwrap()).unwrap();
        let got = lines(&convs);
        assert_eq!(got[0], ("2024-11-01T13:33:00+00:00".into(), Some("Jisoo".into()), "Coffee later?".into()));
        assert_eq!(got[1].1, None);
        // Summer time until the night after: four hours behind UTC.
        assert_eq!(got[2].0, "2024-11-03T02:00:00+00:00");
        assert_eq!(convs.len(), 2);
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases: &[(&str, &str)] = &[
            ("--------------- 2024년 13월 5일 금요일 ---------------\n[a] [오후 3:04] x\n", "line 1"),
            ("--------------- 2024년 1월 5일 금요일 ---------------\n[a] [오후 13:04] x\n", "line 2"),
            (
                "2024년 1월 5일 오후 3:04, a : hi\n2024년 2월 30일 오후 3:05, b : x\n",
                "line 2: \"2024년 2월 30일 오후 3:05\" is not a date",
            ),
            ("2024. 1. 5. 오후 3:61, a : hi\n", "line 1"),
            ("hello there\n2024년 1월 5일 오후 3:04, a : hi\n", "line 1: expected a message"),
            ("지수 님과 카카오톡 대화\n저장한 날짜 : 2024-01-10 15:30:12\n\n", "no messages"),
            ("[a] [오후 3:04] before any day line\n", "before the first date line"),
        ];
        for (file, want) in cases {
            let e = parse(file, Some("a"), seoul()).unwrap_err().to_string();
            assert!(e.contains(want), "{file:?}: {e} should say {want}");
        }
    }

    #[test]
    fn detection() {
        assert!(looks_like("지수 님과 카카오톡 대화\n저장한 날짜 : 2024-01-10 15:30:12\n"));
        assert!(looks_like("KakaoTalk Chats with Jisoo\nDate Saved : November 3, 2024, 1:08 PM\n"));
        assert!(looks_like("2024. 1. 5. 오후 3:04, 지수 : 내일 몇 시?\n"));
        assert!(!looks_like("Dear diary, today was long.\n"));
        assert!(!looks_like("{\"messages\": []}"));
    }
}
