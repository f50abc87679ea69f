//! What a store refuses before it writes anything, the same for every backend.

use pai_core::reminders::NewReminder;
use pai_core::store::{ItemRef, MAX_TEXT_BYTES, MessageId, NewDocument, NewMemory};
use pai_core::{Error, Result};

/// The trimmed user name, when it and the zone are acceptable.
pub(crate) fn check_user<'a>(name: &'a str, timezone: &str) -> Result<&'a str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_field("name", "a user needs a name"));
    }
    if timezone.trim().is_empty() {
        return Err(Error::invalid_field("timezone", "a user needs a timezone (e.g. Asia/Seoul)"));
    }
    if name.len() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid_field("name", "a user name is at most 64 bytes, without control characters"));
    }
    Ok(name)
}

pub(crate) fn check_key_name(name: &str) -> Result<()> {
    if name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Error::invalid_field("name", "a key name is at most 200 bytes, without control characters"));
    }
    Ok(())
}

/// `what` for people, `field` for programs (the input as the APIs name it).
pub(crate) fn check_text(what: &str, field: &'static str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid_field(field, format!("{what} is empty")));
    }
    // PostgreSQL cannot store NUL and llama.cpp's prompts end at one: text
    // with one is refused before it is stored anywhere, on every backend.
    if text.contains('\0') {
        return Err(Error::invalid_field(field, format!("{what} contains a NUL character")));
    }
    if text.len() > pai_core::store::MAX_TEXT_BYTES {
        return Err(Error::invalid_field(
            field,
            format!("{what} is {} bytes; the limit is {}", text.len(), pai_core::store::MAX_TEXT_BYTES),
        ));
    }
    Ok(())
}

/// The assistant's own limits, counted the same way: a text it accepts is
/// never refused here, and a direct caller gets the same answer.
pub(crate) fn check_reminder(new: &NewReminder) -> Result<()> {
    use pai_core::reminders::{MAX_PHRASE_CHARS, MAX_REMINDER_CHARS};
    check_text("a reminder's text", "text", &new.text)?;
    if new.text.chars().count() > MAX_REMINDER_CHARS {
        return Err(Error::invalid_field(
            "text",
            format!("a reminder's text is at most {MAX_REMINDER_CHARS} characters"),
        ));
    }
    check_text("a reminder's time phrase", "when", &new.phrase)?;
    if new.phrase.chars().count() > MAX_PHRASE_CHARS {
        return Err(Error::invalid_field(
            "when",
            format!("a reminder's time phrase is at most {MAX_PHRASE_CHARS} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_title(title: &str) -> Result<()> {
    if title.len() > 500 || title.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "title",
            "a conversation title is at most 500 bytes, without control characters",
        ));
    }
    Ok(())
}

pub(crate) fn check_memory(memory: &NewMemory) -> Result<()> {
    check_text("a memory", "text", &memory.text)?;
    if !(0.0..=1.0).contains(&memory.importance) {
        return Err(Error::invalid_field("importance", format!("importance {} is outside 0..1", memory.importance)));
    }
    Ok(())
}

pub(crate) fn check_document(d: &NewDocument) -> Result<()> {
    if d.title.trim().is_empty() || d.title.len() > 1000 || d.source.trim().is_empty() || d.source.len() > 4096 {
        return Err(Error::invalid("a document needs a title (at most 1000 bytes) and a source (at most 4096)"));
    }
    if d.chunks.is_empty() {
        return Err(Error::invalid(format!("{}: no text to index", d.source)));
    }
    if [&d.title, &d.source].iter().any(|t| t.contains('\0')) || d.chunks.iter().any(|c| c.text.contains('\0')) {
        return Err(Error::invalid(format!("{}: a document's text may not contain NUL characters", d.source)));
    }
    if let Some(c) = d.chunks.iter().find(|c| c.text.trim().is_empty() || c.text.len() > MAX_TEXT_BYTES) {
        return Err(Error::invalid(format!(
            "{}: a chunk is empty or longer than {MAX_TEXT_BYTES} bytes ({:?}…)",
            d.source,
            c.text.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

/// A vector size both backends index: the SQLite index packs sign bits into
/// bytes (a multiple of 8), pgvector's HNSW takes at most 2,000 dimensions.
/// One rule for both, so a database can move between them.
pub(crate) fn check_dimension(dimension: usize) -> Result<()> {
    if dimension == 0 || dimension > 2000 || dimension % 8 != 0 {
        return Err(Error::invalid(format!(
            "vector dimension {dimension} is out of range (8..=2000, a multiple of 8)"
        )));
    }
    Ok(())
}

/// Every vector of `dimension` length and finite.
pub(crate) fn check_vectors(dimension: usize, vectors: &[(ItemRef, Vec<f32>)]) -> Result<()> {
    if let Some((item, v)) = vectors.iter().find(|(_, v)| v.len() != dimension) {
        return Err(Error::invalid(format!(
            "vector for {item:?} has {} dimensions; this store holds {dimension}",
            v.len()
        )));
    }
    if vectors.iter().any(|(_, v)| v.iter().any(|x| !x.is_finite())) {
        return Err(Error::invalid("a vector contains NaN or infinity"));
    }
    Ok(())
}

pub(crate) fn check_query_vector(dimension: usize, query: &[f32]) -> Result<()> {
    if query.len() != dimension {
        return Err(Error::invalid(format!(
            "query vector has {} dimensions; this store holds {dimension}",
            query.len()
        )));
    }
    Ok(())
}

/// The stored ids of one import job's messages, given by their positions
/// among the imported messages (`ids`, in order).
pub(crate) fn job_messages(ids: &[MessageId], positions: &[usize]) -> Result<Vec<MessageId>> {
    positions
        .iter()
        .map(|&i| ids.get(i).copied().ok_or_else(|| Error::invalid(format!("no message {i} to learn from"))))
        .collect()
}

/// An extraction job learns from at least one message.
pub(crate) fn check_job(messages: &[MessageId]) -> Result<()> {
    if messages.is_empty() {
        return Err(Error::invalid("an extraction job needs at least one message"));
    }
    Ok(())
}
