//! One decision per candidate, by rules rather than by the model: a small
//! local model is good at noticing facts and bad at judging whether two
//! sentences conflict, so the judgement is made here, the same way every time.
//!
//! - same words as a known memory → NOOP
//! - same subject and kind, says everything the old one said and more → UPDATE
//! - same subject and kind (fact or preference), says something else → SUPERSEDE
//!   (the old memory ends when the new message was written; history is kept)
//! - otherwise → ADD

use chrono::{DateTime, Utc};
use pai_core::store::{Memory, MemoryChange, MemoryId, MemoryKind, MessageId, NewMemory};

use super::candidates::Candidate;
use super::text::{extends, says_the_same, subject_key};

pub struct Decided {
    pub change: MemoryChange,
    pub reason: String,
}

/// Decides what `candidate` does to the user's memories, given the most similar
/// current ones. `taken` holds memories earlier decisions of the same job
/// already changed: they are not changed twice.
pub fn decide(
    candidate: &Candidate,
    similar: &[Memory],
    taken: &[MemoryId],
    sources: &[MessageId],
    valid_from: Option<DateTime<Utc>>,
    written_at: DateTime<Utc>,
) -> Decided {
    let new_memory = || NewMemory {
        text: candidate.text.clone(),
        kind: candidate.kind,
        subject: candidate.subject.clone(),
        importance: candidate.importance,
        valid_from,
        sources: sources.to_vec(),
    };
    if let Some(same) = similar.iter().find(|m| says_the_same(&m.text, &candidate.text)) {
        return Decided {
            change: MemoryChange::Noop { existing: Some(same.id) },
            reason: format!("already known as memory {}", same.id),
        };
    }
    let key = candidate.subject.as_deref().map(subject_key).filter(|k| !k.is_empty());
    let same_slot = similar
        .iter()
        .filter(|m| m.is_current() && !taken.contains(&m.id))
        .find(|m| m.kind == candidate.kind && key.is_some() && m.subject.as_deref().map(subject_key) == key);
    if let Some(old) = same_slot {
        let subject = key.unwrap_or_default();
        if extends(&candidate.text, &old.text) {
            return Decided {
                change: MemoryChange::Update { id: old.id, text: candidate.text.clone(), sources: sources.to_vec() },
                reason: format!("adds to memory {} about {subject}", old.id),
            };
        }
        // Events and instructions accumulate; a fact or preference has one current value.
        if matches!(candidate.kind, MemoryKind::Fact | MemoryKind::Preference) {
            return Decided {
                change: MemoryChange::Supersede {
                    old: old.id,
                    memory: new_memory(),
                    at: valid_from.unwrap_or(written_at),
                },
                reason: format!("replaces memory {} about {subject}", old.id),
            };
        }
    }
    Decided { change: MemoryChange::Add { memory: new_memory() }, reason: "new".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: i64, text: &str, kind: MemoryKind, subject: &str) -> Memory {
        Memory {
            id: MemoryId(id),
            user: pai_core::store::UserId(1),
            text: text.into(),
            kind,
            subject: Some(subject.into()),
            importance: 0.5,
            valid_from: None,
            valid_to: None,
            superseded_by: None,
            sources: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn candidate(text: &str, kind: MemoryKind, subject: &str) -> Candidate {
        Candidate { text: text.into(), kind, subject: Some(subject.into()), importance: 0.6 }
    }

    fn action(c: &Candidate, similar: &[Memory], taken: &[MemoryId]) -> (&'static str, Option<MemoryId>) {
        let d = decide(c, similar, taken, &[MessageId(1)], None, Utc::now());
        let target = match d.change {
            MemoryChange::Update { id, .. } | MemoryChange::Delete { id } => Some(id),
            MemoryChange::Supersede { old, .. } => Some(old),
            MemoryChange::Noop { existing } => existing,
            MemoryChange::Add { .. } => None,
        };
        (d.change.action(), target)
    }

    #[test]
    fn the_rules() {
        use MemoryKind::*;
        let seoul = known(1, "Lives in Seoul", Fact, "home city");
        let tea = known(2, "Likes green tea", Preference, "tea");
        let dentist = known(3, "Dentist appointment on 2026-11-26", Event, "dentist");
        let all = [seoul.clone(), tea.clone(), dentist.clone()];
        let cases = [
            (candidate("lives in Seoul.", Fact, "city"), ("noop", Some(MemoryId(1)))),
            (candidate("Moved to Busan", Fact, "Home City"), ("supersede", Some(MemoryId(1)))),
            (candidate("Likes green tea without sugar", Preference, "tea"), ("update", Some(MemoryId(2)))),
            (candidate("Dislikes tea now", Preference, "tea"), ("supersede", Some(MemoryId(2)))),
            (candidate("Dentist appointment moved to 2026-12-03", Event, "dentist"), ("add", None)),
            (candidate("Has a cat named Nabi", Fact, "cat"), ("add", None)),
            // Same subject but another kind is another slot.
            (candidate("Wants to move to Jeju", Preference, "home city"), ("add", None)),
        ];
        for (c, want) in cases {
            assert_eq!(action(&c, &all, &[]), want, "{}", c.text);
        }
        // A memory an earlier decision of the job changed is not changed twice.
        assert_eq!(action(&candidate("Moved to Busan", Fact, "home city"), &all, &[MemoryId(1)]), ("add", None));
        // No subject, no slot.
        let c = Candidate { subject: None, ..candidate("Moved to Busan", Fact, "") };
        assert_eq!(action(&c, &all, &[]), ("add", None));
    }
}
