//! Answers from the source (issue 24): when a recalled passage or memory
//! holds the answer to a question, pai says that sentence, quoted and cited,
//! instead of asking the model to retell it (small models pad, contradict or
//! garble the very passage they cite). Chosen by rule at sentence level in
//! the best recalled items; the threshold is what `bench/grounded.sh`'s dev
//! part chose.

use pai_core::lexicon;
use pai_core::store::ItemRef;

use crate::answer_check::AnswerCheck;
use crate::extract::text::content_terms;
use crate::language::Language;
use crate::prompt::citations;
use crate::recall::{Recalled, RecalledKind};

/// Recalled items whose sentences are looked at, best first.
const LOOKED_AT: usize = 3;
/// Least share of the question's content terms a sentence must hold to be
/// the answer (chosen on the dev part of bench/grounded).
pub const ANSWERS: f32 = 0.6;
/// Longest quoted sentence, in characters: a longer one is not an answer.
const MAX_QUOTE: usize = 400;

/// The best sentence found for a question, fired or not (for the benchmark's
/// calibration and the `pai` extension).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Quote {
    pub sentence: String,
    pub item: ItemRef,
    /// The tag the answer cites it by: `[n]` for a passage, `[m<id>]` for a memory.
    pub citation: String,
    /// Share of the question's content terms in the sentence (both languages).
    pub score: f32,
}

impl Quote {
    /// Whether the quote is sure enough to be the answer.
    pub fn answers(&self) -> bool {
        self.score >= ANSWERS
    }

    /// The answer as said to the user, in the question's language.
    pub fn answer(&self, question: &str) -> String {
        let sentence = self.sentence.trim_end_matches(['.', '。']).trim();
        match (self.item, Language::of(question)) {
            (ItemRef::Memory(_), Language::Korean) => {
                format!("기억하고 있는 내용이에요: \"{sentence}\" {}", self.citation)
            }
            (ItemRef::Memory(_), Language::English) => format!("You told me: \"{sentence}\" {}", self.citation),
            _ => format!("{sentence}. {}", self.citation),
        }
    }
}

/// pai's own answer to `message` when it is a question that a recalled
/// memory or passage answers: the sentence, quoted and cited.
pub fn direct_answer(message: &str, recalled: &[Recalled]) -> Option<String> {
    if !is_question(message) {
        return None;
    }
    best_quote(message, recalled).filter(Quote::answers).map(|q| q.answer(message))
}

/// True when `question` asks about something (not "How are you?") that
/// nothing recalled or said before mentions: no recalled memory, passage or
/// message, nor an earlier message of the conversation (`said`), holds any
/// of what it asks. (Holding half was tried: "Can I keep pets in my flat?"
/// was then not found in a lease that says "Pets need the landlord's written
/// consent"; a wrong "not found" on the user's own document is the worse
/// mistake, and what a source only mentions is answered from it, checked.) Such a question gets "not found"
/// and a general answer without the recalled items, so that the model cannot
/// dress a story up with citations.
pub fn nothing_answers(question: &str, recalled: &[Recalled], said: &[&str]) -> bool {
    let asked = asked_terms(question);
    if !is_question(question) || asked.is_empty() {
        return false;
    }
    let texts = recalled.iter().map(|r| r.text.as_str()).chain(said.iter().copied());
    !texts.into_iter().any(|text| coverage(&asked, text) > 0.0)
}

/// Said first when nothing the user has answers the question.
pub fn not_found(language: Language) -> &'static str {
    match language {
        Language::English => "I don't find this in your documents or memories.",
        Language::Korean => "문서나 기억에서 이 내용을 찾지 못했어요.",
    }
}

/// The label of the model's general answer that follows `not_found`.
pub fn general_label(language: Language) -> &'static str {
    match language {
        Language::English => "\n\nGeneral answer, not from your documents or memories: ",
        Language::Korean => "\n\n문서나 기억에 근거하지 않은 일반적인 답변이에요: ",
    }
}

/// Said after `not_found` when the chat model cannot answer in Korean.
pub const NO_GENERAL_ANSWER_IN_KOREAN: &str = " 지금 대화 모델은 한국어로 답하지 못해 일반적인 답변은 생략했어요. \
     `pai model recommend`로 한국어를 하는 모델을 고를 수 있어요.";

/// How pai answers a message that pai did not carry out itself (a reminder,
/// a memory request): decided from what was recalled and put in the prompt.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// pai's own answer; the model is not asked.
    pub direct: Option<String>,
    /// Said before the model's answer.
    pub preface: Option<String>,
    /// How the model's answer is checked as it streams.
    pub check: Option<AnswerCheck>,
}

/// The plan for `message`. `nothing`: `nothing_answers` said so before the
/// prompt was assembled (and the prompt holds no recalled item); `said`: the
/// conversation's earlier messages; `english_only`: the chat model speaks
/// English only.
pub fn plan(message: &str, nothing: bool, recalled: &[Recalled], said: &[&str], english_only: bool) -> Plan {
    let language = Language::of(message);
    if nothing {
        return match english_only {
            true if language == Language::Korean => Plan {
                direct: Some(format!("{}{NO_GENERAL_ANSWER_IN_KOREAN}", not_found(language))),
                ..Plan::default()
            },
            _ => Plan {
                preface: Some(not_found(language).into()),
                check: Some(AnswerCheck {
                    language,
                    support: None,
                    lead: general_label(language).into(),
                    fallback: String::new(),
                }),
                ..Plan::default()
            },
        };
    }
    if let Some(quoted) = direct_answer(message, recalled) {
        return Plan { direct: Some(quoted), ..Plan::default() };
    }
    if !is_question(message) || asked_terms(message).is_empty() {
        return Plan::default();
    }
    // The model answers from the sources and the conversation: what it adds
    // must come from them, in the user's language.
    let mut support: Vec<&str> = vec![message];
    support.extend(said);
    support.extend(recalled.iter().map(|r| r.text.as_str()));
    Plan {
        check: Some(AnswerCheck {
            language,
            support: Some(crate::extract::text::Support::of(&support.join("\n"))),
            lead: String::new(),
            fallback: not_found(language).into(),
        }),
        ..Plan::default()
    }
}

/// Whether a message asks something (a statement is never answered with a quote).
pub fn is_question(text: &str) -> bool {
    const EN: &[&str] = &[
        "what", "when", "where", "who", "whom", "whose", "which", "why", "how", "is", "are", "am", "do", "does", "did",
        "can", "could", "should", "would", "will", "may", "have", "has", "tell me",
    ];
    const KO: &[&str] = &[
        "알려줘",
        "알려줘요",
        "알려주세요",
        "뭐야",
        "뭐지",
        "뭐였지",
        "뭐였어",
        "뭐더라",
        "더라",
        "나요",
        "까요",
        "니",
        "냐",
        "인가",
        "인지",
        "어때",
    ];
    let text = text.trim();
    if text.ends_with(['?', '？']) {
        return true;
    }
    let lower = text.to_lowercase();
    let squashed: String = lower.chars().filter(|c| !c.is_whitespace() && !matches!(c, '.' | '!')).collect();
    EN.iter().any(|w| lower.starts_with(w) && !lower[w.len()..].starts_with(|c: char| c.is_alphanumeric()))
        || KO.iter().any(|e| squashed.ends_with(e))
}

/// The sentence of the best recalled memories and passages that most
/// answers `question`, or None when none says anything it asks about.
pub fn best_quote(question: &str, recalled: &[Recalled]) -> Option<Quote> {
    let asked = asked_terms(question);
    if asked.is_empty() {
        return None;
    }
    let numbers = citations(recalled);
    let mut looked_at = Vec::new();
    let candidates = recalled.iter().filter(|r| matches!(r.kind, RecalledKind::Memory | RecalledKind::Chunk));
    for r in candidates.take(LOOKED_AT) {
        let citation = match r.item {
            ItemRef::Memory(id) => format!("[m{id}]"),
            item => match numbers.iter().find(|(_, c)| c.item == item) {
                Some((n, _)) => format!("[{n}]"),
                None => continue,
            },
        };
        looked_at.push((r, citation, sentences(&r.text)));
    }
    let mut best: Option<Quote> = None;
    let consider = |best: &mut Option<Quote>, sentence: String, r: &Recalled, citation: &String| {
        if sentence.chars().count() > MAX_QUOTE {
            return;
        }
        let score = coverage(&asked, &sentence);
        if best.as_ref().is_none_or(|b| score > b.score) {
            *best = Some(Quote { sentence, item: r.item, citation: citation.clone(), score });
        }
    };
    for (r, citation, single) in &looked_at {
        for s in single {
            consider(&mut best, s.to_string(), r, citation);
        }
    }
    // Two sentences in a row when the answer spans them ("It may lock out.
    // To reset it, enter …"), only when no one sentence answers.
    if best.as_ref().is_none_or(|b| !b.answers()) {
        for (r, citation, single) in &looked_at {
            for pair in single.windows(2) {
                consider(&mut best, format!("{} {}", pair[0], pair[1]), r, citation);
            }
        }
    }
    best.filter(|b| b.score > 0.0)
}

/// Korean endings and particles cut from a question's words before they are
/// compared ("보일러에" → "보일러", "바꿔야" → "바꿔"), longest first: the
/// analyzer's bigrams would otherwise count "러에" as something asked about.
const KO_ENDINGS: &[&str] = &[
    "이었어",
    "이었지",
    "에서는",
    "으로는",
    "이에요",
    "해야돼",
    "해야해",
    "에서",
    "으로",
    "로는",
    "에는",
    "에게",
    "한테",
    "까지",
    "부터",
    "이랑",
    "하고",
    "이야",
    "예요",
    "해야",
    "하면",
    "하는",
    "했어",
    "는데",
    "인데",
    "더라",
    "였지",
    "였어",
    "이지",
    "나요",
    "까요",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "에",
    "로",
    "도",
    "만",
    "의",
    "와",
    "과",
    "야",
    "해",
    "돼",
    "어",
    "아",
    "지",
    "니",
    "냐",
    "까",
];
/// English words that ask, or ask for what the answer holds ("What is my cat
/// called?" asks for a name: a memory "Has a cat named Nabi" answers it).
const EN_QUESTION_WORDS: &[&str] =
    &["name", "named", "called", "tell", "told", "ask", "asked", "say", "said", "something", "anything"];
/// Korean words that make a question, not what it is about.
const KO_QUESTION_WORDS: &[&str] = &[
    "이름",
    "뭐",
    "뭐야",
    "뭐지",
    "무엇",
    "언제",
    "어디",
    "얼마",
    "얼마나",
    "몇",
    "어떻게",
    "어떡",
    "누구",
    "무슨",
    "왜",
    "어느",
    "알려줘",
    "알려",
    "있어",
    "있나",
    "있지",
    "되",
    "해도",
    "돼",
    "해",
    "나",
    "내",
    "우리",
    "저",
    "제",
];

/// The words a question asks about, Korean ones without their endings.
fn asked_words(question: &str) -> String {
    let mut out = Vec::new();
    for token in question.split_whitespace() {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric());
        if !token.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)) {
            if !EN_QUESTION_WORDS.contains(&token.to_lowercase().as_str()) {
                out.push(token.to_string());
            }
            continue;
        }
        let mut stem = token;
        if let Some(end) = KO_ENDINGS.iter().find(|e| stem.ends_with(*e) && stem.len() > e.len()) {
            stem = &stem[..stem.len() - end.len()];
        }
        if !KO_QUESTION_WORDS.contains(&stem) && !KO_QUESTION_WORDS.contains(&token) {
            out.push(stem.to_string());
        }
    }
    out.join(" ")
}

/// The question's content terms, with their forms in the other language.
fn asked_terms(question: &str) -> Vec<Vec<String>> {
    let translated = lexicon::translate(question);
    content_terms(&asked_words(question))
        .into_iter()
        .map(|t| {
            let mut forms = vec![stem(&t)];
            // A word the lexicon knows may be found in either language.
            for other in content_terms(&lexicon::translate(&t)) {
                let other = stem(&other);
                if translated.contains(&other) && !forms.contains(&other) {
                    forms.push(other);
                }
            }
            forms
        })
        .collect()
}

/// An English word without its plural or tense ending ("dogs", "kept" stay
/// apart, but "dogs" and "dog", "cleaning" and "clean" meet); other terms as they are.
fn stem(term: &str) -> String {
    if !term.chars().all(|c| c.is_ascii_lowercase()) {
        return term.to_string();
    }
    for (end, shortest) in [("ing", 6), ("ies", 5), ("es", 5), ("ed", 5), ("s", 4)] {
        if term.len() >= shortest && term.ends_with(end) && !term.ends_with("ss") {
            let base = &term[..term.len() - end.len()];
            return if end == "ies" { format!("{base}y") } else { base.to_string() };
        }
    }
    term.to_string()
}

/// Share of the asked terms (any of each one's forms) that `sentence` holds.
fn coverage(asked: &[Vec<String>], sentence: &str) -> f32 {
    let have: std::collections::HashSet<String> = content_terms(sentence).iter().map(|t| stem(t)).collect();
    let found = asked.iter().filter(|forms| forms.iter().any(|f| have.contains(f))).count();
    found as f32 / asked.len() as f32
}

/// A passage's sentences and lines (headings, list items, table rows).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let end = i + c.len_utf8();
            let boundary = matches!(c, '.' | '!' | '?' | '。') && chars.peek().is_none_or(|(_, n)| n.is_whitespace());
            if boundary {
                push(&mut out, &line[start..end]);
                start = end;
            }
        }
        push(&mut out, &line[start..]);
    }
    out
}

fn push<'t>(out: &mut Vec<&'t str>, s: &'t str) {
    let s = s.trim().trim_start_matches(['-', '*', '#', '•']).trim();
    if s.chars().any(char::is_alphanumeric) {
        out.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pai_core::store::{ChunkId, MemoryId};

    fn item(kind: RecalledKind, item: ItemRef, text: &str) -> Recalled {
        Recalled::fixture(kind, item, text)
    }

    #[test]
    fn the_sentence_that_answers_is_quoted_with_its_citation() {
        let recalled = [
            item(
                RecalledKind::Chunk,
                ItemRef::Chunk(ChunkId(7)),
                "# Boiler\nThe boiler must be serviced yearly. If it locks out, enter the reset code 4417-ZETA.",
            ),
            item(RecalledKind::Memory, ItemRef::Memory(MemoryId(3)), "보일러 필터는 석 달마다 교체합니다."),
        ];
        let q = best_quote("What is the boiler reset code?", &recalled).unwrap();
        assert!(q.answers(), "{q:?}");
        assert_eq!(q.answer("What is the boiler reset code?"), "If it locks out, enter the reset code 4417-ZETA. [1]");
        let q = best_quote("보일러 필터 얼마나 자주 교체해?", &recalled).unwrap();
        assert_eq!(q.citation, "[m3]");
        assert!(q.answer("보일러 필터 얼마나 자주 교체해?").contains("석 달마다"), "{q:?}");
        // Nothing it asks about: no quote.
        assert!(best_quote("Who won the 1998 World Cup?", &recalled).is_none_or(|q| !q.answers()));
    }

    #[test]
    fn what_nothing_is_about_is_not_found_and_what_something_is_about_is_not() {
        let recalled = [
            item(RecalledKind::Memory, ItemRef::Memory(MemoryId(1)), "My dentist is Dr. Kim at Smile Clinic"),
            item(RecalledKind::Memory, ItemRef::Memory(MemoryId(2)), "Has a cat named Nabi"),
        ];
        assert!(nothing_answers("What is my passport number?", &recalled, &[]));
        assert!(nothing_answers("Who won the 1998 World Cup?", &recalled, &[]));
        assert!(nothing_answers("내 여권 번호가 뭐지?", &recalled, &[]));
        // About something recalled, or said before; not a question; asks about nothing.
        assert!(!nothing_answers("Tell me something nice about my dentist", &recalled, &[]));
        // Mentioned but not answered: the model answers from the sources,
        // checked, and "not found" is what is left when it invents the number.
        assert!(!nothing_answers("What is my dentist's phone number?", &recalled, &[]));
        let checked = super::plan("What is my dentist's phone number?", false, &recalled, &[], false).check.unwrap();
        assert!(checked.support.is_some() && checked.fallback == not_found(Language::English));
        assert!(checked.judge("Dr. Kim's number is 555-0142.").is_err());
        let lease =
            [item(RecalledKind::Chunk, ItemRef::Chunk(ChunkId(1)), "Pets need the landlord's written consent.")];
        assert!(!nothing_answers("Can I keep pets in my flat?", &lease, &[]));
        assert!(!nothing_answers("What is my gym locker code?", &recalled, &["My gym locker code is 2231."]));
        assert!(!nothing_answers("I want a new phone.", &recalled, &[]));
        assert!(!nothing_answers("How are you?", &recalled, &[]));
        // "called" asks for the name: the memory answers it, quoted.
        let plan = plan("What is my cat called?", false, &recalled, &[], false);
        assert_eq!(plan.direct.as_deref(), Some("You told me: \"Has a cat named Nabi\" [m2]"));
        // Not found: a general answer checked as one, or none from a model without Korean.
        let plan = super::plan("What is my dentist's phone number?", true, &[], &[], false);
        assert_eq!(plan.preface.as_deref(), Some(not_found(Language::English)));
        assert!(plan.check.is_some_and(|c| c.support.is_none() && c.lead.contains("General answer")));
        let plan = super::plan("내 여권 번호가 뭐지?", true, &[], &[], true);
        assert!(plan.direct.is_some_and(|d| d.starts_with(not_found(Language::Korean))) && plan.check.is_none());
    }
}
