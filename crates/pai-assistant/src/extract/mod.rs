//! Memory extraction: after each exchange (or import) a queued job turns the
//! user's new messages into decisions about their memories.
//!
//! Explicit requests ("remember that …", "잊어 줘") are obeyed by rule, with no
//! model involved. Everything else goes to the chat model for candidates under
//! a JSON schema; candidates are checked (grounded in the user's words, not
//! chit-chat, not the assistant's), dated in the user's zone, compared with
//! the most similar memories and decided by rule (`decide`). The job's
//! decisions are applied by the store in one transaction.

mod candidates;
mod dates;
mod decide;
mod rules;
pub mod text;
mod worker;

use chrono_tz::Tz;
use pai_core::memory::explicit::{self, Explicit};
use pai_core::store::{
    Decision, ExtractionJob, ItemRef, Memory, MemoryChange, MemoryId, MemoryKind, NewMemory, Store, StoredMessage,
    TextHit, UserId,
};
use pai_core::{ChatModel, EmbedKind, Embedder, Error, Result, Role};

pub use dates::{local_day, start_of, zone};
pub use worker::{Extractor, MAX_ATTEMPTS, Outcome};

use crate::index::embed_pending;
use candidates::Candidate;
use text::{content_terms, grounding, is_chitchat};

/// Existing memories compared with each candidate, from each ranker.
const SIMILAR: usize = 5;
/// Importance of what the user explicitly asked to remember.
const EXPLICIT_IMPORTANCE: f32 = 0.8;
/// Share of a forget request's words a memory must contain to be deleted.
const FORGET_MATCH: f32 = 0.5;
/// The reason of a forget request that matched several memories and was
/// asked about instead (the ids follow).
pub const ASKED_WHICH: &str = "explicit request to forget; several memories match, asked which";
/// The reason of a forget request found in imported history or a recording:
/// forgetting takes the user's own request to pai, never text it read.
pub const FORGET_IN_READ_TEXT: &str =
    "a forget request in imported history or a recording; not obeyed (forgetting takes a request to pai)";
/// The reason of a forget request that matched nothing.
pub const NOTHING_TO_FORGET: &str = "explicit request to forget; no memory matched";

/// Where a candidate memory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A rule read it in the user's own words (`rules.rs`).
    Rule,
    /// The chat model proposed it (checked against the user's words).
    Model,
}

/// Everything extraction needs, borrowed for one job.
pub struct Pipeline<'a> {
    pub store: &'a dyn Store,
    /// None: the rules alone (what `remember_statement` and `by_rule` use);
    /// `decide` then refuses what only the model can read.
    pub model: Option<&'a dyn ChatModel>,
    pub embedder: &'a dyn Embedder,
}

impl Pipeline<'_> {
    /// The decisions for `job`. Changes nothing: the caller hands them to
    /// `Store::complete_extraction_job`, which applies them all or none.
    pub async fn decide(&self, job: &ExtractionJob) -> Result<Vec<Decision>> {
        let user = self.store.user(job.user).await?;
        let tz = zone(&user.timezone)?;
        let messages: Vec<StoredMessage> = self
            .store
            .messages_by_id(job.user, &job.messages)
            .await?
            .into_iter()
            // The user's own words only: not the assistant's, not other people's in a group chat.
            .filter(|m| m.role == Role::User && m.speaker.is_none())
            .collect();
        // Comparisons need every memory embedded, the newest included.
        while embed_pending(self.store, self.embedder, job.user, 512).await? > 0 {}
        let (mut out, for_model) = self.by_rule(job.user, &messages, tz).await?;
        let for_model: Vec<&StoredMessage> = for_model.iter().collect();
        if !for_model.is_empty() {
            self.from_model(job.user, &for_model, tz, job.attempts, &mut out).await?;
        }
        Ok(out)
    }

    /// What rules decide alone — explicit requests and the common personal
    /// facts — and the rest of each message, for the model. Changes nothing.
    pub async fn by_rule(
        &self,
        user: UserId,
        messages: &[StoredMessage],
        tz: Tz,
    ) -> Result<(Vec<Decision>, Vec<StoredMessage>)> {
        let mut out = Vec::new();
        let mut for_model: Vec<StoredMessage> = Vec::new();
        for m in messages {
            // An explicit request may sit among other sentences: each is obeyed;
            // the others are read by rule where a rule knows them, and only the
            // rest goes to the model.
            let mut plain: Vec<&str> = Vec::new();
            let mut forgot = false;
            for sentence in requests_and_sentences(&m.content) {
                match explicit::detect(sentence) {
                    // "…and she is 7. Remember that.": what it points at is the content.
                    Some(Explicit::Remember(content)) if explicit::is_reference(&content) => {
                        let said = if plain.is_empty() {
                            self.previous_words(user, m).await?.map(|p| p.content)
                        } else {
                            Some(std::mem::take(&mut plain).join(" "))
                        };
                        match said {
                            Some(said) => out.push(self.remember(user, m, &said, tz, &out).await?),
                            None => out.push(Decision {
                                candidate: content,
                                change: MemoryChange::Noop { existing: None },
                                reason: "explicit request; nothing said before it to remember".into(),
                            }),
                        }
                    }
                    Some(Explicit::Remember(content)) => out.push(self.remember(user, m, &content, tz, &out).await?),
                    // Text pai read (an imported chat, a recording learned from: messages
                    // with an external id) is data: a forget request in it deletes nothing.
                    // What it withdraws in the same message is not learned either.
                    Some(Explicit::Forget(content)) if m.external_id.is_some() => {
                        plain.clear();
                        out.push(Decision {
                            candidate: content,
                            change: MemoryChange::Noop { existing: None },
                            reason: FORGET_IN_READ_TEXT.into(),
                        });
                    }
                    // "Forget my passport number. I don't want that stored.": the same request twice.
                    Some(Explicit::Forget(content)) if explicit::is_reference(&content) && forgot => {}
                    // "I don't want that stored.": what was just said, in this message or the last.
                    Some(Explicit::Forget(content)) if explicit::is_reference(&content) => {
                        forgot = true;
                        let said = if plain.is_empty() {
                            self.previous_words(user, m).await?.map(|p| p.content)
                        } else {
                            // Said and unsaid in one message: not stored at all.
                            Some(std::mem::take(&mut plain).join(" "))
                        };
                        match said {
                            Some(said) => out.extend(self.forget(user, &said, &out).await?),
                            None => out.push(Decision {
                                candidate: content,
                                change: MemoryChange::Noop { existing: None },
                                reason: "explicit request to forget; nothing said before it".into(),
                            }),
                        }
                    }
                    Some(Explicit::Forget(content)) => {
                        forgot = true;
                        out.extend(self.forget(user, &content, &out).await?)
                    }
                    // Tasks and questions for the assistant say nothing lasting about the user.
                    None if text::is_one_off_request(sentence) => {}
                    None => plain.push(sentence),
                }
            }
            let rest = self.facts_by_rule(user, m, &plain, tz, &mut out).await?.join(" ");
            if !rest.is_empty() && !is_chitchat(&rest) {
                for_model.push(StoredMessage { content: rest, ..m.clone() });
            }
        }
        Ok((out, for_model))
    }

    /// What the user asked another agent to remember for them (MCP's
    /// `remember`): the whole message is their statement. The common facts
    /// are read by rule and compared by subject (so a new home city
    /// supersedes the old one); what no rule knows is kept as said. Nothing
    /// here deletes: a statement to remember is never taken for a request to
    /// forget. Changes nothing, like `by_rule`.
    pub async fn remember_statement(&self, user: UserId, message: &StoredMessage, tz: Tz) -> Result<Vec<Decision>> {
        let mut out = Vec::new();
        // "Remember that …" around the statement is not part of it.
        let said: Vec<String> = requests_and_sentences(&message.content)
            .into_iter()
            .filter_map(|s| match explicit::detect(s) {
                Some(Explicit::Remember(content)) if explicit::is_reference(&content) => None,
                Some(Explicit::Remember(content)) => Some(content),
                _ => Some(s.to_string()),
            })
            .collect();
        let said: Vec<&str> = said.iter().map(String::as_str).collect();
        let rest = self.facts_by_rule(user, message, &said, tz, &mut out).await?.join(" ");
        if !rest.trim().is_empty() {
            out.push(self.remember(user, message, &rest, tz, &out).await?);
        }
        Ok(out)
    }

    /// Decides the facts a rule reads in `plain` (sentences of `m`) into
    /// `out`, and returns the clauses no rule knows.
    async fn facts_by_rule<'t>(
        &self,
        user: UserId,
        m: &StoredMessage,
        plain: &[&'t str],
        tz: Tz,
        out: &mut Vec<Decision>,
    ) -> Result<Vec<&'t str>> {
        let mut rest: Vec<&str> = Vec::new();
        let today = local_day(m.created_at, tz);
        let mut ruled: Option<Candidate> = None;
        for clause in plain.iter().flat_map(|s| rules::clauses(s)) {
            let dated = !pai_core::relative_dates::find(clause, today).is_empty();
            if let Some(c) = rules::fact(clause, dated) {
                if let Some(done) = ruled.replace(c) {
                    self.consider(user, done, m, tz, Origin::Rule, out).await?;
                }
            } else if let Some(fact) = ruled.as_mut().filter(|_| rules::continues(clause)) {
                // A short sentence right after a fact goes on about it ("우리 딸 이름은
                // 지우야. 올해 일곱 살이야.", "…named Nabi. She is 2."): kept with it.
                fact.text = format!("{}. {}", fact.text, rules::cleaned(clause));
            } else {
                if let Some(done) = ruled.take() {
                    self.consider(user, done, m, tz, Origin::Rule, out).await?;
                }
                rest.push(clause);
            }
        }
        if let Some(done) = ruled.take() {
            self.consider(user, done, m, tz, Origin::Rule, out).await?;
        }
        Ok(rest)
    }

    async fn remember(
        &self,
        user: UserId,
        message: &StoredMessage,
        content: &str,
        tz: Tz,
        earlier: &[Decision],
    ) -> Result<Decision> {
        let (text, when) = dates::resolve(content, local_day(message.created_at, tz));
        let similar = self.similar(user, &text).await?;
        let reason = "explicit request".to_string();
        if let Some(same) = similar.iter().find(|m| text::says_the_same(&m.text, &text)) {
            let change = MemoryChange::Noop { existing: Some(same.id) };
            return Ok(Decision { candidate: text, change, reason: format!("{reason}; already known") });
        }
        let repeated = earlier
            .iter()
            .any(|d| matches!(&d.change, MemoryChange::Add { memory } if text::says_the_same(&memory.text, &text)));
        if repeated {
            let change = MemoryChange::Noop { existing: None };
            return Ok(Decision { candidate: text, change, reason: format!("{reason}; repeated in this exchange") });
        }
        let memory = NewMemory {
            text: text.clone(),
            kind: if when.is_some() { MemoryKind::Event } else { MemoryKind::Fact },
            subject: None,
            importance: EXPLICIT_IMPORTANCE,
            valid_from: Some(when.map(|w| start_of(w.start, tz)).unwrap_or(message.created_at)),
            sources: vec![message.id],
        };
        Ok(Decision { candidate: text, change: MemoryChange::Add { memory }, reason })
    }

    /// The user's own message just before `message` in its conversation: what
    /// a bare "remember that" or "don't store that" points at.
    pub async fn previous_words(&self, user: UserId, message: &StoredMessage) -> Result<Option<StoredMessage>> {
        let earlier = self.store.messages(user, message.conversation).await?;
        Ok(earlier
            .into_iter()
            .rev()
            .filter(|e| e.id < message.id && e.role == Role::User && e.speaker.is_none())
            .find(|e| explicit::detect(&e.content).is_none() && !is_chitchat(&e.content)))
    }

    /// The memories, current or past, that contain most of the words of a
    /// forget request (the ones it means), the current ones first.
    pub async fn matching(&self, user: UserId, content: &str) -> Result<Vec<Memory>> {
        let mut matched: Vec<Memory> = self.similar(user, content).await?;
        for hit in self.store.search_history(user, content, SIMILAR).await? {
            if let TextHit::Memory { id, .. } = hit
                && let Some(m) = self.load(user, id).await?
            {
                matched.push(m);
            }
        }
        matched.retain(|m| {
            grounding(content, &format!("{} {}", m.subject.as_deref().unwrap_or(""), m.text)) >= FORGET_MATCH
        });
        let mut seen = Vec::new();
        matched.retain(|m| {
            let new = !seen.contains(&m.id);
            seen.push(m.id);
            new
        });
        matched.sort_by_key(|m| !m.is_current());
        Ok(matched)
    }

    /// Deletes every memory, current or past, that contains most of the words
    /// of the request. Nothing matching is recorded as a NOOP, never guessed
    /// at; several current memories matching ("forget my address": home and
    /// work) are asked about, not all deleted, unless the request says "all".
    async fn forget(&self, user: UserId, content: &str, earlier: &[Decision]) -> Result<Vec<Decision>> {
        let already: Vec<MemoryId> = earlier.iter().filter_map(|d| deleted(&d.change)).collect();
        let matched: Vec<Memory> =
            self.matching(user, content).await?.into_iter().filter(|m| !already.contains(&m.id)).collect();
        let current = matched.iter().filter(|m| m.is_current()).count();
        if current >= 2 && !explicit::means_all(content) {
            let ids: Vec<String> = matched.iter().filter(|m| m.is_current()).map(|m| m.id.to_string()).collect();
            return Ok(vec![Decision {
                candidate: content.to_string(),
                change: MemoryChange::Noop { existing: None },
                reason: format!("{ASKED_WHICH}: {}", ids.join(", ")),
            }]);
        }
        let mut out: Vec<Decision> = matched
            .iter()
            .map(|m| Decision {
                candidate: content.to_string(),
                change: MemoryChange::Delete { id: m.id },
                reason: "explicit request to forget".into(),
            })
            .collect();
        if out.is_empty() {
            out.push(Decision {
                candidate: content.to_string(),
                change: MemoryChange::Noop { existing: None },
                reason: NOTHING_TO_FORGET.into(),
            });
        }
        Ok(out)
    }

    async fn from_model(
        &self,
        user: UserId,
        messages: &[&StoredMessage],
        tz: Tz,
        attempt: u32,
        out: &mut Vec<Decision>,
    ) -> Result<()> {
        let user_text: String = messages.iter().map(|m| format!("- {}\n", m.content.trim())).collect();
        let last = messages.last().expect("not empty");
        let day = local_day(last.created_at, tz);
        let dated = format!("on {} ({})", day.format("%Y-%m-%d"), day.format("%A"));
        let model = self.model.ok_or_else(|| Error::internal("memory extraction needs the chat model"))?;
        let answer = candidates::propose(model, user, &user_text, &dated, attempt).await?;
        let (kept, rejected) = candidates::parse(&answer, &user_text)?;
        for r in rejected {
            out.push(Decision {
                candidate: r.text,
                change: MemoryChange::Noop { existing: None },
                reason: r.reason.to_string(),
            });
        }
        for c in kept {
            // The message that supports the candidate best is its source and its "now".
            let source = messages
                .iter()
                .max_by(|a, b| grounding(&c.text, &a.content).total_cmp(&grounding(&c.text, &b.content)))
                .expect("not empty");
            self.consider(user, c, source, tz, Origin::Model, out).await?;
        }
        Ok(())
    }

    /// Decides what one candidate (from a rule or the model) does, against
    /// the user's memories and what this job decided already.
    async fn consider(
        &self,
        user: UserId,
        mut c: Candidate,
        source: &StoredMessage,
        tz: Tz,
        origin: Origin,
        out: &mut Vec<Decision>,
    ) -> Result<()> {
        let today = local_day(source.created_at, tz);
        let (text, mut when) = dates::resolve(&c.text, today);
        c.text = text;
        if when.is_none() && c.kind == MemoryKind::Event {
            // Models often drop "tomorrow"; the user's message still has it.
            if let [found] = pai_core::relative_dates::find(&source.content, today).as_slice() {
                when = Some(found.dates);
                c.text = format!("{} ({})", c.text, dates::resolve(&source.content[found.span.clone()], today).0);
            }
        }
        let noop = |reason: &str| Decision {
            candidate: c.text.clone(),
            change: MemoryChange::Noop { existing: None },
            reason: reason.into(),
        };
        // A model's past event that is no milestone is a passing moment, not a memory.
        let past = when.is_some_and(|w| w.end < today);
        if origin == Origin::Model && past && !rules::milestone(&c.text) {
            out.push(noop("a passing moment, not a lasting fact"));
            return Ok(());
        }
        if c.text.chars().count() > candidates::MAX_CANDIDATE_CHARS + 60 {
            // Dates written out made it too long to be one memory.
            out.push(noop("too short or too long"));
            return Ok(());
        }
        // Said already in this job (by a rule, a request or the model).
        let repeated = out.iter().any(|d| match &d.change {
            MemoryChange::Add { memory } | MemoryChange::Supersede { memory, .. } => {
                text::says_the_same(&memory.text, &c.text) || text::extends(&memory.text, &c.text)
            }
            _ => false,
        });
        if repeated {
            out.push(noop("repeats another candidate of this exchange"));
            return Ok(());
        }
        let valid_from = when.map(|w| start_of(w.start, tz));
        let query = format!("{} {}", c.subject.as_deref().unwrap_or(""), c.text);
        let similar = self.similar(user, &query).await?;
        let taken: Vec<MemoryId> = out.iter().filter_map(|d| target(&d.change)).collect();
        let decided = decide::decide(&c, &similar, &taken, &[source.id], valid_from, source.created_at);
        let reason = match origin {
            Origin::Rule => format!("{}; said in so many words", decided.reason),
            Origin::Model => decided.reason,
        };
        out.push(Decision { candidate: c.text.clone(), change: decided.change, reason });
        Ok(())
    }

    /// The current memories most like `text`, by words and by meaning.
    async fn similar(&self, user: UserId, text: &str) -> Result<Vec<Memory>> {
        let mut ids: Vec<MemoryId> = Vec::new();
        for hit in self.store.search_text(user, text, SIMILAR * 4).await? {
            if let TextHit::Memory { id, .. } = hit {
                ids.push(id);
            }
        }
        ids.truncate(SIMILAR);
        if !content_terms(text).is_empty() {
            let v = self
                .embedder
                .embed(vec![text.to_string()], EmbedKind::Query)
                .await?
                .pop()
                .ok_or_else(|| Error::internal("the embedder returned no vector"))?;
            let hits = self.store.search_vectors(user, &v, SIMILAR * 4).await?;
            ids.extend(
                hits.iter()
                    .filter_map(|h| if let ItemRef::Memory(id) = h.item { Some(id) } else { None })
                    .take(SIMILAR),
            );
        }
        let mut out: Vec<Memory> = Vec::new();
        for id in ids {
            if out.iter().any(|m| m.id == id) {
                continue;
            }
            if let Some(m) = self.load(user, id).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn load(&self, user: UserId, id: MemoryId) -> Result<Option<Memory>> {
        match self.store.memory(user, id).await {
            Ok(m) => Ok(Some(m)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A message as its requests and sentences: the whole message when it is one
/// request whose content comes first ("내 차 번호는 12가 3456이야. 기억해 줘"),
/// else each sentence ("Forget my passport number. I don't want that stored.").
fn requests_and_sentences(text: &str) -> Vec<&str> {
    let parts = crate::sentences::split(text);
    let leads = parts.first().is_some_and(|first| explicit::detect(first).is_some());
    if !leads && explicit::detect(text).is_some() { vec![text] } else { parts }
}

/// True when a sentence of `text` asks to forget ("forget my …", "잊어 줘").
pub fn asks_to_forget(text: &str) -> bool {
    crate::sentences::split(text).iter().any(|s| matches!(explicit::detect(s), Some(Explicit::Forget(_))))
}

/// True when a message holds an explicit memory request ("remember …",
/// "forget …", "저장하지 마"): what a conversation turn carries out at once.
pub fn has_request(text: &str) -> bool {
    requests_and_sentences(text).iter().any(|s| explicit::detect(s).is_some())
}

fn deleted(change: &MemoryChange) -> Option<MemoryId> {
    if let MemoryChange::Delete { id } = change { Some(*id) } else { None }
}

/// The existing memory a change modifies (not a NOOP's match).
fn target(change: &MemoryChange) -> Option<MemoryId> {
    match change {
        MemoryChange::Update { id, .. } | MemoryChange::Delete { id } => Some(*id),
        MemoryChange::Supersede { old, .. } => Some(*old),
        MemoryChange::Add { .. } | MemoryChange::Noop { .. } => None,
    }
}
