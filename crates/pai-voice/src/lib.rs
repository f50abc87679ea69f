//! Speech: audio in any common container decoded to what speech models
//! read (16 kHz mono f32), and transcribed with timestamps.

pub mod audio;
mod resample;
pub mod service;
pub mod subtitles;
pub mod transcribe;

pub use audio::{Audio, AudioError, decode};
pub use service::{Heard, Progress, Speech, SpeechError};
pub use transcribe::{DEFAULT_SPEECH_MODEL, Options, Segment, TranscribeError, Transcriber, Transcript};
