//! Any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, OpenAI):
//! chat with SSE streaming and embeddings, by base URL and API key.

use std::time::Duration;

use futures_util::StreamExt;
use pai_core::model::l2_normalize;
use pai_core::{
    ChatEvent, ChatModel, ChatRequest, ChatStream, Completion, Constraint, EmbedFuture, EmbedKind, Embedder, Error,
    FinishReason, Usage,
};
use serde_json::{Value, json};

/// Where the server is and who we are to it.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// e.g. `http://127.0.0.1:8000/v1` (the part before `/chat/completions`).
    pub base_url: String,
    pub api_key: Option<String>,
    /// The `model` field sent with each request.
    pub model: String,
    /// Context window to assume; servers do not report it.
    pub context_length: u32,
}

pub(crate) fn http_client() -> Result<reqwest::Client, Error> {
    crate::install_tls_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
}

#[derive(Clone)]
struct Endpoint {
    client: reqwest::Client,
    config: RemoteConfig,
}

impl Endpoint {
    fn new(config: RemoteConfig) -> Result<Self, Error> {
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(Error::invalid(format!(
                "remote base URL `{}` must start with http:// or https://",
                config.base_url
            )));
        }
        Ok(Endpoint { client: http_client()?, config })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, Error> {
        let url = format!("{}/{path}", self.config.base_url.trim_end_matches('/'));
        let mut req = self.client.post(&url).json(body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp =
            req.send().await.map_err(|e| Error::unavailable(format!("cannot reach the model server at {url}: {e}")))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(resp).await)
    }
}

/// Maps a failed HTTP answer to what the caller should do about it.
async fn status_error(resp: reqwest::Response) -> Error {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    let body = resp.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().or(v["message"].as_str()).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect());
    let message = format!("model server answered {status}: {detail}");
    match status.as_u16() {
        401 | 403 => Error::Unauthorized(format!("{message} (check the API key)")),
        404 => Error::NotFound(message),
        429 | 502..=504 => Error::Unavailable { message, retry_after },
        400..=499 => Error::invalid(message),
        _ => Error::Unavailable { message, retry_after },
    }
}

/// Chat through `POST {base}/chat/completions` with `stream: true`.
pub struct RemoteChatModel {
    endpoint: Endpoint,
}

impl RemoteChatModel {
    pub fn new(config: RemoteConfig) -> Result<Self, Error> {
        Ok(RemoteChatModel { endpoint: Endpoint::new(config)? })
    }
}

fn request_body(model: &str, request: &ChatRequest) -> Value {
    let s = &request.sampling;
    let mut body = json!({
        "model": model,
        "messages": request.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect::<Vec<_>>(),
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": s.temperature.max(0.0),
        "top_p": s.top_p,
    });
    if let Some(max) = s.max_tokens {
        body["max_tokens"] = json!(max);
    }
    if let Some(seed) = s.seed {
        body["seed"] = json!(seed);
    }
    if !s.stop.is_empty() {
        body["stop"] = json!(s.stop);
    }
    if s.top_k > 0 {
        body["top_k"] = json!(s.top_k); // vLLM, llama.cpp and Ollama honour it; OpenAI ignores it
    }
    // Sent only when asked for: the server's own defaults stand otherwise (and
    // OpenAI itself refuses the parameters it does not define).
    for (name, value) in [
        ("min_p", s.min_p),
        ("repetition_penalty", s.repeat_penalty),
        ("frequency_penalty", s.frequency_penalty),
        ("presence_penalty", s.presence_penalty),
        ("dry_multiplier", s.dry_multiplier),
    ] {
        if let Some(v) = value {
            body[name] = json!(v);
        }
    }
    match &request.constraint {
        Some(Constraint::JsonSchema(schema)) => {
            body["response_format"] =
                json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": true}});
        }
        // `grammar` is llama.cpp server's field, `guided_grammar` vLLM's.
        Some(Constraint::Grammar(g)) => {
            body["grammar"] = json!(g);
            body["guided_grammar"] = json!(g);
        }
        None => {}
    }
    body
}

impl ChatModel for RemoteChatModel {
    fn id(&self) -> &str {
        &self.endpoint.config.model
    }

    fn context_length(&self) -> u32 {
        self.endpoint.config.context_length
    }

    fn chat(&self, request: ChatRequest) -> ChatStream {
        let endpoint = self.endpoint.clone();
        let body = request_body(&endpoint.config.model, &request);
        let stream = async_stream_events(endpoint, body);
        Box::pin(stream)
    }
}

/// State of one streamed answer while its SSE lines are parsed.
struct SseState {
    body: Option<futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>>,
    buffer: Vec<u8>,
    finish: Option<FinishReason>,
    usage: Usage,
    pieces: u32,
    done: bool,
    pending: std::collections::VecDeque<Result<ChatEvent, Error>>,
}

fn async_stream_events(endpoint: Endpoint, body: Value) -> impl futures_core::Stream<Item = Result<ChatEvent, Error>> {
    let start = futures_util::stream::once(async move { endpoint.post("chat/completions", &body).await });
    start.flat_map(|resp| match resp {
        Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        Ok(resp) => {
            let state = SseState {
                body: Some(resp.bytes_stream().boxed()),
                buffer: Vec::new(),
                finish: None,
                usage: Usage::default(),
                pieces: 0,
                done: false,
                pending: Default::default(),
            };
            futures_util::stream::unfold(state, next_event).boxed()
        }
    })
}

async fn next_event(mut st: SseState) -> Option<(Result<ChatEvent, Error>, SseState)> {
    loop {
        if let Some(ev) = st.pending.pop_front() {
            return Some((ev, st));
        }
        if st.done {
            return None;
        }
        // Whole lines first; then read more bytes.
        if let Some(nl) = st.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = st.buffer.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            handle_line(&mut st, line.trim_end_matches(['\r', '\n']));
            continue;
        }
        let chunk = match st.body.as_mut() {
            Some(body) => body.next().await,
            None => None,
        };
        match chunk {
            Some(Ok(bytes)) => st.buffer.extend_from_slice(&bytes),
            Some(Err(e)) => {
                st.done = true;
                return Some((Err(Error::unavailable(format!("the model server broke off the answer: {e}"))), st));
            }
            None => {
                // End of body without [DONE]: finish with what we have.
                if !st.buffer.is_empty() {
                    let rest = String::from_utf8_lossy(&std::mem::take(&mut st.buffer)).into_owned();
                    handle_line(&mut st, rest.trim());
                }
                if !st.done {
                    finish(&mut st);
                }
            }
        }
    }
}

fn handle_line(st: &mut SseState, line: &str) {
    let Some(data) = line.strip_prefix("data:").map(str::trim) else {
        return; // comments (": keep-alive"), event names, blank separators
    };
    if data == "[DONE]" {
        finish(st);
        return;
    }
    let v: Value = match serde_json::from_str(data) {
        Ok(v) => v,
        Err(e) => {
            st.pending.push_back(Err(Error::internal(format!("model server sent an unreadable event ({e}): {data}"))));
            st.done = true;
            return;
        }
    };
    if let Some(msg) = v["error"]["message"].as_str() {
        st.pending.push_back(Err(Error::unavailable(format!("model server error: {msg}"))));
        st.done = true;
        return;
    }
    if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
        st.usage.prompt_tokens = u["prompt_tokens"].as_u64().unwrap_or(0) as u32;
        st.usage.completion_tokens = u["completion_tokens"].as_u64().unwrap_or(0) as u32;
    }
    if let Some(choice) = v["choices"].get(0) {
        if let Some(text) = choice["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
            st.pieces += 1;
            st.pending.push_back(Ok(ChatEvent::Delta(text.to_string())));
        }
        match choice["finish_reason"].as_str() {
            Some("length") => st.finish = Some(FinishReason::Length),
            Some(_) => st.finish = Some(FinishReason::Stop),
            None => {}
        }
    }
}

fn finish(st: &mut SseState) {
    if st.usage.completion_tokens == 0 {
        st.usage.completion_tokens = st.pieces; // servers that do not report usage: one token per piece
    }
    let completion = Completion { finish_reason: st.finish.unwrap_or(FinishReason::Stop), usage: st.usage };
    st.pending.push_back(Ok(ChatEvent::Done(completion)));
    st.done = true;
    st.body = None;
}

/// Embeddings through `POST {base}/embeddings`.
pub struct RemoteEmbedder {
    endpoint: Endpoint,
    dimension: usize,
    max_input_tokens: u32,
    query_prefix: String,
    passage_prefix: String,
}

impl RemoteEmbedder {
    /// Connects and learns the vector dimension from one probe request.
    pub async fn connect(config: RemoteConfig) -> Result<Self, Error> {
        let max_input_tokens = config.context_length;
        let mut this = RemoteEmbedder {
            endpoint: Endpoint::new(config)?,
            dimension: 0,
            max_input_tokens,
            query_prefix: String::new(),
            passage_prefix: String::new(),
        };
        let probe = this.request(vec!["dimension probe".into()]).await?;
        this.dimension = probe[0].len();
        Ok(this)
    }

    /// Instruction prefixes for asymmetric models served remotely (e5: "query: ", "passage: ").
    pub fn with_prefixes(mut self, query: &str, passage: &str) -> Self {
        self.query_prefix = query.into();
        self.passage_prefix = passage.into();
        self
    }

    async fn request(&self, input: Vec<String>) -> Result<Vec<Vec<f32>>, Error> {
        let n = input.len();
        let body = json!({"model": self.endpoint.config.model, "input": input, "encoding_format": "float"});
        let resp = self.endpoint.post("embeddings", &body).await?;
        let v: Value =
            resp.json().await.map_err(|e| Error::unavailable(format!("unreadable embeddings answer: {e}")))?;
        let mut rows: Vec<(usize, Vec<f32>)> = v["data"]
            .as_array()
            .ok_or_else(|| Error::unavailable("embeddings answer has no `data` array"))?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let index = item["index"].as_u64().map(|x| x as usize).unwrap_or(i);
                let vec = item["embedding"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect());
                vec.map(|v| (index, v)).ok_or_else(|| Error::unavailable("an embedding is not a list of numbers"))
            })
            .collect::<Result<_, _>>()?;
        if rows.len() != n {
            return Err(Error::unavailable(format!("asked for {n} embeddings, got {}", rows.len())));
        }
        rows.sort_by_key(|(i, _)| *i);
        Ok(rows
            .into_iter()
            .map(|(_, mut v)| {
                l2_normalize(&mut v);
                v
            })
            .collect())
    }
}

impl Embedder for RemoteEmbedder {
    fn id(&self) -> &str {
        &self.endpoint.config.model
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_input_tokens(&self) -> u32 {
        self.max_input_tokens
    }

    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> EmbedFuture<'_> {
        let prefix = match kind {
            EmbedKind::Query => &self.query_prefix,
            EmbedKind::Passage => &self.passage_prefix,
        };
        let input = texts.into_iter().map(|t| format!("{prefix}{t}")).collect();
        Box::pin(async move {
            let out = self.request(input).await?;
            if out.iter().any(|v| v.len() != self.dimension) {
                return Err(Error::unavailable("the server changed its embedding dimension"));
            }
            Ok(out)
        })
    }
}
