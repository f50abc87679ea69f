//! `pai embed`: vectors for texts, for scripts and debugging.

use pai_core::EmbedKind;

use crate::config::Config;

#[derive(clap::Args)]
pub struct EmbedArgs {
    /// Texts to embed.
    #[arg(required = true)]
    texts: Vec<String>,
    /// Embed as search queries rather than stored passages (matters for e5).
    #[arg(long)]
    query: bool,
    /// Embedding model file; default from settings.
    #[arg(long, short)]
    model: Option<String>,
}

pub async fn run(config: &Config, args: EmbedArgs) -> anyhow::Result<()> {
    let embedder = super::embedder(config, args.model.as_deref())?;
    let kind = if args.query { EmbedKind::Query } else { EmbedKind::Passage };
    for v in embedder.embed(args.texts, kind).await? {
        println!("{}", serde_json::to_string(&v)?);
    }
    Ok(())
}
