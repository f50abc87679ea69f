//! What a question asks about, read by rules: the past ("where did I live
//! before?"), the present ("where do I live now?"), the user themself ("I",
//! "내가", or their name) or another person of their chats by name. Recall
//! uses it to choose the lists and priors; nothing here touches the store.

/// Words that make a question about the past ("where did I live before?",
/// "예전에 어디 살았지?"): only then do superseded memories come back.
const PAST_EN: &[&str] = &[
    "before",
    "used to",
    "use to",
    "previously",
    "formerly",
    "in the past",
    "earlier",
    "former",
    "old",
    "ago",
    "last year",
    "originally",
    "at first",
    "history",
];
const PAST_KO: &[&str] = &["예전", "이전", "옛날", "원래", "과거", "전에", "았었", "었었", "했었", "처음에", "작년"];

/// Words that make a question about how things are now: only then does
/// freshness count (an old turn is the evidence for most "when did…").
const PRESENT_EN: &[&str] = &[
    "now",
    "currently",
    "current",
    "these days",
    "nowadays",
    "lately",
    "recently",
    "latest",
    "at the moment",
    "still",
];
const PRESENT_KO: &[&str] = &["요즘", "최근", "지금", "현재", "요새", "아직", "이제"];

/// Words that ask for a time ("when did…", "언제", "며칠").
const WHEN_EN: &[&str] = &[
    "when",
    "what date",
    "what day",
    "which day",
    "what time",
    "how long ago",
    "since when",
    "what month",
    "which month",
    "what year",
];
const WHEN_KO: &[&str] =
    &["언제", "며칠", "몇 월", "몇월", "몇 일", "무슨 요일", "무슨 날", "날짜", "몇 년", "몇년", "몇 시", "몇시"];

/// Words that date what a turn tells, besides the relative phrases
/// `pai_core::relative_dates` resolves: month and weekday names, clock times.
const TIME_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "this morning",
    "last night",
    "tonight",
    "this afternoon",
    "this evening",
    "weekend",
    "ago",
    "오전",
    "오후",
    "아침",
    "저녁",
    "새벽",
    "주말",
    "요일",
    "지난번",
    "저번에",
];

/// The speaker in the first person, as a question to one's assistant says it.
const SELF_EN: &[&str] = &["i", "me", "my", "mine", "myself", "i'm", "i've", "i'd"];
const SELF_KO: &[&str] =
    &["내가", "나는", "나의", "내 ", "나 ", "제가", "저는", "저의", "제 ", "저 ", "난 ", "날 ", "나를", "저를"];

/// Korean particles that may follow a name ("민지가", "민지는", "민지의").
const KO_PARTICLES: &[&str] = &[
    "",
    "가",
    "이",
    "는",
    "은",
    "를",
    "을",
    "의",
    "도",
    "한테",
    "에게",
    "랑",
    "이랑",
    "와",
    "과",
    "하고",
    "씨",
    "님",
    "이가",
    "이는",
    "이의",
    "이도",
    "이랑",
    "이한테",
];

fn contains_word(lower: &str, p: &str) -> bool {
    lower.match_indices(p).any(|(i, _)| {
        !lower[..i].ends_with(|c: char| c.is_alphanumeric())
            && !lower[i + p.len()..].starts_with(|c: char| c.is_alphanumeric())
    })
}

/// True when `query` asks about how things were, not how they are.
pub fn asks_about_past(query: &str) -> bool {
    let lower = format!("{} ", query.to_lowercase());
    PAST_EN.iter().any(|p| contains_word(&lower, p)) || PAST_KO.iter().any(|p| lower.contains(p))
}

/// True when `query` asks about the present state of things.
pub fn asks_about_present(query: &str) -> bool {
    let lower = query.to_lowercase();
    PRESENT_EN.iter().any(|p| contains_word(&lower, p)) || PRESENT_KO.iter().any(|p| lower.contains(p))
}

/// True when `query` asks when something happened or will.
pub fn asks_when(query: &str) -> bool {
    let lower = query.to_lowercase();
    WHEN_EN.iter().any(|p| contains_word(&lower, p)) || WHEN_KO.iter().any(|p| lower.contains(p))
}

/// True when `text` says when something happened: a relative date
/// ("yesterday", "지난주 금요일"), a date, a weekday or a time of day.
pub fn mentions_time(text: &str) -> bool {
    let lower = text.to_lowercase();
    let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
    if !pai_core::relative_dates::find(text, day).is_empty() {
        return true;
    }
    if TIME_WORDS.iter().any(|w| if w.is_ascii() { contains_word(&lower, w) } else { lower.contains(w) }) {
        return true;
    }
    // "5월", "3일", "3rd", "10:30", "3pm".
    let bytes = lower.as_bytes();
    lower.char_indices().any(|(i, c)| {
        let after_digit = i > 0 && bytes[i - 1].is_ascii_digit();
        after_digit
            && (matches!(c, '월' | '일' | '시' | ':')
                || lower[i..].starts_with("pm")
                || lower[i..].starts_with("am")
                || lower[i..].starts_with("st ")
                || lower[i..].starts_with("nd ")
                || lower[i..].starts_with("rd ")
                || lower[i..].starts_with("th "))
    })
}

/// True when `query` speaks of its asker in the first person.
pub fn in_first_person(query: &str) -> bool {
    let lower = format!(" {} ", query.to_lowercase().replace(['?', '!', '.', ','], " "));
    SELF_EN.iter().any(|p| contains_word(&lower, p)) || SELF_KO.iter().any(|p| lower.contains(&format!(" {p}")))
}

/// Where `name` stands in `query` as a word (a Korean name with its particle),
/// as byte ranges; empty when it does not.
pub fn name_spans(query: &str, name: &str) -> Vec<std::ops::Range<usize>> {
    let name = name.trim();
    if name.chars().count() < 2 {
        return Vec::new();
    }
    let lower = query.to_lowercase();
    let needle = name.to_lowercase();
    let mut out = Vec::new();
    for (i, _) in lower.match_indices(&needle) {
        let end = i + needle.len();
        if lower[..i].ends_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        let after = &lower[end..];
        // English possessive ("Emma's") or a Korean particle, then a word's end.
        let rest = after.strip_prefix("'s").or_else(|| after.strip_prefix("’s")).unwrap_or(after);
        let particle = KO_PARTICLES.iter().filter(|p| rest.starts_with(**p)).map(|p| p.len()).max().unwrap_or(0);
        if rest[particle..].starts_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        out.push(i..end + (after.len() - rest.len()) + particle);
    }
    out
}

/// `query` with `name` and its particles taken out: the words to search for
/// once the person is known (their own turns never contain their name).
pub fn without_name(query: &str, name: &str) -> String {
    let spans = name_spans(query, name);
    if spans.is_empty() {
        return query.to_string();
    }
    let lower = query.to_lowercase();
    let mut out = String::new();
    let mut at = 0;
    for r in spans {
        out.push_str(&lower[at..r.start]);
        out.push(' ');
        at = r.end;
    }
    out.push_str(&lower[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_about_the_past() {
        for q in
            ["Where did I live before?", "What car did I use to drive?", "예전에 어디 살았지?", "원래 무슨 일 했었지?"]
        {
            assert!(asks_about_past(q), "{q}");
        }
        for q in ["Where do I live?", "What's my daughter's name?", "지금 어디 살아?", "beforehand-ish"] {
            assert!(!asks_about_past(q), "{q}");
        }
    }

    #[test]
    fn questions_about_the_present() {
        for q in ["Where does Emma live now?", "What am I reading lately?", "요즘 뭐 배워?", "지금 어디 살아?"]
        {
            assert!(asks_about_present(q), "{q}");
        }
        for q in ["When did Emma adopt her dog?", "known for snow", "언제 이사했어?"] {
            assert!(!asks_about_present(q), "{q}");
        }
    }

    #[test]
    fn questions_about_time_and_turns_that_tell_it() {
        for q in [
            "When did I adopt my cat?",
            "What date is the wedding?",
            "도토리 데려온 날이 언제였지?",
            "몇 월에 이사했어?",
        ] {
            assert!(asks_when(q), "{q}");
        }
        for q in ["What breed is the dog?", "어디 살아?"] {
            assert!(!asks_when(q), "{q}");
        }
        for t in [
            "I started a pottery class, first one was this morning",
            "어제 우리집에 새 식구 생겼다",
            "we closed on the house on June 23",
            "현우랑 헤어졌어. 수요일에",
            "5월 3일에 결혼해",
            "meet at 10:30?",
            "last Sunday I did something irresponsible",
        ] {
            assert!(mentions_time(t), "{t}");
        }
        for t in ["that cake looks amazing", "고양이 너무 귀엽다 ㅋㅋ", "I have 2 cats"] {
            assert!(!mentions_time(t), "{t}");
        }
    }

    #[test]
    fn first_person() {
        for q in [
            "When did I adopt my cat?",
            "What's my sister's name?",
            "내가 이사한 게 언제였지?",
            "내 고양이 이름이 뭐야?",
        ] {
            assert!(in_first_person(q), "{q}");
        }
        for q in ["When did Emma adopt her cat?", "민지는 언제 이사했어?", "Is it raining in Denver?"] {
            assert!(!in_first_person(q), "{q}");
        }
    }

    #[test]
    fn names_with_their_particles() {
        assert_eq!(
            without_name("When did Emma go to the pottery class?", "Emma"),
            "when did   go to the pottery class?"
        );
        assert_eq!(without_name("What is Emma's dog called?", "emma").trim_start(), "what is   dog called?");
        assert_eq!(without_name("민지가 언제 도자기 수업에 갔어?", "민지"), "  언제 도자기 수업에 갔어?");
        assert_eq!(without_name("민지의 고양이 이름은?", "민지"), "  고양이 이름은?");
        // Inside another word, or a name too short to tell: left alone.
        assert_eq!(without_name("Emmanuel called", "Emma"), "Emmanuel called");
        assert_eq!(without_name("민지수가 왔어", "민지"), "민지수가 왔어");
        assert!(name_spans("I went", "I").is_empty());
    }
}
