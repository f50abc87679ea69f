//! `pai mcp`: pai's MCP server on stdin/stdout for a desktop agent on this
//! machine (Claude Desktop, Cursor, …), as the configured user. Only the
//! embedding model is loaded: no tool needs the chat model. Logs go to
//! stderr; stdout carries the protocol alone.

use clap::Args;

use crate::config::Config;

/// Serve pai's memory, documents and reminders to an MCP client over stdio.
///
/// The client starts this command and speaks JSON-RPC on its stdin and
/// stdout: tools remember, recall, list_memories, forget, search_documents,
/// create_reminder, list_reminders, cancel_reminder; the memory export and
/// each document as resources; the prompt what_pai_knows. It answers for the
/// configured user (`user` in pai.toml, PAI_USER). For clients on other
/// machines, use `/mcp` on `pai serve` with an API key.
#[derive(Args)]
pub struct McpArgs {}

pub async fn run(config: &Config, _args: McpArgs) -> anyhow::Result<()> {
    let memory = super::open_memory(config).await?;
    tracing::info!(user = %config.user, "serving MCP on stdio");
    pai_mcp::PaiMcp::for_user(memory.store, memory.embedder, memory.user).serve_stdio().await?;
    Ok(())
}
