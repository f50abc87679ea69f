//! A recording (a call, a meeting, a voice memo) kept as a document: its
//! transcript cut into passages of whole segments, each headed by when it
//! was said ("00:01:05–00:01:40"), so an answer that cites a passage says
//! where in the recording to listen. The audio itself is not kept.
//!
//! Asked to (`learn`: a voice memo, a diary, where the owner is the one
//! speaking), what was said is also kept as a conversation of the owner's
//! words titled "Recording: NAME", queued for memory extraction like an
//! import, so a memory's sources show it came from the recording (the
//! message's external id names the document and passage). Not by default:
//! with no way to tell voices apart, a call's other side would be learned as
//! the owner's own words. That conversation belongs to the document: replaced
//! when the recording is, deleted with it (`forget_learned`); memories
//! learned from it stay, like an import's.

use chrono_tz::Tz;
use pai_core::store::{
    Chunk, ConversationId, Document, DocumentChange, DocumentFormat, DocumentId, NewChunk, NewDocument, NewMessage,
    Store, UserId,
};
use pai_core::{Error, Result, Role};
use pai_voice::{Options, Progress, Segment, Speech, SpeechError, Transcript};
use sha2::{Digest, Sha256};

use super::summary::{Summary, summarise};
use crate::suggestions::{ReminderSuggestion, document_suggestions};

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
    /// What it is about, in its own sentences.
    pub summary: Summary,
    /// When asked to learn from it: the conversation queued for extraction.
    pub learned: Option<Learned>,
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

/// A recording to keep, as the caller received it.
pub struct Upload<'a> {
    /// The file's name ("call-2026-12-06.m4a").
    pub name: &'a str,
    /// Identifies it among the user's documents: the same source replaces.
    pub source: &'a str,
    pub bytes: Vec<u8>,
    /// Longer recordings are refused while decoding.
    pub limit_seconds: f64,
    /// Also learn from what was said (`learn_from`).
    pub learn: bool,
    /// Told how far transcription has got (percent), for a progress bar.
    pub progress: Option<Progress>,
}

/// Transcribes the upload with `speech`, stores the transcript, reads the
/// reminders it suggests in the user's zone `tz` and sums it up; a replaced
/// recording's learned conversation goes, and a new one is queued when asked
/// to learn. Passages and messages are left for the caller to embed, as
/// `store_bytes` leaves them, and the extractor for the caller to wake.
pub async fn transcribe_and_store(
    store: &dyn Store,
    speech: &Speech,
    user: UserId,
    tz: Tz,
    upload: Upload<'_>,
) -> std::result::Result<Kept, KeepError> {
    let Upload { name, source, bytes, limit_seconds, learn, progress } = upload;
    let recorded =
        Recorded { name, source, content_hash: format!("{:x}", Sha256::digest(&bytes)), bytes: bytes.len() as u64 };
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let progress = progress.unwrap_or_else(|| std::sync::Arc::new(|_| {}));
    let heard =
        match speech.transcribe_with_progress(bytes, extension, Options::default(), limit_seconds, progress).await {
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
    if change == DocumentChange::Replaced {
        // What was learned from the old words is not what this recording says.
        forget_learned(store, user, document.id).await.map_err(KeepError::Store)?;
    }
    let learned = match learn {
        true => Some(learn_from(store, user, &document, &passages).await.map_err(KeepError::Store)?),
        false => None,
    };
    let suggestions =
        document_suggestions(store, user, &passages, document.updated_at, tz).await.map_err(KeepError::Store)?;
    Ok(Kept {
        suggestions,
        summary: summarise(&passages),
        document,
        change,
        language: heard.transcript.language,
        seconds: heard.duration,
        learned,
    })
}

/// What learning from a recording queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Learned {
    /// The conversation of what was said ("Recording: NAME").
    pub conversation: ConversationId,
    /// Its messages: one per passage.
    pub messages: usize,
    /// Extraction jobs queued; none when this recording was learned from before.
    pub jobs: usize,
}

/// The external id of a recording's passage kept as a message: the
/// document's, so the conversation is found again when the document is
/// replaced or deleted.
fn passage_id(document: DocumentId, ordinal: u32) -> String {
    format!("recording:{document}:{ordinal}")
}

/// The recording and passage a message learned from a recording was said
/// in, from its external id: how a memory's source says where it came from.
pub fn said_in(external_id: &str) -> Option<(DocumentId, u32)> {
    let (document, passage) = external_id.strip_prefix("recording:")?.split_once(':')?;
    Some((DocumentId(document.parse().ok()?), passage.parse().ok()?))
}

/// Keeps what was said in the recording `document` (its `passages`) as the
/// owner's words and queues memory extraction over them, unless done before.
/// The caller wakes the extractor and embeds the new messages.
pub async fn learn_from(store: &dyn Store, user: UserId, document: &Document, passages: &[Chunk]) -> Result<Learned> {
    if let Some(first) = store.message_by_external_id(user, &passage_id(document.id, 0)).await? {
        let messages = store.messages(user, first.conversation).await?.len();
        return Ok(Learned { conversation: first.conversation, messages, jobs: 0 });
    }
    let messages: Vec<NewMessage> = passages
        .iter()
        .map(|p| NewMessage {
            role: Role::User,
            speaker: None,
            content: p.text.clone(),
            // In the order said, a second apart: when the recording was kept.
            created_at: document.updated_at + chrono::Duration::seconds(p.ordinal as i64),
            external_id: Some(passage_id(document.id, p.ordinal)),
        })
        .collect();
    let jobs: Vec<Vec<usize>> = (0..messages.len())
        .collect::<Vec<_>>()
        .chunks(crate::import::MESSAGES_PER_JOB)
        .map(<[usize]>::to_vec)
        .collect();
    let title = format!("Recording: {}", document.title);
    let (conversation, stored) = store.import_conversation(user, &title, messages, &jobs).await?;
    Ok(Learned { conversation: conversation.id, messages: stored.len(), jobs: jobs.len() })
}

/// Deletes the conversation learned from the recording `document`, if there
/// is one: its words go with the recording (the memories stay, as an
/// import's do when its conversation is deleted).
pub async fn forget_learned(store: &dyn Store, user: UserId, document: DocumentId) -> Result<bool> {
    match store.message_by_external_id(user, &passage_id(document, 0)).await? {
        Some(first) => store.delete_conversation(user, first.conversation).await.map(|()| true),
        None => Ok(false),
    }
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
    fn a_passage_kept_as_a_message_says_which_recording_and_passage() {
        assert_eq!(said_in(&passage_id(DocumentId(12), 3)), Some((DocumentId(12), 3)));
        assert_eq!(said_in("kakao:12:3"), None);
        assert_eq!(said_in("recording:x:3"), None);
    }

    #[test]
    fn silence_gives_no_passages() {
        assert!(passages(&[segment(0.0, 30.0, " "), segment(30.0, 31.0, "")]).is_empty());
    }
}
