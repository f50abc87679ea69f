//! End-to-end tests of the llama.cpp chat backend on the real default model
//! (SmolLM2-135M-Instruct, installed by `make fetch-models`).

mod support;

use std::sync::OnceLock;

use futures_util::StreamExt;
use pai_core::model::collect;
use pai_core::{ChatEvent, ChatModel, ChatRequest, Constraint, Error, FinishReason, Message, Sampling};
use pai_engine::catalog::{DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL};
use pai_engine::{LlamaChatModel, LocalConfig};
use serde_json::{Value, json};

/// One model per test binary: its worker serialises generation, so tests
/// running in parallel threads never decode at the same time.
fn model() -> &'static LlamaChatModel {
    static MODEL: OnceLock<LlamaChatModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        // Four slots, as `pai serve` runs it: every test here goes through the batched path.
        let config = LocalConfig { parallel: Some(4), ..Default::default() };
        LlamaChatModel::load(&support::model(DEFAULT_CHAT_MODEL), &config).expect("default chat model loads")
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn greedy(messages: Vec<Message>, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages,
        sampling: Sampling { max_tokens: Some(max_tokens), ..Sampling::greedy() },
        ..Default::default()
    }
}

#[test]
fn applies_the_models_own_chatml_template() {
    let prompt = model()
        .render_prompt(&[
            Message::system("Be brief."),
            Message::user("안녕"),
            Message::assistant("Hi"),
            Message::user("Again"),
        ])
        .unwrap();
    assert_eq!(
        prompt,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n안녕<|im_end|>\n<|im_start|>assistant\nHi<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn a_model_without_a_template_falls_back_to_chatml() {
    // Rename the template key in place (same length, so the file layout holds):
    // llama.cpp then finds no template in the file.
    let mut bytes = std::fs::read(support::model(DEFAULT_CHAT_MODEL)).unwrap();
    let key = b"tokenizer.chat_template";
    let at = bytes.windows(key.len()).position(|w| w == key).expect("SmolLM2 has a template");
    bytes[at + key.len() - 1] = b'X';
    let path = pai_testkit::scratch_dir("no-template").join("model.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let m = LlamaChatModel::load(&path, &LocalConfig::default()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        m.render_prompt(&[Message::user("hi")]).unwrap(),
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn an_unknown_template_override_is_refused_with_the_fix() {
    let config = LocalConfig { chat_template: Some("no-such-template".into()), ..Default::default() };
    let err = LlamaChatModel::load(&support::model(DEFAULT_CHAT_MODEL), &config).err().expect("must fail");
    assert!(
        matches!(&err, Error::Invalid { message: m, .. } if m.contains("no-such-template") && m.contains("chatml")),
        "{err}"
    );
    // A built-in name works as an override.
    let config = LocalConfig { chat_template: Some("llama3".into()), ..Default::default() };
    let m = LlamaChatModel::load(&support::model(DEFAULT_CHAT_MODEL), &config).unwrap();
    assert!(m.render_prompt(&[Message::user("x")]).unwrap().contains("<|start_header_id|>user"));
}

#[test]
fn answers_with_usage_and_respects_max_tokens() {
    let req = greedy(vec![Message::user("Write a long story about a dragon.")], 7);
    let prompt_tokens = model().count_tokens(&model().render_prompt(&req.messages).unwrap()) as u32;
    let (text, done) = block_on(collect(model().chat(req))).unwrap();
    assert!(!text.trim().is_empty());
    assert_eq!(done.finish_reason, FinishReason::Length);
    assert_eq!(done.usage.completion_tokens, 7);
    assert_eq!(done.usage.prompt_tokens, prompt_tokens);
}

#[test]
fn greedy_is_deterministic_and_a_seed_reproduces_sampling() {
    let ask = || greedy(vec![Message::user("Name three colors.")], 12);
    let a = block_on(collect(model().chat(ask()))).unwrap().0;
    let b = block_on(collect(model().chat(ask()))).unwrap().0;
    assert_eq!(a, b);
    let sampled = || ChatRequest {
        messages: vec![Message::user("Tell me something.")],
        sampling: Sampling { temperature: 1.0, seed: Some(42), max_tokens: Some(16), ..Default::default() },
        ..Default::default()
    };
    assert_eq!(
        block_on(collect(model().chat(sampled()))).unwrap().0,
        block_on(collect(model().chat(sampled()))).unwrap().0
    );
}

#[test]
fn stop_strings_end_the_answer_before_them() {
    // Constrain the output so the stop string certainly occurs.
    let mut req = greedy(vec![Message::user("Say something.")], 40);
    req.constraint = Some(Constraint::Grammar(r#"root ::= "alpha beta STOP gamma delta""#.into()));
    req.sampling.stop = vec!["STOP".into()];
    let (text, done) = block_on(collect(model().chat(req))).unwrap();
    assert_eq!(text, "alpha beta ");
    assert_eq!(done.finish_reason, FinishReason::Stop);
}

#[test]
fn korean_streams_in_whole_characters() {
    let korean = "안녕하세요, 반갑습니다! 오늘은 부산에서 김치찌개를 먹었어요.";
    let mut req = greedy(vec![Message::user("Say hello in Korean.")], 200);
    req.constraint = Some(Constraint::Grammar(format!("root ::= \"{korean}\"")));
    let pieces: Vec<String> = block_on(async {
        let mut stream = model().chat(req);
        let mut pieces = Vec::new();
        while let Some(ev) = stream.next().await {
            if let ChatEvent::Delta(p) = ev.unwrap() {
                pieces.push(p);
            }
        }
        pieces
    });
    // SmolLM2's byte-level BPE has few Hangul tokens: characters arrive split
    // across tokens, yet every piece must be whole characters.
    assert!(pieces.len() > 5, "expected many pieces, got {pieces:?}");
    assert!(pieces.iter().all(|p| !p.contains('\u{fffd}')), "{pieces:?}");
    assert_eq!(pieces.concat(), korean);
}

/// 20 varied prompts, each with a schema: the output must parse and match it.
#[test]
fn schema_constrained_output_always_parses() {
    let fact = json!({
        "type": "object",
        "properties": {
            "subject": {"type": "string", "maxLength": 40},
            "fact": {"type": "string", "maxLength": 80},
            "kind": {"enum": ["person", "place", "preference", "event", "other"]},
            "confidence": {"type": "number"},
            "durable": {"type": "boolean"}
        },
        "required": ["subject", "fact", "kind", "confidence", "durable"],
        "additionalProperties": false
    });
    let reminder = json!({
        "type": "object",
        "properties": {
            "task": {"type": "string", "maxLength": 60},
            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 15}, "maxItems": 3}
        },
        "required": ["task", "hour", "tags"],
        "additionalProperties": false
    });
    let prompts = [
        "My daughter is Jiwoo.",
        "I moved to Busan last spring.",
        "I prefer tea over coffee.",
        "Remind me to call mom at 9.",
        "My birthday is on March 3rd.",
        "I work as a nurse at Seoul hospital.",
        "I'm allergic to peanuts.",
        "Our dog is called Bori.",
        "I like hiking on weekends.",
        "Schedule a dentist visit at 14.",
        "My wife's name is Minji.",
        "I don't eat meat anymore.",
        "I started learning the piano.",
        "My favourite color is green.",
        "Remind me to water the plants at 7 in the evening.",
        "I live with my parents.",
        "I'm training for a marathon in October.",
        "My brother lives in Toronto.",
        "I hate loud music.",
        "Call the bank tomorrow at 10.",
    ];
    for (i, prompt) in prompts.iter().enumerate() {
        let schema = if i % 3 == 2 { &reminder } else { &fact };
        let mut req = greedy(vec![Message::system("Extract the information as JSON."), Message::user(*prompt)], 256);
        req.constraint = Some(Constraint::JsonSchema(schema.clone()));
        let (text, done) = block_on(collect(model().chat(req))).unwrap();
        assert_eq!(done.finish_reason, FinishReason::Stop, "prompt {i} hit the length limit: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("prompt {i}: {e}: {text}"));
        let obj = v.as_object().unwrap();
        let required: Vec<&str> = schema["required"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(obj.len(), required.len(), "{text}");
        for key in required {
            let val = &obj[key];
            match schema["properties"][key]["type"].as_str() {
                Some("string") => assert!(val.is_string(), "{key} in {text}"),
                Some("number") => assert!(val.is_number(), "{key} in {text}"),
                Some("integer") => assert!(val.as_i64().is_some_and(|h| (0..=23).contains(&h)), "{key} in {text}"),
                Some("boolean") => assert!(val.is_boolean(), "{key} in {text}"),
                Some("array") => {
                    assert!(val.as_array().is_some_and(|a| a.len() <= 3 && a.iter().all(Value::is_string)))
                }
                _ => assert!(schema["properties"][key]["enum"].as_array().unwrap().contains(val), "{key} in {text}"),
            }
        }
    }
}

#[test]
fn dropping_the_stream_cancels_and_the_model_keeps_serving() {
    block_on(async {
        let mut stream = model().chat(greedy(vec![Message::user("Count from one to one hundred.")], 400));
        let first = stream.next().await.unwrap().unwrap();
        assert!(matches!(first, ChatEvent::Delta(_)));
        drop(stream);
        let (text, done) = collect(model().chat(greedy(vec![Message::user("Say hi.")], 5))).await.unwrap();
        assert!(!text.is_empty());
        assert!(done.usage.completion_tokens <= 5);
    });
}

#[test]
fn a_prompt_longer_than_the_context_is_refused_clearly() {
    let long = "word ".repeat(6000);
    let err = block_on(collect(model().chat(greedy(vec![Message::user(long)], 4)))).unwrap_err();
    assert!(matches!(&err, Error::Invalid { message: m, .. } if m.contains("context window")), "{err}");
    // and nothing is broken afterwards
    assert!(block_on(collect(model().chat(greedy(vec![Message::user("Hi")], 3)))).is_ok());
}

#[test]
fn an_invalid_grammar_is_an_invalid_request() {
    let mut req = greedy(vec![Message::user("x")], 4);
    req.constraint = Some(Constraint::Grammar("this is not gbnf".into()));
    let err = block_on(collect(model().chat(req))).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

/// llama.cpp would turn an unanchored pattern into "any string" and only warn
/// on stderr; the request is refused instead of answered against a weaker schema.
#[test]
fn a_schema_pattern_the_grammar_cannot_express_is_an_invalid_request() {
    let mut req = greedy(vec![Message::user("Give me a code")], 8);
    req.constraint = Some(Constraint::JsonSchema(
        json!({"type": "object", "properties": {"code": {"type": "string", "pattern": "[0-9]{4}"}}}),
    ));
    let err = block_on(collect(model().chat(req))).unwrap_err();
    assert!(matches!(&err, Error::Invalid { message: m, .. } if m.contains("[0-9]{4}")), "{err}");
}

#[test]
fn wrong_missing_and_corrupt_model_files_are_explained() {
    let err = LlamaChatModel::load(&support::model(DEFAULT_EMBEDDING_MODEL), &LocalConfig::default()).err().unwrap();
    assert!(
        matches!(&err, Error::Invalid { message: m, .. } if m.contains("embedding model") && m.contains("chat model")),
        "{err}"
    );

    let dir = pai_testkit::scratch_dir("bad-models");
    let err = LlamaChatModel::load(&dir.join("absent.gguf"), &LocalConfig::default()).err().unwrap();
    assert!(matches!(&err, Error::NotFound(m) if m.contains("fetch-models")), "{err}");

    let garbage = dir.join("garbage.gguf");
    std::fs::write(&garbage, b"<html>404 not found</html>").unwrap();
    let err = LlamaChatModel::load(&garbage, &LocalConfig::default()).err().unwrap();
    assert!(matches!(&err, Error::Invalid { message: m, .. } if m.contains("magic")), "{err}");

    // A real model cut short: the header survives but the weights do not.
    let real = std::fs::read(support::model(DEFAULT_CHAT_MODEL)).unwrap();
    let truncated = dir.join("truncated.gguf");
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    let err = LlamaChatModel::load(&truncated, &LocalConfig::default()).err().unwrap();
    assert!(matches!(&err, Error::Invalid { message: m, .. } if m.contains("download it again")), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sentences of 20 characters or more that `text` says more than once.
fn repeated_sentences(text: &str) -> Vec<String> {
    let sentences: Vec<&str> =
        text.split_inclusive(['.', '!', '?']).map(str::trim).filter(|s| s.chars().count() >= 20).collect();
    let mut out: Vec<String> = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        if sentences[..i].contains(s) && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// The question from issue 18 that made the default model repeat one
/// paragraph until the token limit: with repetition control on by default it
/// ends, or at least never says a sentence twice.
#[test]
fn the_default_model_does_not_loop_on_a_plain_question() {
    let question = "Hi! I'm Minji and I live in Busan. What should I do tomorrow?";
    for sampling in [
        Sampling { max_tokens: Some(400), ..Sampling::greedy() },
        Sampling { max_tokens: Some(400), seed: Some(7), ..Sampling::default() },
    ] {
        let request = ChatRequest { messages: vec![Message::user(question)], sampling, ..Default::default() };
        let (text, done) = block_on(collect(model().chat(request))).unwrap();
        let repeated = repeated_sentences(&text);
        assert!(repeated.is_empty(), "said again: {repeated:?}\n{text}");
        assert!(!text.trim().is_empty(), "{done:?}");
    }
}

/// Structured output is left alone: a JSON answer may repeat its keys.
#[test]
fn repetition_control_does_not_touch_constrained_output() {
    let schema = json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object",
        "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["fruit", "vegetable"]}},
        "required": ["name", "kind"]}, "minItems": 3, "maxItems": 3}}, "required": ["items"]});
    let mut request = greedy(vec![Message::user("List three fruits as JSON.")], 200);
    request.constraint = Some(Constraint::JsonSchema(schema));
    let (text, _) = block_on(collect(model().chat(request))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{text}");
}

/// A client's tool call at the `max_tokens` clients send (LangChain, the
/// OpenAI SDKs): the JSON is compact, so it ends well within the limit
/// instead of being cut in the middle of its indentation.
#[test]
fn schema_answers_are_compact_and_end_within_a_small_budget() {
    let call = json!({"type": "object", "properties": {
        "tool_calls": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "object", "properties": {
            "name": {"const": "get_weather"},
            "arguments": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                          "required": ["city", "unit"], "additionalProperties": false}},
            "required": ["name", "arguments"], "additionalProperties": false}}},
        "required": ["tool_calls"], "additionalProperties": false});
    let system = "You can call these tools:\n- get_weather: Weather in a city. Parameters: {\"city\": string, \"unit\": \"celsius\"|\"fahrenheit\"}\nTo call tools, answer {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]}.";
    for (i, question) in
        ["What's the weather in Paris?", "Is it cold in Oslo today?", "Weather for Busan please"].iter().enumerate()
    {
        for sampling in [Sampling::greedy(), Sampling { seed: Some(i as u64), ..Sampling::default() }] {
            let request = ChatRequest {
                messages: vec![Message::system(system), Message::user(*question)],
                sampling: Sampling { max_tokens: Some(64), ..sampling },
                constraint: Some(Constraint::JsonSchema(call.clone())),
                ..Default::default()
            };
            let (text, done) = block_on(collect(model().chat(request))).unwrap();
            assert!(!text.contains('\n') && !text.contains("  "), "free whitespace: {text:?}");
            assert_eq!(done.finish_reason, FinishReason::Stop, "cut: {text:?}");
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(v["tool_calls"][0]["name"], "get_weather", "{text}");
        }
    }
}

/// Text stored before NUL was refused must not break every later prompt
/// that recalls it (issue 21): the engine drops the NUL.
#[test]
fn a_nul_in_a_message_does_not_break_the_prompt() {
    let (text, _) = block_on(collect(model().chat(greedy(vec![Message::user("Say hi\0 to me.")], 4)))).unwrap();
    assert!(!text.is_empty());
}
