//! Test helpers: a tiny scripted HTTP/1.1 server on loopback, and where the
//! default models are.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What to answer: status, extra headers, and the body in chunks (each chunk
/// is flushed separately, so streaming clients see them arrive one by one).
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
    /// Close the connection after this many body bytes (simulates a cut download).
    pub cut_after: Option<usize>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response { status, headers: vec![], chunks: vec![body.into()], cut_after: None }
    }
    pub fn json(status: u16, v: serde_json::Value) -> Self {
        Response::new(status, v.to_string()).header("content-type", "application/json")
    }
    pub fn sse(events: &[String]) -> Self {
        let chunks = events.iter().map(|e| format!("data: {e}\n\n").into_bytes()).collect();
        Response {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks,
            cut_after: None,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

pub struct TestServer {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    /// Starts serving on 127.0.0.1 (random port) in the current tokio runtime.
    pub async fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let seen = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_string();
                    let path = parts.next().unwrap_or_default().to_string();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).await.unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.push((k.trim().to_string(), v.trim().to_string()));
                        }
                    }
                    let len = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).await.unwrap();
                    let req = Request { method, path, headers, body };
                    let resp = handler(&req);
                    seen.lock().unwrap().push(req);
                    let total: usize = resp.chunks.iter().map(Vec::len).sum();
                    let mut head =
                        format!("HTTP/1.1 {} X\r\nconnection: close\r\ncontent-length: {total}\r\n", resp.status);
                    for (k, v) in &resp.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = write.write_all(head.as_bytes()).await;
                    let mut sent = 0;
                    for chunk in resp.chunks {
                        let chunk = match resp.cut_after {
                            Some(cut) if sent + chunk.len() > cut => {
                                let _ = write.write_all(&chunk[..cut - sent]).await;
                                let _ = write.flush().await;
                                return; // drop the connection mid-body
                            }
                            _ => chunk,
                        };
                        sent += chunk.len();
                        let _ = write.write_all(&chunk).await;
                        let _ = write.flush().await;
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                    let _ = write.shutdown().await;
                });
            }
        });
        TestServer { base, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

pub use pai_testkit::models_dir;

/// Path of an installed default model; panics with the fix when it is missing.
pub fn model(file: &str) -> PathBuf {
    let path = models_dir().join(file);
    assert!(path.exists(), "{} is missing: run `make fetch-models` (or `make test`, which does it)", path.display());
    path
}
