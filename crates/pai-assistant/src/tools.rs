//! pai's built-in tools, callable through OpenAI function calling: a client
//! lists them by name in `tools` (parameters may be left out: pai supplies
//! them), the model calls them under a grammar, and pai runs them for the
//! caller's user and feeds the results back until the model answers. Each
//! works on the caller's data only; a failure is reported to the model as
//! `{"error": …}`, not as a failed request.

use chrono::{DateTime, Utc};
use pai_core::store::{ConversationId, MemoryId, MemoryKind, NewMemory, ReminderId, Store, UserId};
use pai_core::{Embedder, Error, Result};
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

/// Where a call runs: the caller's user, and the conversation of the request.
pub struct ToolContext<'a> {
    pub store: &'a dyn Store,
    pub embedder: &'a dyn Embedder,
    pub user: UserId,
    pub conversation: Option<ConversationId>,
    pub now: DateTime<Utc>,
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
        "pai_forget" => match id_arg() {
            None => Err(Error::invalid("`id` (an integer) is required")),
            Some(id) => ctx.store.delete_memory(ctx.user, MemoryId(id)).await.map(|()| json!({"forgotten": id})),
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
                    Err(ScheduleError::Invalid(m)) => Err(Error::invalid(m)),
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
        "pai_cancel_reminder" => match id_arg() {
            None => Err(Error::invalid("`id` (an integer) is required")),
            Some(id) => ctx.store.cancel_reminder(ctx.user, ReminderId(id)).await.map(|r| json!({"cancelled": r.id})),
        },
        other => Err(Error::invalid(format!("{other} is not a pai tool"))),
    };
    match outcome {
        Ok(v) => Ok(v),
        // What the model should hear about; store failures stay errors.
        Err(Error::Invalid(m) | Error::NotFound(m) | Error::Conflict(m)) => Ok(json!({"error": m})),
        Err(e) => Err(e),
    }
}
