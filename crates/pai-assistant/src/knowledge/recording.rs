//! A recording (a call, a meeting, a voice memo) kept as a document: its
//! transcript cut into passages of whole segments, each headed by when it
//! was said ("00:01:05–00:01:40"), so an answer that cites a passage says
//! where in the recording to listen. The audio itself is not kept.

use chrono_tz::Tz;
use pai_core::store::{Document, DocumentChange, DocumentFormat, NewChunk, NewDocument, Store, UserId};
use pai_core::{Error, Result};
use pai_voice::{Options, Segment, Speech, SpeechError, Transcript};
use sha2::{Digest, Sha256};

use crate::suggestions::{ReminderSuggestion, reminder_suggestions};

/// A passage holds segments up to this many seconds…
const PASSAGE_SECONDS: f64 = 60.0;
/// …and this many tokens (as the other documents' passages).
const PASSAGE_TOKENS: usize = 200;

/// A recording transcribed and kept, with what was heard.
pub struct Kept {
    pub document: Document,
    pub change: DocumentChange,
    /// The language spoken (`ko`, `en`, …), detected.
    pub language: String,
    /// Seconds of audio.
    pub seconds: f64,
    /// Times said in it, to offer as reminders (none is scheduled).
    pub suggestions: Vec<ReminderSuggestion>,
}

/// Why a recording was not kept, by who can fix it.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// This file: not audio, silent, too long. The other files go on.
    #[error(transparent)]
    Refused(Error),
    /// The speech model: missing, or transcription failed.
    #[error(transparent)]
    Speech(SpeechError),
    #[error(transparent)]
    Store(Error),
}

/// Transcribes `bytes` (the recording called `name`) with `speech`, refusing
/// more than `limit_seconds`, stores the transcript as `source`, and reads
/// the reminders it suggests in the user's zone `tz`. Passages are left for
/// the caller to embed, as `store_bytes` leaves them.
#[allow(clippy::too_many_arguments)]
pub async fn transcribe_and_store(
    store: &dyn Store,
    speech: &Speech,
    user: UserId,
    tz: Tz,
    name: &str,
    source: &str,
    bytes: Vec<u8>,
    limit_seconds: f64,
) -> std::result::Result<Kept, KeepError> {
    let recorded =
        Recorded { name, source, content_hash: format!("{:x}", Sha256::digest(&bytes)), bytes: bytes.len() as u64 };
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let heard = match speech.transcribe(bytes, extension, Options::default(), limit_seconds).await {
        Ok(heard) => heard,
        Err(SpeechError::Audio(e)) => return Err(KeepError::Refused(Error::invalid(format!("{name}: {e}")))),
        Err(e) => return Err(KeepError::Speech(e)),
    };
    let (document, change) = match store_recording(store, user, recorded, &heard.transcript).await {
        Ok(stored) => stored,
        Err(e @ Error::Invalid { .. }) => return Err(KeepError::Refused(e)),
        Err(e) => return Err(KeepError::Store(e)),
    };
    let passages = store.document_chunks(user, document.id).await.map_err(KeepError::Store)?;
    let suggestions = reminder_suggestions(&passages, document.updated_at, tz);
    Ok(Kept { document, change, language: heard.transcript.language, seconds: heard.duration, suggestions })
}

/// Where an upload's recording came from, for the document.
pub struct Recorded<'a> {
    /// The upload's name ("call-2026-12-06.m4a").
    pub name: &'a str,
    /// Identifies it among the user's documents: the same source replaces.
    pub source: &'a str,
    /// SHA-256 of the file's bytes, hex.
    pub content_hash: String,
    pub bytes: u64,
}

/// Stores `transcript` as a document of timestamped passages. A recording
/// in which nobody spoke is refused: there is nothing to keep or cite.
pub async fn store_recording(
    store: &dyn Store,
    user: UserId,
    recorded: Recorded<'_>,
    transcript: &Transcript,
) -> Result<(Document, DocumentChange)> {
    let chunks = passages(&transcript.segments);
    if chunks.is_empty() {
        return Err(Error::invalid(format!("{}: no speech was heard in the recording", recorded.name)));
    }
    let document = NewDocument {
        title: recorded.name.to_string(),
        source: recorded.source.to_string(),
        format: DocumentFormat::Text,
        content_hash: recorded.content_hash,
        bytes: recorded.bytes,
        pages: None,
        chunks,
    };
    store.put_document(user, document).await
}

/// Consecutive segments grouped into passages, each headed by its time span;
/// offsets count characters in the passages' text joined by blank lines.
pub fn passages(segments: &[Segment]) -> Vec<NewChunk> {
    let spoken: Vec<&Segment> = segments.iter().filter(|s| !s.text.trim().is_empty()).collect();
    let mut out: Vec<NewChunk> = Vec::new();
    let mut offset = 0u64;
    let mut i = 0;
    while i < spoken.len() {
        let first = spoken[i];
        let mut text = first.text.trim().to_string();
        let mut last = first;
        i += 1;
        while i < spoken.len() {
            let next = spoken[i];
            let longer = format!("{text} {}", next.text.trim());
            if next.end - first.start > PASSAGE_SECONDS || super::tokens(&longer) > PASSAGE_TOKENS {
                break;
            }
            text = longer;
            last = next;
            i += 1;
        }
        if !out.is_empty() {
            offset += 2; // the blank line between passages
        }
        let length = text.chars().count() as u64;
        out.push(NewChunk {
            heading: Some(format!("{}–{}", clock(first.start), clock(last.end))),
            page: None,
            start: offset,
            end: offset + length,
            text,
        });
        offset += length;
    }
    out
}

/// `hh:mm:ss`, as players show a position.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start: f64, end: f64, text: &str) -> Segment {
        Segment { start, end, text: text.into(), tokens: Vec::new(), avg_logprob: -0.2, no_speech_prob: 0.0 }
    }

    #[test]
    fn passages_keep_whole_segments_under_a_minute_with_their_times() {
        let segments: Vec<Segment> = (0..10)
            .map(|i| segment(i as f64 * 15.0, i as f64 * 15.0 + 14.0, &format!(" Sentence number {i}.")))
            .chain([segment(150.0, 151.0, "  ")])
            .collect();
        let p = passages(&segments);
        // 15 s apart: four segments (0–59 s) fit in a minute, the fifth starts the next passage.
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(p[0].heading.as_deref(), Some("00:00:00–00:00:59"));
        assert_eq!(p[0].text, "Sentence number 0. Sentence number 1. Sentence number 2. Sentence number 3.");
        assert_eq!(p[1].heading.as_deref(), Some("00:01:00–00:01:59"));
        assert_eq!(p[2].heading.as_deref(), Some("00:02:00–00:02:29"));
        assert!(p[2].text.ends_with("number 9."), "{}", p[2].text);
        // Offsets point into the joined text.
        let joined = p.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("\n\n");
        for c in &p {
            let slice: String = joined.chars().skip(c.start as usize).take((c.end - c.start) as usize).collect();
            assert_eq!(slice, c.text);
        }
    }

    #[test]
    fn a_passage_stops_at_its_token_budget() {
        let long = "word ".repeat(120);
        let p = passages(&[segment(0.0, 5.0, &long), segment(5.0, 10.0, &long)]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[1].heading.as_deref(), Some("00:00:05–00:00:10"));
    }

    #[test]
    fn silence_gives_no_passages() {
        assert!(passages(&[segment(0.0, 30.0, " "), segment(30.0, 31.0, "")]).is_empty());
    }
}
