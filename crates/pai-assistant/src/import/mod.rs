//! History import: pai's generic JSON, the ChatGPT data export's
//! `conversations.json` and KakaoTalk's text exports (`kakao.rs`). The whole
//! file is parsed and checked before anything is written; then each
//! conversation is stored in one transaction, indexed for recall at once, and
//! queued for memory extraction (which runs later, in the background).
//! Conversations imported before are skipped.

mod kakao;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use pai_core::store::{MAX_TEXT_BYTES, NewMessage, Store, UserId};
use pai_core::{Embedder, Error, Result, Role};
use serde::Deserialize;

use crate::index::embed_pending;

/// User messages per extraction job: enough context, small enough for a small model.
pub(crate) const MESSAGES_PER_JOB: usize = 6;

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub title: String,
    pub messages: Vec<NewMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"title": …, "messages": [{"role", "speaker", "content", "created_at", "external_id", "attachments"}]}`
    /// or a list of them.
    Pai,
    /// ChatGPT's `conversations.json`: a list of conversations with a `mapping` tree.
    ChatGpt,
    /// KakaoTalk's "대화 내보내기" text file (PC or mobile, Korean or English UI).
    KakaoTalk,
}

impl Format {
    /// The name the CLI and the API take ("pai", "chatgpt", "kakaotalk").
    pub fn parse_name(name: &str) -> Option<Format> {
        match name {
            "pai" => Some(Format::Pai),
            "chatgpt" => Some(Format::ChatGpt),
            "kakaotalk" | "kakao" => Some(Format::KakaoTalk),
            _ => None,
        }
    }
}

/// What a file alone may not say.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// The format; detected from the content when `None`.
    pub format: Option<Format>,
    /// The owner's name in a chat export, when the file does not mark it.
    pub me: Option<String>,
    /// The zone of times written without one (KakaoTalk); UTC when `None`.
    pub zone: Option<Tz>,
}

/// Parses a whole file. Invalid UTF-8, malformed JSON or lines, an unknown
/// role, an empty or oversized message: an error naming the place, and
/// nothing kept.
pub fn parse(bytes: &[u8], options: &ParseOptions) -> Result<(Format, Vec<Conversation>)> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::invalid(format!("the file is not UTF-8 text (bad byte at offset {})", e.valid_up_to())))?;
    let is_json = text.trim_start_matches('\u{feff}').trim_start().starts_with(['{', '[']);
    let format = match options.format {
        Some(f) => f,
        None if !is_json && kakao::looks_like(text) => Format::KakaoTalk,
        None if !is_json => {
            return Err(Error::invalid(
                "unknown file format: expected pai's JSON, ChatGPT's conversations.json or a KakaoTalk export (.txt)",
            ));
        }
        None => detect(&json(text)?)?,
    };
    let conversations = match format {
        Format::Pai => pai(json(text)?)?,
        Format::ChatGpt => chatgpt(json(text)?)?,
        Format::KakaoTalk => kakao::parse(text, options.me.as_deref(), options.zone.unwrap_or(chrono_tz::UTC))?,
    };
    // A conversation with no messages would be stored empty, learned from never.
    let mut conversations = conversations;
    conversations.retain(|c| !c.messages.is_empty());
    if conversations.is_empty() {
        return Err(Error::invalid("the file has no messages to import"));
    }
    for (i, c) in conversations.iter().enumerate() {
        for (j, m) in c.messages.iter().enumerate() {
            if m.content.len() > MAX_TEXT_BYTES {
                return Err(Error::invalid(format!(
                    "conversation {} ({:?}), message {}: {} bytes, over the {MAX_TEXT_BYTES}-byte limit",
                    i + 1,
                    c.title,
                    j + 1,
                    m.content.len()
                )));
            }
            if m.content.contains('\0') {
                return Err(Error::invalid(format!(
                    "conversation {} ({:?}), message {}: contains a NUL character",
                    i + 1,
                    c.title,
                    j + 1
                )));
            }
        }
    }
    Ok((format, conversations))
}

fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Error::invalid(format!("the file is not valid JSON: {e}")))
}

fn detect(value: &serde_json::Value) -> Result<Format> {
    let first = match value {
        serde_json::Value::Array(items) => items.first(),
        other => Some(other),
    };
    match first {
        Some(v) if v.get("mapping").is_some() => Ok(Format::ChatGpt),
        Some(v) if v.get("messages").is_some() => Ok(Format::Pai),
        None => Ok(Format::Pai),
        Some(_) => Err(Error::invalid(
            "unknown file format: expected pai's {\"title\", \"messages\"} or ChatGPT's conversations.json",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaiConversation {
    #[serde(default)]
    title: Option<String>,
    /// Read one by one, so an error names the message.
    messages: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaiMessage {
    role: String,
    #[serde(default)]
    speaker: Option<String>,
    content: String,
    created_at: DateTime<chrono::FixedOffset>,
    #[serde(default)]
    external_id: Option<String>,
    /// Photos and files sent with the message, as far as the export describes them.
    #[serde(default)]
    attachments: Vec<PaiAttachment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaiAttachment {
    /// "photo", "video", "file", …: free text, shown as is.
    kind: String,
    /// What it shows (a photo's description, a file's name).
    #[serde(default)]
    caption: Option<String>,
}

/// A message's text with its attachments written after it ("[photo: a clay
/// bowl]"): what a photo shows is part of what was said, found and cited with it.
fn with_attachments(content: String, attachments: &[PaiAttachment]) -> String {
    let mut out = content;
    for a in attachments {
        let kind = a.kind.trim();
        let kind = if kind.is_empty() { "attachment" } else { kind };
        let note = match a.caption.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(caption) => format!("[{kind}: {caption}]"),
            None => format!("[{kind}]"),
        };
        if !out.trim().is_empty() {
            out.push('\n');
        }
        out.push_str(&note);
    }
    out
}

fn pai(value: serde_json::Value) -> Result<Vec<Conversation>> {
    let items = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let c: PaiConversation =
            serde_json::from_value(item).map_err(|e| Error::invalid(format!("conversation {}: {e}", i + 1)))?;
        let mut messages = Vec::with_capacity(c.messages.len());
        for (j, m) in c.messages.into_iter().enumerate() {
            let at = || format!("conversation {}, message {}", i + 1, j + 1);
            let m: PaiMessage = serde_json::from_value(m).map_err(|e| Error::invalid(format!("{}: {e}", at())))?;
            // "other" is another person in a group chat: kept with their name, never taken for the user.
            let (role, speaker) = match m.role.as_str() {
                "user" => (Role::User, None),
                "assistant" => (Role::Assistant, m.speaker),
                "other" => {
                    (Role::User, Some(m.speaker.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "someone".into())))
                }
                r => return Err(Error::invalid(format!("{}: unknown role {r:?} (user, assistant or other)", at()))),
            };
            let content = with_attachments(m.content, &m.attachments);
            if content.trim().is_empty() {
                return Err(Error::invalid(format!("{}: empty content", at())));
            }
            messages.push(NewMessage {
                role,
                speaker,
                content,
                created_at: m.created_at.with_timezone(&Utc),
                external_id: m.external_id,
            });
        }
        let title =
            c.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| format!("Imported conversation {}", i + 1));
        out.push(Conversation { title, messages });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct GptConversation {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    create_time: Option<f64>,
    mapping: std::collections::HashMap<String, GptNode>,
    #[serde(default)]
    current_node: Option<String>,
}

#[derive(Deserialize)]
struct GptNode {
    #[serde(default)]
    message: Option<GptMessage>,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Deserialize)]
struct GptMessage {
    id: String,
    author: GptAuthor,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    content: Option<GptContent>,
}

#[derive(Deserialize)]
struct GptAuthor {
    role: String,
}

#[derive(Deserialize)]
struct GptContent {
    #[serde(default)]
    parts: Vec<serde_json::Value>,
}

fn seconds(t: f64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.trunc() as i64, ((t.fract()) * 1e9) as u32).single()
}

fn chatgpt(value: serde_json::Value) -> Result<Vec<Conversation>> {
    let list: Vec<GptConversation> =
        serde_json::from_value(value).map_err(|e| Error::invalid(format!("not a ChatGPT conversations.json: {e}")))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, c) in list.into_iter().enumerate() {
        // The conversation as last seen: from the current node up to the root
        // (edited and regenerated branches are left out, as in ChatGPT's view).
        let mut chain = Vec::new();
        let mut node = c.current_node.clone().or_else(|| {
            c.mapping.iter().find(|(_, n)| n.message.is_some()).map(|(id, _)| id.clone()) // no pointer: any
        });
        let mut guard = 0;
        while let Some(id) = node {
            guard += 1;
            if guard > c.mapping.len() + 1 {
                return Err(Error::invalid(format!("conversation {}: the message tree has a cycle", i + 1)));
            }
            let Some(n) = c.mapping.get(&id) else {
                return Err(Error::invalid(format!("conversation {}: message {id} is missing from mapping", i + 1)));
            };
            if let Some(m) = &n.message {
                chain.push(m);
            }
            node = n.parent.clone();
        }
        chain.reverse();
        let start = c.create_time.and_then(seconds).unwrap_or_else(Utc::now);
        let mut messages = Vec::new();
        for m in chain {
            let role = match m.author.role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                _ => continue, // system prompts and tool output are not conversation
            };
            let text: Vec<&str> = m
                .content
                .iter()
                .flat_map(|c| &c.parts)
                .filter_map(|p| p.as_str())
                .filter(|s| !s.trim().is_empty())
                .collect();
            if text.is_empty() {
                continue; // images, files, empty placeholders
            }
            let created_at = m.create_time.and_then(seconds).unwrap_or(start);
            messages.push(NewMessage {
                role,
                speaker: None,
                content: text.join("\n"),
                created_at,
                external_id: Some(m.id.clone()),
            });
        }
        if messages.is_empty() {
            continue;
        }
        let title =
            c.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| format!("ChatGPT conversation {}", i + 1));
        out.push(Conversation { title, messages });
    }
    Ok(out)
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub conversations: usize,
    pub messages: usize,
    /// Already imported earlier (same external ids).
    pub skipped: usize,
    pub jobs: usize,
}

/// Progress of an import, for a progress bar.
pub enum Progress {
    Stored { done: usize, total: usize },
    Indexed { done: usize },
}

/// Stores `conversations` for `user`, indexes them, queues extraction.
pub async fn import(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    conversations: Vec<Conversation>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Report> {
    store.user(user).await?;
    let total = conversations.len();
    let mut report = Report::default();
    for (i, c) in conversations.into_iter().enumerate() {
        let seen = match c.messages.iter().find_map(|m| m.external_id.as_deref()) {
            Some(ext) => store.message_by_external_id(user, ext).await?.is_some(),
            None => false,
        };
        if seen {
            report.skipped += 1;
        } else {
            // The user's own words, a few at a time, with the replies between
            // them as context; queued with the messages, in one transaction.
            let own: Vec<usize> = (0..c.messages.len())
                .filter(|&i| c.messages[i].role == Role::User && c.messages[i].speaker.is_none())
                .collect();
            let jobs: Vec<Vec<usize>> = own.chunks(MESSAGES_PER_JOB).map(<[usize]>::to_vec).collect();
            let (_, stored) = store.import_conversation(user, &c.title, c.messages, &jobs).await?;
            report.conversations += 1;
            report.messages += stored.len();
            report.jobs += jobs.len();
        }
        progress(Progress::Stored { done: i + 1, total });
    }
    let mut indexed = 0;
    loop {
        let n = embed_pending(store, embedder, user, 256).await?;
        if n == 0 {
            break;
        }
        indexed += n;
        progress(Progress::Indexed { done: indexed });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generic_format_with_group_chat_speakers() {
        let file = r#"{"title": "Family chat", "messages": [
            {"role": "user", "speaker": "Minji", "content": "I moved to Busan", "created_at": "2026-03-01T10:00:00+09:00", "external_id": "k1"},
            {"role": "other", "speaker": "Mom", "content": "Call me when you arrive", "created_at": "2026-03-01T10:01:00+09:00"},
            {"role": "assistant", "content": "Noted", "created_at": "2026-03-01T10:02:00+09:00"}
        ]}"#;
        let (format, convs) = parse(file.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(format, Format::Pai);
        let m = &convs[0].messages;
        assert_eq!((m[0].role, m[0].speaker.as_deref()), (Role::User, None));
        assert_eq!((m[1].role, m[1].speaker.as_deref()), (Role::User, Some("Mom")));
        assert_eq!(m[0].created_at, "2026-03-01T01:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(m[0].external_id.as_deref(), Some("k1"));
    }

    #[test]
    fn attachments_are_part_of_what_was_said() {
        let file = r#"{"messages": [
            {"role": "user", "content": "look what I made!", "created_at": "2026-03-01T10:00:00+09:00",
             "attachments": [{"kind": "photo", "caption": "a lumpy grey clay bowl"}, {"kind": "file"}]},
            {"role": "other", "speaker": "Jisoo", "content": "", "created_at": "2026-03-01T10:01:00+09:00",
             "attachments": [{"kind": "photo", "caption": "a beagle in the snow"}]}
        ]}"#;
        let (_, convs) = parse(file.as_bytes(), &ParseOptions::default()).unwrap();
        let texts: Vec<&str> = convs[0].messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(
            texts,
            ["look what I made!\n[photo: a lumpy grey clay bowl]\n[file]", "[photo: a beagle in the snow]"]
        );
        let unknown = r#"{"messages": [{"role": "user", "content": "x", "created_at": "2026-01-01T00:00:00Z",
            "attachments": [{"kind": "photo", "url": "http://x"}]}]}"#;
        assert!(parse(unknown.as_bytes(), &ParseOptions::default()).unwrap_err().to_string().contains("url"));
    }

    #[test]
    fn malformed_files_are_refused_with_the_place() {
        let bad: &[(&[u8], &str)] = &[
            (b"\xff\xfe{}", "not UTF-8"),
            (b"{\"title\": \"x\", \"messages\": [", "not valid JSON"),
            (
                br#"{"messages": [{"role": "robot", "content": "x", "created_at": "2026-01-01T00:00:00Z"}]}"#,
                "unknown role",
            ),
            (
                br#"{"messages": [{"role": "user", "content": "  ", "created_at": "2026-01-01T00:00:00Z"}]}"#,
                "empty content",
            ),
            (br#"{"messages": [{"role": "user", "content": "x", "created_at": "yesterday"}]}"#, "conversation 1"),
            (br#"{"messages": [{"role": "user", "content": "x"}]}"#, "created_at"),
            (br#"{"chats": []}"#, "unknown file format"),
        ];
        for (bytes, want) in bad {
            let e = parse(bytes, &ParseOptions::default()).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should mention {want}");
        }
        let huge = format!(
            r#"{{"messages": [{{"role": "user", "content": "{}", "created_at": "2026-01-01T00:00:00Z"}}]}}"#,
            "a".repeat(MAX_TEXT_BYTES + 1)
        );
        assert!(parse(huge.as_bytes(), &ParseOptions::default()).unwrap_err().to_string().contains("limit"));
        assert!(
            parse(br#"{"messages": []}"#, &ParseOptions::default()).unwrap_err().to_string().contains("no messages")
        );
        let nul =
            br#"{"messages": [{"role": "user", "content": "hi\u0000there", "created_at": "2026-01-01T00:00:00Z"}]}"#;
        assert!(parse(nul, &ParseOptions::default()).unwrap_err().to_string().contains("message 1: contains a NUL"));
    }

    #[test]
    fn chatgpt_exports_follow_the_current_branch() {
        let file = r#"[{"title": "Trip", "create_time": 1700000000.5, "current_node": "c", "mapping": {
            "root": {"message": null, "parent": null, "children": ["s"]},
            "s": {"message": {"id": "s", "author": {"role": "system"}, "content": {"content_type": "text", "parts": [""]}}, "parent": "root"},
            "a": {"message": {"id": "a", "author": {"role": "user"}, "create_time": 1700000001.0, "content": {"content_type": "text", "parts": ["I live in Seoul"]}}, "parent": "s"},
            "old": {"message": {"id": "old", "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["draft answer"]}}, "parent": "a"},
            "b": {"message": {"id": "b", "author": {"role": "assistant"}, "create_time": 1700000002.0, "content": {"content_type": "text", "parts": ["Nice city!", {"image": 1}]}}, "parent": "a"},
            "c": {"message": {"id": "c", "author": {"role": "user"}, "create_time": 1700000003.0, "content": {"content_type": "text", "parts": ["Thanks"]}}, "parent": "b"}
        }}]"#;
        let (format, convs) = parse(file.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(format, Format::ChatGpt);
        let texts: Vec<&str> = convs[0].messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["I live in Seoul", "Nice city!", "Thanks"]);
        assert_eq!(convs[0].messages[0].external_id.as_deref(), Some("a"));
        assert_eq!(convs[0].messages[0].created_at.timestamp(), 1700000001);
        let cyclic = r#"[{"current_node": "a", "mapping": {"a": {"message": null, "parent": "b"}, "b": {"message": null, "parent": "a"}}}]"#;
        assert!(parse(cyclic.as_bytes(), &ParseOptions::default()).unwrap_err().to_string().contains("cycle"));
    }
}
