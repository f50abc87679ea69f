//! `pai transcribe`: a recording to text with times, on this machine.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pai_voice::{Options, Transcriber, Transcript, subtitles};

use crate::config::Config;

/// The longest recording transcribed (three hours): beyond it the file is
/// refused before it is decoded whole.
const LIMIT_SECONDS: f64 = 3.0 * 3600.0;

#[derive(clap::Args)]
pub struct TranscribeArgs {
    /// The recording: WAV, MP3, M4A/AAC, FLAC, Ogg Vorbis or Opus (Ogg, WebM).
    file: PathBuf,
    /// The language spoken (ko, en, …); detected when left out.
    #[arg(long, short)]
    language: Option<String>,
    /// text: the words; srt or vtt: subtitles; json: segments with times and the language.
    #[arg(long, short, value_enum, default_value = "text")]
    format: Format,
    /// Speech model file (whisper.cpp's ggml); default: the `speech_model` setting (whisper base).
    #[arg(long, short)]
    model: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Srt,
    Vtt,
    Json,
}

pub async fn run(config: &Config, args: TranscribeArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let extension = args.file.extension().and_then(|e| e.to_str()).map(str::to_lowercase);
    let model = config.model_path(args.model.as_deref().unwrap_or(&config.speech_model));
    let language = args.language.clone();
    let transcript = tokio::task::spawn_blocking(move || -> anyhow::Result<Transcript> {
        let audio = pai_voice::decode(bytes, extension.as_deref(), LIMIT_SECONDS)?;
        let transcriber = Transcriber::open(&model)?;
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}% ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message("transcribing");
        let shown = bar.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let transcript = transcriber.transcribe(
            &audio,
            &Options { language, ..Options::default() },
            move |p| shown.set_position(p.clamp(0, 100) as u64),
            cancel,
        );
        bar.finish_and_clear();
        Ok(transcript?)
    })
    .await??;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => writeln!(out, "{}", transcript.text())?,
        Format::Srt => write!(out, "{}", subtitles::srt(&transcript.segments))?,
        Format::Vtt => write!(out, "{}", subtitles::vtt(&transcript.segments))?,
        Format::Json => {
            let segments: Vec<_> = transcript
                .segments
                .iter()
                .map(|s| serde_json::json!({"start": s.start, "end": s.end, "text": s.text.trim()}))
                .collect();
            let json =
                serde_json::json!({"language": transcript.language, "text": transcript.text(), "segments": segments});
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?
        }
    }
    Ok(())
}
