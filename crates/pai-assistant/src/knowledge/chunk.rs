//! Cutting sections into passages that fit the embedder: paragraphs packed up
//! to a token budget, a long paragraph split at sentence ends (then words,
//! then characters), and a short overlap carried from one passage to the next
//! within a section so a sentence at a boundary is found from either side.
//! A passage never spans two headings or two pages.

use pai_core::store::NewChunk;

use super::formats::Section;

#[derive(Debug, Clone, Copy)]
pub struct ChunkSize {
    /// Most tokens in a passage.
    pub tokens: usize,
    /// Tokens of the previous passage repeated at the start of the next.
    pub overlap: usize,
}

impl Default for ChunkSize {
    /// e5 sees 512 tokens; a quarter of that keeps passages focused.
    fn default() -> Self {
        ChunkSize { tokens: 200, overlap: 30 }
    }
}

/// The passages of `sections`, with character offsets into the sections'
/// texts joined by blank lines (the document's extracted text).
pub fn chunk(sections: &[Section], size: ChunkSize, count: &dyn Fn(&str) -> usize) -> Vec<NewChunk> {
    let mut out = Vec::new();
    let mut base = 0u64; // chars before this section in the joined text
    for s in sections {
        // Offsets are in chars: the section is indexed once, so every slice
        // below costs its own length, not the distance from the start.
        let chars: Vec<char> = s.text.chars().collect();
        let slice = |range: (usize, usize)| -> String { chars[range.0..range.1].iter().collect() };
        let emit = |range: (usize, usize), out: &mut Vec<NewChunk>| {
            let text = slice(range).trim().to_string();
            if !text.is_empty() {
                out.push(NewChunk {
                    text,
                    page: s.page,
                    heading: s.heading.clone(),
                    start: base + range.0 as u64,
                    end: base + range.1 as u64,
                });
            }
        };
        let mut current: Option<(usize, usize)> = None; // char range within the section
        let mut tokens = 0;
        // Pieces leave room for the overlap, so a carried tail always fits.
        for (start, end, cost) in pieces(&chars, size.tokens.saturating_sub(size.overlap).max(1), count) {
            if let Some(range) = current
                && tokens + cost > size.tokens
            {
                emit(range, &mut out);
                // The next passage starts with the tail of this one.
                let tail = overlap_start(&chars, range, size.overlap, count);
                tokens = count(&slice((tail, range.1)));
                current = (tokens + cost <= size.tokens && tail < range.1).then_some((tail, range.1));
                if current.is_none() {
                    tokens = 0;
                }
            }
            current = Some((current.map_or(start, |c| c.0), end));
            tokens += cost;
        }
        if let Some(range) = current {
            emit(range, &mut out);
        }
        base += chars.len() as u64 + 2;
    }
    out
}

/// Where the overlap begins: the last sentence or words of `range` worth at
/// most `budget` tokens.
fn overlap_start(chars: &[char], range: (usize, usize), budget: usize, count: &dyn Fn(&str) -> usize) -> usize {
    let mut start = range.1;
    // Step back word by word while the tail fits.
    while start > range.0 {
        let mut s = start - 1;
        while s > range.0 && !chars[s - 1].is_whitespace() {
            s -= 1;
        }
        let tail: String = chars[s..range.1].iter().collect();
        if count(&tail) > budget {
            break;
        }
        start = s;
    }
    start
}

/// The section cut into (start, end, tokens) pieces no larger than `max`:
/// paragraphs, or sentences / words / characters of a paragraph too long.
fn pieces(chars: &[char], max: usize, count: &dyn Fn(&str) -> usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (start, end) in split_keep(chars, 0, chars.len(), is_paragraph_break) {
        split_to_fit(chars, start, end, max, count, 0, &mut out);
    }
    out
}

fn split_to_fit(
    chars: &[char],
    start: usize,
    end: usize,
    max: usize,
    count: &dyn Fn(&str) -> usize,
    level: u8,
    out: &mut Vec<(usize, usize, usize)>,
) {
    let text: String = chars[start..end].iter().collect();
    let cost = count(&text);
    if cost <= max || end - start <= 1 {
        out.push((start, end, cost));
        return;
    }
    let parts: Vec<(usize, usize)> = match level {
        0 => split_keep(chars, start, end, is_sentence_end),
        1 => split_keep(chars, start, end, |c, i| c[i].is_whitespace()),
        // No spaces (a long URL, Korean or Chinese without them, a binary
        // dump): windows of `max` characters, each counted a few times, so a
        // megabyte on one line stays linear. Halving is left for a window
        // whose characters take more than a token each.
        2 => (start..end).step_by(max).map(|s| (s, (s + max).min(end))).collect(),
        _ => {
            let mid = start + (end - start) / 2;
            vec![(start, mid), (mid, end)]
        }
    };
    if parts.len() <= 1 {
        split_to_fit(chars, start, end, max, count, level + 1, out);
        return;
    }
    // Pack the smaller parts back up to the budget.
    let mut from = parts[0].0;
    let mut to = from;
    for (s, e) in parts {
        let joined: String = chars[from..e].iter().collect();
        if to > from && count(&joined) > max {
            split_to_fit(chars, from, to, max, count, level + 1, out);
            from = s;
        }
        to = e;
    }
    split_to_fit(chars, from, to, max, count, level + 1, out);
}

/// Ranges between boundaries; the boundary stays with the piece before it.
fn split_keep(chars: &[char], start: usize, end: usize, at: impl Fn(&[char], usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = start;
    for i in start..end {
        if at(chars, i) && i + 1 > from {
            out.push((from, i + 1));
            from = i + 1;
        }
    }
    if from < end {
        out.push((from, end));
    }
    out.retain(|(s, e)| chars[*s..*e].iter().any(|c| !c.is_whitespace()));
    out
}

fn is_paragraph_break(c: &[char], i: usize) -> bool {
    c[i] == '\n' && i > 0 && c[i - 1] == '\n'
}

/// . ! ? 。 and Korean sentence endings ("다." is covered by '.'), before a space or the end.
fn is_sentence_end(c: &[char], i: usize) -> bool {
    matches!(c[i], '.' | '!' | '?' | '。' | '\n') && c.get(i + 1).is_none_or(|n| n.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn section(text: &str) -> Section {
        Section { heading: Some("H".into()), page: Some(2), text: text.into() }
    }

    #[test]
    fn short_sections_stay_whole_with_their_place() {
        let c = chunk(&[section("One paragraph.\n\nAnother one.")], ChunkSize { tokens: 50, overlap: 5 }, &words);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].text, "One paragraph.\n\nAnother one.");
        assert_eq!((c[0].page, c[0].heading.as_deref(), c[0].start), (Some(2), Some("H"), 0));
    }

    #[test]
    fn long_text_is_cut_within_budget_with_overlap_and_nothing_lost() {
        let text: String = (0..60).map(|i| format!("Sentence number {i} is here. ")).collect();
        let size = ChunkSize { tokens: 40, overlap: 8 };
        let c = chunk(&[section(&text)], size, &words);
        assert!(c.len() >= 8, "{}", c.len());
        for p in &c {
            assert!(words(&p.text) <= size.tokens, "{} words: {}", words(&p.text), p.text);
        }
        for i in 0..60 {
            assert!(c.iter().any(|p| p.text.contains(&format!("number {i} is"))), "sentence {i} lost");
        }
        // Consecutive passages share their boundary words.
        let last_words: Vec<&str> = c[0].text.split_whitespace().rev().take(3).collect();
        assert!(last_words.iter().all(|w| c[1].text.contains(w)), "{:?} / {}", last_words, c[1].text);
        // Offsets point at the passage in the joined text.
        let joined: Vec<char> = text.chars().collect();
        let at: String = joined[c[2].start as usize..c[2].end as usize].iter().collect();
        assert_eq!(at.trim(), c[2].text);
    }

    #[test]
    fn korean_without_spaces_and_huge_words_still_split() {
        let korean = "가나다라마바사아자차카타파하".repeat(40);
        let c = chunk(&[section(&korean)], ChunkSize { tokens: 100, overlap: 10 }, &|s: &str| s.chars().count());
        assert!(c.len() >= 6);
        assert!(c.iter().all(|p| p.text.chars().count() <= 100));
        assert_eq!(c.iter().map(|p| p.text.chars().count()).sum::<usize>() >= korean.chars().count(), true);
    }

    /// A megabyte on one line without spaces (issue 21: 88 s of CPU for 5 MB)
    /// is cut in linear work: the token counter reads each character a few
    /// times, not once per level of halving.
    #[test]
    fn text_without_spaces_is_cut_in_linear_work() {
        let text = "가".repeat(300_000);
        let seen = std::cell::Cell::new(0usize);
        let count = |s: &str| {
            seen.set(seen.get() + s.chars().count());
            s.chars().count()
        };
        let c = chunk(&[section(&text)], ChunkSize::default(), &count);
        assert!(c.iter().all(|p| p.text.chars().count() <= ChunkSize::default().tokens));
        assert!(seen.get() <= 8 * 300_000, "counted {} characters of 300,000", seen.get());
    }

    #[test]
    fn sections_never_share_a_passage() {
        let s = [
            Section { heading: None, page: Some(1), text: "Page one.".into() },
            Section { heading: None, page: Some(2), text: "Page two.".into() },
        ];
        let c = chunk(&s, ChunkSize::default(), &words);
        assert_eq!(c.iter().map(|p| p.page).collect::<Vec<_>>(), [Some(1), Some(2)]);
        assert_eq!(c[1].start, "Page one.".len() as u64 + 2);
    }
}

/// `bench/ingest.sh`: seconds to cut documents of growing size into
/// passages, per MB, with a stand-in token count (4 bytes a token) so only
/// the cutting is measured. Linear means the same seconds per MB each row.
#[cfg(test)]
mod bench {
    use super::*;

    #[test]
    #[ignore = "a benchmark: bench/ingest.sh runs it"]
    fn chunking_cost_per_mb() {
        let count = |s: &str| s.len().div_ceil(4);
        let prose = |mb: usize| {
            let paragraph = "Jiwoo's school trip leaves from the main gate at nine. The bus is number 42, and parents may wait in the hall. ".repeat(6);
            let mut text = String::new();
            while text.len() < mb << 20 {
                text.push_str(&paragraph);
                text.push_str("\n\n");
            }
            text
        };
        let html = |mb: usize| {
            let mut page = String::from("<html><head><title>Notices</title></head><body>");
            while page.len() < mb << 20 {
                page.push_str(
                    "<h2>School trip</h2><p>Jiwoo's <b>school trip</b> leaves from the main gate at nine.</p>",
                );
                page.push_str("<table><tr><td>bus</td><td>42</td></tr></table><ul><li>lunch</li><li>hat</li></ul>");
            }
            page + "</body></html>"
        };
        let nested = |depth: usize| format!("{}text{}", "<div><b>".repeat(depth), "</b></div>".repeat(depth));
        let pdf = |mb: usize| {
            let page = "Jiwoo's school trip leaves from the main gate at nine. The bus is number 42. ".repeat(25);
            let pages = vec![page.as_str(); (mb << 20) / page.len()];
            crate::knowledge::sample_pdf(&pages)
        };
        println!("\n| input | MB | seconds | seconds per MB | passages |");
        println!("|---|---|---|---|---|");
        let inputs: Vec<(&str, &str, Vec<u8>)> = vec![
            ("prose", "a.txt", prose(1).into_bytes()),
            ("prose", "a.txt", prose(2).into_bytes()),
            ("prose", "a.txt", prose(4).into_bytes()),
            ("one line, no spaces", "a.txt", "가".repeat((1 << 20) / 3).into_bytes()),
            ("one line, no spaces", "a.txt", "가".repeat((4 << 20) / 3).into_bytes()),
            ("HTML, headings, tables, lists", "a.html", html(1).into_bytes()),
            ("HTML, headings, tables, lists", "a.html", html(4).into_bytes()),
            ("HTML nested 100,000 deep", "a.html", nested(100_000).into_bytes()),
            ("HTML nested 400,000 deep", "a.html", nested(400_000).into_bytes()),
            ("PDF, pages of text", "a.pdf", pdf(1)),
            ("PDF, pages of text", "a.pdf", pdf(4)),
        ];
        for (kind, name, bytes) in inputs {
            let mb = bytes.len() as f64 / (1 << 20) as f64;
            let started = std::time::Instant::now();
            let sections = crate::knowledge::formats::extract(name, &bytes).expect("readable").sections;
            let passages = chunk(&sections, ChunkSize::default(), &count);
            let secs = started.elapsed().as_secs_f64();
            println!("| {kind} | {mb:.1} | {secs:.2} | {:.2} | {} |", secs / mb, passages.len());
        }
    }
}
