//! `pai mcp`: pai's MCP server on stdin/stdout for a desktop agent on this
//! machine (Claude Desktop, Cursor, …), as the configured user. Only the
//! embedding model is loaded: no tool needs the chat model. Logs go to
//! stderr; stdout carries the protocol alone.

use clap::Args;

use crate::config::Config;

/// No options: the data directory and database are the global ones.
#[derive(Args)]
pub struct McpArgs {}

pub async fn run(config: &Config, _args: McpArgs) -> anyhow::Result<()> {
    let memory = super::open_memory(config).await?;
    tracing::info!(user = %config.user, "serving MCP on stdio");
    pai_mcp::PaiMcp::for_user(memory.store, memory.embedder, memory.user).serve_stdio().await?;
    Ok(())
}
