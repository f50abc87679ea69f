//! Common personal facts read by rule, in Korean and English: who the
//! user's family and pets are, where they live and work, what they like,
//! allergies, birthdays, appointments and trips with their dates, standing
//! instructions. A sentence that states one is stored in the user's own words
//! (dates written out) without asking the model, so the fact does not depend
//! on a small model copying it faithfully; everything else still goes to the
//! model.
//!
//! A rule only fires on what the user says about themself (first person, or
//! "my X"/"우리 X"), never on questions or one-off requests (the caller has
//! filtered those), and names the subject so that a later fact about the same
//! thing updates or replaces it ("I live in Seoul" → "I moved to Busan").

use std::sync::LazyLock;

use pai_core::store::MemoryKind;
use regex::Regex;

use super::candidates::Candidate;

struct Rule {
    pattern: Regex,
    kind: MemoryKind,
    importance: f32,
    /// The subject: a fixed name, or `$1`-style groups of the pattern.
    subject: &'static str,
    /// The sentence must also say when (an appointment, a trip).
    dated: bool,
    /// The sentence must also name someone (a capitalised word other than the first).
    named: bool,
    /// The subject is a Korean word as written: its particle goes ("마라탕을" → "마라탕").
    particle: bool,
}

fn rule(pattern: &str, kind: MemoryKind, importance: f32, subject: &'static str) -> Rule {
    Rule {
        pattern: Regex::new(pattern).expect("a valid rule"),
        kind,
        importance,
        subject,
        dated: false,
        named: false,
        particle: false,
    }
}

const FAMILY_EN: &str = "daughter|son|husband|wife|boyfriend|girlfriend|fiancée|fiancee|fiancé|fiance|partner|mom|mother|dad|father|sister|brother|baby|kids|children|twins|grandma|grandmother|grandpa|grandfather|cat|dog|puppy|kitten|hamster|parrot|rabbit|bird";
const FAMILY_KO: &str = "딸|아들|남편|아내|와이프|남자친구|남친|여자친구|여친|약혼자|엄마|아빠|어머니|아버지|언니|누나|오빠|형|남동생|여동생|동생|할머니|할아버지|강아지|고양이|햄스터|앵무새|토끼|아기|애기";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use MemoryKind::*;
    let mut rules = vec![
        // English (the sentence is matched lowercased).
        Rule {
            named: true,
            ..rule(
                &format!(r"\b(?:my|our)\s+(?:(?:older|younger|little|big|twin|baby)\s+)?({FAMILY_EN})\b"),
                Fact,
                0.7,
                "$1",
            )
        },
        rule(r"\bwe (?:adopted|got) an? (cat|dog|puppy|kitten|hamster|parrot|rabbit)\b", Fact, 0.7, "$1"),
        rule(r"\bmy (?:(\w+) )?name is\b", Fact, 0.8, "name"),
        rule(r"\b(?:i|we) (?:live|am living|'m living|have lived) in\b", Fact, 0.7, "home"),
        rule(r"\b(?:i|we) (?:just |finally )?(?:moved|relocated) to\b", Fact, 0.7, "home"),
        rule(r"\bi (?:work|am working|'m working) (?:at|for|as|in)\b", Fact, 0.7, "job"),
        rule(r"\bi(?: am|'m) an? [\w ]{2,40} at [A-Za-z]", Fact, 0.7, "job"),
        rule(r"\bi (?:started|joined|began) (?:at|working at|a new job)\b", Fact, 0.7, "job"),
        rule(r"\b(?:now i|i now) (?:teach|work)\b", Fact, 0.7, "job"),
        rule(r"\bi(?: am|'m) allergic to (\w+)", Fact, 0.9, "allergy: $1"),
        rule(r"\bmy birthday is\b", Fact, 0.8, "birthday"),
        rule(r"\bi (?:drive|own) an? ", Fact, 0.5, "car"),
        rule(
            r"\bi (?:really |also )?(?:like|love|enjoy|prefer|hate|dislike|can't stand|adore) (?:my |the |a |an )?(\w+)",
            Preference,
            0.5,
            "$1",
        ),
        rule(r"\bi (?:gave up|quit|stopped) (?:drinking |eating |smoking )?(\w+)", Preference, 0.5, "$1"),
        rule(r"\bi(?: am|'m) (?:a )?(vegetarian|vegan)\b", Preference, 0.7, "diet"),
        Rule {
            dated: true,
            ..rule(
                r"\bi (?:have|'ve got|got) an? ([\w ]*?(?:appointment|interview|exam|surgery|meeting|flight))\b",
                Event,
                0.6,
                "$1",
            )
        },
        Rule {
            dated: true,
            ..rule(
                r"\bi(?:'m| am)? (?:fly|flying|leave|leaving|travel|travelling|traveling) (?:to|for) ",
                Event,
                0.6,
                "trip",
            )
        },
        Rule {
            dated: true,
            ..rule(
                r"\bi (ran|finished|completed|won|graduated|got married|got engaged|adopted|visited)\b",
                Event,
                0.6,
                "$1",
            )
        },
        rule(
            r"\b(?:always|from now on|never)\b.*\b(?:answer|reply|call me|speak|write|respond)\b",
            Instruction,
            0.8,
            "how to answer",
        ),
        rule(
            r"\b(?:answer|reply|call me|speak|write|respond)\b.*\b(?:always|from now on)\b",
            Instruction,
            0.8,
            "how to answer",
        ),
    ];
    // Korean (matched as written).
    rules.extend([
        rule(&format!(r"({FAMILY_KO}).{{0,12}}?(?:이름은|이름이)\s*\S+"), Fact, 0.7, "$1"),
        rule(&format!(r"(?:^|\s)(?:우리|내|제)\s*({FAMILY_KO})(?:은|는|이|가)?\s+\S+(?:이야|야|이고|고|예요|이에요|입니다|이다)"), Fact, 0.7, "$1"),
        rule(&format!(r"^({FAMILY_KO})(?:은|는)\s+\S+(?:이야|야|이고|고|예요|이에요|입니다|이다)\b"), Fact, 0.7, "$1"),
        rule(r"(?:에|에서)\s*(?:살아|살고|삽니다|살아요|산다)", Fact, 0.7, "home"),
        rule(r"(?:로|으로)\s*이사|이사\s*(?:왔|했|갔|온|한)", Fact, 0.7, "home"),
        rule(r"(?:에서|에)\s*(?:일해|일하고|일합니다|근무)|(?:으로|로)\s*일해|회사\s*다녀|차렸|그만두|취직했|입사했", Fact, 0.7, "job"),
        rule(r"(\S+)\s*알레르기", Fact, 0.9, "알레르기: $1"),
        rule(r"(?:^|\s)(?:내|제|나의|저의)\s*생일", Fact, 0.8, "생일"),
        Rule {
            particle: true,
            ..rule(r"(\S+)\s*(?:제일\s*|정말\s*|진짜\s*|너무\s*)?(?:좋아해|좋아하|싫어해|싫어하|못 먹|안 먹어)", Preference, 0.5, "$1")
        },
        Rule { dated: true, ..rule(r"(예약|약속|면접|시험|수술|진료)", Event, 0.6, "$1") },
        Rule { dated: true, ..rule(r"다녀왔|갔다\s*왔|여행|다녀올|떠나", Event, 0.6, "여행") },
        rule(r"(?:앞으로|항상|매번).*(?:불러|대답|답해|말해|써\s*줘|해\s*줘)", Instruction, 0.8, "답하는 법"),
    ]);
    rules
});

/// A Korean subject without the particle glued to it ("마라탕을" → "마라탕"),
/// unless that would leave one syllable ("오이" stays).
fn without_particle(word: &str) -> String {
    for p in ["을", "를", "이", "가", "은", "는", "도"] {
        if let Some(stem) = word.strip_suffix(p)
            && stem.chars().count() >= 2
        {
            return stem.to_string();
        }
    }
    word.to_string()
}

/// Fillers before a fact that are not part of it.
const OPENINGS: &[&str] = &[
    "actually, ",
    "actually ",
    "big news: ",
    "big news, ",
    "just so you know, ",
    "just so you know ",
    "fyi, ",
    "fyi ",
    "by the way, ",
    "btw, ",
    "btw ",
    "oh, ",
    "oh ",
    "so, ",
    "well, ",
    "참고로 ",
    "아 ",
    "근데 ",
    "그리고 ",
    "사실 ",
];

/// A sentence's leading filler removed and its end trimmed.
pub fn cleaned(sentence: &str) -> String {
    let mut s = sentence.trim();
    loop {
        let lower = s.to_lowercase();
        match OPENINGS.iter().find(|o| lower.starts_with(*o)) {
            // ASCII openings keep their length when lowercased; Korean ones are as written.
            Some(o) => s = s[o.len()..].trim_start(),
            None => break,
        }
    }
    let s = s.trim_end_matches(['.', '!', '~', ' ', '。', '！']);
    let mut out = s.to_string();
    if let Some(first) = out.chars().next()
        && first.is_lowercase()
    {
        out = first.to_uppercase().collect::<String>() + &out[first.len_utf8()..];
    }
    out
}

/// The fact a sentence states, when a rule knows it; `dated` says whether
/// the sentence holds a date (the caller resolves relative dates).
pub fn fact(sentence: &str, dated: bool) -> Option<Candidate> {
    let lower = sentence.to_lowercase();
    for r in RULES.iter() {
        let Some(c) = r.pattern.captures(&lower) else { continue };
        if r.dated && !dated {
            continue;
        }
        if r.named && !names_someone(sentence) {
            continue;
        }
        let mut subject = String::new();
        c.expand(r.subject, &mut subject);
        let subject = subject.trim().trim_end_matches([',', '.']);
        let subject = if r.particle { without_particle(subject) } else { subject.to_string() };
        return Some(Candidate {
            text: cleaned(sentence),
            kind: r.kind,
            subject: (!subject.is_empty()).then_some(subject),
            importance: r.importance,
        });
    }
    None
}

/// Words that make a past event worth keeping: milestones, not passing moments.
const MILESTONES: &[&str] = &[
    "ran ",
    "finished",
    "completed",
    "won ",
    "graduated",
    "married",
    "engaged",
    "adopted",
    "visited",
    "moved",
    "started",
    "quit",
    "born",
    "passed",
    "bought",
    "sold",
    "broke up",
    "lost ",
    "died",
    "hired",
    "promoted",
    "retired",
    "flew",
    "trip",
    "travel",
    "surgery",
    "accident",
    "diagnosed",
    "졸업",
    "결혼",
    "약혼",
    "입양",
    "이사",
    "이직",
    "입사",
    "퇴사",
    "합격",
    "우승",
    "완주",
    "출산",
    "태어",
    "돌아가",
    "여행",
    "다녀왔",
    "샀",
    "팔았",
    "헤어졌",
    "수술",
    "사고",
    "진단",
];

/// True when a past event is a milestone ("ran my first half marathon"),
/// not a passing moment ("watched a movie last night, it was fine").
pub fn milestone(text: &str) -> bool {
    let lower = format!("{} ", text.to_lowercase());
    MILESTONES.iter().any(|m| lower.contains(m))
}

/// True when a sentence is short and not a fact of its own: what follows a
/// fact about someone goes on about them ("She is 2.", "올해 일곱 살이야.").
pub fn continues(sentence: &str) -> bool {
    let words = sentence.split_whitespace().count();
    (1..=6).contains(&words) && !super::text::is_chitchat(sentence)
}

/// True when a capitalised word other than the first (and other than "I")
/// names someone, or a Korean sentence carries a name after its noun.
fn names_someone(sentence: &str) -> bool {
    sentence
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .skip(1)
        .any(|w| w != "I" && w.chars().next().is_some_and(|c| c.is_uppercase()))
}

/// Korean clauses joined by "…고," ("남편 이름은 민수고, 아들은 하준이야"):
/// each is a fact of its own.
pub fn clauses(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in sentence.match_indices("고,") {
        let end = i + "고".len();
        out.push(sentence[start..end].trim());
        start = end + 1;
    }
    out.push(sentence[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(sentence: &str, dated: bool) -> Option<(String, MemoryKind, String)> {
        fact(sentence, dated).map(|c| (c.text, c.kind, c.subject.unwrap_or_default()))
    }

    #[test]
    fn english() {
        use MemoryKind::*;
        let cases: &[(&str, bool, Option<(&str, MemoryKind, &str)>)] = &[
            ("My daughter Jiwoo just turned 7!", false, Some(("My daughter Jiwoo just turned 7", Fact, "daughter"))),
            ("My son Minho plays the violin.", false, Some(("My son Minho plays the violin", Fact, "son"))),
            ("We adopted a cat and named her Nabi.", false, Some(("We adopted a cat and named her Nabi", Fact, "cat"))),
            (
                "I live in Seoul, near Gangnam station.",
                false,
                Some(("I live in Seoul, near Gangnam station", Fact, "home")),
            ),
            ("Big news: I moved to Busan this week.", false, Some(("I moved to Busan this week", Fact, "home"))),
            ("I'm a nurse at Severance Hospital.", false, Some(("I'm a nurse at Severance Hospital", Fact, "job"))),
            (
                "I'm allergic to peanuts, it's serious.",
                false,
                Some(("I'm allergic to peanuts, it's serious", Fact, "allergy: peanuts")),
            ),
            (
                "Actually I like my green tea without sugar, always.",
                false,
                Some(("I like my green tea without sugar, always", Preference, "green")),
            ),
            (
                "I have a dentist appointment tomorrow at 3pm.",
                true,
                Some(("I have a dentist appointment tomorrow at 3pm", Event, "dentist appointment")),
            ),
            (
                "Please always answer me in Korean from now on.",
                false,
                Some(("Please always answer me in Korean from now on", Instruction, "how to answer")),
            ),
            // Sentences the quality set does not hold.
            ("My wife Sarah teaches math.", false, Some(("My wife Sarah teaches math", Fact, "wife"))),
            ("We live in Portland now.", false, Some(("We live in Portland now", Fact, "home"))),
            ("I work for Google as a PM.", false, Some(("I work for Google as a PM", Fact, "job"))),
            ("I hate cilantro.", false, Some(("I hate cilantro", Preference, "cilantro"))),
            ("oh, I'm vegetarian btw", false, Some(("I'm vegetarian btw", Preference, "diet"))),
            // No name, no date, nothing durable: left to the model.
            ("My mom is sick.", false, None),
            ("I have a dentist appointment.", false, None),
            ("I watched a movie last night, it was fine.", true, None),
        ];
        for (s, dated, want) in cases {
            let got = subject(s, *dated);
            let want = want.map(|(t, k, sub)| (t.to_string(), k, sub.to_string()));
            assert_eq!(got, want, "{s}");
        }
    }

    #[test]
    fn korean() {
        use MemoryKind::*;
        let cases: &[(&str, bool, Option<(MemoryKind, &str)>)] = &[
            ("우리 딸 이름은 지우야.", false, Some((Fact, "딸"))),
            ("강아지 키우는데 이름이 보리야.", false, Some((Fact, "강아지"))),
            ("나 서울 마포구에 살아.", false, Some((Fact, "home"))),
            ("이번 주에 부산으로 이사했어!", false, Some((Fact, "home"))),
            ("저는 은행에서 일해요.", false, Some((Fact, "job"))),
            ("은행 그만두고 이제 카페를 차렸어요.", false, Some((Fact, "job"))),
            ("나 새우 알레르기 있어.", false, Some((Fact, "알레르기: 새우"))),
            ("내 생일은 3월 3일이야.", false, Some((Fact, "생일"))),
            ("내일 오전 10시에 치과 예약 있어.", true, Some((Event, "예약"))),
            ("지난주 금요일에 제주도 다녀왔어.", true, Some((Event, "여행"))),
            ("앞으로 나를 민지라고 불러줘.", false, Some((Instruction, "답하는 법"))),
            ("제 남자친구 이름은 현우예요.", false, Some((Fact, "남자친구"))),
            ("우리 고양이 이름은 나비야", false, Some((Fact, "고양이"))),
            ("나 오이 싫어해", false, Some((Preference, "오이"))),
            ("다음 주 화요일에 면접 있어", true, Some((Event, "면접"))),
            ("판교에 있는 회사 다녀", false, Some((Fact, "job"))),
            ("오늘 날씨 진짜 좋네", true, None),
            ("어제 파스타 먹었어", true, None),
        ];
        for (s, dated, want) in cases {
            let got = fact(s, *dated).map(|c| (c.kind, c.subject.unwrap_or_default()));
            let want = want.map(|(k, sub)| (k, sub.to_string()));
            assert_eq!(got, want, "{s}");
        }
        assert_eq!(clauses("남편 이름은 민수고, 아들은 하준이야."), ["남편 이름은 민수고", "아들은 하준이야."]);
        assert_eq!(clauses("나 서울 살아"), ["나 서울 살아"]);
        assert!(continues("올해 일곱 살이야.") && continues("She is 2."));
        assert!(milestone("I ran my first half marathon") && milestone("제주도 다녀왔어"));
        assert!(!milestone("I watched a movie last night, it was fine") && !milestone("어제 파스타 먹었어"));
        assert!(!continues("고마워 ㅋㅋ") && !continues("and then we all went to the beach together after lunch"));
    }
}
