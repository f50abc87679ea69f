//! `POST /v1/responses`: OpenAI's Responses API, the default of the OpenAI
//! Agents SDK and of `@ai-sdk/openai`. Text in and out, streamed or not,
//! `instructions`, function tools, JSON output (`text.format`), and the two
//! ways a client points at earlier turns instead of re-sending them:
//! `previous_response_id` and `item_reference`. The request is translated
//! into a chat request, goes through the one chat path (memory included),
//! and its answer is rendered here as a response object or its events.
//!
//! pai keeps responses and their output items in memory, per user and
//! bounded (20,000 entries, 64 MiB of text), not in the database: they are a client's working state, only
//! worth keeping while its loop runs. After a restart a reference to one is
//! a clear 400.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use pai_core::store::UserId;
use serde_json::{Map, Value, json};

use super::chat::{self, Frame, Output};
use super::objects::{PaiExtension, ToolCall, Usage};
use super::response_object::{
    CreateResponse, IncompleteDetails, OutputItem, OutputText, Reasoning, ResponseError, ResponseObject, ResponseUsage,
    Settings,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::Json;
use crate::secrets::random_hex;
use crate::state::SharedState;

/// Parameters of the Responses API that change nothing in a local answer:
/// accepted, logged, ignored.
const IGNORED: &[&str] = &[
    "store",
    "metadata",
    "user",
    "reasoning",
    "include",
    "truncation",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "top_logprobs",
    "max_tool_calls",
    "stream_options",
];

/// Responses and output items kept for `previous_response_id` and
/// `item_reference`, as the chat messages they stand for.
#[derive(Default)]
pub struct Kept {
    inner: Mutex<KeptInner>,
}

#[derive(Default)]
struct KeptInner {
    by_id: HashMap<String, (UserId, Vec<Value>, usize)>,
    order: VecDeque<String>,
    /// Text kept, all entries together.
    bytes: usize,
}

/// Responses and items kept, all users together; the oldest go first when
/// there are more, or more text, than this.
const KEPT: usize = 20_000;
const KEPT_BYTES: usize = 64 << 20;

impl Kept {
    fn put(&self, user: UserId, id: String, messages: Vec<Value>) {
        let size: usize = messages.iter().map(|m| m.to_string().len()).sum();
        let mut k = self.inner.lock().expect("not poisoned");
        k.bytes += size;
        match k.by_id.insert(id.clone(), (user, messages, size)) {
            Some((_, _, old)) => k.bytes -= old,
            None => k.order.push_back(id),
        }
        while k.order.len() > KEPT || (k.bytes > KEPT_BYTES && k.order.len() > 1) {
            let old = k.order.pop_front().expect("not empty");
            if let Some((_, _, size)) = k.by_id.remove(&old) {
                k.bytes -= size;
            }
        }
    }

    /// Only the user's own: another user's id is as unknown as a made-up one.
    fn get(&self, user: UserId, id: &str) -> Option<Vec<Value>> {
        let k = self.inner.lock().expect("not poisoned");
        k.by_id.get(id).filter(|(owner, _, _)| *owner == user).map(|(_, m, _)| m.clone())
    }
}

#[utoipa::path(post, path = "/v1/responses", operation_id = "createResponse", tag = "OpenAI",
    request_body = CreateResponse,
    summary = "OpenAI's Responses API: text in and out, streaming events, function tools",
    description = "`previous_response_id` and `item_reference` refer to responses kept in memory. With \
        `stream`, the answer is a `text/event-stream` of OpenAI's response events, each carrying this object.",
    responses((status = 200, body = ResponseObject, description = "A `response` object, or its event stream")))]
pub async fn responses(
    axum::extract::State(state): axum::extract::State<SharedState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CreateResponse>,
) -> ApiResult<Response> {
    let user = caller.user.id;
    let stream = body.stream.unwrap_or(false);
    if body.background == Some(true) {
        return Err(ApiError::bad_request("background responses are not supported").param("background"));
    }
    // The conversation so far: an earlier response's, then this input.
    let mut history = match &body.previous_response_id {
        None => Vec::new(),
        Some(id) => state.responses.get(user, id).ok_or_else(|| {
            ApiError::bad_request(format!(
                "previous_response_id {id} is not known: pai keeps responses in memory until it restarts; send the conversation in input"
            ))
            .param("previous_response_id")
        })?,
    };
    let input = body.input.ok_or_else(|| ApiError::bad_request("input is required").param("input"))?;
    history.extend(messages(&state, user, input)?);
    if let Some(key) = body.other.keys().find(|k| !IGNORED.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("unrecognized request argument supplied: {key}")).param(key.clone()));
    }
    if !body.other.is_empty() {
        let ignored: Vec<&str> = body.other.keys().map(String::as_str).collect();
        tracing::info!(ignored = ?ignored, "parameters that change nothing in a local answer were ignored");
    }

    let mut chat_messages = Vec::new();
    if let Some(i) = &body.instructions {
        chat_messages.push(json!({"role": "system", "content": i}));
    }
    chat_messages.extend(history.iter().cloned());
    let passed = json!({
        "model": body.model, "messages": chat_messages, "stream": stream,
        "temperature": body.temperature, "top_p": body.top_p, "top_k": body.top_k, "min_p": body.min_p,
        "repetition_penalty": body.repetition_penalty, "frequency_penalty": body.frequency_penalty,
        "presence_penalty": body.presence_penalty, "seed": body.seed,
        "parallel_tool_calls": body.parallel_tool_calls, "memory": body.memory, "conversation": body.conversation,
        "max_tokens": body.max_output_tokens,
    });
    // Nulls left out: the chat request reads a missing setting as its default.
    let mut chat_body: Map<String, Value> = passed
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if stream {
        chat_body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = body.tools.clone().filter(|v| !v.is_null()) {
        chat_body.insert("tools".into(), chat_tools(tools)?);
    }
    if let Some(choice) = body.tool_choice.clone().filter(|v| !v.is_null()) {
        chat_body.insert("tool_choice".into(), chat_tool_choice(choice)?);
    }
    if let Some(format) = body.text.as_ref().and_then(|t| t.get("format")).filter(|v| !v.is_null()) {
        chat_body.insert("response_format".into(), response_format(format)?);
    }
    let request = serde_json::from_value(Value::Object(chat_body))
        .map_err(|e| ApiError::bad_request(format!("the request does not fit /v1/responses: {e}")))?;
    let (output, _) = chat::run(&state, &caller, &headers, request).await?;

    let shell = Shell {
        id: format!("resp_{}", random_hex(12)),
        created_at: Utc::now().timestamp(),
        model: body.model,
        settings: Settings {
            instructions: body.instructions,
            tools: body.tools.unwrap_or(json!([])),
            tool_choice: body.tool_choice.unwrap_or(json!("auto")),
            text: body.text.unwrap_or(json!({"format": {"type": "text"}})),
            parallel_tool_calls: body.parallel_tool_calls.unwrap_or(true),
            temperature: body.temperature,
            top_p: body.top_p,
            max_output_tokens: body.max_output_tokens,
        },
    };
    Ok(match output {
        Output::Whole(answer) => {
            let (text, calls, finish) = match answer.choices.into_iter().next() {
                Some(c) => (c.message.content, c.message.tool_calls, c.finish_reason),
                None => (None, Vec::new(), "stop"),
            };
            let items = output_items(text, &calls);
            keep(&state, user, &shell.id, history, &items);
            let mut r = shell.response(status(finish), items, Some(answer.usage));
            r.pai = Some(answer.pai);
            axum::Json(r).into_response()
        }
        Output::Chunks(frames) => {
            let mut events = Events {
                shell,
                sequence: 0,
                text: None,
                message_id: String::new(),
                items: Vec::new(),
                usage: None,
                finish: "stop".into(),
                pai: None,
            };
            let mut history = Some(history);
            let state = state.clone();
            let start = futures_util::stream::iter(events.start());
            let rest = frames.flat_map(move |frame| {
                let out = events.on(frame);
                if let Some(done) = &out.kept
                    && let Some(history) = history.take()
                {
                    keep(&state, user, &events.shell.id, history, done);
                }
                futures_util::stream::iter(out.events)
            });
            let sse = start.chain(rest).map(Ok::<_, std::convert::Infallible>);
            Sse::new(sse).keep_alive(KeepAlive::default()).into_response()
        }
    })
}

/// Keeps the response (the conversation through its answer) and each output
/// item, for later references to them.
fn keep(state: &SharedState, user: UserId, id: &str, mut history: Vec<Value>, items: &[OutputItem]) {
    for item in items {
        let message = item_message(item);
        history.push(message.clone());
        state.responses.put(user, item.id().to_string(), vec![message]);
    }
    state.responses.put(user, id.to_string(), history);
}

fn status(finish: &str) -> &'static str {
    if finish == "length" { "incomplete" } else { "completed" }
}

/// The request's `input` as chat messages.
fn messages(state: &SharedState, user: UserId, input: Value) -> ApiResult<Vec<Value>> {
    let items = match input {
        Value::String(text) => return Ok(vec![json!({"role": "user", "content": text})]),
        Value::Array(items) => items,
        _ => return Err(ApiError::bad_request("input must be text or a list of items").param("input")),
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let param = || format!("input[{i}]");
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("message");
        match kind {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("");
                if !["user", "system", "developer", "assistant"].contains(&role) {
                    return Err(
                        ApiError::bad_request(format!("unknown role {role:?}")).param(format!("{}.role", param()))
                    );
                }
                let text = content_text(item.get("content").unwrap_or(&Value::Null))
                    .map_err(|e| e.param(format!("{}.content", param())))?;
                out.push(json!({"role": role, "content": text}));
            }
            "function_call" => {
                let (Some(call_id), Some(name)) = (item["call_id"].as_str(), item["name"].as_str()) else {
                    return Err(ApiError::bad_request("a function_call needs call_id and name").param(param()));
                };
                let arguments = item["arguments"].as_str().unwrap_or("{}");
                out.push(call_message(call_id, name, arguments));
            }
            "function_call_output" => {
                let Some(call_id) = item["call_id"].as_str() else {
                    return Err(ApiError::bad_request("a function_call_output needs call_id").param(param()));
                };
                let output = match &item["output"] {
                    Value::String(s) => s.clone(),
                    other => content_text(other).map_err(|e| e.param(format!("{}.output", param())))?,
                };
                out.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
            }
            "item_reference" => {
                let id = item["id"].as_str().unwrap_or("");
                let kept = state.responses.get(user, id).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "item {id:?} is not known: pai keeps output items in memory until it restarts; send the item itself"
                    ))
                    .param(param())
                })?;
                out.extend(kept);
            }
            // A reasoning model's private notes: pai's model keeps none.
            "reasoning" => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "input items of type {other:?} are not supported; send messages, function calls and their outputs"
                ))
                .param(param()));
            }
        }
    }
    Ok(out)
}

/// Text of a message's content: a string, or parts of text.
fn content_text(content: &Value) -> ApiResult<String> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for part in parts {
                match (part["type"].as_str(), part["text"].as_str(), part["refusal"].as_str()) {
                    (Some("input_text" | "output_text" | "text"), Some(t), _) => text.push_str(t),
                    (Some("refusal"), _, Some(t)) => text.push_str(t),
                    (kind, _, _) => {
                        return Err(ApiError::bad_request(format!(
                            "content of type {} is not supported; send text",
                            kind.unwrap_or("(none)")
                        )));
                    }
                }
            }
            Ok(text)
        }
        _ => Err(ApiError::bad_request("content must be text or a list of text parts")),
    }
}

fn call_message(call_id: &str, name: &str, arguments: &str) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]})
}

/// The chat message an output item stands for.
fn item_message(item: &OutputItem) -> Value {
    match item {
        OutputItem::FunctionCall { call_id, name, arguments, .. } => call_message(call_id, name, arguments),
        OutputItem::Message { content, .. } => {
            let text: String = content.iter().map(|part| part.text.as_str()).collect();
            json!({"role": "assistant", "content": text})
        }
    }
}

/// `{"type": "function", "name", …}` → the chat form, `{"type": "function", "function": {…}}`.
fn chat_tools(tools: Value) -> ApiResult<Value> {
    let Value::Array(tools) = tools else {
        return Err(ApiError::bad_request("tools must be a list").param("tools"));
    };
    let mut out = Vec::new();
    for tool in tools {
        if tool["type"] != "function" {
            return Err(ApiError::bad_request(format!(
                "tool type {} is not supported; use \"function\"",
                tool["type"]
            ))
            .param("tools"));
        }
        let mut function = Map::new();
        for key in ["name", "description", "parameters", "strict"] {
            if let Some(v) = tool.get(key).filter(|v| !v.is_null()) {
                function.insert(key.into(), v.clone());
            }
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(Value::Array(out))
}

fn chat_tool_choice(choice: Value) -> ApiResult<Value> {
    match &choice {
        Value::String(_) => Ok(choice),
        Value::Object(o) if o.get("type") == Some(&json!("function")) => {
            Ok(json!({"type": "function", "function": {"name": o.get("name").cloned().unwrap_or(Value::Null)}}))
        }
        _ => Err(ApiError::bad_request("tool_choice must be none, auto, required or a function").param("tool_choice")),
    }
}

/// `text.format` → the chat `response_format`.
fn response_format(format: &Value) -> ApiResult<Value> {
    match format["type"].as_str() {
        Some("text") => Ok(json!({"type": "text"})),
        Some("json_object") => Ok(json!({"type": "json_object"})),
        Some("json_schema") => {
            let mut schema = Map::new();
            schema.insert("name".into(), format.get("name").cloned().unwrap_or(json!("response")));
            for key in ["description", "schema", "strict"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Ok(json!({"type": "json_schema", "json_schema": schema}))
        }
        _ => Err(ApiError::bad_request("text.format.type must be text, json_object or json_schema").param("text")),
    }
}

/// The answer's output items: its text as a message, then its calls.
fn output_items(text: Option<String>, calls: &[ToolCall]) -> Vec<OutputItem> {
    let mut items = Vec::new();
    if let Some(text) = text.filter(|t| !t.is_empty() || calls.is_empty()) {
        items.push(OutputItem::message(&format!("msg_{}", random_hex(12)), &text, "completed"));
    }
    for call in calls {
        items.push(call_item(call, "completed"));
    }
    items
}

fn call_item(call: &ToolCall, status: &'static str) -> OutputItem {
    OutputItem::call(format!("fc_{}", random_hex(12)), call, status)
}

/// What every rendering of one response shares.
struct Shell {
    id: String,
    created_at: i64,
    model: String,
    settings: Settings,
}

impl Shell {
    fn response(&self, status: &'static str, output: Vec<OutputItem>, chat_usage: Option<Usage>) -> ResponseObject {
        ResponseObject {
            id: self.id.clone(),
            object: "response",
            created_at: self.created_at,
            status,
            error: None,
            incomplete_details: (status == "incomplete").then_some(IncompleteDetails { reason: "max_output_tokens" }),
            model: self.model.clone(),
            output,
            usage: chat_usage.map(ResponseUsage::from),
            previous_response_id: None,
            reasoning: Reasoning::default(),
            store: true,
            truncation: "disabled",
            metadata: Map::new(),
            user: None,
            service_tier: "default",
            settings: self.settings.clone(),
            pai: None,
        }
    }
}

/// The streamed events of one response, from the chat chunks.
struct Events {
    shell: Shell,
    sequence: u64,
    /// The message being streamed, once its first text came.
    text: Option<String>,
    message_id: String,
    items: Vec<OutputItem>,
    usage: Option<Usage>,
    finish: String,
    pai: Option<PaiExtension>,
}

struct Rendered {
    events: Vec<Event>,
    /// The output items, once the response is complete.
    kept: Option<Vec<OutputItem>>,
}

impl Events {
    fn event(&mut self, kind: &str, mut data: Value) -> Event {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        Event::default().event(kind).data(data.to_string())
    }

    fn start(&mut self) -> Vec<Event> {
        let r = self.shell.response("in_progress", Vec::new(), None);
        vec![
            self.event("response.created", json!({"response": r})),
            self.event("response.in_progress", json!({"response": r})),
        ]
    }

    fn text_delta(&mut self, delta: &str, out: &mut Vec<Event>) {
        if self.text.is_none() {
            self.message_id = format!("msg_{}", random_hex(12));
            self.text = Some(String::new());
            let item = OutputItem::Message {
                id: self.message_id.clone(),
                status: "in_progress",
                role: "assistant",
                content: Vec::new(),
            };
            let index = self.items.len();
            out.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
            let part = OutputText::new("");
            out.push(self.event(
                "response.content_part.added",
                json!({"item_id": self.message_id, "output_index": index, "content_index": 0, "part": part}),
            ));
        }
        if delta.is_empty() {
            return;
        }
        self.text.as_mut().expect("begun").push_str(delta);
        let index = self.items.len();
        out.push(self.event("response.output_text.delta",
            json!({"item_id": self.message_id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": []})));
    }

    fn close_text(&mut self, out: &mut Vec<Event>) {
        let Some(text) = self.text.take() else { return };
        let (id, index) = (self.message_id.clone(), self.items.len());
        out.push(self.event(
            "response.output_text.done",
            json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
        ));
        let part = OutputText::new(&text);
        out.push(self.event(
            "response.content_part.done",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
        ));
        let item = OutputItem::message(&id, &text, "completed");
        out.push(self.event("response.output_item.done", json!({"output_index": index, "item": item})));
        self.items.push(item);
    }

    fn call(&mut self, call: &ToolCall, out: &mut Vec<Event>) {
        let item = call_item(call, "completed");
        let index = self.items.len();
        let OutputItem::FunctionCall { id, name, arguments, .. } = &item else { unreachable!("a call item") };
        let added = OutputItem::FunctionCall {
            id: id.clone(),
            call_id: call.id.clone(),
            name: name.clone(),
            arguments: String::new(),
            status: "in_progress",
        };
        out.push(self.event("response.output_item.added", json!({"output_index": index, "item": added})));
        out.push(self.event(
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": arguments}),
        ));
        out.push(self.event(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}),
        ));
        out.push(self.event("response.output_item.done", json!({"output_index": index, "item": item})));
        self.items.push(item);
    }

    fn on(&mut self, frame: Frame) -> Rendered {
        let mut out = Vec::new();
        let mut kept = None;
        match frame {
            Frame::Chunk(chunk) => {
                if chunk.usage.is_some() {
                    self.usage = chunk.usage;
                    self.pai = chunk.pai;
                }
                let Some(choice) = chunk.choices.into_iter().next() else { return Rendered { events: out, kept } };
                if let Some(delta) = choice.delta.content
                    && (!delta.is_empty() || self.text.is_some())
                {
                    self.text_delta(&delta, &mut out);
                }
                if let Some(calls) = choice.delta.tool_calls {
                    self.close_text(&mut out);
                    for call in &calls {
                        self.call(call, &mut out);
                    }
                }
                if let Some(finish) = choice.finish_reason {
                    self.finish = finish.to_string();
                }
            }
            Frame::Done => {
                if self.items.is_empty() && self.text.is_none() {
                    // An empty answer is still one message.
                    self.text_delta("", &mut out);
                }
                self.close_text(&mut out);
                let status = status(&self.finish);
                let usage = self.usage.unwrap_or_default();
                let mut r = self.shell.response(status, self.items.clone(), Some(usage));
                r.pai = self.pai.clone();
                let kind = if status == "incomplete" { "response.incomplete" } else { "response.completed" };
                out.push(self.event(kind, json!({"response": r})));
                kept = Some(self.items.clone());
            }
            Frame::Error(body) => {
                let error = body.error;
                out.push(
                    self.event("error", json!({"code": error.code, "message": error.message, "param": error.param})),
                );
                let mut r = self.shell.response("failed", self.items.clone(), None);
                r.error = Some(ResponseError {
                    code: error.code.unwrap_or("server_error").to_string(),
                    message: error.message,
                });
                out.push(self.event("response.failed", json!({"response": r})));
            }
        }
        Rendered { events: out, kept }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_responses_are_bounded_by_their_text_too() {
        let kept = Kept::default();
        let big = vec![json!({"role": "user", "content": "x".repeat(1 << 20)})];
        for i in 0..100 {
            kept.put(UserId(1), format!("resp_{i}"), big.clone());
        }
        let k = kept.inner.lock().unwrap();
        assert!(k.bytes <= KEPT_BYTES && k.order.len() < 100, "{} bytes in {}", k.bytes, k.order.len());
        assert!(k.by_id.contains_key("resp_99") && !k.by_id.contains_key("resp_0"), "the oldest went first");
        drop(k);
        assert!(kept.get(UserId(2), "resp_99").is_none(), "another user's id is unknown");
    }
}
