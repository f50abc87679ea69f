//! `pai ingest` and `pai docs`: the user's documents, searched and cited in answers.

use std::path::PathBuf;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use pai_assistant::knowledge::recording::{KeepError, Upload, transcribe_and_store};
use pai_assistant::knowledge::summary::summarise;
use pai_assistant::knowledge::{collect_files, delete_document, ingest_bytes, sync_folder};
use pai_core::store::{Document, DocumentChange, DocumentId};

use crate::config::Config;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Files and folders (searched recursively for .txt, .md, .html, .pdf).
    /// A recording given by name (WAV, MP3, M4A, FLAC, Ogg, Opus) is
    /// transcribed and kept as its transcript, with the reminders it suggests.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Treat each folder as the whole truth: also delete documents whose file is gone.
    #[arg(long)]
    sync: bool,
    /// Also learn about you from what is said in the recordings, as from a
    /// chat: for voice memos where you are the one speaking (voices are not
    /// told apart, so a call's other side would be taken as your words).
    #[arg(long)]
    learn: bool,
}

#[derive(clap::Subcommand)]
pub enum DocsCommand {
    /// Your documents, newest first.
    List,
    /// A document and its passages (chunks), as recall sees them.
    Show { id: i64 },
    /// What a document (a recording) is about, in its own sentences: one
    /// line for the whole, and one or two for each part (about five minutes
    /// of a recording, or a section).
    Summary { id: i64 },
    /// Delete a document with every passage and vector.
    Delete { id: i64 },
}

pub async fn ingest(config: &Config, args: IngestArgs) -> anyhow::Result<()> {
    // No chat model runs in this process: the embedder may use every core
    // (see `embedding_threads` for why it does not beside a chat model).
    let mut config = config.clone();
    if config.embedding_threads.is_none() {
        config.embedding_threads = Some(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    let config = &config;
    if args.sync {
        let memory = super::open_memory(config).await?;
        for dir in &args.paths {
            let r = sync_folder(&*memory.store, &*memory.embedder, memory.user, dir).await?;
            for f in &r.failed {
                println!("  skipped  {f}");
            }
            println!(
                "{}: {} added, {} updated, {} unchanged, {} removed, {} skipped.",
                dir.display(),
                r.added,
                r.updated,
                r.unchanged,
                r.removed,
                r.failed.len()
            );
        }
        return Ok(());
    }
    let files = collect_files(&args.paths)?;
    if files.is_empty() {
        bail!("no .txt, .md, .html or .pdf files under the given paths");
    }
    let memory = super::open_memory(config).await?;
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("ingesting");
    let (mut added, mut replaced, mut unchanged, mut failed, mut jobs) = (0, 0, 0, 0, 0);
    for file in files {
        let source = std::fs::canonicalize(&file).unwrap_or(file.clone()).display().to_string();
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let result = match std::fs::read(&file) {
            Ok(bytes) if pai_voice::audio::looks_like_audio(&name, &bytes) => {
                bar.set_message("transcribing");
                let shown = bar.clone();
                let progress: pai_voice::Progress =
                    std::sync::Arc::new(move |p| shown.set_message(format!("heard {}%", p.clamp(0, 100))));
                let recording = Upload {
                    name: &name,
                    source: &source,
                    bytes,
                    limit_seconds: LIMIT_SECONDS,
                    learn: args.learn,
                    progress: Some(progress),
                };
                let stored = ingest_recording(config, &memory, recording).await;
                bar.set_message("ingesting");
                stored.map(|(document, change, notes, queued)| {
                    jobs += queued;
                    (document, change, notes)
                })
            }
            Ok(bytes) => ingest_bytes(&*memory.store, &*memory.embedder, memory.user, &source, bytes)
                .await
                .map(|(d, c)| (d, c, vec![])),
            Err(e) => Err(pai_core::Error::invalid(format!("{}: {e}", file.display()))),
        };
        match result {
            Ok((doc, change, notes)) => {
                match change {
                    DocumentChange::Created => added += 1,
                    DocumentChange::Replaced => replaced += 1,
                    DocumentChange::Unchanged => unchanged += 1,
                }
                bar.suspend(|| {
                    println!("{:>9}  {} ({} passages)", change_word(change), doc.title, doc.chunks);
                    notes.iter().for_each(|n| println!("           {n}"));
                });
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| println!("{:>9}  {e}", "skipped"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{added} added, {replaced} updated, {unchanged} unchanged, {failed} skipped.");
    if failed > 0 && added + replaced + unchanged == 0 {
        bail!("no file could be ingested");
    }
    if jobs > 0 {
        super::import::learn_queued(config, &memory, "the recordings").await?;
    }
    Ok(())
}

/// The longest recording transcribed, as `pai transcribe` takes.
const LIMIT_SECONDS: f64 = 3.0 * 3600.0;

/// Transcribes a recording, keeps its transcript as a document of timed
/// passages, embeds them, and gives what was heard, its summary line and
/// the reminders it suggests as lines to show (none is scheduled: `pai
/// remind add` with the time shown does that), with the extraction jobs
/// queued when learning from it.
async fn ingest_recording(
    config: &Config,
    memory: &super::Memory,
    recording: Upload<'_>,
) -> pai_core::Result<(Document, DocumentChange, Vec<String>, usize)> {
    let name = recording.name.to_string();
    let threads = config.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let speech = pai_voice::Speech::new(config.model_path(&config.speech_model), threads, 1);
    let zone: chrono_tz::Tz = config.timezone().parse().unwrap_or(chrono_tz::UTC);
    let (store, user) = (&*memory.store, memory.user);
    let kept = transcribe_and_store(store, &speech, user, zone, recording).await.map_err(|e| match e {
        KeepError::Refused(e) | KeepError::Store(e) => e,
        KeepError::Speech(e) => pai_core::Error::invalid(format!("{name}: {e}")),
    })?;
    while pai_assistant::index::embed_pending(store, &*memory.embedder, user, 256).await? > 0 {}
    let mut notes = vec![format!("heard {} s of {}", kept.seconds.round(), kept.language)];
    if let Some(line) = &kept.summary.line {
        notes.push(format!("in a line: {}", line.text));
    }
    let jobs = kept.learned.map_or(0, |l| l.jobs);
    if let Some(l) = kept.learned {
        notes.push(format!("kept as conversation {} ({} messages) to learn from", l.conversation, l.messages));
    }
    for s in kept.suggestions {
        let when = match (&s.at, &s.question) {
            (Some(at), _) => at.with_timezone(&zone).format("%a %Y-%m-%d %H:%M").to_string(),
            (None, Some(question)) => question.clone(),
            (None, None) => continue,
        };
        notes.push(format!("suggests a reminder: [{}] {} → {when}", s.heading.as_deref().unwrap_or(""), s.text));
    }
    Ok((kept.document, kept.change, notes, jobs))
}

fn change_word(c: DocumentChange) -> &'static str {
    match c {
        DocumentChange::Created => "added",
        DocumentChange::Replaced => "updated",
        DocumentChange::Unchanged => "unchanged",
    }
}

pub async fn run(config: &Config, cmd: DocsCommand) -> anyhow::Result<()> {
    let memory = super::open_memory(config).await?;
    let (store, user) = (&*memory.store, memory.user);
    match cmd {
        DocsCommand::List => {
            let docs = store.documents(user).await?;
            if docs.is_empty() {
                println!("No documents yet. Add some with `pai ingest PATH`.");
            }
            for d in docs {
                let pages = d.pages.map(|p| format!(", {p} pages")).unwrap_or_default();
                println!(
                    "{:>5}  {:8}  {}  ({} passages{pages})  {}",
                    d.id,
                    d.format.as_str(),
                    d.title,
                    d.chunks,
                    d.source
                );
            }
        }
        DocsCommand::Show { id } => {
            let d = store.document(user, DocumentId(id)).await?;
            println!(
                "{} — {} ({}, {} bytes, updated {})",
                d.id,
                d.title,
                d.format.as_str(),
                d.bytes,
                d.updated_at.format("%Y-%m-%d %H:%M")
            );
            println!("source: {}", d.source);
            for c in store.document_chunks(user, d.id).await? {
                let page = c.page.map(|p| format!(" p.{p}")).unwrap_or_default();
                let heading = c.heading.map(|h| format!(" \"{h}\"")).unwrap_or_default();
                let flat = c.text.split_whitespace().collect::<Vec<_>>().join(" ");
                let short: String = flat.chars().take(120).collect();
                println!(
                    "  #{}{page}{heading} [{}..{}] {short}{}",
                    c.ordinal,
                    c.start,
                    c.end,
                    if short.len() < flat.len() { "…" } else { "" }
                );
            }
        }
        DocsCommand::Summary { id } => {
            let d = store.document(user, DocumentId(id)).await?;
            let summary = summarise(&store.document_chunks(user, d.id).await?);
            println!("{} — {}", d.id, d.title);
            match &summary.line {
                Some(line) => println!("In a line: {}", line.text),
                None => println!("No sentence in it says enough to sum it up."),
            }
            for part in summary.parts.iter().filter(|p| !p.text.is_empty()) {
                println!("  [{}] {}", part.heading.as_deref().unwrap_or("…"), part.text);
            }
        }
        DocsCommand::Delete { id } => {
            delete_document(store, user, DocumentId(id)).await?;
            println!("Document {id} deleted.");
        }
    }
    Ok(())
}
