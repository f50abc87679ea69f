//! English ↔ Korean everyday words (`lexicon/en_ko.tsv`), so that a question
//! in one language finds what was said in the other by its words, not only
//! by the embedder's sense of meaning (which is weak on chatty text): "When
//! did Jiwon break up with Hyunwoo?" also searches 헤어지/헤어졌/이별, "내 차
//! 색깔이 뭐였지?" also searches car/color.
//!
//! Dictionary-based query translation, the oldest cross-language retrieval
//! method: every sense of a word is searched (its translation list is short
//! and the ranking sorts out the rest). The file is general vocabulary of
//! personal life, written without sight of any evaluation data.

use std::collections::HashMap;
use std::sync::LazyLock;

struct Lexicon {
    /// English form (lowercase, words joined by one space) → entry indices.
    english: HashMap<String, Vec<usize>>,
    /// Longest English form, in words.
    longest: usize,
    /// Korean form → entry indices, longest forms first.
    korean: Vec<(String, Vec<usize>)>,
    entries: Vec<(Vec<String>, Vec<String>)>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::parse(include_str!("lexicon/en_ko.tsv")));

impl Lexicon {
    fn parse(text: &str) -> Lexicon {
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((en, ko)) = line.split_once('\t') else { continue };
            let forms = |s: &str, lower: bool| -> Vec<String> {
                s.split('|')
                    .map(|f| f.split_whitespace().collect::<Vec<_>>().join(" "))
                    .map(|f| if lower { f.to_lowercase() } else { f })
                    .filter(|f| !f.is_empty())
                    .collect()
            };
            entries.push((forms(en, true), forms(ko, false)));
        }
        let mut english: HashMap<String, Vec<usize>> = HashMap::new();
        let mut korean: HashMap<String, Vec<usize>> = HashMap::new();
        let mut longest = 1;
        for (i, (en, ko)) in entries.iter().enumerate() {
            for f in en {
                longest = longest.max(f.split(' ').count());
                english.entry(f.clone()).or_default().push(i);
            }
            for f in ko {
                korean.entry(f.clone()).or_default().push(i);
            }
        }
        let mut korean: Vec<(String, Vec<usize>)> = korean.into_iter().collect();
        korean.sort_by(|a, b| b.0.chars().count().cmp(&a.0.chars().count()).then(a.0.cmp(&b.0)));
        Lexicon { english, longest, korean, entries }
    }
}

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Korean particles that may follow a one-syllable noun ("차를", "집에서").
const PARTICLES: &[&str] = &[
    "", "가", "이", "는", "은", "를", "을", "의", "도", "에", "에서", "로", "으로", "랑", "이랑", "와", "과", "하고",
    "만", "까지", "부터", "보다", "처럼", "에게", "한테",
];

/// The words of `query` said in the other language: English words and
/// phrases found in the lexicon give their Korean forms, Korean forms found
/// in the query give their English forms. Empty when nothing is known.
pub fn translate(query: &str) -> String {
    let lex = &*LEXICON;
    let mut out: Vec<&str> = Vec::new();
    // An entry found by its English forms gives its Korean ones, and the reverse.
    let mut push = |ids: &[usize], korean: bool| {
        for i in ids {
            let (en, ko) = &lex.entries[*i];
            for f in if korean { ko } else { en } {
                if !out.contains(&f.as_str()) {
                    out.push(f);
                }
            }
        }
    };
    // English: the longest known phrase at each word, then on after it.
    let lower = query.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|w| !w.is_empty() && w.is_ascii()).collect();
    let mut i = 0;
    while i < words.len() {
        let mut step = 1;
        for n in (1..=lex.longest.min(words.len() - i)).rev() {
            let phrase = words[i..i + n].join(" ");
            let key = phrase.strip_suffix("'s").unwrap_or(&phrase);
            if let Some(ids) = lex.english.get(key) {
                push(ids, true);
                step = n;
                break;
            }
        }
        i += step;
    }
    // Korean: forms inside the text, longest first, each stretch used once.
    let chars: Vec<char> = query.chars().collect();
    let mut used = vec![false; chars.len()];
    for (form, ids) in &lex.korean {
        let f: Vec<char> = form.chars().collect();
        if f.is_empty() || !f.iter().any(|c| is_hangul(*c)) || f.len() > chars.len() {
            continue;
        }
        for start in 0..=chars.len() - f.len() {
            let end = start + f.len();
            if chars[start..end] != f[..] || used[start..end].iter().any(|u| *u) {
                continue;
            }
            // A one-syllable word stands alone or before a particle ("차를", not "기차").
            if f.len() == 1 {
                let before_ok = start == 0 || !is_hangul(chars[start - 1]);
                let rest: String = chars[end..].iter().take_while(|c| is_hangul(**c)).collect();
                if !before_ok || !PARTICLES.contains(&rest.as_str()) {
                    continue;
                }
            }
            used[start..end].iter_mut().for_each(|u| *u = true);
            push(ids, false);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(text: &str, word: &str) -> bool {
        text.split(' ').any(|w| w == word)
    }

    #[test]
    fn english_questions_get_korean_words() {
        let t = translate("When did I buy my car?");
        assert!(t.contains("샀") && t.contains("차"), "{t}");
        let t = translate("When did Jiwon break up with her boyfriend?");
        assert!(t.contains("헤어졌") && t.contains("남자친구"), "{t}");
        assert!(translate("Xyzzy plugh").is_empty());
    }

    #[test]
    fn korean_questions_get_english_words() {
        let t = translate("내 차 색깔이 뭐였지?");
        assert!(has(&t, "car"), "{t}");
        let t = translate("강아지 생일이 언제야?");
        assert!(has(&t, "dog") && has(&t, "birthday"), "{t}");
        // One syllable inside a longer word is not the word: 기차 is a train, not a car.
        assert!(!has(&translate("기차 타고 갔어"), "car"));
    }

    #[test]
    fn the_file_is_well_formed() {
        let lex = &*LEXICON;
        assert!(lex.entries.len() >= 1000, "{} entries", lex.entries.len());
        for (en, ko) in &lex.entries {
            assert!(!en.is_empty() && !ko.is_empty(), "{en:?} {ko:?}");
        }
    }
}
