//! `pai chat`: a terminal conversation with streaming answers.

use std::io::{IsTerminal, Read, Write};

use std::sync::Arc;

use anyhow::bail;
use chrono::Utc;
use futures_util::StreamExt;
use pai_assistant::answer::Answer;
use pai_assistant::assistant::{Assistant, DEFAULT_PERSONA, Settings};
use pai_core::store::{ConversationId, JobState, UserId};
use pai_core::{ChatEvent, ChatModel, ChatRequest, Completion, FinishReason, Message, Sampling};

use crate::config::Config;

#[derive(clap::Args)]
pub struct ChatArgs {
    /// Chat model file (name in the models directory, or a path); default from settings.
    #[arg(long, short)]
    model: Option<String>,
    /// System prompt (who pai is); what pai remembers is added to it.
    #[arg(long)]
    system: Option<String>,
    /// Sampling temperature; 0 is deterministic.
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// Longest answer in tokens.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Random seed, for reproducible answers.
    #[arg(long)]
    seed: Option<u64>,
    /// Continue the most recent conversation instead of starting a new one.
    #[arg(long = "continue", short = 'c')]
    resume: bool,
    /// Chat without memory: nothing is recalled, stored or learned.
    #[arg(long)]
    no_memory: bool,
}

const HELP: &str = "Type a message and press Enter. End a line with \\ to continue on the next line,
or wrap a block in \"\"\" lines. Ctrl-C stops an answer; Ctrl-D or /exit quits.
Commands: /memory (what pai knows about you), /reset (start a new conversation), /exit, /help";

/// Where turns go: a remembering conversation, or plain history (--no-memory).
enum Session {
    Remembering { assistant: Arc<Assistant>, user: UserId, conversation: Option<ConversationId> },
    Plain { model: Arc<dyn ChatModel>, history: Vec<Message> },
}

/// An answer on its way. A remembering turn's answer stores itself when it
/// ends (`pai_assistant::answer`); a plain one joins the session's history.
enum Reply {
    Remembering(Answer),
    Plain(pai_core::ChatStream),
}

impl Session {
    fn model(&self) -> Arc<dyn ChatModel> {
        match self {
            Session::Remembering { assistant, .. } => assistant.model.clone(),
            Session::Plain { model, .. } => model.clone(),
        }
    }

    /// Begins the turn for `input` (storing the user's message first when
    /// remembering) and starts its answer: pai's own when the turn was
    /// carried out by rule (a reminder), else the model's.
    async fn ask(&mut self, input: &str, sampling: Sampling) -> anyhow::Result<Reply> {
        match self {
            Session::Remembering { assistant, user, conversation } => {
                let conv = match conversation {
                    Some(c) => *c,
                    None => {
                        let title: String = input.chars().take(60).collect();
                        let c = assistant.store.create_conversation(*user, title.trim()).await?.id;
                        *conversation = Some(c);
                        c
                    }
                };
                let turn = assistant.begin(*user, conv, input, sampling, Utc::now()).await?;
                let request = turn.request.clone();
                Ok(Reply::Remembering(assistant.answer(turn, request)))
            }
            Session::Plain { model, history } => {
                history.push(Message::user(input));
                Ok(Reply::Plain(model.chat(ChatRequest { messages: history.clone(), sampling, ..Default::default() })))
            }
        }
    }

    /// After the answer: `shown` is what was printed, `stopped` whether the
    /// user stopped it before its end. A stopped remembering answer keeps what
    /// was shown (a finished or failed one has kept itself); a plain one joins
    /// the history, or leaves it when nothing was shown.
    async fn settle(&mut self, reply: Reply, shown: &str, stopped: bool) -> anyhow::Result<()> {
        match (self, reply) {
            (Session::Remembering { .. }, Reply::Remembering(answer)) if stopped => answer.stop().await?,
            (Session::Plain { history, .. }, _) => {
                if shown.is_empty() {
                    history.pop();
                } else {
                    history.push(Message::assistant(shown));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn reset(&mut self) {
        match self {
            Session::Remembering { conversation, .. } => *conversation = None,
            Session::Plain { history, .. } => history.truncate(1),
        }
    }
}

async fn open_session(config: &Config, args: &ChatArgs) -> anyhow::Result<Session> {
    let model = super::chat_model(config, args.model.as_deref())?;
    let persona = args.system.clone().unwrap_or_else(|| DEFAULT_PERSONA.to_string());
    if args.no_memory {
        return Ok(Session::Plain { model, history: vec![Message::system(persona)] });
    }
    let memory = super::open_memory(config).await?;
    // Jobs a killed run left half-done go back in the queue.
    memory.store.requeue_interrupted_jobs().await?;
    let conversation =
        if args.resume { memory.store.conversations(memory.user).await?.first().map(|c| c.id) } else { None };
    let settings = Settings {
        persona,
        answer_tokens: args.max_tokens as usize,
        english_only_model: super::english_only_model(config, args.model.as_deref()),
        ..Settings::default()
    };
    let assistant = Arc::new(Assistant::new(memory.store, model, memory.embedder, settings));
    Ok(Session::Remembering { assistant, user: memory.user, conversation })
}

/// Runs the extraction left in the queue before exit, so what was said is
/// learned now; Ctrl-C leaves it queued for the next run.
async fn learn_before_exit(session: &Session, quiet: bool) -> anyhow::Result<()> {
    let Session::Remembering { assistant, user, .. } = session else { return Ok(()) };
    let pending = assistant.store.extraction_jobs(*user, Some(JobState::Pending)).await?.len();
    if pending == 0 {
        return Ok(());
    }
    if !quiet {
        eprintln!("(saving what I learned… Ctrl-C to leave it for next time)");
    }
    tokio::select! {
        result = assistant.extractor.run_until_idle() => { result?; }
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

pub async fn run(config: &Config, args: ChatArgs) -> anyhow::Result<()> {
    let sampling = Sampling {
        temperature: args.temperature,
        max_tokens: Some(args.max_tokens),
        seed: args.seed,
        ..Default::default()
    };

    if !std::io::stdin().is_terminal() {
        // Scriptable: one prompt from stdin, the answer on stdout. The prompt is
        // read first so that a missing one fails before the model loads.
        let mut prompt = String::new();
        std::io::stdin().read_to_string(&mut prompt)?;
        if prompt.trim().is_empty() {
            bail!("no prompt on stdin: pipe one in, e.g. `echo 'hello' | pai chat`");
        }
        let mut session = open_session(config, &args).await?;
        let mut reply = session.ask(prompt.trim(), sampling).await?;
        let (text, outcome) = stream_answer(&mut reply, None).await?;
        println!();
        if let Outcome::Done(c) = &outcome {
            tracing::info!(
                prompt_tokens = c.usage.prompt_tokens,
                completion_tokens = c.usage.completion_tokens,
                "done"
            );
        }
        session.settle(reply, &text, matches!(outcome, Outcome::Stopped)).await?;
        return learn_before_exit(&session, true).await;
    }

    let mut session = open_session(config, &args).await?;
    let model = session.model();
    let memory_note = if matches!(session, Session::Plain { .. }) { " · memory off" } else { "" };
    println!("pai · {}{memory_note} · /help for commands", model.id());
    // Extraction runs beside the conversation, never in the way of a reply.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = match &session {
        Session::Remembering { assistant, .. } => {
            let extractor = assistant.extractor.clone();
            Some(tokio::spawn(async move {
                extractor.run(async { drop(stop_rx.await) }).await;
            }))
        }
        Session::Plain { .. } => None,
    };
    let mut editor = rustyline::DefaultEditor::new()?;
    let mut interrupts = Interrupts::new()?;
    loop {
        let Some(input) = read_message(&mut editor)? else {
            break;
        };
        match input.trim() {
            "" => continue,
            "/exit" | "/quit" => break,
            "/help" => {
                println!("{HELP}");
                continue;
            }
            "/reset" => {
                session.reset();
                println!("(new conversation; what pai learned stays)");
                continue;
            }
            "/memory" => {
                match &session {
                    Session::Remembering { assistant, user, .. } => {
                        let memories = assistant.store.memories(*user, false).await?;
                        if memories.is_empty() {
                            println!("(nothing yet)");
                        }
                        for m in memories {
                            println!("  [{}] {}", m.id, m.text);
                        }
                    }
                    Session::Plain { .. } => println!("(memory is off)"),
                }
                continue;
            }
            cmd if cmd.starts_with('/') && !cmd.contains(' ') => {
                println!("unknown command {cmd}; /help lists them");
                continue;
            }
            _ => {}
        }
        // From here a Ctrl-C stops this answer, even one pressed while memory is searched.
        interrupts.clear();
        let mut reply = match session.ask(input.trim(), sampling.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("pai: {e:#}");
                continue;
            }
        };
        let settled = match stream_answer(&mut reply, Some(&mut interrupts)).await {
            Ok((text, outcome)) => {
                println!();
                match &outcome {
                    Outcome::Done(c) if c.finish_reason == FinishReason::Length => {
                        println!("(answer cut at the length limit)")
                    }
                    Outcome::Stopped => println!("(stopped)"),
                    _ => {}
                }
                session.settle(reply, &text, matches!(outcome, Outcome::Stopped)).await
            }
            Err(e) => {
                println!();
                eprintln!("pai: {e}");
                // A failed answer keeps nothing; its turn queued the user's message already.
                session.settle(reply, "", false).await
            }
        };
        if let Err(e) = settled {
            eprintln!("pai: {e:#}");
        }
    }
    let _ = stop_tx.send(());
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    learn_before_exit(&session, false).await
}

/// Reads one message; `None` at end of input. Handles `\` continuations and
/// `"""` blocks; Ctrl-C at the prompt clears the line.
fn read_message(editor: &mut rustyline::DefaultEditor) -> anyhow::Result<Option<String>> {
    use rustyline::error::ReadlineError;
    let mut lines: Vec<String> = Vec::new();
    let mut in_block = false;
    loop {
        let prompt = if lines.is_empty() && !in_block { "you> " } else { "...> " };
        match editor.readline(prompt) {
            Ok(line) => {
                if line.trim() == "\"\"\"" {
                    if in_block {
                        break;
                    }
                    in_block = true;
                    continue;
                }
                if in_block {
                    lines.push(line);
                } else if let Some(stripped) = line.strip_suffix('\\') {
                    lines.push(stripped.to_string());
                } else {
                    lines.push(line);
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                lines.clear();
                in_block = false;
            }
            Err(ReadlineError::Eof) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let message = lines.join("\n");
    let _ = editor.add_history_entry(message.as_str());
    Ok(Some(message))
}

enum Outcome {
    Done(Completion),
    Stopped,
}

/// Ctrl-C while an answer streams. Registered once, before the first answer,
/// so that no Ctrl-C falls into a gap where the default action (quit) applies.
/// At the prompt the terminal is in raw mode and Ctrl-C is a key, not a signal.
struct Interrupts(tokio::signal::unix::Signal);

impl Interrupts {
    fn new() -> anyhow::Result<Self> {
        Ok(Interrupts(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?))
    }

    /// Forgets a Ctrl-C that arrived between answers.
    fn clear(&mut self) {
        while futures_util::FutureExt::now_or_never(self.0.recv()).is_some() {}
    }
}

/// Prints the answer as it streams. With `interrupts`, Ctrl-C ends the answer
/// (dropping the stream cancels generation) instead of the program; the caller
/// clears stale ones when the turn starts.
async fn stream_answer(reply: &mut Reply, interrupts: Option<&mut Interrupts>) -> anyhow::Result<(String, Outcome)> {
    let stream: &mut (dyn futures_util::Stream<Item = pai_core::Result<ChatEvent>> + Unpin + Send) = match reply {
        Reply::Remembering(answer) => answer,
        Reply::Plain(events) => events,
    };
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    let ctrl_c = async {
        match interrupts {
            Some(i) => drop(i.0.recv().await),
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            event = stream.next() => match event {
                Some(Ok(ChatEvent::Delta(piece))) => {
                    print!("{piece}");
                    stdout.flush()?;
                    text.push_str(&piece);
                }
                Some(Ok(ChatEvent::Done(c))) => return Ok((text, Outcome::Done(c))),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok((text, Outcome::Stopped)),
            },
            _ = &mut ctrl_c => return Ok((text, Outcome::Stopped)),
        }
    }
}
