//! Turns token bytes into text that is safe to show as it streams: whole UTF-8
//! characters only (a Korean syllable is 3 bytes and byte-level BPE splits it
//! across tokens), and nothing that might turn out to be the start of a stop
//! string.

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

    /// Whatever is left when generation ends (an unfinished character).
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

/// Holds back text that could be the beginning of a stop string.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
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
        StopMatcher { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    pub fn push(&mut self, text: &str) -> StopOutput {
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
        std::mem::take(&mut self.held)
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
        assert_eq!(dec.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_and_do_not_stall() {
        let mut dec = Utf8Decoder::default();
        assert_eq!(dec.push(&[b'a', 0xff, b'b']), "a\u{fffd}b");
        assert_eq!(dec.push(&[0xec, 0x95]), "");
        assert_eq!(dec.finish(), "\u{fffd}");
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
