//! The full-text analyzer shared by every store: Korean, Chinese and Japanese
//! text becomes overlapping character bigrams, other words become lowercase
//! terms. Stores index the analyzed form (a space-separated column for FTS5 or
//! `tsvector('simple')`), so both backends rank the same terms.
//!
//! Why bigrams: Korean attaches particles to nouns (부산 → 부산으로, 부산에서),
//! and dictionary segmenters (ko-dic) need files downloaded at build time.
//! Bigrams find a two-syllable word inside any inflected form without a
//! dictionary; trigram indexes cannot (a two-syllable query has no trigram).

/// Scripts written without spaces between words (or with particles glued on).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0xAC00..=0xD7A3   // Hangul syllables
        | 0x1100..=0x11FF // Hangul jamo
        | 0x3130..=0x318F // Hangul compatibility jamo
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
    )
}

/// Index terms of `text`, in order of appearance (duplicates kept: they count for BM25).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word));
        }
    };
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut out);
            flush_run(&mut run, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_run(&mut run, &mut out);
    out
}

/// The analyzed text as stored in a full-text column: terms separated by spaces.
pub fn index_text(text: &str) -> String {
    terms(text).join(" ")
}

/// Function words that carry no content (English, and Korean one-syllable
/// pronouns and particles the analyzer keeps as single terms).
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "is", "am", "are", "was", "were", "be", "been", "being", "has", "have", "had", "i", "me", "my",
    "mine", "myself", "m", "re", "ve", "ll", "d", "t", "user", "users", "s", "he", "she", "they", "them", "their",
    "his", "her", "it", "its", "of", "in", "on", "at", "to", "for", "with", "and", "or", "but", "that", "this",
    "these", "those", "named", "called", "who", "as", "by", "from", "about", "into", "do", "does", "did", "will",
    "would", "should", "can", "could", "now", "very", "really", "so", "just", "also", "too", "there", "here", "what",
    "which", "when", "where", "how", "we", "our", "you", "your", "one", "some", "any", "all", "more", "most", "than",
    "then", "not", "no", "yes", "like", "나", "내", "저", "제", "너", "우리", "그", "이", "는", "은", "가", "를", "을",
    "에", "도", "야", "요",
    // Korean question words and endings, as the analyzer's bigrams: they make
    // a question ("민지 지금 어디 살아?"), not what it is about, and match
    // every chatty turn ("지금 뭐해?").
    "뭐야", "뭐지", "뭐였", "였지", "였어", "언제", "어디", "어느", "누구", "무슨", "어떻", "떻게", "어땠", "땠어",
    "했어", "했지", "했는", "있어", "있지", "이야", "거야", "는지", "지금", "요즘", "나는", "내가", "제가", "저는",
    // Nominalisers ("…산다는 건", "…한 거"): the shape of a clause, not its content.
    "다는", "건", "거", "것", "걸",
];

pub fn is_stopword(term: &str) -> bool {
    STOPWORDS.contains(&term)
}

/// The terms worth searching for: distinct query terms without function words,
/// unless nothing else is left ("who are you" still searches for something).
/// Common words would match much of a large history and cost time for no rank.
pub fn search_terms(text: &str) -> Vec<String> {
    let all = query_terms(text);
    let content: Vec<String> = all.iter().filter(|t| !is_stopword(t)).cloned().collect();
    if content.is_empty() { all } else { content }
}

/// Distinct query terms, in order; empty when the text has no searchable characters.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    terms(text).into_iter().filter(|t| seen.insert(t.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("부산으로 이사했어", &["부산", "산으", "으로", "이사", "사했", "했어"]),
            ("I moved to Busan!", &["i", "moved", "to", "busan"]),
            ("딸 Jiwoo는 7살", &["딸", "jiwoo", "는", "7", "살"]),
            ("東京タワー", &["東京", "京タ", "タワ", "ワー"]),
            ("e-mail: A.B@x.io", &["e", "mail", "a", "b", "x", "io"]),
            ("Ünïcode ÀB", &["ünïcode", "àb"]),
            ("   ", &[]),
            ("ㅋㅋ", &["ㅋㅋ"]),
        ];
        for (text, want) in cases {
            assert_eq!(terms(text), *want, "{text}");
        }
    }

    #[test]
    fn a_two_syllable_query_matches_inflected_forms() {
        let doc = terms("작년에 부산에서 살았고 지금은 서울로 돌아왔다");
        for q in ["부산", "서울", "작년"] {
            assert!(query_terms(q).iter().all(|t| doc.contains(t)), "{q}");
        }
    }

    #[test]
    fn search_terms_drop_function_words_unless_nothing_is_left() {
        assert_eq!(search_terms("What did my mom say about tea?"), ["mom", "say", "tea"]);
        assert_eq!(search_terms("who are you"), ["who", "are", "you"]);
        assert_eq!(search_terms("내 차 번호"), ["차", "번호"]);
    }

    #[test]
    fn index_text_and_distinct_query_terms() {
        assert_eq!(index_text("Busan 부산"), "busan 부산");
        assert_eq!(query_terms("tea tea 차 차"), vec!["tea", "차"]);
    }
}
