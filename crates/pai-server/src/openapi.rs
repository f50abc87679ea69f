//! The OpenAPI 3.1 description served at `/openapi.json` (and shown by the
//! Swagger UI at `/docs`). Written as a table next to the router; a test
//! checks that every operation listed here is routed.

use serde_json::{Map, Value, json};

/// (method, path, tag, summary)
pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "post",
        "/v1/chat/completions",
        "OpenAI",
        "Chat completion (stream or not) over the caller's memory. Header X-Pai-Conversation: <id>|new continues a stored conversation.",
    ),
    (
        "post",
        "/v1/responses",
        "OpenAI",
        "OpenAI's Responses API: text in and out, streaming events, function tools, previous_response_id and item_reference (kept in memory).",
    ),
    ("post", "/v1/completions", "OpenAI", "Legacy text completion: the prompt as one user message, no memory."),
    ("get", "/v1/models", "OpenAI", "Models this server answers with."),
    ("get", "/v1/models/{id}", "OpenAI", "One model, or 404 model_not_found."),
    (
        "post",
        "/v1/embeddings",
        "OpenAI",
        "Embeddings of texts or token-id arrays (float or base64); input_type query|passage.",
    ),
    (
        "post",
        "/api/session",
        "Account",
        "Log in with name and password: sets the session cookie, returns the CSRF token.",
    ),
    ("delete", "/api/session", "Account", "Log out."),
    ("post", "/api/signup", "Account", "Create an account (only when the server allows sign-up)."),
    ("get", "/api/me", "Account", "The caller (and the CSRF token of a session)."),
    ("get", "/api/keys", "Account", "The caller's API keys (prefixes only)."),
    ("post", "/api/keys", "Account", "Create an API key: the key is in this response only."),
    ("delete", "/api/keys/{id}", "Account", "Revoke an API key."),
    ("get", "/api/conversations", "Conversations", "The caller's conversations, newest first."),
    ("post", "/api/conversations", "Conversations", "Start a conversation."),
    ("get", "/api/conversations/{id}", "Conversations", "A conversation with its messages."),
    ("patch", "/api/conversations/{id}", "Conversations", "Rename: {\"title\"}."),
    ("delete", "/api/conversations/{id}", "Conversations", "Delete a conversation and its messages (memories stay)."),
    ("get", "/api/conversations/{id}/messages", "Conversations", "Messages, oldest first."),
    ("post", "/api/conversations/{id}/messages", "Conversations", "Say {\"content\"}; the answer comes back whole."),
    (
        "get",
        "/api/memories",
        "Memories",
        "Current memories, newest first, a page at a time (?limit=100&before=<next_before>; ?history=true adds superseded ones).",
    ),
    ("post", "/api/memories", "Memories", "Add a memory by hand: {\"text\", \"kind\", \"subject\", \"importance\"}."),
    ("delete", "/api/memories", "Memories", "Delete every memory: ?all=true."),
    ("get", "/api/memories/search", "Memories", "Search memories: ?q=...&k=10."),
    ("get", "/api/memories/export", "Memories", "Every memory with sources and decisions (pai-memories/1)."),
    ("get", "/api/memories/{id}", "Memories", "A memory with its history, source messages and decisions."),
    ("patch", "/api/memories/{id}", "Memories", "Edit: {\"text\"}."),
    ("delete", "/api/memories/{id}", "Memories", "Forget a memory."),
    (
        "post",
        "/api/recall",
        "Memories",
        "{\"query\", \"k\"}: memories and messages as a prompt gets them, with provenance.",
    ),
    (
        "post",
        "/api/confirmations/{token}",
        "Memories",
        "The user's yes to a destructive tool call the model proposed (pai_forget, pai_cancel_reminder): only then is it carried out.",
    ),
    ("get", "/api/jobs", "Memories", "Memory extraction jobs (?state=pending|running|done|failed)."),
    ("post", "/api/jobs/{id}/retry", "Memories", "Queue a failed extraction job again."),
    ("get", "/api/imports", "Imports", "The caller's imports."),
    (
        "post",
        "/api/imports",
        "Imports",
        "Upload chat history (pai JSON, ChatGPT conversations.json or a KakaoTalk .txt export) as the body; ?format=&name=&me=.",
    ),
    ("get", "/api/imports/{id}", "Imports", "An import's state and progress."),
    ("get", "/api/documents", "Documents", "The caller's documents, newest first."),
    (
        "post",
        "/api/documents",
        "Documents",
        "Upload txt/md/html/pdf files (multipart/form-data, field `file`, one or more); per-file results. \
         Passages are searchable by their words at once and embedded in the background: `pending` counts \
         those still waiting.",
    ),
    ("get", "/api/documents/{id}", "Documents", "A document with its passages (page, heading, offsets)."),
    ("delete", "/api/documents/{id}", "Documents", "Delete a document with every passage and vector."),
    (
        "get",
        "/api/reminders",
        "Reminders",
        "The caller's reminders: scheduled (soonest first), then done and cancelled.",
    ),
    (
        "post",
        "/api/reminders",
        "Reminders",
        "Schedule `{text, when}`: `when` in Korean or English (\"내일 오전 9시\", \"every Monday 8am\") or RFC 3339, \
         in the caller's timezone. 201 with the schedule; 422 `unclear_time` with the question to ask back; 400 \
         when it cannot be scheduled (past, no such date).",
    ),
    ("get", "/api/reminders/{id}", "Reminders", "One reminder."),
    ("delete", "/api/reminders/{id}", "Reminders", "Cancel a scheduled reminder."),
    (
        "get",
        "/api/notifications",
        "Reminders",
        "Fired reminders, newest first (`limit`, `before`); `late` when delivered after their time.",
    ),
    ("get", "/api/notifications/stream", "Reminders", "Server-sent events: a `notification` event per firing, live."),
    ("post", "/api/notifications/{id}/read", "Reminders", "Mark a notification read."),
    ("get", "/api/admin/users", "Admin", "Every user."),
    ("post", "/api/admin/users", "Admin", "Create a user: {\"name\", \"password\", \"timezone\", \"admin\"}."),
    ("patch", "/api/admin/users/{id}", "Admin", "Disable/enable or set a password: {\"disabled\", \"password\"}."),
    ("delete", "/api/admin/users/{id}", "Admin", "Delete a user and all their data."),
    (
        "post",
        "/mcp",
        "MCP",
        "The Model Context Protocol over Streamable HTTP (stateless JSON-RPC, `Accept: application/json, \
         text/event-stream`) with an API key: tools remember, recall, list_memories, forget, search_documents, \
         create_reminder, list_reminders, cancel_reminder; resources; the prompt what_pai_knows. See the README.",
    ),
    ("get", "/healthz", "Operations", "The process is up."),
    ("get", "/readyz", "Operations", "Ready to serve (database reachable, not shutting down)."),
    ("get", "/metrics", "Operations", "Prometheus metrics."),
];

pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, tag, summary) in OPERATIONS {
        let public = matches!(*path, "/healthz" | "/readyz" | "/metrics" | "/api/signup")
            || (*path == "/api/session" && *method == "post");
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "4XX": {"description": "OpenAI-shaped error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]);
        } else if path.contains("{token}") {
            op["parameters"] = json!([{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        if matches!(*method, "post" | "patch") {
            let body = match *path {
                "/api/documents" => json!({"multipart/form-data": {"schema": {"type": "object",
                    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}),
                "/api/imports" => {
                    json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}})
                }
                _ => json!({"application/json": {"schema": {"type": "object"}}}),
            };
            op["requestBody"] = json!({"content": body});
        }
        if public {
            op["security"] = json!([]);
        }
        paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object")
            .insert(method.to_string(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "pai", "version": env!("CARGO_PKG_VERSION"),
                 "description": "A personal AI that knows its user. /v1 is OpenAI-compatible; /api is pai's own."},
        "paths": paths,
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key from `pai key create` or POST /api/keys"},
                "session": {"type": "apiKey", "in": "cookie", "name": "pai_session",
                            "description": "From POST /api/session; changes also need the X-CSRF-Token header"}
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "message": {"type": "string"}, "type": {"type": "string"},
                    "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}
            }
        }
    })
}
