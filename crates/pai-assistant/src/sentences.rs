//! Sentences of a message, a passage or a transcript: cut after . ! ? and
//! their CJK forms when a space or the end follows ("1.5m" and "v2.0" stay
//! whole), and at line breaks. Shared by extraction, reminder suggestions and
//! summaries, so they agree on what a sentence is.

/// The sentences of `text`, trimmed, empty ones left out.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let boundary = c == '\n'
            || (matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
                && chars.peek().is_none_or(|(_, next)| next.is_whitespace()));
        if boundary {
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = end;
        }
    }
    let s = text[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sentences_end_at_a_stop_before_a_space_or_a_line_end() {
        assert_eq!(
            super::split("My daughter is 7. Remember that the wifi password is 1.5m up!\n내 차 번호 기억해 줘"),
            ["My daughter is 7.", "Remember that the wifi password is 1.5m up!", "내 차 번호 기억해 줘"]
        );
        assert_eq!(super::split("  \n\n "), Vec::<&str>::new());
        assert_eq!(super::split("내일 봐요。 그래요？\n네"), ["내일 봐요。", "그래요？", "네"]);
    }
}
