//! Speech to text with whisper (whisper.cpp through whisper-rs), on the CPU.
//! whisper.cpp reads the whole recording in 30 s windows itself and gives
//! segments with their times; this module sets it up, reports progress and
//! stops it when asked.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use crate::audio::{Audio, RATE};

/// The default model: OpenAI Whisper base (MIT), installed by
/// scripts/fetch-models.sh from pinned PyPI packages and converted to
/// whisper.cpp's format by scripts/ct2_whisper_to_ggml.py.
pub const DEFAULT_SPEECH_MODEL: &str = "ggml-whisper-base.bin";

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("cannot load the speech model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("{0:?} is not a language whisper knows; use a code such as ko or en, or leave it out")]
    Language(String),
    #[error("transcription was stopped")]
    Cancelled,
    #[error("transcription failed: {0}")]
    Failed(String),
}

/// One stretch of speech and when it was said, in seconds from the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Transcript {
    /// The language spoken (given, or detected): `ko`, `en`, ….
    pub language: String,
    pub segments: Vec<Segment>,
}

impl Transcript {
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

pub struct Transcriber {
    context: WhisperContext,
}

impl Transcriber {
    pub fn open(path: &Path) -> Result<Self, TranscribeError> {
        whisper_rs::install_logging_hooks();
        let model_error = |reason: String| TranscribeError::Model { path: path.display().to_string(), reason };
        if !path.is_file() {
            return Err(model_error("no such file; run `make fetch-models`".into()));
        }
        let context = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| model_error(e.to_string()))?;
        Ok(Transcriber { context })
    }

    /// Transcribes `audio` in `language` (detected when `None`). `progress`
    /// gets the percentage done; setting `cancel` stops the work at the
    /// next step with `Cancelled`.
    pub fn transcribe(
        &self,
        audio: &Audio,
        language: Option<&str>,
        threads: usize,
        progress: impl FnMut(i32) + 'static,
        cancel: Arc<AtomicBool>,
    ) -> Result<Transcript, TranscribeError> {
        if let Some(l) = language
            && whisper_rs::get_lang_id(l).is_none()
        {
            return Err(TranscribeError::Language(l.to_string()));
        }
        let mut state = self.context.create_state().map_err(|e| TranscribeError::Failed(e.to_string()))?;
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(threads.max(1) as i32);
        params.set_language(Some(language.unwrap_or("auto")));
        params.set_translate(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_progress_callback_safe(progress);
        // Not `set_abort_callback_safe`: in whisper-rs 0.16.0 its trampoline
        // reads the boxed closure as the closure itself (type confusion), so
        // the flag read is garbage and a run stops at random. The flag is
        // passed as a plain pointer instead; `cancel` outlives `full`.
        unsafe {
            params.set_abort_callback(Some(aborted));
            params.set_abort_callback_user_data(Arc::as_ptr(&cancel) as *mut std::ffi::c_void);
        }
        let done = state.full(params, &audio.samples);
        if cancel.load(Ordering::Relaxed) {
            return Err(TranscribeError::Cancelled);
        }
        done.map_err(|e| TranscribeError::Failed(e.to_string()))?;
        let language = whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("unknown").to_string();
        let mut segments = Vec::new();
        for i in 0..state.full_n_segments() {
            let Some(segment) = state.get_segment(i) else { continue };
            let text = segment.to_str_lossy().map_err(|e| TranscribeError::Failed(e.to_string()))?.into_owned();
            // whisper's times are in hundredths of a second.
            let (start, end) = (segment.start_timestamp() as f64 / 100.0, segment.end_timestamp() as f64 / 100.0);
            let limit = audio.samples.len() as f64 / RATE as f64;
            segments.push(Segment { start: start.min(limit), end: end.min(limit), text });
        }
        Ok(Transcript { language, segments })
    }
}

/// whisper.cpp's abort check: `data` is the `AtomicBool` of the running call.
unsafe extern "C" fn aborted(data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `transcribe` passes a pointer to its `cancel` flag, which it holds until `full` returns.
    unsafe { (*(data as *const AtomicBool)).load(Ordering::Relaxed) }
}
