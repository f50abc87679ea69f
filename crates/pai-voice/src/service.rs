//! A speech model shared by a server's requests. It is loaded at the first
//! transcription (a server without the model still starts, and says how to
//! get it when asked), transcribes one recording at a time (one takes every
//! core), and stops a transcription whose caller went away.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OnceCell, Semaphore};

use crate::audio::{self, Audio, AudioError};
use crate::transcribe::{Options, TranscribeError, Transcriber, Transcript};

/// Why a recording was not transcribed, by what the caller should do.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// The upload: not audio, damaged, too long, an unknown language.
    #[error("{0}")]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Language(TranscribeError),
    /// This server's setup: the model is missing or unreadable.
    #[error(transparent)]
    Model(TranscribeError),
    #[error(transparent)]
    Failed(TranscribeError),
}

impl From<TranscribeError> for SpeechError {
    fn from(e: TranscribeError) -> Self {
        match e {
            TranscribeError::Language(_) => SpeechError::Language(e),
            TranscribeError::Model { .. } => SpeechError::Model(e),
            TranscribeError::Cancelled | TranscribeError::Failed(_) => SpeechError::Failed(e),
        }
    }
}

/// A finished transcription with the length of what was heard.
pub struct Heard {
    pub transcript: Transcript,
    /// Seconds of audio.
    pub duration: f64,
}

pub struct Speech {
    path: PathBuf,
    threads: usize,
    model: OnceCell<Arc<Transcriber>>,
    /// Transcriptions running at once.
    slots: Arc<Semaphore>,
}

impl Speech {
    /// `threads` per transcription, `slots` transcriptions at once.
    pub fn new(path: PathBuf, threads: usize, slots: usize) -> Self {
        Speech { path, threads: threads.max(1), model: OnceCell::new(), slots: Arc::new(Semaphore::new(slots.max(1))) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name clients see: the file's, less `ggml-` and the extension
    /// (`whisper-base`).
    pub fn id(&self) -> String {
        let stem = self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        stem.strip_prefix("ggml-").map(str::to_string).unwrap_or(stem)
    }

    /// Slots free now: 0 while every one is transcribing.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    pub fn installed(&self) -> bool {
        self.path.is_file()
    }

    /// Decodes and transcribes a recording (`extension` from its file name
    /// helps the decoder guess). Refuses one longer than `limit_seconds`
    /// before it decodes the whole of it. Dropping the returned future stops
    /// the work at whisper's next step and frees its slot.
    pub async fn transcribe(
        &self,
        bytes: Vec<u8>,
        extension: Option<String>,
        options: Options,
        limit_seconds: f64,
    ) -> Result<Heard, SpeechError> {
        self.transcribe_with_progress(bytes, extension, options, limit_seconds, Arc::new(|_| {})).await
    }

    /// `transcribe`, telling `progress` how far whisper has got (0–100) as
    /// it goes: for a bar over an hour-long recording.
    pub async fn transcribe_with_progress(
        &self,
        bytes: Vec<u8>,
        extension: Option<String>,
        options: Options,
        limit_seconds: f64,
        progress: Progress,
    ) -> Result<Heard, SpeechError> {
        let model = self.model().await?;
        let permit = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        let cancel = Arc::new(AtomicBool::new(false));
        let _stop = StopOnDrop(cancel.clone());
        let options = Options { threads: self.threads, ..options };
        let work = tokio::task::spawn_blocking(move || -> Result<Heard, SpeechError> {
            // The slot is held until the work really ends, cancelled or not.
            let _permit = permit;
            let audio: Audio = audio::decode(bytes, extension.as_deref(), limit_seconds)?;
            let transcript = model.transcribe(&audio, &options, |p| progress(p), cancel)?;
            Ok(Heard { transcript, duration: audio.seconds() })
        });
        work.await.map_err(|_| SpeechError::Failed(TranscribeError::Failed(-1)))?
    }

    /// The loaded model; loading is tried again at the next call after a
    /// failure, so fetching the model fixes a running server.
    async fn model(&self) -> Result<Arc<Transcriber>, SpeechError> {
        let path = self.path.clone();
        let model = self
            .model
            .get_or_try_init(|| async move {
                let opened = tokio::task::spawn_blocking(move || Transcriber::open(&path)).await;
                opened.map_err(|_| TranscribeError::Failed(-1))?.map(Arc::new)
            })
            .await?;
        Ok(model.clone())
    }
}

/// Told how far a transcription has got, in percent.
pub type Progress = Arc<dyn Fn(i32) + Send + Sync>;

/// Sets the flag when dropped: when the request that awaits the work is
/// dropped (its client hung up), whisper stops.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
