//! Word-level checks shared by the extraction steps: which words carry
//! content, whether a candidate is grounded in what the user wrote, and
//! whether two memories say the same thing.

use std::collections::HashSet;

use pai_core::analyzer::{is_stopword, query_terms};

/// Greetings, thanks and fillers: a message made only of these holds nothing to remember.
const CHITCHAT: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "thx",
    "ok",
    "okay",
    "bye",
    "good",
    "morning",
    "night",
    "evening",
    "afternoon",
    "cool",
    "great",
    "nice",
    "lol",
    "haha",
    "sure",
    "yeah",
    "yep",
    "nope",
    "please",
    "sorry",
    "welcome",
    "안녕",
    "녕하",
    "하세",
    "세요",
    "고마",
    "마워",
    "감사",
    "사합",
    "합니",
    "니다",
    "ㅋㅋ",
    "ㅎㅎ",
    "좋아",
    "네",
    "응",
    "그래",
    "잘자",
    "수고",
    "워요",
    "사해",
    "해요",
    "아요",
    "고맙",
    "맙습",
    "습니",
];

/// Openings of one-off requests to the assistant ("write…", "can you…"):
/// tasks and questions, not facts about the user.
const TASK_OPENINGS: &[&str] = &[
    "write",
    "tell me",
    "explain",
    "translate",
    "summarize",
    "summarise",
    "give me",
    "list",
    "show me",
    "make",
    "create",
    "generate",
    "help me",
    "find",
    "search",
    "calculate",
    "draft",
    "describe",
    "compose",
    "suggest",
    "recommend",
    "can you",
    "could you",
    "would you",
    "will you",
    "what",
    "how",
    "why",
    "when",
    "where",
    "who",
    "which",
    "is it",
    "are there",
    "do you",
    "please write",
    "please explain",
    "please translate",
];
/// Korean request endings (after spaces are removed), for the same purpose.
const TASK_ENDINGS_KO: &[&str] = &[
    "써줘",
    "써주세요",
    "알려줘",
    "알려주세요",
    "설명해줘",
    "설명해주세요",
    "번역해줘",
    "번역해주세요",
    "요약해줘",
    "요약해주세요",
    "만들어줘",
    "만들어주세요",
    "추천해줘",
    "추천해주세요",
    "찾아줘",
    "찾아주세요",
    "계산해줘",
];
/// Words that make a request standing ("always answer in Korean", "앞으로 민지라고 불러줘"): worth remembering.
const STANDING: &[&str] = &["always", "from now on", "never", "every time", "앞으로", "항상", "매번", "늘 "];

/// True for a one-off task or question for the assistant, which holds nothing
/// durable about the user ("Write a story about a dragon", "날씨 알려줘").
pub fn is_one_off_request(sentence: &str) -> bool {
    let lower = sentence.trim().to_lowercase();
    if STANDING.iter().any(|s| lower.contains(s)) {
        return false;
    }
    let lower = lower.trim_start_matches("please ").trim_start_matches("pai, ").to_string();
    let squashed: String = lower.chars().filter(|c| !c.is_whitespace() && !matches!(c, '.' | '!' | '~')).collect();
    lower.ends_with('?')
        || TASK_OPENINGS
            .iter()
            .any(|o| lower.starts_with(o) && !lower[o.len()..].starts_with(|c: char| c.is_alphanumeric()))
        || TASK_ENDINGS_KO.iter().any(|e| squashed.ends_with(e))
}

/// Distinct terms of `text` that carry content.
pub fn content_terms(text: &str) -> Vec<String> {
    query_terms(text).into_iter().filter(|t| !is_stopword(t)).collect()
}

/// True when a message is only greetings, thanks or fillers.
pub fn is_chitchat(text: &str) -> bool {
    content_terms(text).iter().all(|t| CHITCHAT.contains(&t.as_str()))
}

/// Least `grounding` a model's candidate needs to be kept.
pub const GROUNDED: f32 = 0.3;

/// Share of `candidate`'s content terms found in `source`: a model's
/// candidate that the user's words do not support is an invention.
pub fn grounding(candidate: &str, source: &str) -> f32 {
    let have: HashSet<String> = query_terms(source).into_iter().collect();
    let want = content_terms(candidate);
    if want.is_empty() {
        return 0.0;
    }
    want.iter().filter(|t| have.contains(*t)).count() as f32 / want.len() as f32
}

/// Names and numbers in `candidate` that the user never wrote: a model that
/// adds "Busan" or "7" out of nowhere is inventing, however well the rest fits.
/// (The first word is skipped: it is capitalised as the start of a sentence.)
pub fn invented_names(candidate: &str, source: &str) -> Vec<String> {
    Support::of(source).invented_names(candidate)
}

/// Korean words of `candidate` that nothing in `source` supports: none of
/// their syllable pairs occurs there. A small model writing Korean it cannot
/// write produces such words ("이므를", "나매카에운"); a faithful copy or a
/// light rewording keeps most pairs. Words of one syllable say too little to judge.
pub fn garbled_korean(candidate: &str, source: &str) -> Vec<String> {
    Support::of(source).garbled_korean(candidate)
}

/// What a source text supports, read once: its terms, and the longest word
/// after each first Hangul syllable. An answer checked sentence by sentence
/// against the same sources reads them once, not once a sentence.
#[derive(Debug, Clone, Default)]
pub struct Support {
    terms: HashSet<String>,
    stems: std::collections::HashMap<char, usize>,
}

fn hangul(w: &str) -> Vec<char> {
    w.chars().filter(|c| ('\u{AC00}'..='\u{D7A3}').contains(c)).collect()
}

impl Support {
    pub fn of(source: &str) -> Support {
        let terms = query_terms(source).into_iter().collect();
        // The stems of the user's words: "심해" supports "심하다" (same first syllable, similar length).
        let mut stems = std::collections::HashMap::new();
        for w in source.split_whitespace().map(hangul).filter(|w| !w.is_empty()) {
            let longest: &mut usize = stems.entry(w[0]).or_default();
            *longest = (*longest).max(w.len());
        }
        Support { terms, stems }
    }

    /// See `invented_names`.
    pub fn invented_names(&self, candidate: &str) -> Vec<String> {
        candidate
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .skip(1)
            .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
            // "10시" is the number 10 and a Korean counter: only the Latin and digit terms must match.
            .flat_map(query_terms)
            .filter(|t| t.chars().all(|c| c.is_ascii_alphanumeric()) && !self.terms.contains(t))
            .collect()
    }

    /// See `garbled_korean`.
    pub fn garbled_korean(&self, candidate: &str) -> Vec<String> {
        candidate
            .split_whitespace()
            .filter(|w| {
                let h = hangul(w);
                if h.len() < 2 {
                    return false;
                }
                let pairs: Vec<String> = query_terms(w).into_iter().filter(|t| t.chars().count() == 2).collect();
                let paired = pairs.iter().any(|p| self.terms.contains(p));
                let stemmed = self.stems.get(&h[0]).is_some_and(|len| h.len() <= len + 2);
                !paired && !stemmed
            })
            .map(str::to_string)
            .collect()
    }
}

/// True when a candidate's Korean is not the user's: a long word (three
/// syllables or more) with no support, or two unsupported words.
pub fn invents_korean(candidate: &str, source: &str) -> bool {
    let garbled = garbled_korean(candidate, source);
    garbled.len() >= 2 || garbled.iter().any(|w| w.chars().count() >= 3)
}

/// True when two memories say the same thing: most content words shared.
/// (Candidates against known memories, against each other, and explicit requests.)
pub fn says_the_same(a: &str, b: &str) -> bool {
    overlap(a, b) >= 0.8
}

/// Jaccard overlap of content terms, 0..=1.
pub fn overlap(a: &str, b: &str) -> f32 {
    let a: HashSet<String> = content_terms(a).into_iter().collect();
    let b: HashSet<String> = content_terms(b).into_iter().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    a.intersection(&b).count() as f32 / a.union(&b).count() as f32
}

/// True when every content term of `old` is also in `new`: `new` says the same and more.
pub fn extends(new: &str, old: &str) -> bool {
    let new: HashSet<String> = content_terms(new).into_iter().collect();
    let old = content_terms(old);
    !old.is_empty() && old.iter().all(|t| new.contains(t))
}

/// A subject as a key: lowercase, single-spaced, without "user's"/"my".
pub fn subject_key(subject: &str) -> String {
    let lower = subject.trim().to_lowercase();
    let lower = lower.trim_start_matches("user's ").trim_start_matches("my ").trim_start_matches("the ");
    lower.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chitchat_is_recognised_in_both_languages() {
        for s in
            ["Hi!", "thanks, good night", "안녕하세요", "고마워 ㅋㅋ", "좋아요, 고마워요!", "고맙습니다", "ok", "  "]
        {
            assert!(is_chitchat(s), "{s}");
        }
        for s in ["My daughter is Jiwoo", "부산으로 이사했어", "good morning, I moved to Busan"] {
            assert!(!is_chitchat(s), "{s}");
        }
    }

    #[test]
    fn garbled_korean_is_told_from_a_copy_or_a_rewording() {
        let user = "나 새우 알레르기 있어. 심해.";
        assert!(invents_korean("나 새우 알레르기 있어. 심해. 이므를 새우를 찾아나게 됩니니", user));
        assert!(invents_korean("나매카에운 음식 좋아해", "나 매운 음식 좋아해."));
        assert!(!invents_korean("새우 알레르기가 심하다", user));
        assert!(!invents_korean("서울에 산다", "나 서울 마포구에 살아"));
        assert!(!invents_korean("Allergic to shrimp", user));
    }

    #[test]
    fn grounding_measures_support_in_the_users_words() {
        assert!(grounding("Has a daughter named Jiwoo", "my daughter is Jiwoo") >= 0.99);
        assert!(grounding("Lives in Busan", "I moved to Busan last year") >= 0.5);
        assert!(grounding("Owns a red Ferrari", "I moved to Busan last year") < GROUNDED);
        // Korean inflection changes bigrams: a third is already strong support.
        assert!(grounding("부산에 산다", "작년에 부산으로 이사했어") >= GROUNDED);
        assert_eq!(grounding("the", "the"), 0.0);
    }

    #[test]
    fn one_off_requests_are_not_facts() {
        for s in [
            "Write a very long story about a dragon.",
            "Can you recommend a good book?",
            "what's 2+2",
            "내일 날씨 알려줘",
            "이 문장 번역해 줘.",
        ] {
            assert!(is_one_off_request(s), "{s}");
        }
        for s in [
            "Please always answer me in Korean from now on.",
            "앞으로 나를 민지라고 불러줘.",
            "My daughter is 7.",
            "I like writing poems.",
            "Whatever happens, I stay in Seoul.",
        ] {
            assert!(!is_one_off_request(s), "{s}");
        }
    }

    #[test]
    fn invented_names_and_numbers() {
        let said = "My daughter Jiwoo turned 7 last week.";
        assert!(invented_names("Has a daughter named Jiwoo, age 7", said).is_empty());
        assert_eq!(invented_names("Moved to Busan, daughter Jiwoo is 8", said), ["busan", "8"]);
        assert!(invented_names("Daughter turned 7", said).is_empty());
        assert!(invented_names("내일 오전 10시 치과 예약", "내일 오전 10시에 치과 예약 있어.").is_empty());
    }

    #[test]
    fn overlap_extension_and_subjects() {
        assert!(overlap("Likes tea", "likes tea.") > 0.99);
        assert!(overlap("Likes tea", "Lives in Busan") < 0.2);
        assert!(extends("Likes green tea without sugar", "Likes green tea"));
        assert!(!extends("Lives in Busan", "Lives in Seoul"));
        assert_eq!(subject_key("  User's Home  City"), "home city");
    }
}
