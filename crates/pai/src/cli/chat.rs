//! `pai chat`: a terminal conversation with streaming answers.

use std::io::{IsTerminal, Read, Write};

use anyhow::bail;
use futures_util::StreamExt;
use pai_core::{ChatEvent, ChatModel, ChatRequest, Completion, FinishReason, Message, Sampling};

use crate::config::Config;

#[derive(clap::Args)]
pub struct ChatArgs {
    /// Chat model file (name in the models directory, or a path); default from settings.
    #[arg(long, short)]
    model: Option<String>,
    /// System prompt.
    #[arg(long, default_value = "You are pai, a helpful personal assistant. Answer briefly and truthfully.")]
    system: String,
    /// Sampling temperature; 0 is deterministic.
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// Longest answer in tokens.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Random seed, for reproducible answers.
    #[arg(long)]
    seed: Option<u64>,
}

const HELP: &str = "Type a message and press Enter. End a line with \\ to continue on the next line,
or wrap a block in \"\"\" lines. Ctrl-C stops an answer; Ctrl-D or /exit quits.
Commands: /reset (forget this conversation), /exit, /help";

pub async fn run(config: &Config, args: ChatArgs) -> anyhow::Result<()> {
    let sampling = Sampling {
        temperature: args.temperature,
        max_tokens: Some(args.max_tokens),
        seed: args.seed,
        ..Default::default()
    };
    let mut history = vec![Message::system(&args.system)];

    if !std::io::stdin().is_terminal() {
        // Scriptable: one prompt from stdin, the answer on stdout. The prompt is
        // read first so that a missing one fails before the model loads.
        let mut prompt = String::new();
        std::io::stdin().read_to_string(&mut prompt)?;
        if prompt.trim().is_empty() {
            bail!("no prompt on stdin: pipe one in, e.g. `echo 'hello' | pai chat`");
        }
        let model = super::chat_model(config, args.model.as_deref())?;
        history.push(Message::user(prompt.trim()));
        let (_, outcome) =
            stream_answer(model.as_ref(), ChatRequest { messages: history, sampling, constraint: None }, None).await?;
        println!();
        if let Outcome::Done(c) = outcome {
            tracing::info!(
                prompt_tokens = c.usage.prompt_tokens,
                completion_tokens = c.usage.completion_tokens,
                "done"
            );
        }
        return Ok(());
    }

    let model = super::chat_model(config, args.model.as_deref())?;
    println!("pai · {} · /help for commands", model.id());
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
                history.truncate(1);
                println!("(conversation cleared)");
                continue;
            }
            cmd if cmd.starts_with('/') && !cmd.contains(' ') => {
                println!("unknown command {cmd}; /help lists them");
                continue;
            }
            _ => {}
        }
        history.push(Message::user(input.trim()));
        let request = ChatRequest { messages: history.clone(), sampling: sampling.clone(), constraint: None };
        match stream_answer(model.as_ref(), request, Some(&mut interrupts)).await {
            Ok((text, outcome)) => {
                println!();
                match outcome {
                    Outcome::Done(c) if c.finish_reason == FinishReason::Length => {
                        println!("(answer cut at the length limit)")
                    }
                    Outcome::Stopped => println!("(stopped)"),
                    _ => {}
                }
                history.push(Message::assistant(text));
            }
            Err(e) => {
                history.pop();
                println!();
                eprintln!("pai: {e}");
            }
        }
    }
    Ok(())
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
/// (dropping the stream cancels generation) instead of the program.
async fn stream_answer(
    model: &dyn ChatModel,
    request: ChatRequest,
    mut interrupts: Option<&mut Interrupts>,
) -> anyhow::Result<(String, Outcome)> {
    let mut stream = model.chat(request);
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    if let Some(i) = interrupts.as_deref_mut() {
        i.clear();
    }
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
