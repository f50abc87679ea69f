//! `POST /v1/completions`: OpenAI's legacy text completion, which older
//! tools and LiteLLM's `text_completion` still call. The chat model has no
//! raw-text mode worth exposing, so the prompt is one user message (as
//! Ollama does), without memory: a completion is not a conversation. The
//! request goes through the chat path and its answer is rendered here.

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::chat::{self, Frame, Output};
use super::objects::{TextChoice, TextCompletion, Usage};
use super::token_ids;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extractors::Json;
use crate::secrets::random_hex;
use crate::state::SharedState;

/// OpenAI's default for this endpoint (the chat endpoint has none).
const DEFAULT_MAX_TOKENS: u32 = 16;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    model: String,
    prompt: Prompt,
    #[serde(default)]
    echo: bool,
    suffix: Option<String>,
    best_of: Option<u32>,
    /// Here a count of tokens to report (0–5), not the chat flag.
    logprobs: Option<u32>,
    max_tokens: Option<u32>,
    /// Everything else is the chat endpoint's to check: sampling, stop,
    /// stream, n, seed, user…
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[utoipa::path(post, path = "/v1/completions", operation_id = "createCompletion", tag = "OpenAI", request_body = CompletionRequest,
    summary = "Legacy text completion: the prompt as one user message, no memory",
    responses((status = 200, body = TextCompletion,
               description = "With `stream: true`, server-sent events of TextCompletion pieces, then `[DONE]`")))]
pub async fn completions(
    axum::extract::State(state): axum::extract::State<SharedState>,
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<CompletionRequest>,
) -> ApiResult<Response> {
    let prompt = match body.prompt {
        Prompt::Text(t) => t,
        Prompt::Texts(v) => one(v)?,
        Prompt::Tokens(ids) => token_ids::decode(&body.model, &ids)?,
        Prompt::TokenLists(v) => token_ids::decode(&body.model, &one(v)?)?,
    };
    if body.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request("suffix (fill in the middle) is not supported").param("suffix"));
    }
    if body.best_of.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("only best_of = 1 is supported").param("best_of"));
    }
    if body.logprobs.is_some_and(|n| n > 0) {
        return Err(ApiError::bad_request("logprobs are not supported").param("logprobs"));
    }
    let mut request = body.rest;
    request.insert("model".into(), json!(body.model));
    request.insert("messages".into(), json!([{"role": "user", "content": prompt}]));
    request.insert("max_tokens".into(), json!(body.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    request.insert("memory".into(), json!(false));
    let request = serde_json::from_value(Value::Object(request))
        .map_err(|e| ApiError::bad_request(format!("the request does not fit /v1/completions: {e}")))?;
    let (output, _) = chat::run(&state, &caller, &headers, request).await?;
    let echo = body.echo.then_some(prompt);
    let id = format!("cmpl-{}", random_hex(12));
    Ok(match output {
        Output::Whole(answer) => {
            let Some(chosen) = answer.choices.first() else {
                return Err(ApiError::from(pai_core::Error::internal("no choice")));
            };
            let text = format!("{}{}", echo.unwrap_or_default(), chosen.message.content.as_deref().unwrap_or(""));
            let choice = TextChoice { text, index: 0, logprobs: None, finish_reason: Some(chosen.finish_reason) };
            let head = (answer.created, answer.model.clone());
            axum::Json(completion(&id, head, vec![choice], Some(answer.usage))).into_response()
        }
        Output::Chunks(frames) => {
            let mut echo = echo;
            let events = frames.filter_map(move |frame| {
                let data = match frame {
                    Frame::Chunk(chunk) => {
                        let head = (chunk.created, chunk.model.clone());
                        let choice = chunk.choices.first();
                        let text = choice.and_then(|c| c.delta.content.as_deref()).unwrap_or("");
                        let text = format!("{}{text}", echo.take().unwrap_or_default());
                        let finish_reason = choice.and_then(|c| c.finish_reason);
                        if let Some(usage) = chunk.usage {
                            Some(json(&completion(&id, head, Vec::new(), Some(usage))))
                        } else if text.is_empty() && finish_reason.is_none() {
                            None
                        } else {
                            let choice = TextChoice { text, index: 0, logprobs: None, finish_reason };
                            Some(json(&completion(&id, head, vec![choice], None)))
                        }
                    }
                    Frame::Error(error) => Some(json(&error)),
                    Frame::Done => Some("[DONE]".into()),
                };
                std::future::ready(data.map(|d| Ok::<_, std::convert::Infallible>(Event::default().data(d))))
            });
            Sse::new(events).keep_alive(KeepAlive::default()).into_response()
        }
    })
}

fn one<T>(mut prompts: Vec<T>) -> ApiResult<T> {
    match prompts.len() {
        1 => Ok(prompts.remove(0)),
        _ => Err(ApiError::bad_request("prompt takes one text (batches of prompts are not supported)").param("prompt")),
    }
}

/// A `text_completion` object (whole or a streamed piece) from a chat one's
/// time and model.
fn completion(
    id: &str,
    (created, model): (i64, String),
    choices: Vec<TextChoice>,
    usage: Option<Usage>,
) -> TextCompletion {
    TextCompletion {
        id: id.to_string(),
        object: "text_completion",
        created,
        model,
        choices,
        system_fingerprint: None,
        usage,
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("serializable")
}
