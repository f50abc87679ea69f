//! A server over a fresh SQLite file, a scripted chat model and the fake
//! embedder, driven in-process through the router (no sockets).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use pai_assistant::assistant::{Assistant, Settings};
use pai_core::accounts::Accounts;
use pai_core::store::{Store, User};
use pai_core::{ChatModel, Embedder};
use pai_engine::{FakeChatModel, FakeEmbedder};
use pai_server::{AppState, ServerSettings, SharedState, router, secrets};
use pai_store::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

pub struct App {
    pub state: SharedState,
    pub store: Arc<SqliteStore>,
    pub model: Arc<FakeChatModel>,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// An OpenAI-shaped error with this status.
    pub fn assert_error(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        let v = self.json();
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(v["error"]["type"].is_string(), "{v}");
        v
    }
}

fn db_path() -> PathBuf {
    pai_testkit::scratch_dir("server").join("pai.db")
}

impl App {
    pub async fn new() -> App {
        Self::with(ServerSettings::default()).await
    }

    pub async fn with(settings: ServerSettings) -> App {
        Self::with_model(settings, Arc::new(FakeChatModel::default())).await
    }

    pub async fn with_model(settings: ServerSettings, model: Arc<FakeChatModel>) -> App {
        Self::with_chat(settings, model.clone(), model).await
    }

    pub async fn with_chat(settings: ServerSettings, model: Arc<FakeChatModel>, chat: Arc<dyn ChatModel>) -> App {
        Self::build(settings, model, chat, speech()).await
    }

    pub async fn with_speech(settings: ServerSettings, speech: Arc<pai_voice::Speech>) -> App {
        let model = Arc::new(FakeChatModel::default());
        Self::build(settings, model.clone(), model, speech).await
    }

    async fn build(
        settings: ServerSettings,
        model: Arc<FakeChatModel>,
        chat: Arc<dyn ChatModel>,
        speech: Arc<pai_voice::Speech>,
    ) -> App {
        let embedder: Arc<dyn Embedder> = Arc::new(FakeEmbedder::new(64));
        let store = Arc::new(SqliteStore::open(&db_path(), 64).await.unwrap());
        let assistant = Arc::new(Assistant::new(store.clone(), chat, embedder, Settings::default()));
        let state = AppState::new(store.clone(), store.clone(), assistant, speech, settings);
        App { state, store, model }
    }

    /// A user with a password ("password-<name>") and an API key.
    pub async fn user(&self, name: &str, admin: bool) -> (User, String) {
        let hash = secrets::hash_password(format!("password-{name}")).await.unwrap();
        let user = self.store.create_account(name, "Asia/Seoul", Some(&hash), admin).await.unwrap();
        let (key, prefix) = secrets::new_api_key();
        self.store.create_api_key(user.id, "test", &prefix, &secrets::digest(&key)).await.unwrap();
        (user, key)
    }

    pub async fn send(&self, request: Request<Body>) -> Response {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Response { status, headers, body }
    }

    /// A JSON request with an API key (or none).
    pub async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Response {
        self.send(request(method, path, key, body.map(|b| b.to_string()))).await
    }

    /// One MCP request to `/mcp` (JSON-RPC; stateless, so no session or
    /// initialize first): the JSON-RPC response, or the HTTP refusal.
    pub async fn mcp(&self, key: Option<&str>, method: &str, params: Value) -> Response {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut r = request("POST", "/mcp", key, Some(body.to_string()));
        r.headers_mut().insert(header::ACCEPT, "application/json, text/event-stream".parse().unwrap());
        r.headers_mut().insert(header::HOST, "pai.example".parse().unwrap());
        self.send(r).await
    }

    /// An MCP tool call's result (`isError` or not); panics on a JSON-RPC or HTTP error.
    pub async fn tool(&self, key: &str, name: &str, arguments: Value) -> Value {
        let r = self.mcp(Some(key), "tools/call", serde_json::json!({"name": name, "arguments": arguments})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert!(v["error"].is_null(), "{name}: {v}");
        v["result"].clone()
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }
}

pub fn request(method: &str, path: &str, key: Option<&str>, body: Option<String>) -> Request<Body> {
    let mut r = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
    if let Some(k) = key {
        r = r.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    match body {
        Some(b) => r.header(header::CONTENT_TYPE, "application/json").body(Body::from(b)).unwrap(),
        None => r.body(Body::empty()).unwrap(),
    }
}

/// The `data:` payloads of a server-sent event stream.
pub fn sse_data(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_string).collect()
}

/// A multipart/form-data upload of `files` (name, bytes) as `file` fields.
pub fn upload(path: &str, key: &str, files: &[(&str, &[u8])]) -> Request<Body> {
    form(path, key, files, &[])
}

/// A multipart/form-data form: `files` as `file` fields, then text `fields`.
pub fn form(path: &str, key: &str, files: &[(&str, &[u8])], fields: &[(&str, &str)]) -> Request<Body> {
    let boundary = "pai-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap()
}

/// The default speech model (installed by `make fetch-models`), shared by the tests.
pub fn speech() -> Arc<pai_voice::Speech> {
    static ONE: std::sync::OnceLock<Arc<pai_voice::Speech>> = std::sync::OnceLock::new();
    ONE.get_or_init(|| {
        Arc::new(pai_voice::Speech::new(pai_testkit::models_dir().join(pai_voice::DEFAULT_SPEECH_MODEL), 2, 1))
    })
    .clone()
}
