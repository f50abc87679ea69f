//! A document's summary in its own words: one line for the whole, and a
//! line or two for each part (for a recording, about five minutes). The
//! sentences are picked, not written: each is the one closest to what its
//! part is about (the centroid of the part's TF-IDF term weights, as in
//! MEAD), so a summary never says what the document does not, in any
//! language the analyzer reads, with no model and in milliseconds. A model
//! could write better prose; the default local one cannot write a faithful
//! summary of a call, and a made-up summary of a recording is worse than
//! none. Computed from the stored passages when asked: nothing to keep in
//! step with them or to forget when they go.

use std::collections::HashMap;

use pai_core::analyzer::{is_stopword, terms};
use pai_core::store::Chunk;
use serde::Serialize;

use crate::sentences;

/// Passages in one part at most: five of a recording's ≤ 1-minute passages.
const PART_PASSAGES: usize = 5;
/// A part with more sentences than this is summed up in two.
const TWO_SENTENCE_PART: usize = 12;
/// Content terms a sentence needs to be picked ("네네.", "Okay, yeah." are not).
const MIN_TERMS: usize = 4;
/// Content terms past which a sentence gains nothing more for its length.
const FULL_TERMS: usize = 10;
/// A longer sentence is a run-on transcript line, not a summary.
const MAX_CHARS: usize = 300;
/// What the first sentence that says something gains: a memo or a talk
/// opens with its point (a call's greetings say too little to count).
const LEAD: f32 = 0.15;
/// What a sentence gains for each cue it holds (up to two): it states a
/// plan, a decision or the topic.
const CUE: f32 = 0.15;
/// Words with which people say what a recording is about (Edmundson's cue
/// words): the topic ("today", "오늘은"), a plan or decision ("let's",
/// "하기로"), a conclusion ("so", "그럼"). Matched in lowercase text.
const CUES: &[&str] = &[
    "today",
    "reminder",
    "to-do",
    "decision",
    "decided",
    "let's",
    "we'll",
    "i'll",
    "need to",
    "have to",
    "going to",
    "plan",
    "so ",
    "오늘은",
    "정리",
    "하기로",
    "는 걸로",
    "해야",
    "할게",
    "그럼",
    "그래서",
    "예약",
];

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// The sentence that best says what the whole is about; null when no
    /// sentence has enough words to say anything.
    pub line: Option<SummaryLine>,
    /// Each part in order.
    pub parts: Vec<SummaryPart>,
}

/// A sentence of the document and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SummaryLine {
    pub text: String,
    /// The passage it is in (its position, from 0) and that passage's heading:
    /// for a recording, when it was said.
    pub passage: u32,
    pub heading: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SummaryPart {
    /// For a recording, the part's time span ("00:05:02–00:09:58"); else the
    /// section's heading, if it has one.
    pub heading: Option<String>,
    /// Its passages, first and last (positions from 0).
    pub passages: [u32; 2],
    /// One or two of its sentences, in the order they stand; empty when none
    /// says enough.
    pub text: String,
}

/// The summary of a document's `passages` (in order).
pub fn summarise(passages: &[Chunk]) -> Summary {
    let all: Vec<Sentence> = passages
        .iter()
        .flat_map(|p| {
            sentences::split(&p.text).into_iter().map(move |s| Sentence { passage: p, text: s, terms: content(s) })
        })
        .collect();
    let idf = inverse_frequencies(&all);
    let line = best(&all, &idf, 1).into_iter().next().map(|s| s.picked());
    let parts = parts(passages)
        .into_iter()
        .map(|group| {
            let (first, last) = (group[0], group[group.len() - 1]);
            let inside: Vec<Sentence> =
                all.iter().filter(|s| (first.ordinal..=last.ordinal).contains(&s.passage.ordinal)).cloned().collect();
            let n = if inside.len() > TWO_SENTENCE_PART { 2 } else { 1 };
            let text = best(&inside, &idf, n).iter().map(|s| s.text).collect::<Vec<_>>().join(" ");
            SummaryPart { heading: part_heading(first, last), passages: [first.ordinal, last.ordinal], text }
        })
        .collect();
    Summary { line, parts }
}

#[derive(Clone)]
struct Sentence<'a> {
    passage: &'a Chunk,
    text: &'a str,
    /// Content terms, repeats kept.
    terms: Vec<String>,
}

impl Sentence<'_> {
    fn picked(&self) -> SummaryLine {
        SummaryLine {
            text: self.text.to_string(),
            passage: self.passage.ordinal,
            heading: self.passage.heading.clone(),
        }
    }

    fn pickable(&self) -> bool {
        self.terms.len() >= MIN_TERMS && self.text.chars().count() <= MAX_CHARS
    }
}

/// The analyzer's terms without function words: words, and Korean bigrams.
fn content(sentence: &str) -> Vec<String> {
    terms(sentence).into_iter().filter(|t| !is_stopword(t)).collect()
}

/// ln(N / df) over the document's sentences: a word said in every sentence
/// ("음", "okay") weighs nothing.
fn inverse_frequencies(all: &[Sentence]) -> HashMap<String, f32> {
    let mut df: HashMap<String, f32> = HashMap::new();
    for s in all {
        let mut seen: Vec<&String> = s.terms.iter().collect();
        seen.sort();
        seen.dedup();
        for t in seen {
            *df.entry(t.clone()).or_default() += 1.0;
        }
    }
    let n = all.len() as f32;
    df.into_iter().map(|(t, d)| (t, (n / d).ln())).collect()
}

/// Up to `n` sentences of `among` closest to its centroid, in document order.
fn best<'s, 'a>(among: &'s [Sentence<'a>], idf: &HashMap<String, f32>, n: usize) -> Vec<&'s Sentence<'a>> {
    let vectors: Vec<HashMap<&str, f32>> = among.iter().map(|s| weights(&s.terms, idf)).collect();
    let mut centroid: HashMap<&str, f32> = HashMap::new();
    for v in &vectors {
        for (t, w) in v {
            *centroid.entry(t).or_default() += w;
        }
    }
    let centroid_norm2: f64 = centroid.values().map(|w| *w as f64 * *w as f64).sum();
    let first = among.iter().position(Sentence::pickable);
    let mut scored: Vec<(usize, f32)> = among
        .iter()
        .enumerate()
        .filter(|(_, s)| s.pickable())
        .map(|(i, s)| {
            let fullness = (s.terms.len().min(FULL_TERMS) as f32 / FULL_TERMS as f32).sqrt();
            let lead = if Some(i) == first { LEAD } else { 0.0 };
            let lower = s.text.to_lowercase();
            let cue = CUE * CUES.iter().filter(|c| lower.contains(**c)).count().min(2) as f32;
            (i, cosine_to_others(&vectors[i], &centroid, centroid_norm2) * fullness + lead + cue)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = scored.into_iter().take(n).map(|(i, _)| i).collect();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| &among[i]).collect()
}

fn weights<'t>(terms: &'t [String], idf: &HashMap<String, f32>) -> HashMap<&'t str, f32> {
    let mut v: HashMap<&str, f32> = HashMap::new();
    for t in terms {
        *v.entry(t.as_str()).or_default() += idf.get(t).copied().unwrap_or(0.0);
    }
    v
}

/// Cosine between `v` and the centroid of the other sentences (`centroid`
/// minus `v`: a sentence does not vote for itself), from `v`'s own terms
/// only: dot(v, c−v) = dot(v, c) − |v|², |c−v|² = |c|² − 2·dot(v, c) + |v|².
fn cosine_to_others(v: &HashMap<&str, f32>, centroid: &HashMap<&str, f32>, centroid_norm2: f64) -> f32 {
    // f64: |c|² − 2·dot + |v|² subtracts large numbers that are nearly equal.
    let dot: f64 = v.iter().map(|(t, w)| *w as f64 * centroid.get(t).copied().unwrap_or(0.0) as f64).sum();
    let v2: f64 = v.values().map(|w| *w as f64 * *w as f64).sum();
    let others2 = centroid_norm2 - 2.0 * dot + v2;
    // Rounding can leave a hair above 0 where no other sentence has a term.
    if v2 <= 1e-12 || others2 <= 1e-9 * centroid_norm2.max(1.0) {
        return 0.0;
    }
    ((dot - v2) / (v2.sqrt() * others2.sqrt())) as f32
}

/// Consecutive passages, at most `PART_PASSAGES`, cut where a document's
/// section (a heading that is not a time span) changes.
fn parts(passages: &[Chunk]) -> Vec<Vec<&Chunk>> {
    let mut out: Vec<Vec<&Chunk>> = Vec::new();
    for p in passages {
        let same_section = |last: &&Chunk| span(last).is_some() || last.heading == p.heading;
        match out.last_mut() {
            Some(group) if group.len() < PART_PASSAGES && group.last().is_some_and(same_section) => group.push(p),
            _ => out.push(vec![p]),
        }
    }
    out
}

/// A recording part's span from its first passage's start to its last's
/// end; else the section's heading.
fn part_heading(first: &Chunk, last: &Chunk) -> Option<String> {
    match (span(first), span(last)) {
        (Some((start, _)), Some((_, end))) => Some(format!("{start}–{end}")),
        _ => first.heading.clone(),
    }
}

/// A recording passage's heading, "00:01:05–00:01:40", as its two clocks.
fn span(passage: &Chunk) -> Option<(&str, &str)> {
    let (start, end) = passage.heading.as_deref()?.split_once('–')?;
    let clock = |s: &str| {
        s.len() == 8 && s.bytes().enumerate().all(|(i, b)| if i % 3 == 2 { b == b':' } else { b.is_ascii_digit() })
    };
    (clock(start) && clock(end)).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::passage_fixture as passage;

    #[test]
    fn the_line_is_the_sentence_about_what_the_call_is_about_not_the_greeting() {
        let call = [
            passage(0, Some("00:00:00–00:00:40"), "Hello? Hi, it's me. How are you doing today? Good, good, thanks."),
            passage(
                1,
                Some("00:00:40–00:01:30"),
                "So I called about the dentist appointment for the kids next week. \
                 The dentist office moved the appointment to Thursday afternoon. \
                 Can you take the kids to the dentist on Thursday? \
                 Yeah, okay, sure.",
            ),
            passage(2, Some("00:01:30–00:01:50"), "Great, the dentist appointment is at four. Okay, bye. Bye."),
        ];
        let s = summarise(&call);
        let line = s.line.expect("a line");
        assert!(line.text.contains("dentist"), "{line:?}");
        assert!(!line.text.contains("Hello"), "{line:?}");
        assert_eq!(s.parts.len(), 1, "three passages under a minute each are one part");
        assert_eq!(s.parts[0].heading.as_deref(), Some("00:00:00–00:01:50"));
        assert_eq!(s.parts[0].passages, [0, 2]);
        assert!(s.parts[0].text.contains("dentist"), "{:?}", s.parts[0]);
    }

    #[test]
    fn korean_is_read_through_its_bigrams() {
        let memo = [passage(
            0,
            Some("00:00:00–00:00:50"),
            "음 그니까. 다음 주에 이사를 가야 돼서 이사 업체를 알아봐야 한다. \
             이사 업체 견적은 세 군데 정도 받아 보고. 어 그리고 우유도 사야지. \
             이사 날짜는 토요일로 하고 이사 업체에 미리 연락하기.",
        )];
        let line = summarise(&memo).line.expect("a line");
        assert!(line.text.contains("이사"), "{line:?}");
        assert_eq!(line.heading.as_deref(), Some("00:00:00–00:00:50"));
    }

    #[test]
    fn a_long_recording_has_a_part_per_five_passages_and_each_part_says_its_own_thing() {
        let topics =
            ["the garden fence needs new paint before winter arrives", "the tax refund form must be sent by Friday"];
        let passages: Vec<Chunk> = (0..10)
            .map(|i| {
                let topic = topics[i / 5];
                let heading = format!("00:0{i}:00–00:0{i}:59");
                passage(i as u32, Some(heading.as_str()), &format!("Okay. So, {topic}, number {i}. Yeah."))
            })
            .collect();
        let s = summarise(&passages);
        assert_eq!(s.parts.len(), 2, "{:?}", s.parts);
        assert_eq!(s.parts[0].heading.as_deref(), Some("00:00:00–00:04:59"));
        assert_eq!(s.parts[1].passages, [5, 9]);
        assert!(s.parts[0].text.contains("fence") && !s.parts[0].text.contains("tax"), "{:?}", s.parts[0]);
        assert!(s.parts[1].text.contains("tax"), "{:?}", s.parts[1]);
    }

    #[test]
    fn sections_of_a_written_document_are_parts_of_their_own() {
        let doc = [
            passage(0, Some("Packing"), "Pack the warm jackets and the hiking boots for the mountain trip."),
            passage(1, Some("Travel"), "The train to Gangneung leaves Seoul station at eight in the morning."),
        ];
        let s = summarise(&doc);
        assert_eq!(s.parts.len(), 2);
        assert_eq!(s.parts[1].heading.as_deref(), Some("Travel"));
        assert!(s.parts[1].text.starts_with("The train"), "{:?}", s.parts[1]);
    }

    #[test]
    fn filler_alone_gives_no_line() {
        let s = summarise(&[passage(0, Some("00:00:00–00:00:05"), "Okay. Yeah, yeah. 네네.")]);
        assert_eq!(s.line, None);
        assert_eq!(s.parts[0].text, "");
    }
}
