//! A remembering conversation turn: store the user's message (acknowledged
//! before any model work), carry out what it asks by rule, recall, assemble
//! the prompt (summarising turns that no longer fit) and plan the answer
//! (pai's own, or the model's, checked). A stored conversation has its
//! history in the store; a stateless one (OpenAI's model) sends it along and
//! is kept in the user's "API" conversation so memories can cite it.

use chrono::{DateTime, Utc};
use pai_core::store::{ConversationId, NewMessage, Store, StoredMessage, UserId};
use pai_core::{ChatRequest, Message, Result, Role, Sampling};

use futures_util::StreamExt;

use crate::answer_check::AnswerCheck;
use crate::assistant::Assistant;
use crate::extract::{local_day, zone};
use crate::language::Language;
use crate::prompt::{Assembled, Budget, PromptInput, assemble};
use crate::recall::{Recalled, recall};

/// How the English-only notice begins: a conversation that has it has been told.
const NOTICE_START: &str = "(참고: 지금 대화 모델 ";

/// Said before the model's first answer to a Korean message when the chat
/// model speaks English only, with the command that fixes it.
pub fn english_only_notice(model: &str) -> String {
    format!(
        "{NOTICE_START}{model}은(는) 영어만 잘합니다. 한국어로 대화하려면 `pai model recommend`로 이 컴퓨터에 맞는 \
         모델을 고른 뒤 `pai model pull 이름`, `pai model use 이름`으로 바꾸세요. \
         Note: the chat model speaks English only.)\n\n"
    )
}

/// An answer without the notice in front, as the model should see its own turn.
fn without_notice(answer: &str) -> &str {
    match answer.strip_prefix(NOTICE_START) {
        Some(rest) => rest.split_once(")\n\n").map_or(answer, |(_, after)| after),
        None => answer,
    }
}

/// A prepared turn: send `request` to the model, then call `Assistant::finish`.
#[derive(Clone)]
pub struct Turn {
    pub user: UserId,
    pub conversation: ConversationId,
    pub user_message: StoredMessage,
    pub request: ChatRequest,
    /// What was recalled and put in the prompt, for citations.
    pub recalled: Vec<Recalled>,
    /// pai's own answer, when the message was a request pai carried out by
    /// rule (a reminder, remember/forget, "what do you know about me?"):
    /// send this instead of asking the model (`respond`).
    pub direct: Option<String>,
    /// The message was already learned from in this turn (its memory requests
    /// carried out by rule, nothing left for the model): `finish` queues no
    /// extraction for it.
    pub learned: bool,
    /// Said before the model's answer (the English-only notice, "not found").
    pub preface: Option<String>,
    /// How the model's answer is checked as it streams (a question's answer
    /// from its sources, or a general one): `grounded::plan`.
    pub check: Option<AnswerCheck>,
}

impl Turn {
    /// The client constrained the output (a JSON schema, tools): the answer
    /// is the model's alone, for a program to parse, so pai says nothing of
    /// its own before or instead of it and checks no sentences.
    pub fn quiet(&mut self) {
        self.direct = None;
        self.preface = None;
        self.check = None;
    }

    /// Adds a client's own instructions to pai's system prompt.
    pub fn add_instructions(&mut self, instructions: &str) {
        if instructions.trim().is_empty() {
            return;
        }
        match self.request.messages.first_mut().filter(|m| m.role == Role::System) {
            Some(system) => system.content.push_str(&format!("\n\n{instructions}")),
            None => self.request.messages.insert(0, Message::system(instructions)),
        }
    }
}

/// Title of the conversation that keeps stateless requests.
pub const API_CONVERSATION: &str = "API";

/// Recalled items offered to a stateless request.
const STATELESS_RECALL: usize = 8;

/// The user's conversation titled `title`, made on first use. Two first calls
/// at once in one process make one conversation, not two (the lock is taken
/// only to make it).
pub async fn titled_conversation(store: &dyn Store, user: UserId, title: &str) -> Result<ConversationId> {
    static MAKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let existing = async || -> Result<Option<ConversationId>> {
        Ok(store.conversations(user).await?.into_iter().find(|c| c.title == title).map(|c| c.id))
    };
    if let Some(id) = existing().await? {
        return Ok(id);
    }
    let _one_at_a_time = MAKING.lock().await;
    match existing().await? {
        Some(id) => Ok(id),
        None => Ok(store.create_conversation(user, title).await?.id),
    }
}

const SUMMARISE: &str = "Summarise this conversation in a few sentences for the assistant's own notes. \
Keep names, dates, numbers, decisions and open questions; drop greetings.";

impl Assistant {
    pub async fn begin(
        &self,
        user: UserId,
        conversation: ConversationId,
        text: &str,
        sampling: Sampling,
        now: DateTime<Utc>,
    ) -> Result<Turn> {
        let profile = self.store.user(user).await?;
        let tz = zone(&profile.timezone)?;
        let user_message = self.keep_user_message(user, conversation, text, now).await?;
        let mut learned = false;
        let direct = match crate::reminders::reminder_request(text, now, tz) {
            Some(request) => {
                let answer =
                    crate::reminders::answer_reminder_request(&*self.store, user, &request, conversation, tz).await?;
                self.scheduler.wake();
                Some(answer)
            }
            None => {
                let handled = crate::memory_requests::handle(
                    &*self.store,
                    &*self.model,
                    &*self.embedder,
                    user,
                    &user_message,
                    tz,
                )
                .await?;
                handled.map(|h| {
                    learned = !h.rest_for_model;
                    h.reply
                })
            }
        };

        let language = Language::of(text);
        let mut history = self.store.messages(user, conversation).await?;
        history.retain(|m| m.id != user_message.id && matches!(m.role, Role::User | Role::Assistant));
        let told = history.iter().any(|m| m.role == Role::Assistant && m.content.starts_with(NOTICE_START));
        let preface = match &self.settings.english_only_model {
            Some(model) if direct.is_none() && language == Language::Korean && !told => {
                Some(english_only_notice(model))
            }
            _ => None,
        };
        for m in history.iter_mut().filter(|m| m.role == Role::Assistant) {
            m.content = without_notice(&m.content).to_string();
        }
        let mut summary = self.store.conversation_summary(user, conversation).await?;
        if let Some(s) = &summary {
            history.retain(|m| m.id > s.through);
        }
        let mut recalled = recall(&*self.store, &*self.embedder, user, text, self.settings.recall_k, now).await?;
        // What is already in the conversation needs no second copy.
        recalled.retain(|r| {
            r.provenance.conversation != Some(conversation) || r.kind != crate::recall::RecalledKind::Message
        });
        let mut said: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
        said.extend(summary.as_ref().map(|s| s.text.as_str()));
        // A question nothing answers gets a general answer, without the
        // recalled items to cite (issue 24).
        let nothing = direct.is_none() && crate::grounded::nothing_answers(text, &recalled, &said);
        let said: Vec<String> = said.into_iter().map(str::to_string).collect();
        if nothing {
            recalled.clear();
        }

        let local = local_day(now, tz);
        let today = format!("{} ({}), {}", local.format("%Y-%m-%d"), local.format("%A"), profile.timezone);
        let budget = Budget {
            context: self.model.context_length() as usize,
            answer: self.settings.answer_tokens.min(self.model.context_length() as usize / 3),
            memory_share: self.settings.memory_share,
        };
        let count = |s: &str| self.model.count_tokens(s);
        let mut assembled: Assembled;
        let mut omitted = 0;
        loop {
            let input = PromptInput {
                persona: &self.settings.persona,
                today: &today,
                recalled: &recalled,
                summary: summary.as_ref().map(|s| s.text.as_str()),
                history: &history,
                user_message: text.trim(),
                language,
            };
            assembled = assemble(&input, budget, &count);
            if assembled.overflow.is_empty() || omitted > 0 {
                break;
            }
            let old: Vec<&StoredMessage> = history.iter().filter(|m| assembled.overflow.contains(&m.id)).collect();
            match self.summarise(user, summary.as_ref().map(|s| s.text.as_str()), &old).await {
                Ok(text) => {
                    let through = *assembled.overflow.last().expect("not empty");
                    self.store.set_conversation_summary(user, conversation, &text, through).await?;
                    summary = self.store.conversation_summary(user, conversation).await?;
                    history.retain(|m| m.id > through);
                }
                Err(e) => {
                    // Say so in the prompt rather than pretend the turns never happened.
                    tracing::warn!(error = %e, "summarising older turns failed; they are left out of this prompt");
                    omitted = assembled.overflow.len();
                }
            }
        }
        if omitted > 0 {
            assembled.messages[0].content.push_str(&format!("\n({omitted} earlier messages are not shown.)"));
        }
        let used = assembled.used.clone();
        recalled.retain(|r| used.contains(&r.item));
        let mut sampling = sampling;
        if !used.is_empty() {
            crate::prompt::guard_recall(&mut sampling);
        }
        let request = ChatRequest { messages: assembled.messages, sampling, owner: Some(user), ..Default::default() };
        let (direct, preface, check) = match direct {
            Some(d) => (Some(d), preface, None),
            None => {
                // A question that a recalled passage or memory answers gets
                // that sentence, cited, not the model's retelling (issue 24).
                let said: Vec<&str> = said.iter().map(String::as_str).collect();
                let english_only = self.settings.english_only_model.is_some();
                let plan = crate::grounded::plan(text, nothing, &recalled, &said, english_only);
                let preface = match (plan.direct.is_some(), preface, plan.preface) {
                    (true, _, _) => None,
                    (false, Some(notice), Some(p)) => Some(format!("{notice}{p}")),
                    (false, notice, p) => notice.or(p),
                };
                (plan.direct, preface, plan.check)
            }
        };
        Ok(Turn { user, conversation, user_message, request, recalled, direct, learned, preface, check })
    }

    /// The user's message, stored before any model work: once this returns,
    /// what they said is kept whatever happens to the answer.
    async fn keep_user_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredMessage> {
        let new = NewMessage {
            role: Role::User,
            speaker: None,
            content: text.trim().into(),
            created_at: now,
            external_id: None,
        };
        self.store
            .add_messages(user, conversation, vec![new])
            .await?
            .pop()
            .ok_or_else(|| pai_core::Error::internal("the store stored no message"))
    }

    /// A stateless turn (OpenAI's model): `messages` are the whole
    /// conversation as the client sends it, with at least one user message;
    /// `room` is the tokens of the context they leave free. The newest user
    /// message is kept in the user's "API" conversation, and what pai recalls
    /// goes in a system message just before it: a client that re-sends the
    /// conversation then re-sends an unchanged prefix, which the engine's KV
    /// cache skips.
    pub async fn begin_stateless(
        &self,
        user: UserId,
        messages: Vec<Message>,
        sampling: Sampling,
        room: usize,
        now: DateTime<Utc>,
    ) -> Result<Turn> {
        let last = messages
            .iter()
            .rposition(|m| m.role == Role::User)
            .ok_or_else(|| pai_core::Error::invalid("the messages need at least one user message"))?;
        let text = messages[last].content.clone();
        let conversation = titled_conversation(&*self.store, user, API_CONVERSATION).await?;
        let user_message = self.keep_user_message(user, conversation, &text, now).await?;
        // What pai knows (memories, documents), not the raw text of other
        // requests of the same key: those are other clients' prompts, not
        // facts ("What is the cat called?" must not find another client's
        // test prompt about a cat).
        let mut recalled = recall(&*self.store, &*self.embedder, user, &text, STATELESS_RECALL * 3, now).await?;
        recalled.retain(|r| r.kind != crate::recall::RecalledKind::Message);
        recalled.truncate(STATELESS_RECALL);
        let said: Vec<&str> =
            messages[..last].iter().filter(|m| m.role != Role::System).map(|m| m.content.as_str()).collect();
        // A question nothing answers gets a general answer, without the
        // recalled items to cite (issue 24).
        let nothing = crate::grounded::nothing_answers(&text, &recalled, &said);
        if nothing {
            recalled.clear();
        }
        // A third of the context, and half the room the messages leave (the
        // rest is the answer's).
        let budget = (self.model.context_length() as usize / 3).min(room / 2);
        let block = crate::prompt::fit_recalled(&recalled, budget, &|s: &str| self.model.count_tokens(s));
        let recalled: Vec<Recalled> = block.used.iter().map(|&i| recalled[i].clone()).collect();
        let mut prompt = messages.clone();
        let mut sampling = sampling;
        if !block.lines.is_empty() {
            if prompt.first().is_none_or(|m| m.role != Role::System) {
                prompt.insert(0, Message::system(&self.settings.persona));
            }
            let last = prompt.iter().rposition(|m| m.role == Role::User).expect("found above");
            prompt.insert(last, crate::prompt::recall_message(&block.lines));
            crate::prompt::guard_recall(&mut sampling);
        }
        let english_only = self.settings.english_only_model.is_some();
        let plan = crate::grounded::plan(&text, nothing, &recalled, &said, english_only);
        Ok(Turn {
            user,
            conversation,
            user_message,
            request: ChatRequest { messages: prompt, sampling, owner: Some(user), ..Default::default() },
            recalled,
            direct: plan.direct,
            learned: false,
            preface: plan.preface,
            check: plan.check,
        })
    }

    /// The answer's stream for `turn` (None: the model's, unchecked): pai's
    /// own `direct` answer as one delta (a reminder confirmation needs no
    /// model) or the model's, checked; the turn's `preface` comes first.
    pub fn respond(&self, request: ChatRequest, turn: Option<&Turn>) -> pai_core::ChatStream {
        let Some(turn) = turn else { return self.model.chat(request) };
        let answer = match (&turn.direct, &turn.check) {
            (None, Some(check)) => crate::answer_check::checked(self.model.chat(request), check.clone()),
            (direct, _) => self.direct_or_model(request, direct.as_deref()),
        };
        match &turn.preface {
            None => answer,
            Some(p) => {
                let first = futures_util::stream::once(std::future::ready(Ok(pai_core::ChatEvent::Delta(p.clone()))));
                Box::pin(first.chain(answer))
            }
        }
    }

    fn direct_or_model(&self, request: ChatRequest, direct: Option<&str>) -> pai_core::ChatStream {
        match direct {
            None => self.model.chat(request),
            Some(text) => {
                let usage =
                    pai_core::Usage { prompt_tokens: 0, completion_tokens: self.model.count_tokens(text) as u32 };
                let done = pai_core::Completion { finish_reason: pai_core::FinishReason::Stop, usage };
                let events =
                    vec![Ok(pai_core::ChatEvent::Delta(text.to_string())), Ok(pai_core::ChatEvent::Done(done))];
                Box::pin(futures_util::stream::iter(events))
            }
        }
    }

    async fn summarise(&self, user: UserId, previous: Option<&str>, turns: &[&StoredMessage]) -> Result<String> {
        let mut transcript = String::new();
        if let Some(p) = previous {
            transcript.push_str(&format!("(Summary so far: {p})\n"));
        }
        for m in turns {
            transcript.push_str(&format!("{}: {}\n", m.role.as_str(), m.content));
        }
        let request = ChatRequest {
            messages: vec![Message::system(SUMMARISE), Message::user(transcript)],
            sampling: Sampling { max_tokens: Some(256), ..Sampling::greedy() },
            owner: Some(user),
            ..Default::default()
        };
        let (text, _) = pai_core::model::collect(self.model.chat(request)).await?;
        if text.trim().is_empty() {
            return Err(pai_core::Error::invalid("the model returned an empty summary"));
        }
        Ok(text.trim().to_string())
    }

    /// Stores the answer (when there is one) and queues extraction over the exchange.
    pub async fn finish(&self, turn: &Turn, answer: &str, now: DateTime<Utc>) -> Result<Option<StoredMessage>> {
        let mut ids = if turn.learned { Vec::new() } else { vec![turn.user_message.id] };
        let stored = if answer.trim().is_empty() {
            None
        } else {
            let new = NewMessage {
                role: Role::Assistant,
                speaker: None,
                content: answer.into(),
                created_at: now,
                external_id: None,
            };
            let m = self.store.add_messages(turn.user, turn.conversation, vec![new]).await?.remove(0);
            ids.push(m.id);
            Some(m)
        };
        // An exchange whose request was carried out already teaches nothing more.
        if !turn.learned {
            self.store.enqueue_extraction(turn.user, turn.conversation, &ids).await?;
            self.extractor.wake();
        }
        Ok(stored)
    }
}
