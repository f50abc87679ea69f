//! Speech: audio in any common container decoded to what speech models
//! read (16 kHz mono f32), and transcribed with timestamps.

pub mod audio;
mod resample;
pub mod transcribe;

pub use audio::{Audio, AudioError, decode};
pub use transcribe::{DEFAULT_SPEECH_MODEL, Segment, TranscribeError, Transcriber, Transcript};
