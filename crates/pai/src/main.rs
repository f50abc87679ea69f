//! The `pai` binary: command-line interface and the wiring of concrete
//! backends behind pai-core's traits. The only crate that names them.

mod cli;
mod config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// pai — a personal AI that knows you, runs on your machine, and speaks Korean and English.
///
/// Settings come from $PAI_HOME/config.toml (PAI_HOME defaults to
/// ~/.local/share/pai) and PAI_* environment variables, e.g. PAI_CHAT_MODEL,
/// PAI_THREADS, PAI_CONTEXT_LENGTH, PAI_CHAT_TEMPLATE, PAI_REMOTE_URL,
/// PAI_REMOTE_API_KEY, PAI_REMOTE_MODEL. RUST_LOG=debug shows what happens inside.
#[derive(Parser)]
#[command(name = "pai", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chat in the terminal. Reads one prompt from stdin when it is not a terminal.
    Chat(cli::chat::ChatArgs),
    /// List, download and inspect models.
    #[command(subcommand)]
    Model(cli::model::ModelCommand),
    /// Embed texts and print the vectors (one JSON array per line).
    Embed(cli::embed::EmbedArgs),
    /// Measure local inference speed (prompt processing and generation, tokens/s).
    Bench(cli::bench::BenchArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,llama_cpp_2=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = config::Config::load().and_then(|config| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        runtime.block_on(async move {
            match cli.command {
                Command::Chat(args) => cli::chat::run(&config, args).await,
                Command::Model(cmd) => cli::model::run(&config, cmd).await,
                Command::Embed(args) => cli::embed::run(&config, args).await,
                Command::Bench(args) => cli::bench::run(&config, args).await,
            }
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pai: {e:#}");
            ExitCode::FAILURE
        }
    }
}
