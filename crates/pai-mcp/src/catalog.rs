//! Resources and the prompt.
//!
//! - `pai://memories/export`: every memory with its sources and decisions,
//!   the same JSON as `pai memory export` and `GET /api/memories/export`;
//! - `pai://documents/{id}`: one document's passages, each with the place a
//!   citation points at (page, heading, character offsets);
//! - the prompt `what_pai_knows`: what pai recalls for a question, fenced as
//!   data, for a client to put before its own model's answer.

use chrono::Utc;
use pai_assistant::prompt::{item_line, promptable};
use pai_assistant::recall::{RecalledKind, recall};
use pai_core::Embedder;
use pai_core::store::{DocumentId, Store, UserId};
use rmcp::ErrorData;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    Prompt, PromptArgument, PromptMessage, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
};

use crate::show::DATA_NOTICE;
use crate::store_error;

const EXPORT_URI: &str = "pai://memories/export";
const DOCUMENT_PREFIX: &str = "pai://documents/";
const PROMPT: &str = "what_pai_knows";
/// Items the prompt brings.
const PROMPT_ITEMS: usize = 10;

pub async fn resources(store: &dyn Store, user: UserId) -> Result<ListResourcesResult, ErrorData> {
    let mut all = vec![
        Resource::new(EXPORT_URI, "memory-export")
            .with_title("Everything pai remembers")
            .with_description("Every memory, current and past, with the messages it came from and each decision")
            .with_mime_type("application/json"),
    ];
    for d in store.documents(user).await.map_err(store_error)? {
        all.push(
            Resource::new(format!("{DOCUMENT_PREFIX}{}", d.id), format!("document-{}", d.id))
                .with_title(d.title.clone())
                .with_description(format!("{} ({} passages)", d.source, d.chunks))
                .with_mime_type("text/markdown"),
        );
    }
    Ok(ListResourcesResult::with_all_items(all))
}

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(format!("{DOCUMENT_PREFIX}{{id}}"), "document")
            .with_title("A document's passages")
            .with_description("The passages of one of the user's documents, with page, heading and offsets")
            .with_mime_type("text/markdown"),
    ])
}

pub async fn read(store: &dyn Store, user: UserId, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    if uri == EXPORT_URI {
        let export = pai_assistant::export::export(store, user).await.map_err(store_error)?;
        let text = serde_json::to_string_pretty(&export).map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        return Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type("application/json")]));
    }
    let id = uri
        .strip_prefix(DOCUMENT_PREFIX)
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| ErrorData::resource_not_found(format!("no resource {uri}; see resources/list"), None))?;
    let id = DocumentId(id);
    let document = store.document(user, id).await.map_err(store_error)?;
    let chunks = store.document_chunks(user, id).await.map_err(store_error)?;
    let mut text = format!("# {}\n\nSource: {}. {DATA_NOTICE}\n", document.title, document.source);
    for c in &chunks {
        let mut place = format!("passage {}", c.ordinal + 1);
        if let Some(p) = c.page {
            place.push_str(&format!(", p. {p}"));
        }
        if let Some(h) = &c.heading {
            place.push_str(&format!(", \"{h}\""));
        }
        place.push_str(&format!(", characters {}–{}", c.start, c.end));
        text.push_str(&format!("\n## {place}\n\n{}\n", c.text));
    }
    Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type("text/markdown")]))
}

pub fn prompts() -> ListPromptsResult {
    let question = PromptArgument::new("question")
        .with_description("The question the user asked (Korean or English)")
        .with_required(true);
    ListPromptsResult::with_all_items(vec![
        Prompt::new(
            PROMPT,
            Some("What pai knows about the user that bears on a question: memories and document passages, cited"),
            Some(vec![question]),
        )
        .with_title("What pai knows about me"),
    ])
}

pub async fn prompt(
    store: &dyn Store,
    embedder: &dyn Embedder,
    user: UserId,
    request: &GetPromptRequestParams,
) -> Result<GetPromptResult, ErrorData> {
    if request.name != PROMPT {
        return Err(ErrorData::invalid_params(format!("no prompt {}; the one prompt is {PROMPT}", request.name), None));
    }
    let question = request
        .arguments
        .as_ref()
        .and_then(|a| a.get("question"))
        .and_then(|q| q.as_str())
        .map(str::trim)
        .filter(|q| !q.is_empty() && q.len() <= 4096)
        .ok_or_else(|| ErrorData::invalid_params("`question` is required: 1 to 4096 bytes of text", None))?;
    let hits = recall(store, embedder, user, question, PROMPT_ITEMS, Utc::now()).await.map_err(store_error)?;
    let mut lines = Vec::new();
    let mut passage = 0;
    for r in hits.iter().filter(|r| promptable(r)) {
        if r.kind == RecalledKind::Chunk {
            passage += 1;
        }
        lines.push(item_line(r, passage));
    }
    let known = if lines.is_empty() { "(nothing relevant)".to_string() } else { lines.join("\n") };
    let text = format!(
        "My personal memory, pai, holds this about me that may bear on my question. Cite a memory as [m<id>] and a \
         passage as [n] when you use it, and leave out what does not bear on the question. {DATA_NOTICE}\n\
         <data>\n{known}\n</data>\n\nMy question: {question}"
    );
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(format!("What pai knows for: {question}")))
}
