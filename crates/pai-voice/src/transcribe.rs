//! Speech to text with whisper (whisper.cpp, built against llama.cpp's ggml
//! by pai-whisper-sys), on the CPU. whisper.cpp reads the whole recording
//! in 30 s windows itself and gives segments with their times; this module
//! sets it up, reports progress and stops it when asked.

use std::ffi::{CStr, CString, c_int, c_void};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pai_whisper_sys as sys;

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
    #[error("transcription failed (whisper.cpp error {0})")]
    Failed(i32),
}

/// One stretch of speech and when it was said, in seconds from the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// The model's text tokens for it (what OpenAI's verbose output lists).
    pub tokens: Vec<i32>,
    /// The mean log probability of those tokens: low means the model guessed.
    pub avg_logprob: f64,
    /// How sure the model was that nobody spoke in this window.
    pub no_speech_prob: f64,
}

#[derive(Debug, Clone)]
pub struct Transcript {
    /// The language spoken (given, or detected): `ko`, `en`, ….
    pub language: String,
    /// Its English name, lower case (`korean`), as OpenAI's verbose output gives it.
    pub language_name: String,
    pub segments: Vec<Segment>,
}

impl Transcript {
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// How to transcribe: what the caller knows about the recording.
#[derive(Debug, Clone)]
pub struct Options {
    /// The language spoken (`ko`, `en`, …); detected when `None`.
    pub language: Option<String>,
    /// Text the recording follows on from: names and spellings to expect.
    pub prompt: Option<String>,
    /// 0 decodes greedily; whisper.cpp raises it by itself where decoding fails.
    pub temperature: f32,
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            language: None,
            prompt: None,
            temperature: 0.0,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Whether a segment is whisper's note about the sound rather than words
/// ("[BLANK_AUDIO]", "(music)", "♪"): such notes are not what anyone said.
fn is_sound_note(text: &str) -> bool {
    let t = text.trim();
    let enclosed = |open: char, close: char| t.starts_with(open) && t.ends_with(close) && t[1..].find(open).is_none();
    t.is_empty() || enclosed('[', ']') || enclosed('(', ')') || t.chars().all(|c| c == '♪' || c.is_whitespace())
}

/// A loaded model. whisper.cpp's context is read-only once loaded and each
/// transcription has a state of its own, so one model serves many threads.
pub struct Transcriber {
    context: *mut sys::WhisperContext,
}

// SAFETY: the context is only read after loading; per-call data lives in a state (whisper.h).
unsafe impl Send for Transcriber {}
unsafe impl Sync for Transcriber {}

impl Drop for Transcriber {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, freed once.
        unsafe { sys::whisper_free(self.context) }
    }
}

/// A transcription's working state, freed however the call ends.
struct State(*mut sys::WhisperState);

impl Drop for State {
    fn drop(&mut self) {
        // SAFETY: made by whisper_init_state, freed once.
        unsafe { sys::whisper_free_state(self.0) }
    }
}

impl Transcriber {
    pub fn open(path: &Path) -> Result<Self, TranscribeError> {
        let model_error =
            |reason: &str| TranscribeError::Model { path: path.display().to_string(), reason: reason.into() };
        if !path.is_file() {
            return Err(model_error("no such file; run `make fetch-models`"));
        }
        let c_path = CString::new(path.to_string_lossy().as_bytes()).map_err(|_| model_error("a NUL in the path"))?;
        // SAFETY: a valid C string; a null context means the file was refused.
        let context = unsafe {
            sys::pai_whisper_logs_to(log_line);
            sys::pai_whisper_open(c_path.as_ptr())
        };
        if context.is_null() {
            return Err(model_error("not a whisper.cpp model (ggml)"));
        }
        Ok(Transcriber { context })
    }

    /// Transcribes `audio`. `progress` gets the percentage done; setting
    /// `cancel` stops the work at the next step with `Cancelled`.
    pub fn transcribe(
        &self,
        audio: &Audio,
        options: &Options,
        mut progress: impl FnMut(i32),
        cancel: Arc<AtomicBool>,
    ) -> Result<Transcript, TranscribeError> {
        let asked = options.language.as_deref().map(str::trim).filter(|l| !l.is_empty());
        let language = CString::new(asked.unwrap_or("auto"))
            .map_err(|_| TranscribeError::Language(asked.unwrap_or_default().to_string()))?;
        // SAFETY: a valid C string.
        if language.as_bytes() != b"auto" && unsafe { sys::whisper_lang_id(language.as_ptr()) } < 0 {
            return Err(TranscribeError::Language(language.to_string_lossy().into_owned()));
        }
        // A prompt cannot hold a NUL; the rest of it still steers.
        let prompt = options
            .prompt
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(|p| CString::new(p.replace('\0', " ")).expect("NULs were replaced"));
        // SAFETY: the context is loaded; the state is freed by `State`.
        let state = State(unsafe { sys::whisper_init_state(self.context) });
        if state.0.is_null() {
            return Err(TranscribeError::Failed(-1));
        }
        let samples = audio.samples.len().min(c_int::MAX as usize) as c_int;
        // SAFETY: every pointer outlives the call: the flag (held by `cancel`), the
        // progress closure (on this stack), the samples, the language and the prompt.
        let code = unsafe {
            sys::pai_whisper_run(
                self.context,
                state.0,
                language.as_ptr(),
                prompt.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                options.temperature,
                options.threads.max(1) as c_int,
                Arc::as_ptr(&cancel) as *mut c_void,
                Some(on_progress::<&mut dyn FnMut(i32)>),
                &mut (&mut progress as &mut dyn FnMut(i32)) as *mut &mut dyn FnMut(i32) as *mut c_void,
                audio.samples.as_ptr(),
                samples,
            )
        };
        if cancel.load(Ordering::Relaxed) {
            return Err(TranscribeError::Cancelled);
        }
        if code != 0 {
            return Err(TranscribeError::Failed(code));
        }
        let limit = audio.samples.len() as f64 / RATE as f64;
        // SAFETY: the state holds a finished transcription; the strings it returns live as long as it.
        unsafe {
            let id = sys::whisper_full_lang_id_from_state(state.0);
            let spoken = CStr::from_ptr(sys::whisper_lang_str(id)).to_string_lossy().into_owned();
            let name = CStr::from_ptr(sys::whisper_lang_str_full(id)).to_string_lossy().into_owned();
            let text_tokens = sys::whisper_token_eot(self.context);
            let mut segments = Vec::new();
            for i in 0..sys::whisper_full_n_segments_from_state(state.0) {
                let text = CStr::from_ptr(sys::whisper_full_get_segment_text_from_state(state.0, i));
                let text = text.to_string_lossy().into_owned();
                if is_sound_note(&text) {
                    continue;
                }
                // whisper's times are in hundredths of a second.
                let start = sys::whisper_full_get_segment_t0_from_state(state.0, i) as f64 / 100.0;
                let end = sys::whisper_full_get_segment_t1_from_state(state.0, i) as f64 / 100.0;
                let (mut tokens, mut logprob) = (Vec::new(), 0.0);
                for t in 0..sys::whisper_full_n_tokens_from_state(state.0, i) {
                    let token = sys::whisper_full_get_token_id_from_state(state.0, i, t);
                    if token < text_tokens {
                        tokens.push(token);
                        logprob += (sys::whisper_full_get_token_p_from_state(state.0, i, t) as f64).max(1e-10).ln();
                    }
                }
                segments.push(Segment {
                    start: start.min(limit),
                    end: end.min(limit),
                    text,
                    avg_logprob: if tokens.is_empty() { 0.0 } else { logprob / tokens.len() as f64 },
                    tokens,
                    no_speech_prob: sys::whisper_full_get_segment_no_speech_prob_from_state(state.0, i) as f64,
                });
            }
            Ok(Transcript { language: spoken, language_name: name, segments })
        }
    }
}

/// whisper.cpp's progress call: `data` is the `&mut dyn FnMut(i32)` of the running call.
unsafe extern "C" fn on_progress<F: FnMut(i32)>(percent: c_int, data: *mut c_void) {
    // SAFETY: `transcribe` passes a pointer to its progress closure, alive until the call returns.
    let call = unsafe { &mut *(data as *mut F) };
    call(percent);
}

/// whisper.cpp's and ggml's warnings and errors, as tracing events.
unsafe extern "C" fn log_line(level: c_int, text: *const std::ffi::c_char) {
    // SAFETY: ggml passes a NUL-terminated line, valid during the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    match level {
        4 => tracing::error!(target: "whisper", "{}", text.trim_end()),
        _ => tracing::warn!(target: "whisper", "{}", text.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::is_sound_note;

    #[test]
    fn notes_about_the_sound_are_not_speech() {
        for note in ["[BLANK_AUDIO]", " (music) ", "♪ ♪", "", "[ Silence ]"] {
            assert!(is_sound_note(note), "{note:?}");
        }
        for speech in ["Hello (again) there.", "[Laughs] that was good [laughs]", "내일 3시에 보자", "(a) and (b)"]
        {
            assert!(!is_sound_note(speech), "{speech:?}");
        }
    }
}
