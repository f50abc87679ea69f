//! `pai memory`: see, search, edit, forget and export what pai knows, each
//! memory with where it came from.

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use chrono::Utc;
use pai_assistant::recall::{RecalledKind, recall};
use pai_core::store::{ItemRef, JobId, JobState, Memory, MemoryId, Store, UserId};

use crate::config::Config;

#[derive(clap::Subcommand)]
pub enum MemoryCommand {
    /// List current memories, newest first.
    List {
        /// Include superseded memories (history).
        #[arg(long)]
        all: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Search memories and past messages, as the assistant recalls them.
    Search {
        query: String,
        /// How many results.
        #[arg(short, long, default_value_t = 10)]
        k: usize,
    },
    /// Show one memory: its history, the messages it came from, and every decision about it.
    Show { id: i64 },
    /// Replace a memory's text.
    Edit { id: i64, text: String },
    /// Delete memories by id, or all of them with --all.
    Forget {
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Do not ask before deleting everything.
        #[arg(long)]
        yes: bool,
    },
    /// Export every memory, its sources and decisions as JSON.
    Export {
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Extraction jobs: pending and failed ones, with their errors.
    Jobs {
        /// Show done jobs too.
        #[arg(long)]
        all: bool,
    },
    /// Queue a failed extraction job again.
    Retry { job: i64 },
}

pub async fn run(config: &Config, cmd: MemoryCommand) -> anyhow::Result<()> {
    let memory = super::open_memory(config).await?;
    let (store, user) = (&*memory.store, memory.user);
    match cmd {
        MemoryCommand::List { all, json } => {
            let memories = store.memories(user, all).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&memories)?);
            } else if memories.is_empty() {
                println!("No memories yet. Chat with `pai chat` or bring history in with `pai import`.");
            } else {
                for m in &memories {
                    println!("{}", line(m));
                }
            }
        }
        MemoryCommand::Search { query, k } => {
            let hits = recall(store, &*memory.embedder, user, &query, k, Utc::now()).await?;
            if hits.is_empty() {
                println!("Nothing found for {query:?}.");
            }
            for h in hits {
                let tag = match (h.kind, h.item) {
                    (RecalledKind::Memory, ItemRef::Memory(id)) => format!("memory {id}"),
                    (_, ItemRef::Message(id)) => format!("message {id}"),
                    (_, ItemRef::Chunk(_)) => match &h.provenance.document {
                        Some(d) => {
                            format!("document {}{}", d.id, d.page.map(|p| format!(" p.{p}")).unwrap_or_default())
                        }
                        None => "document".into(),
                    },
                    _ => "item".into(),
                };
                let past = h.valid_to.map(|t| format!(" (until {})", t.format("%Y-%m-%d"))).unwrap_or_default();
                println!(
                    "{:.4}  [{tag}, {}]{past}  {}",
                    h.score,
                    h.provenance.created_at.format("%Y-%m-%d"),
                    one_line(&h.text)
                );
            }
        }
        MemoryCommand::Show { id } => show(store, user, MemoryId(id)).await?,
        MemoryCommand::Edit { id, text } => {
            let m = store.update_memory(user, MemoryId(id), &text, &[]).await?;
            // Re-embed now so search by meaning sees the new text.
            pai_assistant::index::embed_pending(store, &*memory.embedder, user, 64).await?;
            println!("{}", line(&m));
        }
        MemoryCommand::Forget { ids, all, yes } => {
            if all {
                if !yes && !confirm("Delete ALL memories? This cannot be undone. [y/N] ")? {
                    bail!("nothing deleted");
                }
                let n = store.delete_all_memories(user).await?;
                println!("Deleted {n} memories.");
            } else if ids.is_empty() {
                bail!("name the memories to forget (ids from `pai memory list`), or use --all");
            } else {
                // Check them all first: a typo deletes nothing.
                for &id in &ids {
                    store.memory(user, MemoryId(id)).await?;
                }
                for &id in &ids {
                    store.delete_memory(user, MemoryId(id)).await?;
                }
                println!("Deleted {} memor{}.", ids.len(), if ids.len() == 1 { "y" } else { "ies" });
            }
        }
        MemoryCommand::Export { output } => {
            let json = serde_json::to_string_pretty(&pai_assistant::export::export(store, user).await?)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, json + "\n")?;
                    eprintln!("Wrote {}", path.display());
                }
                None => println!("{json}"),
            }
        }
        MemoryCommand::Jobs { all } => {
            let jobs = store.extraction_jobs(user, None).await?;
            let shown: Vec<_> = jobs.iter().filter(|j| all || j.state != JobState::Done).collect();
            if shown.is_empty() {
                println!("No {}extraction jobs.", if all { "" } else { "pending or failed " });
            }
            for j in shown {
                let error = j.last_error.as_deref().map(|e| format!("  error: {}", one_line(e))).unwrap_or_default();
                println!(
                    "job {}  {:7}  {} message(s), {} attempt(s), {}{error}",
                    j.id,
                    j.state.as_str(),
                    j.messages.len(),
                    j.attempts,
                    j.updated_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        MemoryCommand::Retry { job } => {
            let j = store.retry_extraction_job(user, JobId(job)).await?;
            println!("job {} queued again; it runs with the next `pai chat` or `pai import`.", j.id);
        }
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 160 { flat.chars().take(159).collect::<String>() + "…" } else { flat }
}

fn line(m: &Memory) -> String {
    let when = match (m.valid_from, m.valid_to) {
        (_, Some(to)) => format!(" (until {})", to.format("%Y-%m-%d")),
        (Some(from), None) => format!(" (from {})", from.format("%Y-%m-%d")),
        _ => String::new(),
    };
    let sources = match m.sources.len() {
        0 => "added by hand".to_string(),
        1 => format!("from message {}", m.sources[0]),
        n => format!("from {n} messages"),
    };
    format!("{:>5}  {:11}  {}{when}  [{sources}]", m.id, m.kind.as_str(), one_line(&m.text))
}

async fn show(store: &dyn Store, user: UserId, id: MemoryId) -> anyhow::Result<()> {
    let d = pai_assistant::export::details(store, user, id).await?;
    let m = &d.memory;
    println!("{}", line(m));
    if let Some(s) = &m.subject {
        println!("  subject: {s}   importance: {:.1}", m.importance);
    }
    if let Some(next) = m.superseded_by {
        println!("  replaced by memory {next}");
    }
    for old in &d.history {
        println!("  replaced {}", line(old).trim_start());
    }
    for s in &d.sources {
        let ext = match s.external_id.as_deref() {
            Some(e) => match pai_assistant::knowledge::recording::said_in(e) {
                Some((document, passage)) => format!(", said in recording {document}, passage {passage}"),
                None => format!(", imported as {e}"),
            },
            None => String::new(),
        };
        println!(
            "  source: message {} in conversation {} ({}{ext}): {}",
            s.id,
            s.conversation,
            s.created_at.format("%Y-%m-%d %H:%M"),
            one_line(&s.content)
        );
    }
    for d in &d.decisions {
        println!(
            "  decision: {} \"{}\" — {} ({})",
            d.action,
            one_line(&d.candidate),
            d.reason,
            d.created_at.format("%Y-%m-%d")
        );
    }
    Ok(())
}

fn confirm(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
