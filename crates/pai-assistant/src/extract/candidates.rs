//! Asking the chat model for candidate memories: the prompt, the JSON schema
//! that constrains its output (so it always parses on a grammar-capable
//! backend), and the checks every candidate passes before it is considered.

use pai_core::store::MemoryKind;
use pai_core::{ChatModel, ChatRequest, Constraint, Error, Message, Result, Sampling};
use serde::Deserialize;

use super::text::{GROUNDED, content_terms, grounding, invented_names, invents_korean, is_chitchat};

/// Most candidates taken from one exchange.
const MAX_CANDIDATES: usize = 6;
/// Room for MAX_CANDIDATES with the whitespace models put in JSON.
const MAX_ANSWER_TOKENS: u32 = 768;
/// Longest candidate text kept, in characters (the schema's limit).
pub const MAX_CANDIDATE_CHARS: usize = 200;

const SYSTEM: &str = "You pick out durable facts about the user from the user's messages, for the user's \
personal memory. Write each one as a short sentence about the user, in the language the user wrote in: \
\"Has a daughter named Jiwoo\", \"Lives in Busan\", \"Prefers tea to coffee\", \"딸 이름은 지우\". \
Keep: people and pets and their names, where the user lives and works, plans and events with their dates, \
likes and dislikes, health facts, standing instructions for the assistant. Skip greetings, thanks, questions, \
small talk, and anything that is only true for a moment. Never copy what the assistant said. \
kind: fact, preference, event or instruction. subject: one to three words naming what it is about \
(\"daughter\", \"home city\", \"coffee\"). importance: 1 (trivia) to 5 (critical, like an allergy). \
When there is nothing to keep, answer {\"memories\": []}. Example: for \"My sister Hana works at a bakery \
in Daegu. I hate cilantro.\" answer {\"memories\": [{\"text\": \"Sister Hana works at a bakery in Daegu\", \
\"kind\": \"fact\", \"subject\": \"sister\", \"importance\": 3}, {\"text\": \"Hates cilantro\", \
\"kind\": \"preference\", \"subject\": \"cilantro\", \"importance\": 2}]}";

/// The schema the model's answer must follow.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "memories": {
                "type": "array",
                "maxItems": MAX_CANDIDATES,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": 200},
                        "kind": {"type": "string", "enum": ["fact", "preference", "event", "instruction"]},
                        "subject": {"type": "string", "maxLength": 40},
                        "importance": {"type": "integer", "enum": [1, 2, 3, 4, 5]}
                    },
                    "required": ["text", "kind", "subject", "importance"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["memories"],
        "additionalProperties": false
    })
}

/// A memory the model proposed, checked and ready to be compared with what is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub text: String,
    pub kind: MemoryKind,
    pub subject: Option<String>,
    /// 0.0 ..= 1.0
    pub importance: f32,
}

#[derive(Deserialize)]
struct Answer {
    memories: Vec<RawCandidate>,
}

#[derive(Deserialize)]
struct RawCandidate {
    text: String,
    kind: String,
    #[serde(default)]
    subject: String,
    importance: serde_json::Value,
}

/// Why a proposed candidate was not kept (recorded as a NOOP decision).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub text: String,
    pub reason: &'static str,
}

/// Asks `model` for candidates from the user's messages (`dated` says when they
/// were written, in the user's calendar). An answer that does not parse is an
/// error, so the job is retried rather than the facts silently dropped. The
/// first attempt is greedy; a retry samples, since greedy would repeat itself.
pub async fn propose(
    model: &dyn ChatModel,
    user: pai_core::store::UserId,
    user_text: &str,
    dated: &str,
    attempt: u32,
) -> Result<String> {
    let sampling = if attempt <= 1 {
        Sampling { max_tokens: Some(MAX_ANSWER_TOKENS), ..Sampling::greedy() }
    } else {
        Sampling {
            temperature: 0.5,
            seed: Some(attempt as u64),
            max_tokens: Some(MAX_ANSWER_TOKENS),
            ..Sampling::default()
        }
    };
    let request = ChatRequest {
        messages: vec![
            Message::system(SYSTEM),
            Message::user(format!("The user's messages, written {dated}:\n{user_text}")),
        ],
        sampling,
        constraint: Some(Constraint::JsonSchema(schema())),
        owner: Some(user),
        background: true,
    };
    let (text, _) = pai_core::model::collect(model.chat(request)).await?;
    Ok(text)
}

/// An answer cut short (length limit) still holds the candidates written in
/// full before the cut: close the list after the last complete one.
fn salvage(answer: &str) -> Option<Answer> {
    let positions: Vec<usize> = answer.match_indices('}').map(|(i, _)| i).collect();
    positions.iter().rev().take(64).find_map(|&i| serde_json::from_str(&format!("{}]}}", &answer[..=i])).ok())
}

/// Parses the model's answer and sorts candidates into kept and rejected.
pub fn parse(answer: &str, user_text: &str) -> Result<(Vec<Candidate>, Vec<Rejected>)> {
    let parsed: Answer = match serde_json::from_str(answer.trim()) {
        Ok(a) => a,
        Err(e) => salvage(answer.trim()).ok_or_else(|| {
            let shown: String = answer.chars().take(200).collect();
            Error::invalid(format!("the model's answer does not follow the memory schema ({e}): {shown:?}"))
        })?,
    };
    let mut kept: Vec<Candidate> = Vec::new();
    let mut rejected = Vec::new();
    for raw in parsed.memories.into_iter().take(MAX_CANDIDATES) {
        let text = raw.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let reject = |reason| Rejected { text: text.clone(), reason };
        let Some(kind) = MemoryKind::parse(raw.kind.trim()) else {
            rejected.push(reject("unknown kind"));
            continue;
        };
        if text.chars().count() > MAX_CANDIDATE_CHARS || text.chars().count() < 3 {
            rejected.push(reject("too short or too long"));
        } else if text.ends_with('?') || content_terms(&text).is_empty() || is_chitchat(&text) {
            rejected.push(reject("nothing durable in it"));
        } else if repeats_itself(&text) {
            rejected.push(reject("repeats itself"));
        } else if about_the_assistant(&text) {
            rejected.push(reject("about the assistant, not the user"));
        } else if grounding(&text, user_text) < GROUNDED
            || !invented_names(&text, user_text).is_empty()
            || invents_korean(&text, user_text)
        {
            rejected.push(reject("not supported by the user's words"));
        } else if kept.iter().any(|k| super::text::says_the_same(&k.text, &text)) {
            rejected.push(reject("repeats another candidate"));
        } else {
            let subject = Some(raw.subject.trim().to_string()).filter(|s| !s.is_empty());
            let importance = raw.importance.as_f64().unwrap_or(3.0).clamp(1.0, 5.0) as f32 / 5.0;
            kept.push(Candidate { text, kind, subject, importance });
        }
    }
    Ok((kept, rejected))
}

/// A small model stuck in a loop writes the same words over and over.
fn repeats_itself(text: &str) -> bool {
    let all = pai_core::analyzer::terms(text);
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    all.len() >= 8 && (distinct.len() as f32) < all.len() as f32 * 0.5
}

fn about_the_assistant(text: &str) -> bool {
    let lower = text.to_lowercase();
    ["the assistant", "assistant ", "as an ai", "i can help", "i'm here to", "i am here to", "ai language model"]
        .iter()
        .any(|p| lower.starts_with(p) || lower.contains(&format!(" {p}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "Hi! My daughter Jiwoo turned 7. I moved to Busan last year.";

    #[test]
    fn good_candidates_are_kept_and_junk_is_rejected_with_a_reason() {
        let answer = r#"{"memories": [
            {"text": "Has a daughter named Jiwoo, age 7", "kind": "fact", "subject": "daughter", "importance": 4},
            {"text": "Lives in Busan", "kind": "fact", "subject": "home city", "importance": 4},
            {"text": "Lives   in Busan.", "kind": "fact", "subject": "home city", "importance": 4},
            {"text": "Hi", "kind": "fact", "subject": "", "importance": 1},
            {"text": "Owns a yacht in Monaco", "kind": "fact", "subject": "boat", "importance": 3},
            {"text": "The assistant offered to help", "kind": "event", "subject": "", "importance": 2},
            {"text": "Where does Jiwoo go to school?", "kind": "fact", "subject": "", "importance": 2}
        ]}"#;
        let (kept, rejected) = parse(answer, USER).unwrap();
        assert_eq!(
            kept.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ["Has a daughter named Jiwoo, age 7", "Lives in Busan"]
        );
        assert_eq!(kept[0].subject.as_deref(), Some("daughter"));
        assert!((kept[0].importance - 0.8).abs() < 1e-6);
        let reasons: Vec<&str> = rejected.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [
                "repeats another candidate",
                "too short or too long",
                "not supported by the user's words",
                "about the assistant, not the user",
            ]
        );
        // More than MAX_CANDIDATES: the rest (here the question) is not even looked at.
        assert_eq!(kept.len() + rejected.len(), MAX_CANDIDATES);
        let question =
            r#"{"memories": [{"text": "Where does Jiwoo go?", "kind": "fact", "subject": "", "importance": 2}]}"#;
        assert_eq!(parse(question, USER).unwrap().1[0].reason, "nothing durable in it");
        let looped = r#"{"memories": [{"text": "Jiwoo turned 7. Jiwoo turned 7. Jiwoo turned 7. Jiwoo turned 7.", "kind": "fact", "subject": "", "importance": 2}]}"#;
        assert_eq!(parse(looped, USER).unwrap().1[0].reason, "repeats itself");
    }

    #[test]
    fn malformed_answers_are_errors_not_empty_results() {
        for bad in ["", "{", "{\"memories\": [{\"text\": 1}]}", "I think the user likes tea", "[]"] {
            assert!(matches!(parse(bad, USER), Err(Error::Invalid { .. })), "{bad:?}");
        }
        assert_eq!(parse("{\"memories\": []}", USER).unwrap(), (vec![], vec![]));
        // Cut off inside the second candidate: the first is kept.
        let cut = r#"{"memories": [{"text": "Lives in Busan", "kind": "fact", "subject": "home city", "importance": 4}, {"text": "Has a daugh"#;
        assert_eq!(parse(cut, USER).unwrap().0[0].text, "Lives in Busan");
    }

    #[test]
    fn the_schema_is_valid_json_schema_for_the_answer_shape() {
        let s = schema();
        assert_eq!(s["properties"]["memories"]["items"]["required"].as_array().unwrap().len(), 4);
    }
}
