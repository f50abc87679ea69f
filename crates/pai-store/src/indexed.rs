//! What each kind of item is indexed as for full text: the same on both
//! backends and in `pai migrate`, which rebuilds PostgreSQL's terms from
//! SQLite's rows.

use pai_core::analyzer::index_text;

/// A memory with its subject, so that a new fact about the same subject
/// ("home city") finds the old one even when they share no other word.
pub(crate) fn memory_terms(subject: Option<&str>, text: &str) -> String {
    match subject {
        Some(s) => index_text(&format!("{s} {text}")),
        None => index_text(text),
    }
}

/// A passage with its heading: "what does the lease say about pets?"
pub(crate) fn chunk_terms(heading: Option<&str>, text: &str) -> String {
    match heading {
        Some(h) => format!("{} {}", index_text(h), index_text(text)),
        None => index_text(text),
    }
}
