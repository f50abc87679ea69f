//! `POST /v1/chat/completions`: OpenAI's chat API over pai's memory.
//!
//! Two modes. With a conversation (`X-Pai-Conversation: <id>|new`, or the
//! body's `conversation`), pai keeps the history: only the last user message
//! of the request is used, and the prompt is assembled from the stored turns
//! and recalled memories, exactly as in `pai chat`. Without one, the request's
//! messages are the whole conversation (OpenAI's stateless model); pai adds
//! what it recalls about the user to the system prompt and keeps the
//! exchange in the user's "API" conversation so memories can cite it.
//! Either way the exchange is queued for memory extraction. `"memory": false`
//! turns recall and storage off for a request.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use pai_assistant::prompt::citations;
use pai_assistant::recall::Recalled;
use pai_assistant::tool_rounds::read_whole;
use pai_assistant::turn::Turn;
use pai_core::store::{ConversationId, UserId};
use pai_core::{ChatEvent, ChatRequest, Completion, Constraint, FinishReason, Message, Role, Sampling};
use serde::Deserialize;
use serde_json::{Value, json};

use super::objects::{
    self, AssistantMessage, ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, Citation, Delta, FunctionCall,
    Grounded, PaiExtension, ToolCall,
};
use super::tools::{FunctionDef, NamedFunction, ToolChoice, ToolDef, ToolMode, add_instructions, calls_as_text};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extractors::Json;
use crate::limits::Permit;
use crate::secrets::random_hex;
use crate::state::SharedState;

pub const CONVERSATION_HEADER: &str = "x-pai-conversation";

/// Parameters OpenAI defines that pai accepts and ignores (they change
/// nothing about a local answer): clients send them by default, and refusing
/// them would break the client, not help the user. A request that has them
/// logs which were ignored. Anything else unknown is refused.
const IGNORED: &[&str] = &[
    "user",
    "logit_bias",
    "metadata",
    "store",
    "service_tier",
    "top_logprobs",
    "reasoning_effort",
    "prompt_cache_key",
    "safety_identifier",
    "verbosity",
];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatCompletionRequest {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    /// Repetition and sampling controls as llama-server and vLLM take them.
    top_k: Option<u32>,
    min_p: Option<f32>,
    repetition_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<Stop>,
    n: Option<u32>,
    logprobs: Option<bool>,
    response_format: Option<ResponseFormat>,
    tools: Option<Vec<ToolDef>>,
    tool_choice: Option<ToolChoice>,
    /// `false`: at most one tool call an answer.
    parallel_tool_calls: Option<bool>,
    /// The legacy form of `tools` and `tool_choice`, still sent by older clients.
    functions: Option<Vec<FunctionDef>>,
    function_call: Option<LegacyFunctionChoice>,
    /// Output kinds: only `["text"]` is produced.
    modalities: Option<Vec<String>>,
    /// pai extension: the conversation to continue (an id, or "new").
    conversation: Option<ConversationRef>,
    /// pai extension: `false` for no recall and no storage.
    memory: Option<bool>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
    /// Padding against length side channels on OpenAI's servers; a local
    /// stream has none to hide, so any value is accepted.
    #[serde(default)]
    #[allow(dead_code)]
    include_obfuscation: Option<bool>,
}

/// `function_call`: "none" | "auto" | {"name": …}.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum LegacyFunctionChoice {
    Mode(String),
    Named { name: String },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum ConversationRef {
    Id(i64),
    Text(String),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct JsonSchemaFormat {
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    schema: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    strict: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<InToolCall>>,
    #[serde(default)]
    #[allow(dead_code)]
    tool_call_id: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    refusal: Option<String>,
    /// The legacy form of one tool call in an assistant message.
    #[serde(default)]
    function_call: Option<InFunctionCall>,
    /// Fields other providers put in the history a client replays (web
    /// search annotations, audio replies, reasoning text): not part of the
    /// conversation pai sees, so ignored.
    #[serde(default)]
    #[allow(dead_code)]
    annotations: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    audio: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    reasoning_content: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct InToolCall {
    function: InFunctionCall,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct InFunctionCall {
    name: String,
    arguments: String,
}

/// A request checked and turned into pai's terms.
struct Checked {
    messages: Vec<Message>,
    sampling: Sampling,
    constraint: Option<Constraint>,
    tools: Option<ToolMode>,
    stream: bool,
    include_usage: bool,
    conversation: Option<ConversationRef>,
    memory: bool,
}

fn check(state: &SharedState, mut body: ChatCompletionRequest) -> ApiResult<Checked> {
    if let Some(key) = body.other.keys().find(|k| !IGNORED.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unrecognized request argument supplied: {key}")).param(key.clone()));
    }
    if !body.other.is_empty() {
        let ignored: Vec<&str> = body.other.keys().map(String::as_str).collect();
        tracing::info!(ignored = ?ignored, "parameters that change nothing in a local answer were ignored");
    }
    if let Some(kinds) = &body.modalities
        && kinds.iter().any(|k| k != "text")
    {
        return Err(
            ApiError::bad_request("only text output is produced; send modalities [\"text\"]").param("modalities")
        );
    }
    legacy_functions(&mut body)?;
    let model = state.assistant.model.id();
    if !super::serves(state, crate::state::ModelRole::Chat, &body.model) {
        return Err(ApiError::not_found(format!(
            "the model `{}` does not exist here; use `{model}` or `pai` (GET /v1/models), or name it in [server.model_aliases]",
            body.model
        ))
        .code("model_not_found")
        .param("model"));
    }
    let limits = &state.settings.limits;
    if body.messages.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty").param("messages"));
    }
    if body.messages.len() > limits.max_messages {
        return Err(
            ApiError::bad_request(format!("at most {} messages per request", limits.max_messages)).param("messages")
        );
    }
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("only n = 1 is supported").param("n"));
    }
    if body.logprobs == Some(true) {
        return Err(ApiError::bad_request("logprobs are not supported").param("logprobs"));
    }
    let max_tokens = body.max_completion_tokens.or(body.max_tokens);
    if let Some(n) = max_tokens
        && (n == 0 || n > limits.max_tokens)
    {
        return Err(ApiError::bad_request(format!("max_tokens must be between 1 and {}", limits.max_tokens))
            .param("max_tokens"));
    }
    if let Some(t) = body.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ApiError::bad_request("temperature must be between 0 and 2").param("temperature"));
    }
    if let Some(p) = body.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(ApiError::bad_request("top_p must be greater than 0 and at most 1").param("top_p"));
    }
    if body.top_k.is_some_and(|k| k > 1000) {
        return Err(ApiError::bad_request("top_k must be between 0 (off) and 1000").param("top_k"));
    }
    if let Some(p) = body.min_p
        && !(0.0..=1.0).contains(&p)
    {
        return Err(ApiError::bad_request("min_p must be between 0 and 1").param("min_p"));
    }
    if let Some(r) = body.repetition_penalty
        && !(r > 0.0 && r <= 2.0)
    {
        return Err(ApiError::bad_request("repetition_penalty must be greater than 0 and at most 2 (1 is off)")
            .param("repetition_penalty"));
    }
    for (name, value) in [("frequency_penalty", body.frequency_penalty), ("presence_penalty", body.presence_penalty)] {
        if value.is_some_and(|v| !(-2.0..=2.0).contains(&v)) {
            return Err(ApiError::bad_request(format!("{name} must be between -2 and 2")).param(name));
        }
    }
    let stop = match body.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    if stop.len() > 4 || stop.iter().any(|s| s.is_empty() || s.len() > 200) {
        return Err(ApiError::bad_request("stop takes at most 4 non-empty strings").param("stop"));
    }
    let mut messages = Vec::with_capacity(body.messages.len());
    for (i, m) in body.messages.into_iter().enumerate() {
        messages.push(message(i, m)?);
    }
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(ApiError::bad_request("the messages need at least one user message").param("messages"));
    }
    let tools =
        ToolMode::new(body.tools, body.tool_choice)?.map(|t| t.parallel(body.parallel_tool_calls != Some(false)));
    let constraint = match (&tools, body.response_format) {
        (Some(t), _) => Some(t.constraint()),
        (None, None | Some(ResponseFormat::Text)) => None,
        (None, Some(ResponseFormat::JsonObject)) => Some(Constraint::JsonSchema(json!({"type": "object"}))),
        (None, Some(ResponseFormat::JsonSchema { json_schema })) => match json_schema.schema {
            Some(s) if s.is_object() => Some(Constraint::JsonSchema(s)),
            _ => {
                return Err(ApiError::bad_request("response_format.json_schema.schema must be a JSON schema object")
                    .param("response_format"));
            }
        },
    };
    let defaults = Sampling::default();
    let sampling = Sampling {
        temperature: body.temperature.unwrap_or(defaults.temperature),
        top_p: body.top_p.unwrap_or(defaults.top_p),
        top_k: body.top_k.unwrap_or(defaults.top_k),
        seed: body.seed.map(|s| s as u64),
        max_tokens: Some(max_tokens.unwrap_or(limits.max_tokens)),
        stop,
        min_p: body.min_p,
        repeat_penalty: body.repetition_penalty,
        frequency_penalty: body.frequency_penalty,
        presence_penalty: body.presence_penalty,
        dry_multiplier: None,
    };
    Ok(Checked {
        messages,
        sampling,
        constraint,
        tools,
        stream: body.stream,
        include_usage: body.stream_options.is_some_and(|o| o.include_usage),
        conversation: body.conversation,
        memory: body.memory.unwrap_or(true),
    })
}

/// `functions` and `function_call`, the form of tools before `tools`, become
/// `tools` and `tool_choice`; a request may not mix the two forms.
fn legacy_functions(body: &mut ChatCompletionRequest) -> ApiResult<()> {
    if body.functions.is_some() && body.tools.is_some() {
        return Err(ApiError::bad_request("send tools or the legacy functions, not both").param("functions"));
    }
    if body.function_call.is_some() && body.tool_choice.is_some() {
        return Err(
            ApiError::bad_request("send tool_choice or the legacy function_call, not both").param("function_call")
        );
    }
    if let Some(functions) = body.functions.take() {
        body.tools =
            Some(functions.into_iter().map(|function| ToolDef { kind: "function".into(), function }).collect());
    }
    body.tool_choice = match body.function_call.take() {
        None => body.tool_choice.take(),
        Some(LegacyFunctionChoice::Mode(mode)) => Some(ToolChoice::Mode(mode)),
        Some(LegacyFunctionChoice::Named { name }) => {
            Some(ToolChoice::Named { r#type: "function".into(), function: NamedFunction { name } })
        }
    };
    Ok(())
}

fn message(i: usize, m: InMessage) -> ApiResult<Message> {
    let param = || format!("messages[{i}]");
    let role = match m.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        // "function": the legacy form of a tool's result.
        "tool" | "function" => Role::Tool,
        other => {
            return Err(ApiError::bad_request(format!("unknown role {other:?}")).param(format!("{}.role", param())));
        }
    };
    let mut text = match m.content {
        None => String::new(),
        Some(Content::Text(t)) => t,
        Some(Content::Parts(parts)) => {
            let mut out = String::new();
            for p in parts {
                match (p.kind.as_str(), p.text) {
                    ("text", Some(t)) => out.push_str(&t),
                    (kind, _) => {
                        return Err(ApiError::bad_request(format!(
                            "content of type {kind:?} is not supported; send text"
                        ))
                        .param(format!("{}.content", param())));
                    }
                }
            }
            out
        }
    };
    let legacy = m.function_call.map(|function| vec![InToolCall { function }]);
    if let Some(calls) = m.tool_calls.filter(|c| !c.is_empty()).or(legacy) {
        let calls: Vec<(String, Value)> = calls
            .into_iter()
            .map(|c| {
                let args = serde_json::from_str(&c.function.arguments).unwrap_or(Value::String(c.function.arguments));
                (c.function.name, args)
            })
            .collect();
        text = calls_as_text(&calls);
    }
    if text.trim().is_empty() && role == Role::User {
        return Err(ApiError::bad_request("a user message needs text").param(format!("{}.content", param())));
    }
    if text.len() > pai_core::store::MAX_TEXT_BYTES {
        return Err(ApiError::bad_request(format!("a message is at most {} bytes", pai_core::store::MAX_TEXT_BYTES))
            .param(format!("{}.content", param())));
    }
    Ok(Message::new(role, text))
}

/// The answer's events: the turn's answer, which stores itself when it ends
/// (`pai_assistant::answer`), or the model's alone when memory is off.
fn answer_stream(state: &SharedState, prepared: &Prepared) -> pai_core::ChatStream {
    match &prepared.turn {
        Some(turn) => Box::pin(state.assistant.answer(turn.clone(), prepared.request.clone())),
        None => state.assistant.model.chat(prepared.request.clone()),
    }
}

/// The prompt, where the answer goes, and what was recalled.
struct Prepared {
    user: UserId,
    request: ChatRequest,
    /// pai's own tool calls run for this answer, with their results.
    tool_results: Vec<Value>,
    /// `None` when memory is off for this request.
    turn: Option<Turn>,
    conversation: Option<ConversationId>,
    recalled: Vec<Recalled>,
}

/// `room`: tokens of the context the request's own messages leave free.
async fn prepare(state: &SharedState, user: UserId, c: &Checked, room: usize) -> ApiResult<Prepared> {
    let now = Utc::now();
    if !c.memory {
        let request = ChatRequest {
            messages: c.messages.clone(),
            sampling: c.sampling.clone(),
            owner: Some(user),
            ..Default::default()
        };
        return Ok(Prepared {
            user,
            request,
            tool_results: Vec::new(),
            turn: None,
            conversation: None,
            recalled: Vec::new(),
        });
    }
    let assistant = &state.assistant;
    let turn = match c.conversation.clone() {
        Some(reference) => {
            let last_user = c.messages.iter().rev().find(|m| m.role == Role::User).expect("checked").content.as_str();
            let conversation = match reference {
                ConversationRef::Text(t) if t == "new" => {
                    let title: String = last_user.chars().take(60).collect();
                    state.store.create_conversation(user, title.trim()).await?.id
                }
                ConversationRef::Text(t) => match t.trim().parse::<i64>() {
                    Ok(id) => state.store.conversation(user, ConversationId(id)).await?.id,
                    Err(_) => return Err(ApiError::not_found("no such conversation").param("conversation")),
                },
                ConversationRef::Id(id) => state.store.conversation(user, ConversationId(id)).await?.id,
            };
            let mut turn = assistant.begin(user, conversation, last_user, c.sampling.clone(), now).await?;
            // The client's own instructions join pai's.
            let client_system: Vec<&str> =
                c.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
            turn.add_instructions(&client_system.join("\n"));
            turn
        }
        None => assistant.begin_stateless(user, c.messages.clone(), c.sampling.clone(), room, now).await?,
    };
    Ok(Prepared {
        user,
        tool_results: Vec::new(),
        request: turn.request.clone(),
        conversation: Some(turn.conversation),
        recalled: turn.recalled.clone(),
        turn: Some(turn),
    })
}

/// Tokens the prompt takes, roughly as the template will render it.
fn prompt_tokens(state: &SharedState, messages: &[Message]) -> usize {
    messages.iter().map(|m| state.assistant.model.count_tokens(&m.content) + 8).sum()
}

#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "createChatCompletion", tag = "OpenAI", request_body = ChatCompletionRequest,
    summary = "Chat completion (stream or not) over the caller's memory",
    description = "Header `X-Pai-Conversation: <id>|new` continues or starts a stored conversation (its id comes \
                   back in that header); `memory: false` recalls and keeps nothing.",
    responses((status = 200, body = ChatCompletion,
               description = "With `stream: true`, server-sent events of ChatCompletionChunk, then `[DONE]`")))]
pub async fn completions(
    axum::extract::State(state): axum::extract::State<SharedState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<ChatCompletionRequest>,
) -> ApiResult<Response> {
    let (output, conversation) = run(&state, &caller, &headers, body).await?;
    let mut response = match output {
        Output::Whole(body) => axum::Json(body).into_response(),
        Output::Chunks(frames) => {
            let events = frames.map(|frame| {
                Ok::<_, std::convert::Infallible>(match frame {
                    Frame::Chunk(chunk) => Event::default().json_data(chunk).expect("serializable"),
                    Frame::Error(error) => Event::default().json_data(error).expect("serializable"),
                    Frame::Done => Event::default().data("[DONE]"),
                })
            });
            Sse::new(events).keep_alive(KeepAlive::default()).into_response()
        }
    };
    if let Some(conv) = conversation.and_then(|c| HeaderValue::from_str(&c.to_string()).ok()) {
        response.headers_mut().insert(CONVERSATION_HEADER, conv);
    }
    Ok(response)
}

/// An answer in the chat completions format, which the other formats
/// (`/v1/responses`, `/v1/completions`) are rendered from.
pub(super) enum Output {
    Whole(ChatCompletion),
    /// `chat.completion.chunk` objects as they are generated.
    Chunks(futures_util::stream::BoxStream<'static, Frame>),
}

pub(super) enum Frame {
    Chunk(ChatCompletionChunk),
    /// An error after the answer began; nothing follows.
    Error(ErrorBody),
    /// The answer ended.
    Done,
}

/// Checks, prepares and answers a chat request: the one path every
/// OpenAI-style endpoint takes. Returns the answer and the conversation it
/// was kept in.
pub(super) async fn run(
    state: &SharedState,
    caller: &Caller,
    headers: &HeaderMap,
    body: ChatCompletionRequest,
) -> ApiResult<(Output, Option<ConversationId>)> {
    let mut c = check(state, body)?;
    if let Some(h) = headers.get(CONVERSATION_HEADER) {
        let v = h.to_str().map_err(|_| ApiError::bad_request("X-Pai-Conversation must be an id or \"new\""))?;
        c.conversation = Some(ConversationRef::Text(v.to_string()));
    }
    let user = caller.user.id;
    // Everything that can refuse the request comes before the first write.
    let instructions = c.tools.as_ref().map(|t| t.instructions()).unwrap_or_default();
    let context = state.assistant.model.context_length() as usize;
    let own: &[Message] = if c.conversation.is_some() && c.memory {
        // The server has the history: only the new message must fit.
        std::slice::from_ref(c.messages.iter().rev().find(|m| m.role == Role::User).expect("checked"))
    } else {
        &c.messages
    };
    let needed = prompt_tokens(state, own) + state.assistant.model.count_tokens(&instructions);
    if needed >= context {
        return Err(ApiError::bad_request(format!(
            "the messages take about {needed} tokens; this model's context holds {context}"
        ))
        .code("context_length_exceeded")
        .param("messages"));
    }
    let permit = state.gate.acquire(user).await?;
    let started = Instant::now();
    let mut prepared = prepare(state, user, &c, context - needed).await?;
    if c.tools.is_some() {
        add_instructions(&mut prepared.request.messages, &instructions);
    }
    if c.constraint.is_some()
        && let Some(turn) = &mut prepared.turn
    {
        turn.quiet();
    }
    prepared.request.constraint = c.constraint.clone();
    let conversation = prepared.conversation;
    let id = format!("chatcmpl-{}", random_hex(12));
    // A tool answer is parsed before anything is sent: a streaming request
    // with tools gets the whole answer replayed as chunks.
    let output = if c.stream && c.tools.is_none() {
        Output::Chunks(stream(state.clone(), prepared, c, id, permit, started))
    } else {
        let body = whole(state, prepared, &c, id, permit, started).await?;
        if c.stream { Output::Chunks(replay_as_chunks(body, c.include_usage)) } else { Output::Whole(body) }
    };
    Ok((output, conversation))
}

fn pai_extension(p: &Prepared) -> PaiExtension {
    // Document passages as the answer cites them: [n] → where to find it.
    let citations = citations(&p.recalled)
        .into_iter()
        .filter_map(|(n, r)| Some(Citation::new(n, r.item, r.provenance.document.as_ref()?, &r.text)))
        .collect();
    // The sentence pai would quote, and how sure it is (bench/grounded calibrates on it).
    let grounded = p.turn.as_ref().and_then(|turn| {
        let question = &turn.user_message.content;
        pai_assistant::grounded::best_quote(question, &p.recalled).map(|q| Grounded {
            answers: q.answers(),
            sentence: q.sentence,
            citation: q.citation,
            score: q.score,
            question: pai_assistant::grounded::is_question(question),
        })
    });
    PaiExtension {
        conversation: p.conversation,
        recalled: p.recalled.clone(),
        citations,
        grounded,
        tool_results: p.tool_results.clone(),
    }
}

/// A cut answer says so even when whole calls were kept from it.
fn finish_reason(c: &Completion, calls: bool) -> &'static str {
    match (calls, c.finish_reason) {
        (_, FinishReason::Length) => "length",
        (true, FinishReason::Stop) => "tool_calls",
        (false, FinishReason::Stop) => "stop",
    }
}

fn tool_calls(calls: &[(String, String)]) -> Vec<ToolCall> {
    calls
        .iter()
        .map(|(name, arguments)| ToolCall {
            index: None,
            id: format!("call_{}", random_hex(8)),
            kind: "function",
            function: FunctionCall { name: name.clone(), arguments: arguments.clone() },
        })
        .collect()
}

/// The whole answer: with tools, pai-assistant's rounds (pai's own tools
/// run between generations, the client's come back as calls); without, the
/// turn's answer stream collected. Either way the answer is stored by
/// pai-assistant before this returns.
async fn whole(
    state: &SharedState,
    mut prepared: Prepared,
    c: &Checked,
    id: String,
    permit: Permit,
    started: Instant,
) -> ApiResult<ChatCompletion> {
    let metrics = |done: &Completion, first: Option<Instant>| {
        let first = first.map(|f| f.duration_since(started));
        state.metrics.generation(done.usage.prompt_tokens, done.usage.completion_tokens, first, started.elapsed());
    };
    let (content, calls, completion) = match &c.tools {
        Some(tools) => {
            let rounds = state
                .assistant
                .answer_with_tools(
                    prepared.user,
                    prepared.turn.as_ref(),
                    prepared.request.clone(),
                    |text, cut| tools.parse(text, cut),
                    metrics,
                )
                .await?;
            prepared.tool_results = rounds.ran;
            (rounds.content, rounds.calls, rounds.completion)
        }
        None => {
            let (text, completion, first) = read_whole(answer_stream(state, &prepared)).await?;
            metrics(&completion, first);
            (Some(text), Vec::new(), completion)
        }
    };
    drop(permit);
    let message = AssistantMessage { role: "assistant", content, refusal: None, tool_calls: tool_calls(&calls) };
    Ok(ChatCompletion {
        id,
        object: "chat.completion",
        created: Utc::now().timestamp(),
        model: state.assistant.model.id().to_string(),
        choices: vec![Choice {
            index: 0,
            message,
            logprobs: None,
            finish_reason: finish_reason(&completion, !calls.is_empty()),
        }],
        usage: completion.usage.into(),
        system_fingerprint: None,
        pai: pai_extension(&prepared),
    })
}

/// The chunks of one answer share their id, time and model.
#[derive(Clone)]
struct ChunkHead {
    id: String,
    created: i64,
    model: String,
}

impl ChunkHead {
    fn chunk(&self, delta: Delta, finish_reason: Option<&'static str>) -> Frame {
        Frame::Chunk(ChatCompletionChunk {
            choices: vec![ChunkChoice { index: 0, delta, logprobs: None, finish_reason }],
            ..self.last(None)
        })
    }

    /// The chunk after the answer: no choices, with `usage` and `pai` when asked for.
    fn last(&self, usage_and_pai: Option<(objects::Usage, PaiExtension)>) -> ChatCompletionChunk {
        let (usage, pai) = usage_and_pai.map_or((None, None), |(u, p)| (Some(u), Some(p)));
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: None,
            choices: Vec::new(),
            usage,
            pai,
        }
    }
}

fn text_delta(content: impl Into<String>) -> Delta {
    Delta { content: Some(content.into()), ..Delta::default() }
}

fn role_delta() -> Delta {
    Delta { role: Some("assistant"), content: Some(String::new()), tool_calls: None }
}

/// A finished answer sent as a stream: what a streaming request with pai's
/// own tools gets (the tools run between generations, so the final answer is
/// known before its first chunk is sent).
fn replay_as_chunks(body: ChatCompletion, include_usage: bool) -> futures_util::stream::BoxStream<'static, Frame> {
    let head = ChunkHead { id: body.id, created: body.created, model: body.model };
    let Some(choice) = body.choices.into_iter().next() else {
        return futures_util::stream::iter([Frame::Done]).boxed();
    };
    let message = choice.message;
    let mut events = vec![head.chunk(role_delta(), None)];
    if let Some(text) = message.content {
        events.push(head.chunk(text_delta(text), None));
    }
    if !message.tool_calls.is_empty() {
        let indexed =
            message.tool_calls.into_iter().enumerate().map(|(i, c)| ToolCall { index: Some(i), ..c }).collect();
        events.push(head.chunk(Delta { tool_calls: Some(indexed), ..Delta::default() }, None));
    }
    events.push(head.chunk(Delta::default(), Some(choice.finish_reason)));
    if include_usage {
        events.push(Frame::Chunk(head.last(Some((body.usage, body.pai)))));
    }
    events.push(Frame::Done);
    futures_util::stream::iter(events).boxed()
}

/// Server-sent events. Generation runs in its own task and stops as soon as
/// the client goes away (its channel closes), freeing the slot for others.
fn stream(
    state: SharedState,
    prepared: Prepared,
    c: Checked,
    id: String,
    permit: Permit,
    started: Instant,
) -> futures_util::stream::BoxStream<'static, Frame> {
    // Unbounded on purpose: generation must never wait for a slow reader (it
    // holds a slot others wait for); what a stalled client can pile up is
    // bounded by max_tokens.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Frame>();
    let head = ChunkHead { id, created: Utc::now().timestamp(), model: state.assistant.model.id().to_string() };
    tokio::spawn(async move {
        let _permit = permit;
        let mut events = answer_stream(&state, &prepared);
        if tx.send(head.chunk(role_delta(), None)).is_err() {
            return;
        }
        let mut first = None;
        let mut completion: Option<Completion> = None;
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                event = events.next() => match event {
                    Some(Ok(ChatEvent::Delta(piece))) => {
                        first.get_or_insert_with(|| started.elapsed());
                        if tx.send(head.chunk(text_delta(piece), None)).is_err() {
                            break;
                        }
                    }
                    Some(Ok(ChatEvent::Done(done))) => {
                        completion = Some(done);
                        break;
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Frame::Error(ApiError::from(e).body()));
                        break;
                    }
                    None => break,
                }
            }
        }
        // Dropping the model's stream here cancels a generation cut short.
        drop(events);
        let usage = completion.as_ref().map(|d| d.usage).unwrap_or_default();
        state.metrics.generation(usage.prompt_tokens, usage.completion_tokens, first, started.elapsed());
        let Some(done) = completion else { return };
        let reason = finish_reason(&done, false);
        let _ = tx.send(head.chunk(Delta::default(), Some(reason)));
        if c.include_usage {
            let _ = tx.send(Frame::Chunk(head.last(Some((usage.into(), pai_extension(&prepared))))));
        }
        let _ = tx.send(Frame::Done);
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) }).boxed()
}
