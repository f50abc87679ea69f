//! Speech: audio in any common container decoded to what speech models
//! read (16 kHz mono f32), and (next) transcribed.

pub mod audio;
mod resample;

pub use audio::{Audio, AudioError, decode};
