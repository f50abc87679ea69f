//! `pai transcribe`: a recording to text with times, on this machine.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pai_voice::{DEFAULT_SPEECH_MODEL, Segment, Transcriber, Transcript};

use crate::config::Config;

/// The longest recording transcribed (three hours): beyond it the file is
/// refused before it is decoded whole.
const LIMIT_SECONDS: f64 = 3.0 * 3600.0;

#[derive(clap::Args)]
pub struct TranscribeArgs {
    /// The recording: WAV, MP3, M4A/AAC, FLAC or Ogg Vorbis.
    file: PathBuf,
    /// The language spoken (ko, en, …); detected when left out.
    #[arg(long, short)]
    language: Option<String>,
    /// text: the words; srt or vtt: subtitles; json: segments with times and the language.
    #[arg(long, short, value_enum, default_value = "text")]
    format: Format,
    /// Speech model file (whisper.cpp's ggml); default: the installed whisper base.
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
    let model = config.model_path(args.model.as_deref().unwrap_or(DEFAULT_SPEECH_MODEL));
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
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let cancel = Arc::new(AtomicBool::new(false));
        let transcript = transcriber.transcribe(
            &audio,
            language.as_deref(),
            threads,
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
        Format::Srt => write!(out, "{}", subtitles(&transcript.segments, Subtitles::Srt))?,
        Format::Vtt => write!(out, "{}", subtitles(&transcript.segments, Subtitles::Vtt))?,
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

#[derive(Clone, Copy, PartialEq)]
enum Subtitles {
    Srt,
    Vtt,
}

/// SubRip (numbered cues, `00:00:01,500`) or WebVTT (a header, `00:00:01.500`).
fn subtitles(segments: &[Segment], kind: Subtitles) -> String {
    let mark = if kind == Subtitles::Srt { ',' } else { '.' };
    let time = |s: f64| {
        let ms = (s * 1000.0).round() as u64;
        format!("{:02}:{:02}:{:02}{mark}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
    };
    let mut out = if kind == Subtitles::Vtt { String::from("WEBVTT\n\n") } else { String::new() };
    for (i, s) in segments.iter().filter(|s| !s.text.trim().is_empty()).enumerate() {
        if kind == Subtitles::Srt {
            out.push_str(&format!("{}\n", i + 1));
        }
        out.push_str(&format!("{} --> {}\n{}\n\n", time(s.start), time(s.end), s.text.trim()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtitles_number_srt_cues_and_head_vtt() {
        let segments = vec![
            Segment { start: 0.0, end: 1.5, text: " Hello.".into() },
            Segment { start: 3661.25, end: 3662.0, text: " Bye.".into() },
        ];
        assert_eq!(
            subtitles(&segments, Subtitles::Srt),
            "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n01:01:01,250 --> 01:01:02,000\nBye.\n\n"
        );
        assert!(subtitles(&segments, Subtitles::Vtt).starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello."));
    }
}
