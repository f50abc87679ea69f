//! pai's built-in tools, callable through OpenAI function calling: a client
//! lists them by name in `tools` (parameters may be left out: pai supplies
//! them), the model calls them under a grammar, and pai runs them for the
//! caller's user and feeds the results back until the model answers. Each
//! works on the caller's data only; a failure is reported to the model as
//! `{"error": …}`, not as a failed request.
//!
//! Least agency: a destructive tool (forgetting, cancelling) never runs on
//! the model's word. The model's context holds text pai did not get from the
//! user — recalled items, document passages, search results — and any of it
//! may say "call pai_forget". Such a call names an id the model was shown in
//! this conversation, and becomes a proposal with a token that the user
//! confirms (`POST /api/confirmations/{token}`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pai_core::store::{ConversationId, MemoryId, MemoryKind, NewMemory, ReminderId, Store, UserId};
use pai_core::{Embedder, Error, Message, Result, Role};
use serde_json::{Value, json};

use crate::recall::{RecalledKind, recall};
use crate::reminders::{ScheduleError, schedule_reminder};

/// Name, description and JSON schema of each built-in.
pub fn definitions() -> Vec<(&'static str, &'static str, Value)> {
    let text = |d: &str| json!({"type": "string", "description": d});
    let obj = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    vec![
        ("pai_current_time", "The current date and time in the user's timezone.", obj(json!({}), &[])),
        (
            "pai_remember",
            "Remember a durable fact or preference about the user.",
            obj(json!({"text": text("the fact, in a short sentence")}), &["text"]),
        ),
        (
            "pai_forget",
            "Forget one memory by its id (from pai_search_memories).",
            obj(json!({"id": {"type": "integer"}}), &["id"]),
        ),
        (
            "pai_search_memories",
            "Search what pai knows about the user.",
            obj(json!({"query": text("what to look for")}), &["query"]),
        ),
        (
            "pai_search_documents",
            "Search the user's documents; results carry document, title and page.",
            obj(json!({"query": text("what to look for")}), &["query"]),
        ),
        (
            "pai_create_reminder",
            "Remind the user of something at a time: `when` in the user's words (\"내일 오전 9시\", \"every Monday 8am\").",
            obj(
                json!({"text": text("what to remind of"), "when": text("when, as the user said it")}),
                &["text", "when"],
            ),
        ),
        ("pai_list_reminders", "The user's scheduled reminders.", obj(json!({}), &[])),
        ("pai_cancel_reminder", "Cancel a reminder by its id.", obj(json!({"id": {"type": "integer"}}), &["id"])),
    ]
}

/// Whether `name` is one of pai's built-ins.
pub fn is_builtin(name: &str) -> bool {
    definitions().iter().any(|(n, _, _)| *n == name)
}

/// Whether running `name` destroys something of the user's.
pub fn is_destructive(name: &str) -> bool {
    matches!(name, "pai_forget" | "pai_cancel_reminder")
}

/// Where a call runs: the caller's user, and the conversation of the request.
pub struct ToolContext<'a> {
    pub store: &'a dyn Store,
    pub embedder: &'a dyn Embedder,
    pub user: UserId,
    pub conversation: Option<ConversationId>,
    pub now: DateTime<Utc>,
    /// Ids pai's read tools showed the model in this conversation (`shown_ids`).
    pub shown: &'a HashSet<i64>,
    pub confirmations: &'a Confirmations,
}

/// The ids in the results of pai's read tools among `messages` (its own
/// rounds, and earlier ones a client sends back): the only ids a destructive
/// call may name.
pub fn shown_ids(messages: &[Message]) -> HashSet<i64> {
    let mut ids = HashSet::new();
    for m in messages.iter().filter(|m| m.role == Role::Tool) {
        let Ok(v) = serde_json::from_str::<Value>(&m.content) else { continue };
        for list in ["results", "reminders"] {
            for item in v.get(list).and_then(Value::as_array).into_iter().flatten() {
                ids.extend(item.get("id").and_then(Value::as_i64));
            }
        }
    }
    ids
}

/// What a confirmed proposal does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Destructive {
    Forget(MemoryId),
    CancelReminder(ReminderId),
}

/// Destructive calls the model proposed, waiting for their user's yes.
#[derive(Default)]
pub struct Confirmations {
    pending: Mutex<HashMap<String, (UserId, Destructive, Instant)>>,
}

/// How long a proposal waits.
const PROPOSAL_LIFETIME: Duration = Duration::from_secs(3600);

impl Confirmations {
    fn propose(&self, user: UserId, action: Destructive) -> String {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut pending = self.pending.lock().expect("not poisoned");
        pending.retain(|_, (_, _, at)| at.elapsed() < PROPOSAL_LIFETIME);
        pending.insert(token.clone(), (user, action, Instant::now()));
        token
    }

    /// Carries out `user`'s proposal `token`, once. Another user's token, a
    /// used or an expired one: not found.
    pub async fn confirm(&self, store: &dyn Store, user: UserId, token: &str) -> Result<Value> {
        let action = {
            let mut pending = self.pending.lock().expect("not poisoned");
            match pending.get(token) {
                Some((owner, action, at)) if *owner == user && at.elapsed() < PROPOSAL_LIFETIME => {
                    let action = *action;
                    pending.remove(token);
                    action
                }
                _ => return Err(Error::not_found("no such proposal (each is confirmed once, within an hour)")),
            }
        };
        match action {
            Destructive::Forget(id) => store.delete_memory(user, id).await.map(|()| json!({"forgotten": id})),
            Destructive::CancelReminder(id) => {
                store.cancel_reminder(user, id).await.map(|r| json!({"cancelled": r.id}))
            }
        }
    }
}

/// A destructive call becomes a proposal for the user to confirm, when it
/// names an item of theirs the model was shown.
async fn propose(ctx: &ToolContext<'_>, name: &str, id: i64) -> Result<Value> {
    if !ctx.shown.contains(&id) {
        return Err(Error::invalid(format!(
            "id {id} was not shown to you in this conversation: find it with pai_search_memories or pai_list_reminders first"
        )));
    }
    let (action, what) = if name == "pai_forget" {
        let memory = ctx.store.memory(ctx.user, MemoryId(id)).await?;
        (Destructive::Forget(memory.id), format!("forget memory {id}: \"{}\"", memory.text))
    } else {
        let reminder = ctx.store.reminder(ctx.user, ReminderId(id)).await?;
        (Destructive::CancelReminder(reminder.id), format!("cancel reminder {id}: \"{}\"", reminder.text))
    };
    let token = ctx.confirmations.propose(ctx.user, action);
    Ok(json!({
        "needs_confirmation": {"action": what, "token": token, "confirm": format!("POST /api/confirmations/{token}")},
        "note": "Nothing was changed. Ask the user to confirm; pai never deletes on a model's word."
    }))
}

/// Runs one call; `arguments` is the JSON the model produced.
pub async fn call(ctx: &ToolContext<'_>, name: &str, arguments: &str) -> Result<Value> {
    let args: Value = serde_json::from_str(arguments).unwrap_or(json!({}));
    let str_arg = |key: &str| args.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let id_arg = || args.get("id").and_then(Value::as_i64);
    let outcome: Result<Value> = match name {
        "pai_current_time" => {
            let profile = ctx.store.user(ctx.user).await?;
            let tz: chrono_tz::Tz = profile.timezone.parse().unwrap_or(chrono_tz::UTC);
            let local = ctx.now.with_timezone(&tz);
            Ok(
                json!({"now": local.to_rfc3339(), "weekday": local.format("%A").to_string(), "timezone": profile.timezone}),
            )
        }
        "pai_remember" => match str_arg("text") {
            None => Err(Error::invalid("`text` is required")),
            Some(text) => {
                let new = NewMemory {
                    text: text.to_string(),
                    kind: MemoryKind::Fact,
                    subject: None,
                    importance: 0.7,
                    valid_from: None,
                    sources: Vec::new(),
                };
                ctx.store.add_memory(ctx.user, new).await.map(|m| json!({"remembered": m.id, "text": m.text}))
            }
        },
        "pai_forget" | "pai_cancel_reminder" => match id_arg() {
            None => Err(Error::invalid("`id` (an integer) is required")),
            Some(id) => propose(ctx, name, id).await,
        },
        "pai_search_memories" | "pai_search_documents" => match str_arg("query") {
            None => Err(Error::invalid("`query` is required")),
            Some(query) => {
                let documents = name == "pai_search_documents";
                let hits = recall(ctx.store, ctx.embedder, ctx.user, query, 20, ctx.now).await?;
                let found: Vec<Value> = hits
                    .into_iter()
                    .filter(|h| (h.kind == RecalledKind::Chunk) == documents && h.kind != RecalledKind::Message)
                    .take(5)
                    .map(|h| {
                        let mut v = json!({"text": h.text});
                        if let pai_core::store::ItemRef::Memory(id) = h.item {
                            v["id"] = json!(id);
                        }
                        if let Some(d) = h.provenance.document {
                            v["document"] = json!(d);
                        }
                        v
                    })
                    .collect();
                Ok(json!({"results": found}))
            }
        },
        "pai_create_reminder" => match (str_arg("text"), str_arg("when")) {
            (Some(text), Some(when)) => {
                match schedule_reminder(ctx.store, ctx.user, text, when, ctx.conversation, ctx.now).await {
                    Ok(r) => Ok(json!({"reminder": r.id, "text": r.text, "next_at": r.next_at, "rule": r.rule})),
                    Err(ScheduleError::Unclear(q)) => Ok(json!({"question_for_the_user": q})),
                    Err(ScheduleError::BadTime(m)) => Err(Error::invalid_field("when", m)),
                    Err(ScheduleError::BadText(m)) => Err(Error::invalid_field("text", m)),
                    Err(ScheduleError::Store(e)) => Err(e),
                }
            }
            _ => Err(Error::invalid("`text` and `when` are required")),
        },
        "pai_list_reminders" => ctx.store.reminders(ctx.user).await.map(|rs| {
            let list: Vec<Value> = rs
                .into_iter()
                .filter(|r| r.next_at.is_some())
                .map(|r| json!({"id": r.id, "text": r.text, "next_at": r.next_at, "when": r.phrase}))
                .collect();
            json!({"reminders": list})
        }),
        other => Err(Error::invalid(format!("{other} is not a pai tool"))),
    };
    match outcome {
        Ok(v) => Ok(v),
        // What the model should hear about; store failures stay errors.
        Err(Error::Invalid { message: m, .. } | Error::NotFound(m) | Error::Conflict(m)) => Ok(json!({"error": m})),
        Err(e) => Err(e),
    }
}
