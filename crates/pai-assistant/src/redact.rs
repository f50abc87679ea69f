//! Forgetting that forgets: once a fact is forgotten, the messages that said
//! it (the user's, and pai's replies that repeated it) are rewritten with
//! those sentences replaced by "[forgotten]", so the fact is not recalled from
//! the raw history, a summary or a prompt either. The message itself stays, so
//! the conversation still reads in order.

use pai_core::Result;
use pai_core::store::{MessageId, Store, TextHit, UserId};

use crate::extract::text::grounding;

/// What a forgotten sentence becomes.
pub const FORGOTTEN: &str = "[forgotten]";
/// Messages looked at per forgotten fact (the best full-text matches).
const LOOKED_AT: usize = 50;
/// Share of a fact's words a sentence must hold to be taken out.
const SAYS_IT: f32 = 0.5;

/// Takes each of `facts` out of the user's messages, except `keep` (the
/// request that asked to forget, which says what, not the fact itself).
/// Returns how many messages were rewritten.
pub async fn forgotten(store: &dyn Store, user: UserId, facts: &[String], keep: Option<MessageId>) -> Result<usize> {
    let mut ids: Vec<MessageId> = Vec::new();
    for fact in facts {
        for hit in store.search_text(user, fact, LOOKED_AT).await? {
            if let TextHit::Message { id, .. } = hit
                && Some(id) != keep
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
    }
    let mut rewritten = 0;
    for m in store.messages_by_id(user, &ids).await? {
        if let Some(content) = without(&m.content, facts) {
            store.redact_message(user, m.id, &content).await?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

/// `text` with every sentence that says one of `facts` replaced; `None` when
/// no sentence does.
pub fn without(text: &str, facts: &[String]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    for sentence in text.split_inclusive(['.', '!', '?', '\n', '。']) {
        let says = facts.iter().any(|f| grounding(f, sentence) >= SAYS_IT);
        if says && sentence.trim() != FORGOTTEN {
            changed = true;
            let end: String = sentence.chars().rev().take_while(|c| c.is_whitespace()).collect();
            let lead: String = sentence.chars().take_while(|c| c.is_whitespace()).collect();
            out.push_str(&lead);
            out.push_str(FORGOTTEN);
            out.extend(end.chars().rev());
        } else {
            out.push_str(sentence);
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_that_say_the_fact_go_the_rest_stays() {
        let facts = vec!["my passport number ends in 4821".to_string()];
        assert_eq!(
            without("Hi! Remember that my passport number ends in 4821. Thanks!", &facts).as_deref(),
            Some("Hi! [forgotten] Thanks!")
        );
        assert_eq!(without("What's the weather like?", &facts), None);
        let ko = vec!["비밀번호는 1234".to_string()];
        assert_eq!(without("내 비밀번호는 1234야.\n기억해 줘", &ko).as_deref(), Some("[forgotten]\n기억해 줘"));
        // Already forgotten: unchanged.
        assert_eq!(without("[forgotten] ok", &facts), None);
    }
}
