//! Memory requests answered by pai itself, in the turn that makes them and in
//! the user's language, without the model: "remember …" is stored at once and
//! confirmed with what was stored ("기억할게요: …"), "forget …" deletes what
//! it means, takes it out of the messages that said it and says what was
//! forgotten (or asks which, when several memories match), and "what do you
//! know about me?" lists the memories, grouped, with how to change them.

use chrono_tz::Tz;
use pai_core::store::{Decision, ItemRef, Memory, MemoryChange, MemoryKind, Store, StoredMessage, UserId};
use pai_core::{ChatModel, Embedder, Result};

use crate::extract::{ASKED_WHICH, NOTHING_TO_FORGET, Pipeline, has_request};
use crate::language::Language;
use crate::redact;

/// Memories listed in answer to "what do you know about me?".
const LISTED: usize = 30;

/// What a turn's memory request came to.
pub struct Handled {
    /// pai's reply.
    pub reply: String,
    /// The message holds more than the request, for background extraction.
    pub rest_for_model: bool,
}

/// Carries out the memory requests in `message` (the user's, just stored)
/// and says what was done; `None` when it holds none.
pub async fn handle(
    store: &dyn Store,
    model: &dyn ChatModel,
    embedder: &dyn Embedder,
    user: UserId,
    message: &StoredMessage,
    tz: Tz,
) -> Result<Option<Handled>> {
    let korean = Language::of(&message.content) == Language::Korean;
    if asks_what_pai_knows(&message.content) {
        let memories = store.memories(user, false).await?;
        return Ok(Some(Handled { reply: what_pai_knows(&memories, korean), rest_for_model: false }));
    }
    if !has_request(&message.content) {
        return Ok(None);
    }
    let pipeline = Pipeline { store, model: Some(model), embedder };
    let (decisions, rest) = pipeline.by_rule(user, std::slice::from_ref(message), tz).await?;
    // What is deleted is read before it goes: the reply names it, and its words
    // are taken out of the messages that said it.
    let deleted_ids: Vec<_> = decisions
        .iter()
        .filter_map(|d| if let MemoryChange::Delete { id } = d.change { Some(id) } else { None })
        .collect();
    let deleted = store.memories_by_id(user, &deleted_ids).await?;
    let known_ids: Vec<_> = decisions
        .iter()
        .filter_map(|d| if let MemoryChange::Noop { existing: Some(id) } = d.change { Some(id) } else { None })
        .collect();
    let known = store.memories_by_id(user, &known_ids).await?;
    let mut asked: Vec<Memory> = Vec::new();
    for d in &decisions {
        if let Some(ids) = d.reason.strip_prefix(ASKED_WHICH).and_then(|r| r.strip_prefix(": ")) {
            let ids: Vec<_> = ids.split(", ").filter_map(|i| i.parse().ok()).map(pai_core::store::MemoryId).collect();
            asked.extend(store.memories_by_id(user, &ids).await?);
        }
    }
    let records = store.apply_decisions(user, decisions.clone()).await?;
    // What was stored is found by its meaning at once.
    let stored: Vec<ItemRef> = records.iter().filter_map(|r| r.memory).map(ItemRef::Memory).collect();
    crate::index::embed_items(store, embedder, user, &stored).await?;
    let mut facts: Vec<String> = deleted.iter().map(|m| m.text.clone()).collect();
    // What a forget request named is taken out of the raw history too, stored as a memory or not.
    facts.extend(decisions.iter().filter(|d| forgets(d)).map(|d| d.candidate.clone()));
    let rewritten = if facts.is_empty() { 0 } else { redact::forgotten(store, user, &facts, Some(message.id)).await? };
    let reply = reply(&decisions, &deleted, &known, &asked, rewritten, korean);
    Ok(Some(Handled { reply, rest_for_model: !rest.is_empty() }))
}

/// A decision that forgot something (or found nothing to forget): its words go from the history.
fn forgets(d: &Decision) -> bool {
    matches!(d.change, MemoryChange::Delete { .. }) || d.reason == NOTHING_TO_FORGET
}

/// "What do you know about me?", "나에 대해 뭘 알아?".
pub fn asks_what_pai_knows(text: &str) -> bool {
    const EN: &[&str] = &[
        "what do you know about me",
        "what do you remember about me",
        "what have you learned about me",
        "what have you learnt about me",
        "what have you stored about me",
        "what do you have on me",
        "tell me what you know about me",
        "what do you know of me",
        "what you know about me",
    ];
    const KO: &[&str] = &[
        "나에대해뭘알",
        "나에대해뭐알",
        "나에대해무엇을알",
        "나에대해아는",
        "나에대해알고있는",
        "나에대해기억하는",
        "나에대해뭘기억",
        "나에대해뭐기억",
        "저에대해뭘아",
        "저에대해뭐아",
        "저에대해아는",
        "저에대해알고있는",
        "저에대해기억하는",
        "내정보뭐",
        "나에관해뭘알",
    ];
    let lower = text.to_lowercase();
    let squashed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    EN.iter().any(|p| lower.contains(p)) || KO.iter().any(|p| squashed.contains(p))
}

/// The memories, grouped by kind, with how to change them.
pub fn what_pai_knows(memories: &[Memory], korean: bool) -> String {
    if memories.is_empty() {
        return if korean {
            "아직 당신에 대해 아는 게 없어요. 자신에 대해 말해 주거나 \"…기억해 줘\"라고 하면 기억할게요.".into()
        } else {
            "I don't know anything about you yet. Tell me about yourself, or say \"remember …\".".into()
        };
    }
    let groups: [(MemoryKind, &str, &str); 4] = [
        (MemoryKind::Fact, "Facts", "사실"),
        (MemoryKind::Preference, "Likes and dislikes", "취향"),
        (MemoryKind::Event, "Events and plans", "일정과 일"),
        (MemoryKind::Instruction, "How you want me to answer", "답하는 방식"),
    ];
    let mut out = String::from(if korean {
        "제가 기억하는 것들이에요:\n"
    } else {
        "Here is what I remember about you:\n"
    });
    let mut shown = 0;
    for (kind, en, ko) in groups {
        let items: Vec<&Memory> = memories.iter().filter(|m| m.kind == kind).collect();
        if items.is_empty() || shown >= LISTED {
            continue;
        }
        out.push_str(&format!("\n{}\n", if korean { ko } else { en }));
        for m in items.iter().take(LISTED - shown) {
            out.push_str(&format!("- {} (#{})\n", m.text, m.id));
            shown += 1;
        }
    }
    if memories.len() > shown {
        let more = memories.len() - shown;
        out.push_str(&if korean { format!("…그리고 {more}개 더\n") } else { format!("… and {more} more\n") });
    }
    out.push_str(if korean {
        "\n바꾸거나 지우려면 \"…잊어 줘\"라고 하거나, 웹 앱의 기억 패널이나 `pai memory list` / `pai memory forget 번호`를 쓰세요."
    } else {
        "\nTo change or delete one, say \"forget …\", or use the Memory panel in the web app or `pai memory list` / `pai memory forget ID`."
    });
    out
}

/// `text` with its digits hidden ("ends in 4821" → "ends in ••••"): how a
/// forgotten fact is named without repeating what was to be forgotten.
fn masked(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_digit() { '•' } else { c }).collect()
}

/// What pai says it did, request by request.
fn reply(
    decisions: &[Decision],
    deleted: &[Memory],
    known: &[Memory],
    asked: &[Memory],
    rewritten: usize,
    korean: bool,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for d in decisions {
        let line = match &d.change {
            MemoryChange::Add { memory } if d.reason.starts_with("explicit request") => Some(if korean {
                format!("기억할게요: {}", memory.text)
            } else {
                format!("Got it — I'll remember: {}", memory.text)
            }),
            MemoryChange::Noop { existing: Some(id) } if d.reason.starts_with("explicit request") => {
                let text = known.iter().find(|m| m.id == *id).map_or(d.candidate.as_str(), |m| m.text.as_str());
                Some(if korean {
                    format!("이미 기억하고 있어요: {text}")
                } else {
                    format!("I already remember that: {text}")
                })
            }
            MemoryChange::Noop { .. } if d.reason == NOTHING_TO_FORGET => Some(if korean {
                format!("'{}'에 대해 저장된 기억은 없어요.", masked(&d.candidate))
            } else {
                format!("I had no memory of \"{}\".", masked(&d.candidate))
            }),
            MemoryChange::Noop { .. } if d.reason.starts_with(ASKED_WHICH) => {
                let list: Vec<String> = asked.iter().map(|m| format!("- {} (#{})", m.text, m.id)).collect();
                Some(if korean {
                    format!(
                        "'{}'에 맞는 기억이 여러 개예요. 어느 것을 잊을까요? 더 자세히 말해 주세요 (모두 잊으려면 \"전부 잊어 줘\"):\n{}",
                        d.candidate,
                        list.join("\n")
                    )
                } else {
                    format!(
                        "Several memories match \"{}\". Which one should I forget? Say it with more words (or \"forget all of them\"):\n{}",
                        d.candidate,
                        list.join("\n")
                    )
                })
            }
            _ => None,
        };
        lines.extend(line);
    }
    if !deleted.is_empty() {
        // Named without its secrets: this reply is stored and searched like any message.
        let what: Vec<String> = deleted.iter().map(|m| masked(&m.text)).collect();
        lines.push(if korean {
            format!("잊었어요: {}", what.join("; "))
        } else {
            format!("Forgotten: {}", what.join("; "))
        });
    }
    if rewritten > 0 {
        lines.push(if korean {
            format!("그 내용을 말한 메시지 {rewritten}개에서도 지웠어요.")
        } else {
            format!("I also took it out of {rewritten} earlier message(s) where it was said.")
        });
    }
    if lines.is_empty() {
        lines.push(if korean { "알겠어요.".into() } else { "Okay.".into() });
    }
    lines.join("\n")
}
