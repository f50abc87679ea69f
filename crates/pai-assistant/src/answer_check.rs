//! The model's answer, checked sentence by sentence as it streams (issue 24):
//! what a question's answer adds to its sources must come from them or from
//! the user, and be in the user's language. A sentence that states a number,
//! code or name found in neither, that is not in the user's language, or
//! whose Korean is not Korean, is dropped; when nothing is left, pai's own
//! fallback is said instead. Each sentence is judged when it ends, so the
//! answer still streams.

use std::collections::VecDeque;

use futures_util::StreamExt;
use pai_core::{ChatEvent, ChatStream};

use crate::extract::text::Support;
use crate::language::Language;

/// How one answer is checked.
#[derive(Debug, Clone)]
pub struct AnswerCheck {
    /// The user's language: a sentence in the other one is dropped.
    pub language: Language,
    /// The cited sources and the user's own words, which every number, code
    /// and name must be found in; `None` for a general answer (no sources:
    /// its citation marks are taken out instead).
    pub support: Option<Support>,
    /// Said before the first sentence kept (a general answer's label).
    pub lead: String,
    /// Said when no sentence is kept ("" for nothing).
    pub fallback: String,
}

/// Why a sentence was dropped (for the tests and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Numbers, codes or names that neither the sources nor the user said.
    Unsupported(Vec<String>),
    /// Not in the user's language.
    Language,
    /// Hangul that is not Korean words (a small model's garble).
    Garbled(Vec<String>),
}

impl AnswerCheck {
    /// The sentence as it may be said, or why it may not.
    pub fn judge(&self, sentence: &str) -> Result<String, Dropped> {
        let text = match self.support {
            Some(_) => sentence.to_string(),
            None => without_citations(sentence),
        };
        if !text.chars().any(char::is_alphabetic) {
            return Ok(text);
        }
        if Language::of(&text) != self.language {
            return Err(Dropped::Language);
        }
        let Some(support) = &self.support else { return Ok(text) };
        let invented = support.invented_names(&without_citations(&text));
        if !invented.is_empty() {
            return Err(Dropped::Unsupported(invented));
        }
        if self.language == Language::Korean {
            let words = text.split_whitespace().filter(|w| hangul_syllables(w) >= 2).count();
            let garbled = support.garbled_korean(&text);
            if garbled.len() * 2 > words {
                return Err(Dropped::Garbled(garbled));
            }
        }
        Ok(text)
    }
}

fn hangul_syllables(word: &str) -> usize {
    word.chars().filter(|c| ('\u{AC00}'..='\u{D7A3}').contains(c)).count()
}

/// `text` without citation marks ("[2]", "[m12]").
pub fn without_citations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let digits = after.strip_prefix('m').unwrap_or(after);
        let n = digits.chars().take_while(char::is_ascii_digit).count();
        if n > 0 && digits[n..].starts_with(']') {
            let skip = after.len() - digits.len() + n + 1;
            rest = &after[skip..];
            // "word [1]." → "word."
            if out.ends_with(' ') && !rest.starts_with(char::is_alphanumeric) {
                out.pop();
            }
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Where the first whole sentence of `buffer` ends (after its trailing
/// whitespace), if one has: at ".", "!", "?" or "。" followed by whitespace,
/// or at a line break.
fn sentence_end(buffer: &str) -> Option<usize> {
    let mut chars = buffer.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let ends = c == '\n' || (matches!(c, '.' | '!' | '?' | '。') && next.is_some_and(char::is_whitespace));
        if ends {
            let mut end = i + c.len_utf8();
            // Whitespace after it goes with it (a paragraph break stays).
            while let Some(&(j, w)) = chars.peek() {
                if !w.is_whitespace() {
                    break;
                }
                end = j + w.len_utf8();
                chars.next();
            }
            // Whitespace still arriving may belong to it: wait for more.
            return (end < buffer.len()).then_some(end);
        }
    }
    None
}

struct State {
    inner: ChatStream,
    check: AnswerCheck,
    buffer: String,
    kept: usize,
    /// The whitespace after the last sentence kept: said only before the
    /// next one kept, so that an answer does not end in a dropped sentence's space.
    space: String,
    out: VecDeque<pai_core::Result<ChatEvent>>,
    ended: bool,
}

impl State {
    fn take(&mut self, sentence: &str) {
        match self.check.judge(sentence) {
            Ok(text) => {
                let said = text.trim_end();
                if said.trim_start().is_empty() {
                    if self.kept > 0 {
                        self.space.push_str(&text);
                    }
                    return;
                }
                let before = match self.kept {
                    0 => self.check.lead.clone(),
                    _ => std::mem::take(&mut self.space),
                };
                self.kept += 1;
                self.out.push_back(Ok(ChatEvent::Delta(format!("{before}{said}"))));
                self.space = text[said.len()..].to_string();
            }
            Err(why) => tracing::debug!(?why, sentence, "an answer's sentence was dropped"),
        }
    }

    fn push(&mut self, event: pai_core::Result<ChatEvent>) {
        match event {
            Ok(ChatEvent::Delta(piece)) => {
                self.buffer.push_str(&piece);
                while let Some(end) = sentence_end(&self.buffer) {
                    let sentence: String = self.buffer.drain(..end).collect();
                    self.take(&sentence);
                }
            }
            Ok(ChatEvent::Done(done)) => {
                let rest = std::mem::take(&mut self.buffer);
                self.take(&rest);
                if self.kept == 0 && !self.check.fallback.is_empty() {
                    self.out.push_back(Ok(ChatEvent::Delta(self.check.fallback.clone())));
                }
                self.out.push_back(Ok(ChatEvent::Done(done)));
                self.ended = true;
            }
            Err(e) => {
                self.out.push_back(Err(e));
                self.ended = true;
            }
        }
    }
}

/// `answer`, each sentence judged by `check` when it ends.
pub fn checked(answer: ChatStream, check: AnswerCheck) -> ChatStream {
    let state = State {
        inner: answer,
        check,
        buffer: String::new(),
        kept: 0,
        space: String::new(),
        out: VecDeque::new(),
        ended: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.out.pop_front() {
                return Some((event, s));
            }
            if s.ended {
                return None;
            }
            match s.inner.next().await {
                Some(event) => s.push(event),
                None => s.ended = true,
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pai_core::{Completion, FinishReason, Usage};

    fn cited(language: Language, support: &str) -> AnswerCheck {
        AnswerCheck { language, support: Some(Support::of(support)), lead: String::new(), fallback: "FALLBACK".into() }
    }

    async fn run(check: AnswerCheck, pieces: &[&str]) -> String {
        let done = Completion { finish_reason: FinishReason::Stop, usage: Usage::default() };
        let mut events: Vec<pai_core::Result<ChatEvent>> =
            pieces.iter().map(|p| Ok(ChatEvent::Delta(p.to_string()))).collect();
        events.push(Ok(ChatEvent::Done(done)));
        let (text, _) =
            pai_core::model::collect(checked(Box::pin(futures_util::stream::iter(events)), check)).await.unwrap();
        text
    }

    #[tokio::test]
    async fn what_the_sources_do_not_say_is_dropped_sentence_by_sentence() {
        let support =
            "If the boiler locks out, enter the reset code 4417-ZETA on the keypad. What is the boiler reset code?";
        let answer = [
            "The boiler reset ",
            "code is 4417-ZETA [1]. It is a variant of the BEM code, used since 1987. ",
            "Enter it on the keypad.",
        ];
        let said = run(cited(Language::English, support), &answer).await;
        assert_eq!(said, "The boiler reset code is 4417-ZETA [1]. Enter it on the keypad.");
        // Nothing left: pai's fallback.
        let said = run(cited(Language::English, support), &["It was made by Vaillant in 1987."]).await;
        assert_eq!(said, "FALLBACK");
    }

    #[tokio::test]
    async fn an_answer_not_in_the_users_language_or_not_korean_is_dropped() {
        let support = "보일러 필터는 석 달마다 교체합니다. 보일러 필터는 얼마나 자주 바꿔야 해?";
        let garbled = "보일러 필터는 어르도 얘며 어르도 얘면나 여방 이렉지론에.";
        assert!(matches!(cited(Language::Korean, support).judge(garbled), Err(Dropped::Garbled(_))));
        assert_eq!(cited(Language::Korean, support).judge("The filter is changed."), Err(Dropped::Language));
        assert!(cited(Language::Korean, support).judge("보일러 필터는 석 달마다 교체합니다.").is_ok());
        let said = run(cited(Language::Korean, support), &[garbled, " Change it every three months."]).await;
        assert_eq!(said, "FALLBACK");
    }

    #[tokio::test]
    async fn a_general_answer_loses_its_citation_marks_and_gets_its_label() {
        let general = AnswerCheck {
            language: Language::English,
            support: None,
            lead: "General: ".into(),
            fallback: String::new(),
        };
        let said =
            run(general.clone(), &["Paris is the capital [1]", " of France [m3]. It has 2.1 million people."]).await;
        assert_eq!(said, "General: Paris is the capital of France. It has 2.1 million people.");
        // Nothing kept: no label either.
        assert_eq!(run(general, &["파리입니다."]).await, "");
    }

    #[test]
    fn sentences_end_at_their_stop_and_the_whitespace_after_it() {
        assert_eq!(sentence_end("It is 3.5 m. Then"), Some(13));
        assert_eq!(sentence_end("It is 3.5 m."), None);
        assert_eq!(sentence_end("One\nTwo"), Some(4));
        assert_eq!(without_citations("code [2]. See [m12] and [x]"), "code. See and [x]");
    }
}
