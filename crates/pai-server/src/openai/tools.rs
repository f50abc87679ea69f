//! Function calling for any model: the tools are described in the system
//! prompt and the answer is constrained by a JSON schema to either a text
//! reply or a list of calls whose arguments follow each tool's parameter
//! schema. The model never decides the shape; the grammar does.

use pai_core::{Constraint, Message, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolDef {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// `tool_choice`: "none" | "auto" | "required" | {"type": "function", "function": {"name"}}.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Named { r#type: String, function: NamedFunction },
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NamedFunction {
    pub name: String,
}

/// What the model may answer with.
#[derive(Debug, Clone)]
pub struct ToolMode {
    tools: Vec<FunctionDef>,
    /// Whether a plain text answer is allowed ("auto").
    text_allowed: bool,
    /// Whether one answer may call several tools (`parallel_tool_calls`).
    parallel: bool,
}

pub use pai_assistant::tool_rounds::{ToolAnswer, calls_as_text};

impl ToolMode {
    /// `None` when there are no tools or the choice is "none".
    pub fn new(tools: Option<Vec<ToolDef>>, choice: Option<ToolChoice>) -> ApiResult<Option<ToolMode>> {
        let tools = tools.unwrap_or_default();
        for t in &tools {
            if t.kind != "function" {
                return Err(ApiError::bad_request(format!(
                    "tool type {:?} is not supported; use \"function\"",
                    t.kind
                ))
                .param("tools"));
            }
            let name = &t.function.name;
            if name.is_empty()
                || name.len() > 64
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            {
                return Err(ApiError::bad_request(format!(
                    "tool name {name:?} must be 1 to 64 letters, digits, _ or -"
                ))
                .param("tools"));
            }
            if let Some(p) = &t.function.parameters
                && !p.is_object()
            {
                return Err(ApiError::bad_request(format!(
                    "the parameters of tool {name} must be a JSON schema object"
                ))
                .param("tools"));
            }
        }
        let mut functions: Vec<FunctionDef> = tools.into_iter().map(|t| t.function).collect();
        // pai's own tools: named by the client, described and run by pai.
        for f in &mut functions {
            if !f.name.starts_with("pai_") {
                continue;
            }
            let builtin = pai_assistant::tools::definitions().into_iter().find(|(n, _, _)| *n == f.name);
            let Some((_, description, parameters)) = builtin else {
                let names: Vec<&str> = pai_assistant::tools::definitions().iter().map(|(n, _, _)| *n).collect();
                return Err(ApiError::bad_request(format!(
                    "{} is not one of pai's tools ({}); names starting with pai_ are reserved",
                    f.name,
                    names.join(", ")
                ))
                .param("tools"));
            };
            f.description = Some(description.to_string());
            f.parameters = Some(parameters);
        }
        let text_allowed = match choice {
            None => true,
            Some(ToolChoice::Mode(m)) => match m.as_str() {
                "none" => return Ok(None),
                "auto" => true,
                "required" => false,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "tool_choice {other:?} is not one of none, auto, required, or a named function"
                    ))
                    .param("tool_choice"));
                }
            },
            Some(ToolChoice::Named { r#type, function }) => {
                if r#type != "function" {
                    return Err(ApiError::bad_request("tool_choice type must be \"function\"").param("tool_choice"));
                }
                functions.retain(|f| f.name == function.name);
                if functions.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "tool_choice names {:?}, which is not in tools",
                        function.name
                    ))
                    .param("tool_choice"));
                }
                false
            }
        };
        if functions.is_empty() {
            if !text_allowed {
                return Err(
                    ApiError::bad_request("tool_choice requires a tool, but no tools were given").param("tool_choice")
                );
            }
            return Ok(None);
        }
        Ok(Some(ToolMode { tools: functions, text_allowed, parallel: true }))
    }

    /// `parallel_tool_calls: false`: at most one call an answer.
    pub fn parallel(self, parallel: bool) -> Self {
        ToolMode { parallel, ..self }
    }

    fn parameters(f: &FunctionDef) -> Value {
        f.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}))
    }

    /// The schema the answer must follow.
    pub fn constraint(&self) -> Constraint {
        let call = |f: &FunctionDef| {
            json!({
                "type": "object",
                "properties": {"name": {"const": f.name}, "arguments": Self::parameters(f)},
                "required": ["name", "arguments"],
                "additionalProperties": false
            })
        };
        let calls: Vec<Value> = self.tools.iter().map(call).collect();
        let item = if calls.len() == 1 { calls[0].clone() } else { json!({"oneOf": calls}) };
        let mut list = json!({"type": "array", "items": item, "minItems": 1});
        if !self.parallel {
            list["maxItems"] = json!(1);
        }
        let with_calls = json!({
            "type": "object",
            "properties": {"tool_calls": list},
            "required": ["tool_calls"],
            "additionalProperties": false
        });
        let schema = if self.text_allowed {
            let text = json!({
                "type": "object",
                "properties": {"content": {"type": "string"}},
                "required": ["content"],
                "additionalProperties": false
            });
            json!({"oneOf": [with_calls, text]})
        } else {
            with_calls
        };
        Constraint::JsonSchema(schema)
    }

    /// Added to the system prompt: what the tools do and how to answer.
    pub fn instructions(&self) -> String {
        let mut s = String::from("\n\nYou can call these tools:\n");
        for f in &self.tools {
            s.push_str(&format!(
                "- {}: {} Parameters: {}\n",
                f.name,
                f.description.as_deref().unwrap_or(""),
                Self::parameters(f)
            ));
        }
        s.push_str("To call tools, answer {\"tool_calls\": [{\"name\": ..., \"arguments\": {...}}]}.");
        if self.text_allowed {
            s.push_str(" To answer without a tool, answer {\"content\": \"your reply\"}.");
        }
        s
    }

    /// The model's answer as text or calls. `cut`: generation stopped at
    /// `max_tokens`, so the JSON may be unfinished: what was complete is
    /// kept (whole calls, the text so far) rather than failing a request the
    /// client would only retry at the same limit.
    pub fn parse(&self, text: &str, cut: bool) -> ApiResult<ToolAnswer> {
        match self.parse_whole(text) {
            Some(answer) => Ok(answer),
            None if cut => Ok(self.salvage(text)),
            None => Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "the model's answer did not follow the tool format",
            )),
        }
    }

    fn parse_whole(&self, text: &str) -> Option<ToolAnswer> {
        let v: Value = serde_json::from_str(text.trim()).ok()?;
        if let Some(calls) = v.get("tool_calls").and_then(Value::as_array) {
            let calls: Option<Vec<_>> = calls.iter().map(|c| self.call(c)).collect();
            return calls.map(ToolAnswer::Calls);
        }
        match v.get("content").and_then(Value::as_str) {
            Some(t) if self.text_allowed => Some(ToolAnswer::Text(t.to_string())),
            _ => None,
        }
    }

    fn call(&self, c: &Value) -> Option<(String, String)> {
        let name = c.get("name").and_then(Value::as_str)?;
        self.tools
            .iter()
            .any(|f| f.name == name)
            .then(|| (name.to_string(), c.get("arguments").cloned().unwrap_or(json!({})).to_string()))
    }

    /// The calls of a cut answer, or the text of a cut reply. As OpenAI
    /// does, the call that was being written when the answer was cut is
    /// kept too, with its arguments as far as they got (clients mark them
    /// invalid; a client that required a call gets one): its name is known
    /// once what was written of it fits one tool only.
    fn salvage(&self, text: &str) -> ToolAnswer {
        if let Some(list) = after_key(text, "tool_calls").and_then(|rest| rest.strip_prefix('[')) {
            let mut calls = Vec::new();
            let mut rest = list.trim_start();
            while let Some(end) = object_end(rest) {
                match serde_json::from_str::<Value>(&rest[..end]).ok().and_then(|c| self.call(&c)) {
                    Some(call) => calls.push(call),
                    None => break,
                }
                rest = rest[end..].trim_start().trim_start_matches(',').trim_start();
            }
            if rest.starts_with('{') {
                calls.extend(self.partial_call(rest));
            }
            if !calls.is_empty() {
                return ToolAnswer::Calls(calls);
            }
        } else if !self.text_allowed {
            // Cut before even "tool_calls": a call was required all the same.
            if let Some(call) = self.partial_call("") {
                return ToolAnswer::Calls(vec![call]);
            }
        }
        let partial = after_key(text, "content").and_then(|rest| rest.strip_prefix('"')).map(string_prefix);
        ToolAnswer::Text(partial.filter(|_| self.text_allowed).unwrap_or_default())
    }

    /// The call `text` began (an unfinished `{"name": …, "arguments": …`).
    fn partial_call(&self, text: &str) -> Option<(String, String)> {
        let begun = after_key(text, "name").and_then(|rest| rest.strip_prefix('"')).map(string_prefix);
        let begun = begun.unwrap_or_default();
        let mut fitting = self.tools.iter().filter(|f| f.name.starts_with(&begun));
        let (Some(tool), None) = (fitting.next(), fitting.next()) else { return None };
        let arguments = after_key(text, "arguments").unwrap_or("").trim_end();
        Some((tool.name.clone(), arguments.to_string()))
    }
}

/// What follows `"key":` in JSON text, whitespace skipped.
fn after_key<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
    text[at..].trim_start().strip_prefix(':').map(str::trim_start)
}

/// The length of the JSON object `text` starts with, if it is complete.
fn object_end(text: &str) -> Option<usize> {
    if !text.starts_with('{') {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (true, false, _) => {}
            (false, _, '"') => in_string = true,
            (false, _, '{' | '[') => depth += 1,
            (false, _, '}' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The decoded text of a JSON string whose opening quote came just before
/// `raw`: up to its closing quote, or, cut before one, all of it but an
/// unfinished escape (`\`, `\u00`) at the end.
fn string_prefix(raw: &str) -> String {
    let mut escaped = false;
    let close = raw.char_indices().find_map(|(i, c)| {
        let quote = c == '"' && !escaped;
        escaped = c == '\\' && !escaped;
        quote.then_some(i)
    });
    let mut body = &raw[..close.unwrap_or(raw.len())];
    // An escape is at most six characters (\uXXXX): drop up to that many.
    for _ in 0..=6 {
        if let Ok(Value::String(s)) = serde_json::from_str(&format!("\"{body}\"")) {
            return s;
        }
        let Some((last, _)) = body.char_indices().next_back() else { break };
        body = &body[..last];
    }
    String::new()
}

/// Puts the tool instructions at the end of the first system message (adding one if needed).
pub fn add_instructions(messages: &mut Vec<Message>, text: &str) {
    match messages.first_mut() {
        Some(m) if m.role == Role::System => m.content.push_str(text),
        _ => messages.insert(0, Message::system(text.trim_start())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> Vec<ToolDef> {
        serde_json::from_value(json!([{"type": "function", "function": {
            "name": "get_weather", "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]))
        .unwrap()
    }

    #[test]
    fn choices_shape_the_schema() {
        assert!(ToolMode::new(Some(weather()), Some(ToolChoice::Mode("none".into()))).unwrap().is_none());
        assert!(ToolMode::new(None, None).unwrap().is_none());
        let auto = ToolMode::new(Some(weather()), None).unwrap().unwrap();
        let Constraint::JsonSchema(s) = auto.constraint() else { panic!() };
        assert_eq!(s["oneOf"].as_array().unwrap().len(), 2);
        let required = ToolMode::new(Some(weather()), Some(ToolChoice::Mode("required".into()))).unwrap().unwrap();
        let Constraint::JsonSchema(s) = required.constraint() else { panic!() };
        assert_eq!(s["required"], json!(["tool_calls"]));
        assert_eq!(s["properties"]["tool_calls"]["items"]["properties"]["name"]["const"], "get_weather");
        let named = ToolChoice::Named { r#type: "function".into(), function: NamedFunction { name: "nope".into() } };
        assert_eq!(ToolMode::new(Some(weather()), Some(named)).unwrap_err().status, 400);
        assert_eq!(ToolMode::new(None, Some(ToolChoice::Mode("required".into()))).unwrap_err().status, 400);
        assert_eq!(ToolMode::new(Some(weather()), Some(ToolChoice::Mode("maybe".into()))).unwrap_err().status, 400);
    }

    #[test]
    fn answers_parse_into_calls_or_text() {
        let auto = ToolMode::new(Some(weather()), None).unwrap().unwrap();
        assert_eq!(
            auto.parse(r#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Busan"}}]}"#, false).unwrap(),
            ToolAnswer::Calls(vec![("get_weather".into(), r#"{"city":"Busan"}"#.into())])
        );
        assert_eq!(auto.parse(r#"{"content": "hi"}"#, false).unwrap(), ToolAnswer::Text("hi".into()));
        assert!(auto.parse(r#"{"tool_calls": [{"name": "rm_rf", "arguments": {}}]}"#, false).is_err());
        assert!(auto.parse("not json", false).is_err());
    }

    #[test]
    fn a_cut_answer_keeps_what_was_complete() {
        let auto = ToolMode::new(Some(weather()), None).unwrap().unwrap();
        let busan = ("get_weather".to_string(), r#"{"city":"Busan"}"#.to_string());
        let cut = |text: &str| auto.parse(text, true).unwrap();
        assert_eq!(
            cut(
                r#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Busan"}}, {"name": "get_weather", "argu"#
            ),
            ToolAnswer::Calls(vec![busan.clone(), ("get_weather".into(), String::new())])
        );
        assert_eq!(
            cut(
                r#"{"tool_calls":[{"name":"get_weather","arguments":{"city":"Bu\"san}"}},{"name":"get_weather","arguments":{"city":"Busan"}}"#
            ),
            ToolAnswer::Calls(vec![("get_weather".into(), r#"{"city":"Bu\"san}"}"#.into()), busan,])
        );
        // The call being written is kept with its arguments so far, as OpenAI does.
        assert_eq!(
            cut(r#"{"tool_calls": [{"name": "get_weather", "arguments": {"ci"#),
            ToolAnswer::Calls(vec![("get_weather".into(), r#"{"ci"#.into())])
        );
        assert_eq!(
            cut(r#"{"tool_calls": [{"name": "get_w"#),
            ToolAnswer::Calls(vec![("get_weather".into(), String::new())])
        );
        assert_eq!(cut(r#"{"tool_calls": [{"name": "nope"#), ToolAnswer::Text(String::new()));
        // A call was required: even cut before its first key, it is one.
        let required = ToolMode::new(Some(weather()), Some(ToolChoice::Mode("required".into()))).unwrap().unwrap();
        assert_eq!(
            required.parse(r#"{"tool_"#, true).unwrap(),
            ToolAnswer::Calls(vec![("get_weather".into(), String::new())])
        );
        assert_eq!(cut(r#"{"content": "Hello, \"world\" and mo"#), ToolAnswer::Text(r#"Hello, "world" and mo"#.into()));
        assert_eq!(cut(r#"{"content": "caf\u00e9 \u00"#), ToolAnswer::Text("café ".into()));
        assert_eq!(cut(r#"{"content": "done"  "#), ToolAnswer::Text("done".into()));
        assert_eq!(cut(""), ToolAnswer::Text(String::new()));
        // Not cut, the same text is the model failing the format.
        assert_eq!(auto.parse(r#"{"content": "Hello"#, false).unwrap_err().status, 502);
    }

    #[test]
    fn one_call_at_a_time_when_parallel_calls_are_off() {
        let one = ToolMode::new(Some(weather()), None).unwrap().unwrap().parallel(false);
        let Constraint::JsonSchema(s) = one.constraint() else { panic!() };
        assert_eq!(s["oneOf"][0]["properties"]["tool_calls"]["maxItems"], 1);
        let many = ToolMode::new(Some(weather()), None).unwrap().unwrap();
        let Constraint::JsonSchema(s) = many.constraint() else { panic!() };
        assert!(s["oneOf"][0]["properties"]["tool_calls"].get("maxItems").is_none());
    }
}
