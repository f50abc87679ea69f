//! The OpenAI-compatible backend against a scripted server on loopback.

use crate::support;

use futures_util::StreamExt;
use pai_core::model::collect;
use pai_core::{
    ChatEvent, ChatModel, ChatRequest, Constraint, EmbedKind, Embedder, Error, FinishReason, Message, Sampling,
};
use pai_engine::{RemoteChatModel, RemoteConfig, RemoteEmbedder};
use serde_json::json;
use support::{Response, TestServer};

fn config(base: &str) -> RemoteConfig {
    RemoteConfig {
        base_url: format!("{base}/v1"),
        api_key: Some("sk-test".into()),
        model: "served-model".into(),
        context_length: 8192,
    }
}

fn chunk(content: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]}).to_string()
}

#[tokio::test]
async fn streams_chat_over_sse_with_usage() {
    let server = TestServer::start(|_| {
        Response::sse(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}).to_string(),
            chunk("안녕"),
            chunk("하세요, "),
            chunk("Jiwoo!"),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string(),
            json!({"choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}})
                .to_string(),
            "[DONE]".into(),
        ])
    })
    .await;
    let model = RemoteChatModel::new(config(&server.base)).unwrap();
    let mut req = ChatRequest::new(vec![Message::system("be kind"), Message::user("인사해 줘")]);
    req.sampling = Sampling {
        temperature: 0.2,
        max_tokens: Some(50),
        seed: Some(7),
        stop: vec!["END".into()],
        ..Default::default()
    };
    req.constraint = Some(Constraint::JsonSchema(json!({"type": "object"})));

    let mut stream = model.chat(req);
    let mut pieces = Vec::new();
    let mut done = None;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            ChatEvent::Delta(p) => pieces.push(p),
            ChatEvent::Done(c) => done = Some(c),
        }
    }
    assert_eq!(pieces, ["안녕", "하세요, ", "Jiwoo!"]);
    let done = done.expect("a Done event");
    assert_eq!(done.finish_reason, FinishReason::Stop);
    assert_eq!((done.usage.prompt_tokens, done.usage.completion_tokens), (21, 3));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!((reqs[0].method.as_str(), reqs[0].path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(reqs[0].header("authorization"), Some("Bearer sk-test"));
    let body = reqs[0].json();
    assert_eq!(body["model"], "served-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "인사해 줘"}));
    assert_eq!(body["max_tokens"], 50);
    assert_eq!(body["seed"], 7);
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"], json!({"type": "object"}));
}

#[tokio::test]
async fn length_finish_and_events_split_across_reads() {
    // One SSE event delivered in pieces that cut through a multi-byte character.
    let event = format!("data: {}\n\n", chunk("부산으로 이사"));
    let bytes = event.as_bytes().to_vec();
    let cut = event.find("산").unwrap() + 1;
    let tail = format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    );
    let server = TestServer::start(move |_| Response {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: vec![bytes[..cut].to_vec(), bytes[cut..].to_vec(), tail.clone().into_bytes()],
        cut_after: None,
    })
    .await;
    let model = RemoteChatModel::new(config(&server.base)).unwrap();
    let (text, done) = collect(model.chat(ChatRequest::new(vec![Message::user("x")]))).await.unwrap();
    assert_eq!(text, "부산으로 이사");
    assert_eq!(done.finish_reason, FinishReason::Length);
    assert_eq!(done.usage.completion_tokens, 1, "without usage, pieces are counted");
}

#[tokio::test]
async fn http_errors_map_to_what_the_caller_should_do() {
    let server = TestServer::start(|req| match req.json()["model"].as_str() {
        Some("unauthorized") => Response::json(401, json!({"error": {"message": "bad key"}})),
        Some("busy") => Response::json(429, json!({"error": {"message": "slow down"}})).header("retry-after", "3"),
        Some("invalid") => Response::json(400, json!({"error": {"message": "max_tokens too large"}})),
        _ => Response::new(500, "boom"),
    })
    .await;
    let ask = |model: &str| {
        let mut c = config(&server.base);
        c.model = model.into();
        let m = RemoteChatModel::new(c).unwrap();
        async move { collect(m.chat(ChatRequest::new(vec![Message::user("x")]))).await.unwrap_err() }
    };
    assert!(matches!(ask("unauthorized").await, Error::Unauthorized(m) if m.contains("bad key")));
    let busy = ask("busy").await;
    assert!(
        matches!(&busy, Error::Unavailable { retry_after: Some(d), message } if d.as_secs() == 3 && message.contains("slow down")),
        "{busy:?}"
    );
    assert!(matches!(ask("invalid").await, Error::Invalid { message: m, .. } if m.contains("max_tokens")));
    assert!(matches!(ask("other").await, Error::Unavailable { .. }));
}

#[tokio::test]
async fn unreachable_server_is_unavailable_and_bad_urls_are_invalid() {
    // Bind then drop a listener: nothing listens on that port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let m = RemoteChatModel::new(config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let err = collect(m.chat(ChatRequest::new(vec![Message::user("x")]))).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    let mut c = config("localhost:8000");
    c.base_url = "localhost:8000".into();
    assert!(matches!(RemoteChatModel::new(c).err().unwrap(), Error::Invalid { .. }));
}

#[tokio::test]
async fn embeddings_in_order_normalised_with_prefixes() {
    let server = TestServer::start(|req| {
        let body = req.json();
        let inputs = body["input"].as_array().unwrap().clone();
        // Answer out of order, unnormalised: [len, index, 1].
        let mut data: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": [t.as_str().unwrap().chars().count() as f64, i as f64, 1.0]}))
            .collect();
        data.reverse();
        Response::json(200, json!({"object": "list", "data": data, "model": "e5"}))
    })
    .await;
    let e = RemoteEmbedder::connect(config(&server.base)).await.unwrap().with_prefixes("query: ", "passage: ");
    assert_eq!(e.dimension(), 3);
    let out = e.embed(vec!["ab".into(), "부산".into()], EmbedKind::Query).await.unwrap();
    let expect = |v: [f32; 3]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.map(|x| x / n)
    };
    assert_eq!(out[0], expect([9.0, 0.0, 1.0]).to_vec()); // "query: ab"
    assert_eq!(out[1], expect([9.0, 1.0, 1.0]).to_vec()); // "query: 부산"
    let last = server.requests().pop().unwrap();
    assert_eq!(last.path, "/v1/embeddings");
    assert_eq!(last.json()["input"], json!(["query: ab", "query: 부산"]));
}
