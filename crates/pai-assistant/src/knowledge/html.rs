//! HTML to sections in one pass over the tokens: no tree is built, so the
//! cost is linear in the input whatever the nesting (a page nested 100,000
//! deep took html2text 70-120 s). Headings start sections, block elements
//! break lines, whitespace collapses as a browser shows it, and script,
//! style and template contents are not text.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};

use super::formats::Section;

/// The page's title and its sections.
pub fn read(source: &str) -> (Option<String>, Vec<Section>) {
    let tokenizer = Tokenizer::new(Reader::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(source));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut state = tokenizer.sink.state.into_inner();
    // A heading never closed still holds text: keep it.
    state.end_heading();
    let title = state.title.map(|t| collapse(&t)).filter(|t| !t.is_empty());
    (title, state.sections)
}

#[derive(Default)]
struct Reader {
    state: RefCell<State>,
}

struct State {
    sections: Vec<Section>,
    /// Text of the heading being read (inside `<h1>`…`<h6>`).
    heading: Option<String>,
    title: Option<String>,
    in_title: bool,
    /// Inside an element whose content is not text (`script`, `style`…).
    skipping: Option<&'static str>,
    /// Depth of `<pre>`: whitespace is kept there.
    pre: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            sections: vec![Section { heading: None, page: None, text: String::new() }],
            heading: None,
            title: None,
            in_title: false,
            skipping: None,
            pre: 0,
        }
    }
}

const SKIPPED: [&str; 5] = ["script", "style", "template", "noscript", "svg"];
const BLOCKS: [&str; 28] = [
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "tr",
    "table",
    "thead",
    "tbody",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "main",
    "aside",
    "blockquote",
    "pre",
    "hr",
    "form",
    "figure",
    "figcaption",
    "address",
    "caption",
];

impl State {
    fn text(&mut self) -> &mut String {
        match &mut self.heading {
            Some(h) => h,
            None => &mut self.sections.last_mut().expect("one section").text,
        }
    }

    fn characters(&mut self, chars: &str) {
        if self.skipping.is_some() {
            return;
        }
        if self.in_title {
            self.title.get_or_insert_with(String::new).push_str(chars);
            return;
        }
        let keep = self.pre > 0;
        let out = self.text();
        for c in chars.chars() {
            if c == '\0' {
                continue;
            }
            if !keep && c.is_whitespace() {
                if !out.is_empty() && !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
            } else {
                out.push(c);
            }
        }
    }

    fn line_break(&mut self) {
        let out = self.text();
        while out.ends_with(' ') {
            out.pop();
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    }

    fn end_heading(&mut self) {
        if let Some(h) = self.heading.take() {
            let h = collapse(&h);
            if h.is_empty() {
                self.line_break();
            } else {
                self.sections.push(Section { heading: Some(h), page: None, text: String::new() });
            }
        }
    }

    fn tag(&mut self, kind: TagKind, name: &str) -> TokenSinkResult<()> {
        if let Some(skipped) = self.skipping {
            if kind == TagKind::EndTag && name == skipped {
                self.skipping = None;
            }
            return TokenSinkResult::Continue;
        }
        let start = kind == TagKind::StartTag;
        match name {
            "title" => {
                // Only the first title is the page's; `<title>` inside an svg was skipped above.
                self.in_title = start && self.title.is_none();
                if start {
                    return TokenSinkResult::RawData(RawKind::Rcdata);
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.end_heading();
                if start {
                    self.line_break();
                    self.heading = Some(String::new());
                }
            }
            "td" | "th" if !start => self.text().push_str(" | "),
            _ if start && SKIPPED.contains(&name) => {
                self.skipping = SKIPPED.iter().copied().find(|s| *s == name);
                return match name {
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "noscript" => TokenSinkResult::RawData(RawKind::Rawtext),
                    _ => TokenSinkResult::Continue,
                };
            }
            _ if BLOCKS.contains(&name) => {
                if name == "pre" {
                    self.pre = if start { self.pre + 1 } else { self.pre.saturating_sub(1) };
                }
                self.line_break();
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

impl TokenSink for Reader {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            Token::CharacterTokens(chars) => state.characters(&chars),
            Token::TagToken(tag) => {
                let result = state.tag(tag.kind, &tag.name);
                if tag.self_closing && tag.kind == TagKind::StartTag && state.skipping.is_some() {
                    // `<svg/>`: nothing to skip.
                    state.skipping = None;
                    return TokenSinkResult::Continue;
                }
                return result;
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::read;

    #[test]
    fn headings_blocks_tables_and_whitespace() {
        let (title, sections) = read(
            "<html><head><title> The   lease </title><style>p{color:red}</style></head><body>
             <p>Rent is   due\n on the <b>fifth</b>.</p><div>Keys: two</div>
             <h2>Pets &amp; <i>plants</i></h2><table><tr><td>cats</td><td>no</td></tr></table>
             <script>if (a < b) { document.write('<h1>x</h1>') }</script><pre>a\n  b</pre></body></html>",
        );
        assert_eq!(title.as_deref(), Some("The lease"));
        assert_eq!(sections[0].text.trim(), "Rent is due on the fifth.\nKeys: two");
        assert_eq!(sections[1].heading.as_deref(), Some("Pets & plants"));
        assert!(sections[1].text.contains("cats | no |"), "{:?}", sections[1].text);
        assert!(sections[1].text.contains("a\n  b"), "{:?}", sections[1].text);
        assert!(!sections.iter().any(|s| s.text.contains("document") || s.text.contains("color")), "{sections:?}");
        assert_eq!(sections.len(), 2, "{sections:?}");
    }

    #[test]
    fn deep_nesting_and_broken_markup_are_read_in_one_pass() {
        let deep = format!("{}deep text{}", "<div><span>".repeat(100_000), "</span></div>".repeat(100_000));
        let (_, sections) = read(&deep);
        assert_eq!(sections[0].text.trim(), "deep text");
        let (_, sections) = read("<p>unclosed <b>bold <h1>Head</p> more <script>never closed");
        assert_eq!(sections[1].heading.as_deref(), Some("Head more"), "{sections:?}");
    }
}
