//! The `pai` binary: command-line interface and the wiring of concrete
//! backends behind pai-core's traits. The only crate that names them.

mod cli;
mod config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// pai — a personal AI that knows you, runs on your machine, and speaks Korean and English.
///
/// Settings come from built-in defaults, then pai.toml in the data directory
/// (--data-dir, else $PAI_HOME, else ~/.local/share/pai), then PAI_*
/// environment variables, then flags. Variables: PAI_CHAT_MODEL, PAI_THREADS,
/// PAI_CONTEXT_LENGTH, PAI_CHAT_TEMPLATE, PAI_REMOTE_URL, PAI_REMOTE_API_KEY,
/// PAI_REMOTE_MODEL, PAI_DATABASE, PAI_USER, PAI_TIMEZONE, PAI_ADDR, and
/// server settings with `__` for nesting (PAI_SERVER__OPEN_SIGNUP=true,
/// PAI_SERVER__LIMITS__REQUESTS_PER_MINUTE=120). RUST_LOG=debug shows what
/// happens inside.
#[derive(Parser)]
#[command(name = "pai", version, about, long_about)]
struct Cli {
    /// The data directory: models, the database, pai.toml.
    #[arg(long, global = true, env = "PAI_DATA_DIR", value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Where the data lives: sqlite://PATH (the default is sqlite://DIR/pai.db)
    /// or postgres://USER[:PASSWORD]@HOST[:PORT]/DB for a PostgreSQL server that
    /// several `pai serve` may share. Also the `database` setting and PAI_DATABASE.
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
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
    /// Transcribe a recording (WAV, MP3, M4A, FLAC, Ogg) to text or subtitles, on this machine.
    Transcribe(cli::transcribe::TranscribeArgs),
    /// Measure local inference speed (prompt processing and generation, tokens/s).
    Bench(cli::bench::BenchArgs),
    /// See, search, edit, forget and export what pai remembers about you.
    #[command(subcommand)]
    Memory(cli::memory::MemoryCommand),
    /// Import chat history (pai JSON, ChatGPT's conversations.json, a KakaoTalk export) and learn from it.
    Import(cli::import::ImportArgs),
    /// Add documents (txt, md, html, pdf; files or folders) for pai to search and cite.
    Ingest(cli::docs::IngestArgs),
    /// List, inspect and delete your documents.
    #[command(subcommand)]
    Docs(cli::docs::DocsCommand),
    /// Schedule, list and cancel reminders ("내일 오전 9시", "every Monday 8am").
    #[command(subcommand)]
    Remind(cli::remind::RemindCommand),
    /// Serve the OpenAI-compatible API, the REST API, MCP (/mcp) and accounts over HTTP.
    Serve(cli::serve::ServeArgs),
    /// Serve your memory, documents and reminders to an MCP client (Claude Desktop, Cursor) over stdio.
    ///
    /// The client starts this command and speaks JSON-RPC on its stdin and
    /// stdout. Tools: remember, recall, list_memories, forget,
    /// search_documents, create_reminder, list_reminders, cancel_reminder.
    /// Resources: the memory export and each document. Prompt:
    /// what_pai_knows. It answers for the configured user (`user` in pai.toml,
    /// PAI_USER) and loads only the embedding model; logs go to stderr. For
    /// clients on other machines, use /mcp on `pai serve` with an API key.
    ///
    /// Claude Desktop: {"mcpServers": {"pai": {"command": "pai", "args": ["mcp"]}}}
    Mcp(cli::mcp::McpArgs),
    /// Manage the server's users.
    #[command(subcommand)]
    User(cli::user::UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(cli::user::KeyCommand),
    /// Copy a SQLite database into an empty PostgreSQL one, verified table by table.
    Migrate(cli::migrate::MigrateArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                "warn,pai_server=info,llama_cpp_2=error,llama-cpp-2=error,symphonia_core=off".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = config::Config::load(cli.data_dir.clone()).and_then(|mut config| {
        if let Some(url) = cli.database.clone() {
            config.database = Some(url);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let result = runtime.block_on(async move {
            match cli.command {
                Command::Chat(args) => cli::chat::run(&config, args).await,
                Command::Model(cmd) => cli::model::run(&config, cmd).await,
                Command::Embed(args) => cli::embed::run(&config, args).await,
                Command::Transcribe(args) => cli::transcribe::run(&config, args).await,
                Command::Bench(args) => cli::bench::run(&config, args).await,
                Command::Memory(cmd) => cli::memory::run(&config, cmd).await,
                Command::Import(args) => cli::import::run(&config, args).await,
                Command::Ingest(args) => cli::docs::ingest(&config, args).await,
                Command::Docs(cmd) => cli::docs::run(&config, cmd).await,
                Command::Remind(cmd) => cli::remind::run(&config, cmd).await,
                Command::Serve(args) => cli::serve::run(&config, args).await,
                Command::Mcp(args) => cli::mcp::run(&config, args).await,
                Command::User(cmd) => cli::user::run_user(&config, cmd).await,
                Command::Key(cmd) => cli::user::run_key(&config, cmd).await,
                Command::Migrate(args) => cli::migrate::run(&config, args).await,
            }
        });
        // Dropping the runtime would wait for every blocking task: a
        // generation or an embedding whose answer nobody waits for any more
        // (its job was handed back to the queue) held the exit for tens of
        // seconds. What was acknowledged is stored already.
        runtime.shutdown_timeout(std::time::Duration::from_millis(500));
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pai: {e:#}");
            ExitCode::FAILURE
        }
    }
}
