//! `pai import FILE`: bring in chat history (pai's JSON, ChatGPT's
//! conversations.json or a KakaoTalk export) with a progress bar, then learn
//! from it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pai_assistant::extract::{Extractor, Outcome};
use pai_assistant::import::{Format, ParseOptions, Progress, import, parse};
use pai_core::store::JobState;

use crate::config::Config;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The file: pai's `{"title", "messages": [...]}` JSON (or a list of them), ChatGPT's
    /// conversations.json, or a KakaoTalk "대화 내보내기" .txt (PC or mobile, Korean or English).
    file: PathBuf,
    /// The file's format; detected from its content when not given.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Your name in a chat export (KakaoTalk), when the file does not mark your lines
    /// (mobile exports say 회원님/you; a group chat from the PC needs this).
    #[arg(long, value_name = "NAME")]
    me: Option<String>,
    /// Only store and index; leave memory extraction queued for later (`pai chat` runs it).
    #[arg(long)]
    no_extract: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Pai,
    Chatgpt,
    Kakaotalk,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let format = args.format.map(|f| match f {
        FormatArg::Pai => Format::Pai,
        FormatArg::Chatgpt => Format::ChatGpt,
        FormatArg::Kakaotalk => Format::KakaoTalk,
    });
    let memory = super::open_memory(config).await?;
    // Times written without a zone (KakaoTalk) are the user's.
    let zone = pai_assistant::extract::zone(&memory.store.user(memory.user).await?.timezone)?;
    // Checked whole before anything is written.
    let options = ParseOptions { format, me: args.me, zone: Some(zone) };
    let (format, conversations) =
        parse(&bytes, &options).with_context(|| format!("{} was not imported", args.file.display()))?;
    let stored = bar(conversations.len() as u64, "storing");
    let indexing = ProgressBar::new_spinner();
    let report = import(&*memory.store, &*memory.embedder, memory.user, conversations, &mut |p| match p {
        Progress::Stored { done, .. } => stored.set_position(done as u64),
        Progress::Indexed { done } => {
            stored.finish();
            indexing.set_message(format!("indexed {done} messages for search"));
            indexing.tick();
        }
    })
    .await?;
    stored.finish();
    indexing.finish_and_clear();
    println!(
        "Imported {} conversation(s), {} message(s) from {} ({:?} format); {} already imported, skipped.",
        report.conversations,
        report.messages,
        args.file.display(),
        format,
        report.skipped
    );
    if args.no_extract || report.jobs == 0 {
        if report.jobs > 0 {
            println!("{} extraction job(s) queued; they run with the next `pai chat`.", report.jobs);
        }
        return Ok(());
    }
    learn_queued(config, &memory, "the import").await
}

/// Runs the user's queued extraction jobs with a progress bar until none is
/// left or Ctrl-C (what is left stays queued), then says what was learned
/// from `what`.
pub(super) async fn learn_queued(config: &Config, memory: &super::Memory, what: &str) -> anyhow::Result<()> {
    let model = super::chat_model(config, None)?;
    let extractor = Arc::new(Extractor::new(memory.store.clone(), model, memory.embedder.clone()));
    let pending = memory.store.extraction_jobs(memory.user, Some(JobState::Pending)).await?.len();
    let learning = bar(pending as u64, "learning");
    let (mut learned, mut failed) = (0, 0);
    // Ctrl-C gives the job in progress back; what is left stays queued for next time.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    });
    loop {
        let mut stop = stop_rx.clone();
        let stopped = async move {
            if stop.wait_for(|s| *s).await.is_err() {
                // No Ctrl-C handler could be set: never stop.
                std::future::pending::<()>().await;
            }
        };
        match extractor.run_one_unless(stopped).await? {
            Some(Outcome::Done { decisions, .. }) => {
                learned +=
                    decisions.iter().filter(|d| matches!(d.action.as_str(), "add" | "update" | "supersede")).count();
                learning.inc(1);
            }
            Some(Outcome::Failed { .. }) => {
                failed += 1;
                learning.inc(1);
            }
            Some(Outcome::Retrying { .. }) => {}
            Some(Outcome::Released { .. }) => break,
            None => break,
        }
        if *stop_rx.borrow() {
            break;
        }
    }
    if *stop_rx.borrow() {
        learning.abandon();
        println!("Stopped; the remaining extraction jobs stay queued.");
        return Ok(());
    }
    learning.finish();
    println!("Learned {learned} memor{} from {what}.", if learned == 1 { "y" } else { "ies" });
    if failed > 0 {
        println!("{failed} extraction job(s) failed; see `pai memory jobs`, retry with `pai memory retry ID`.");
    }
    Ok(())
}
