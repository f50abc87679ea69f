//! The Responses API's bodies as types: the request `/v1/responses` takes and
//! the `response` object it answers (whole, or inside its stream's events).
//! Field names and nulls follow OpenAI's API reference, so its SDKs parse
//! them as theirs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::objects::{PaiExtension, ToolCall, Usage};

/// `POST /v1/responses`. Settings a local answer has no use for (`store`,
/// `metadata`, `reasoning`, `include`, …) are accepted and ignored; any
/// other field is refused by name.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateResponse {
    pub model: String,
    /// Required: text, or a list of input items.
    #[schema(value_type = Option<ResponseInput>)]
    pub input: Option<Value>,
    /// A system message before the input.
    pub instructions: Option<String>,
    pub stream: Option<bool>,
    /// Only `false`: a response is answered while the request waits.
    pub background: Option<bool>,
    /// A response kept in memory whose conversation this one continues.
    pub previous_response_id: Option<String>,
    #[schema(value_type = Option<Vec<FunctionTool>>)]
    pub tools: Option<Value>,
    #[schema(value_type = Option<ToolChoiceParam>)]
    pub tool_choice: Option<Value>,
    /// The answer's form: text (the default), a JSON object, or JSON by a schema.
    #[schema(value_type = Option<TextParam>)]
    pub text: Option<Value>,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    /// Sampling controls as llama-server and vLLM take them.
    pub top_k: Option<u32>,
    pub min_p: Option<f32>,
    pub repetition_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub seed: Option<i64>,
    /// `false`: at most one function call an answer.
    pub parallel_tool_calls: Option<bool>,
    /// pai extension, as in chat completions: `false` for no recall and no storage.
    pub memory: Option<bool>,
    /// pai extension, as in chat completions: the conversation to continue (an id, or "new").
    #[schema(value_type = Option<ConversationParam>)]
    pub conversation: Option<Value>,
    /// Everything else: ignored when OpenAI's, refused otherwise.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

/// What `input` may be (the handler reads it item by item, naming the
/// item at fault in its errors).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum ResponseInput {
    /// One user message.
    Text(String),
    Items(Vec<InputItem>),
}

/// An input item; `type` may be left out of a message.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    /// `role` is user, system, developer or assistant; `content` is text or
    /// parts of type input_text, output_text or refusal.
    Message {
        role: String,
        content: MessageContent,
    },
    FunctionCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: MessageContent,
    },
    /// An output item of an earlier response, kept in memory.
    ItemReference {
        id: String,
    },
    /// A reasoning model's notes: accepted and left out.
    Reasoning {},
}

/// Text, or parts of text.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// `{"type": "input_text" | "output_text", "text"}` or `{"type": "refusal", "refusal"}`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    refusal: Option<String>,
}

/// "none", "auto", "required", or a function by name.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum ToolChoiceParam {
    Mode(String),
    Function {
        /// Always "function".
        #[serde(rename = "type")]
        kind: String,
        name: String,
    },
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TextParam {
    format: Option<TextFormat>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: Option<String>,
        description: Option<String>,
        /// The JSON Schema the answer follows.
        schema: Option<Value>,
        strict: Option<bool>,
    },
}

/// A conversation's id, or "new".
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum ConversationParam {
    Id(i64),
    New(String),
}

/// A function the model may call: `{"type": "function", "name", …}`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct FunctionTool {
    /// Always "function".
    #[serde(rename = "type")]
    kind: String,
    name: String,
    description: Option<String>,
    /// JSON Schema of the arguments.
    parameters: Option<Value>,
    strict: Option<bool>,
}

/// A `response` object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseObject {
    pub id: String,
    /// Always "response".
    pub object: &'static str,
    pub created_at: i64,
    /// in_progress, completed, incomplete or failed.
    pub status: &'static str,
    pub error: Option<ResponseError>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub model: String,
    pub output: Vec<OutputItem>,
    pub usage: Option<ResponseUsage>,
    /// Always null.
    pub previous_response_id: Option<String>,
    pub reasoning: Reasoning,
    pub store: bool,
    /// Always "disabled".
    pub truncation: &'static str,
    /// Always empty.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// Always null.
    pub user: Option<String>,
    /// Always "default".
    pub service_tier: &'static str,
    #[serde(flatten)]
    pub settings: Settings,
    /// pai's extension, on the finished response: what the answer recalled and cites.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pai: Option<PaiExtension>,
}

/// The request's settings, echoed in the response as OpenAI does.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Settings {
    pub instructions: Option<String>,
    #[schema(value_type = Vec<FunctionTool>)]
    pub tools: Value,
    #[schema(value_type = ToolChoiceParam)]
    pub tool_choice: Value,
    #[schema(value_type = TextParam)]
    pub text: Value,
    pub parallel_tool_calls: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_output_tokens: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncompleteDetails {
    /// Always "max_output_tokens".
    pub reason: &'static str,
}

/// Always nulls: pai's model does not reason apart from its answer.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Reasoning {
    pub effort: Option<String>,
    pub summary: Option<String>,
}

/// An output item: the answer's text as a message, or a function call.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message {
        id: String,
        status: &'static str,
        /// Always "assistant".
        role: &'static str,
        content: Vec<OutputText>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        /// The arguments as JSON text.
        arguments: String,
        status: &'static str,
    },
}

impl OutputItem {
    pub fn message(id: &str, text: &str, status: &'static str) -> Self {
        OutputItem::Message { id: id.to_string(), status, role: "assistant", content: vec![OutputText::new(text)] }
    }

    pub fn call(id: String, call: &ToolCall, status: &'static str) -> Self {
        OutputItem::FunctionCall {
            id,
            call_id: call.id.clone(),
            name: call.function.name.clone(),
            arguments: call.function.arguments.clone(),
            status,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            OutputItem::Message { id, .. } | OutputItem::FunctionCall { id, .. } => id,
        }
    }
}

/// A message's text (`type: "output_text"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutputText {
    /// Always "output_text".
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub annotations: Vec<Value>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub logprobs: Vec<Value>,
}

impl OutputText {
    pub fn new(text: &str) -> Self {
        OutputText { kind: "output_text", text: text.to_string(), annotations: Vec::new(), logprobs: Vec::new() }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseUsage {
    pub input_tokens: u32,
    pub input_tokens_details: CachedTokens,
    pub output_tokens: u32,
    pub output_tokens_details: ReasoningTokens,
    pub total_tokens: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CachedTokens {
    pub cached_tokens: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasoningTokens {
    pub reasoning_tokens: u32,
}

impl From<Usage> for ResponseUsage {
    fn from(chat: Usage) -> Self {
        let (input, output) = (chat.prompt_tokens, chat.completion_tokens);
        ResponseUsage {
            input_tokens: input,
            input_tokens_details: CachedTokens { cached_tokens: 0 },
            output_tokens: output,
            output_tokens_details: ReasoningTokens { reasoning_tokens: 0 },
            total_tokens: input + output,
        }
    }
}
