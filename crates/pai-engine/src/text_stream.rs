//! Turns token bytes into text that is safe to show as it streams: whole UTF-8
//! characters only (a Korean syllable is 3 bytes and byte-level BPE splits it
//! across tokens), nothing that might turn out to be the start of a stop
//! string, and — for free text — no sentence said a second time: a model
//! caught in a loop is stopped before the repeat is shown.

/// Accumulates bytes and releases the longest prefix of whole characters.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).expect("valid prefix"));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Bytes that can never become valid: show a replacement, move on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Ends generation. Only an unfinished character can be pending: the token
    /// limit cut it (an emoji is 4 bytes, often two tokens), so it is dropped
    /// rather than shown as a replacement character that would also be stored
    /// and fed back as history. Returns how many bytes were dropped.
    pub fn finish(&mut self) -> usize {
        std::mem::take(&mut self.pending).len()
    }
}

/// Holds back text that could be the beginning of a stop string (or of a
/// sentence said before, with `stopping_repeats`).
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
    repeats: Option<RepeatGuard>,
}

/// Shortest sentence whose second occurrence ends an answer: short ones
/// ("I see.", "Yes!") may come again in a good answer.
const REPEATED_SENTENCE_CHARS: usize = 20;

/// Stops an answer at a sentence it already said, word for word: what a
/// small model stuck in a loop does ("one paragraph repeated four times").
/// A sentence in progress that could still become an earlier one is held
/// back until it either differs or completes the repeat.
#[derive(Debug, Default)]
struct RepeatGuard {
    /// The answer's sentences so far, trimmed.
    said: Vec<String>,
    /// The sentence in progress, and how much of it is shown already.
    current: String,
    shown: usize,
}

impl RepeatGuard {
    fn push(&mut self, text: &str) -> StopOutput {
        let mut out = String::new();
        for c in text.chars() {
            self.current.push(c);
            if matches!(c, '.' | '!' | '?' | '。' | '！' | '？') {
                let sentence = self.current.trim().to_string();
                let long = sentence.chars().count() >= REPEATED_SENTENCE_CHARS;
                if long && self.said.contains(&sentence) {
                    self.current.clear();
                    self.shown = 0;
                    return StopOutput { text: out, stopped: true };
                }
                if long {
                    self.said.push(sentence);
                }
                out.push_str(&self.current[self.shown..]);
                self.current.clear();
                self.shown = 0;
            }
        }
        let so_far = self.current.trim_start();
        if so_far.is_empty() || !self.said.iter().any(|s| s.starts_with(so_far)) {
            out.push_str(&self.current[self.shown..]);
            self.shown = self.current.len();
        }
        StopOutput { text: out, stopped: false }
    }

    fn finish(&mut self) -> String {
        let rest = self.current[self.shown..].to_string();
        self.current.clear();
        self.shown = 0;
        rest
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct StopOutput {
    /// Text that can be shown now.
    pub text: String,
    /// A stop string was found; `text` ends right before it.
    pub stopped: bool,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        StopMatcher { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), ..Default::default() }
    }

    /// Also stop at a sentence (of 20 characters or more) said a second time.
    pub fn stopping_repeats(mut self, on: bool) -> Self {
        self.repeats = on.then(RepeatGuard::default);
        self
    }

    pub fn push(&mut self, text: &str) -> StopOutput {
        let out = self.push_stops(text);
        match self.repeats.as_mut() {
            None => out,
            Some(guard) => {
                let guarded = guard.push(&out.text);
                StopOutput { text: guarded.text, stopped: out.stopped || guarded.stopped }
            }
        }
    }

    fn push_stops(&mut self, text: &str) -> StopOutput {
        self.held.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let text = self.held[..at].to_string();
            self.held.clear();
            return StopOutput { text, stopped: true };
        }
        let keep = self.longest_stop_prefix_suffix();
        let emit_to = self.held.len() - keep;
        let text = self.held[..emit_to].to_string();
        self.held.drain(..emit_to);
        StopOutput { text, stopped: false }
    }

    /// The held-back text, released when generation ends without a stop.
    pub fn finish(&mut self) -> String {
        let held = std::mem::take(&mut self.held);
        match self.repeats.as_mut() {
            None => held,
            Some(guard) => {
                let out = guard.push(&held);
                if out.stopped { out.text } else { out.text + &guard.finish() }
            }
        }
    }

    /// Length of the longest suffix of `held` that begins some stop string.
    fn longest_stop_prefix_suffix(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            for (start, _) in self.held.char_indices() {
                let suffix = &self.held[start..];
                if suffix.len() <= best {
                    break;
                }
                if stop.starts_with(suffix) {
                    best = suffix.len();
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams `pieces` through a repeat-stopping matcher: what is shown, and whether it stopped.
    fn guarded(pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(&[]).stopping_repeats(true);
        let mut shown = String::new();
        for p in pieces {
            let out = m.push(p);
            shown.push_str(&out.text);
            if out.stopped {
                return (shown, true);
            }
        }
        shown.push_str(&m.finish());
        (shown, false)
    }

    #[test]
    fn a_sentence_said_again_ends_the_answer_before_it_is_shown() {
        let para = "The weather in Busan is mild in spring. You could visit the beach tomorrow.";
        let looped: Vec<String> =
            [para, " ", para, " ", para].concat().split_inclusive(' ').map(str::to_string).collect();
        let pieces: Vec<&str> = looped.iter().map(String::as_str).collect();
        let (shown, stopped) = guarded(&pieces);
        assert!(stopped);
        assert_eq!(shown.trim(), para);
        // Korean, and a repeat that diverges halfway is shown in full.
        let a = "부산은 봄에 날씨가 따뜻하고 바다가 정말 예뻐요.";
        let (shown, stopped) = guarded(&[
            a,
            " ",
            "부산은 봄에 ",
            "꽃이 많이 피어요. ",
            "부산은 봄에 날씨가 ",
            "따뜻하고 바다가 정말 예뻐요.",
        ]);
        assert!(stopped);
        assert_eq!(shown, format!("{a} 부산은 봄에 꽃이 많이 피어요. "));
        // Short sentences may come again; text without a repeat is all shown.
        let (shown, stopped) = guarded(&["Yes. ", "Yes. ", "I can help with that today."]);
        assert!(!stopped);
        assert_eq!(shown, "Yes. Yes. I can help with that today.");
        // Off: nothing is held or stopped.
        let mut m = StopMatcher::new(&[]);
        assert!(!m.push(&[para, para].concat()).stopped);
    }

    #[test]
    fn korean_split_across_tokens_is_released_whole() {
        let bytes = "안녕하세요".as_bytes();
        let mut dec = Utf8Decoder::default();
        let mut pieces = Vec::new();
        // One byte at a time: the worst split a tokenizer can make.
        for b in bytes {
            let piece = dec.push(std::slice::from_ref(b));
            if !piece.is_empty() {
                pieces.push(piece);
            }
        }
        assert_eq!(pieces, vec!["안", "녕", "하", "세", "요"]);
        assert_eq!(dec.finish(), 0);
    }

    #[test]
    fn invalid_bytes_become_replacement_and_do_not_stall() {
        let mut dec = Utf8Decoder::default();
        assert_eq!(dec.push(&[b'a', 0xff, b'b']), "a\u{fffd}b");
        assert_eq!(dec.push(&[0xec, 0x95]), "");
        // Cut by the token limit: the half character is dropped, not garbled.
        assert_eq!(dec.finish(), 2);
    }

    #[test]
    fn stop_string_split_across_pieces() {
        let mut m = StopMatcher::new(&["</end>".to_string()]);
        assert_eq!(m.push("hello </"), StopOutput { text: "hello ".into(), stopped: false });
        assert_eq!(m.push("en"), StopOutput { text: "".into(), stopped: false });
        assert_eq!(m.push("d> more"), StopOutput { text: "".into(), stopped: true });
    }

    #[test]
    fn false_start_is_released() {
        let mut m = StopMatcher::new(&["STOP".to_string()]);
        assert_eq!(m.push("ST").text, "");
        assert_eq!(m.push("ART").text, "START");
        assert_eq!(m.push("ST").text, "");
        assert_eq!(m.finish(), "ST");
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let mut m = StopMatcher::new(&["b".to_string(), "xa".to_string()]);
        assert_eq!(m.push("1xab"), StopOutput { text: "1".into(), stopped: true });
    }

    #[test]
    fn multibyte_stop_strings() {
        let mut m = StopMatcher::new(&["끝.".to_string()]);
        assert_eq!(m.push("이제 끝").text, "이제 ");
        assert_eq!(m.push(".").stopped, true);
    }
}
