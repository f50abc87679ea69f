//! A turn answered under a tools constraint (OpenAI's function calling): the
//! model's output is parsed by the front end that knows the client's tools,
//! pai's own tools (`tools.rs`) run for the turn's user and their results go
//! back to the model, at most `MAX_TOOL_ROUNDS` times; the final text, or the
//! calls for the client, is stored like any answer.

use std::time::Instant;

use chrono::Utc;
use futures_util::StreamExt;
use pai_core::store::UserId;
use pai_core::{ChatEvent, ChatRequest, ChatStream, Completion, FinishReason, Message, Role, Usage};
use serde_json::{Value, json};

use crate::assistant::Assistant;
use crate::turn::Turn;

/// Rounds of pai's own tool calls before the model must answer.
pub const MAX_TOOL_ROUNDS: usize = 3;

/// The model's output under a tools constraint, parsed.
#[derive(Debug, PartialEq)]
pub enum ToolAnswer {
    Text(String),
    /// Calls: name, arguments as a JSON string.
    Calls(Vec<(String, String)>),
}

/// What the rounds came to.
pub struct ToolRounds {
    /// The answer's text, when it is text.
    pub content: Option<String>,
    /// Calls for the client (pai's own, after the last round, included).
    pub calls: Vec<(String, String)>,
    /// The last round's finish, with the usage of all rounds.
    pub completion: Completion,
    /// pai's tools that ran: name, arguments, result.
    pub ran: Vec<Value>,
}

/// How an assistant turn that called tools is shown to the model again.
pub fn calls_as_text(calls: &[(String, Value)]) -> String {
    let calls: Vec<Value> = calls.iter().map(|(name, args)| json!({"name": name, "arguments": args})).collect();
    json!({"tool_calls": calls}).to_string()
}

/// A stream read to its end: the text, the completion, and when the first
/// text came (the time to first token, for metrics).
pub async fn read_whole(mut events: ChatStream) -> pai_core::Result<(String, Completion, Option<Instant>)> {
    let mut text = String::new();
    let mut first = None;
    while let Some(event) = events.next().await {
        match event? {
            ChatEvent::Delta(piece) => {
                first.get_or_insert_with(Instant::now);
                text.push_str(&piece);
            }
            ChatEvent::Done(done) => return Ok((text, done, first)),
        }
    }
    Err(pai_core::Error::internal("the answer ended early"))
}

/// How calls are stored as the answer of a turn.
pub fn calls_text(calls: &[(String, String)]) -> String {
    calls.iter().map(|(n, a)| format!("(called {n} with {a})")).collect::<Vec<_>>().join(" ")
}

impl Assistant {
    /// Answers `request` (the turn's, with the tools constraint) for `user`:
    /// `parse` reads each round's output (`cut`: the token limit ended it),
    /// `on_round` sees each round's completion and when its first text came.
    /// The answer is stored with `turn` (none: memory off).
    pub async fn answer_with_tools<E: From<pai_core::Error>>(
        &self,
        user: UserId,
        turn: Option<&Turn>,
        mut request: ChatRequest,
        parse: impl Fn(&str, bool) -> Result<ToolAnswer, E>,
        mut on_round: impl FnMut(&Completion, Option<Instant>),
    ) -> Result<ToolRounds, E> {
        let mut ran = Vec::new();
        let mut usage = Usage { prompt_tokens: 0, completion_tokens: 0 };
        for round in 0.. {
            let (text, completion, first) = read_whole(self.respond(request.clone(), turn)).await?;
            on_round(&completion, first);
            usage.prompt_tokens += completion.usage.prompt_tokens;
            usage.completion_tokens += completion.usage.completion_tokens;
            let cut = completion.finish_reason == FinishReason::Length;
            let (content, calls) = match parse(&text, cut)? {
                ToolAnswer::Text(t) => (Some(t), Vec::new()),
                ToolAnswer::Calls(calls) => (None, calls),
            };
            // pai runs its own tools and asks again; a client's tools go back
            // to the client, and so do pai's after the last round. A cut
            // call's arguments are unfinished: it is not run.
            let ours = !calls.is_empty() && calls.iter().all(|(n, _)| crate::tools::is_builtin(n));
            if !ours || round == MAX_TOOL_ROUNDS || cut {
                if let Some(turn) = turn {
                    let answer = content.clone().unwrap_or_else(|| calls_text(&calls));
                    self.finish(turn, &answer, Utc::now()).await?;
                }
                return Ok(ToolRounds { content, calls, completion: Completion { usage, ..completion }, ran });
            }
            self.run_builtins(user, turn, &mut request, &calls, &mut ran).await?;
        }
        unreachable!("the loop returns by its last round")
    }

    /// Runs pai's tools the model called, for `user`, and puts the calls and
    /// their results into the conversation the model sees next.
    async fn run_builtins(
        &self,
        user: UserId,
        turn: Option<&Turn>,
        request: &mut ChatRequest,
        calls: &[(String, String)],
        ran: &mut Vec<Value>,
    ) -> pai_core::Result<()> {
        let ids = crate::tools::shown_ids(&request.messages);
        let ctx = crate::tools::ToolContext {
            store: &*self.store,
            embedder: &*self.embedder,
            user,
            conversation: turn.map(|t| t.conversation),
            now: Utc::now(),
            shown: &ids,
            confirmations: &self.confirmations,
        };
        let shown: Vec<(String, Value)> =
            calls.iter().map(|(n, a)| (n.clone(), serde_json::from_str(a).unwrap_or(json!({})))).collect();
        request.messages.push(Message { role: Role::Assistant, content: calls_as_text(&shown) });
        for (name, arguments) in calls {
            let result = crate::tools::call(&ctx, name, arguments).await?;
            request.messages.push(Message { role: Role::Tool, content: result.to_string() });
            ran.push(json!({"name": name, "arguments": arguments, "result": result}));
        }
        Ok(())
    }
}
