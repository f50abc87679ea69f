//! Reminders a document suggests: each sentence with a time in it ("내일
//! 3시에 보자", "let's meet Friday at 10") offered with the time read, for
//! the user to confirm. Nothing is scheduled here; confirming is creating the
//! reminder (`POST /api/reminders` with the suggestion's `text` and `when`).
//! Times are read against when the document was stored: "tomorrow" in a
//! recording means the day after it was made, not after it was read.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use pai_core::Result;
use pai_core::reminder_times::{Schedule, WhenError, find_in};
use pai_core::reminders::ReminderState;
use pai_core::store::{Chunk, Store, UserId};
use serde::Serialize;

/// A reminder to offer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReminderSuggestion {
    /// The passage it was found in (its position, from 0) and its heading:
    /// for a recording, when it was said.
    pub passage: u32,
    pub heading: Option<String>,
    /// The sentence: what to be reminded of.
    pub text: String,
    /// The time words as said ("내일 3시").
    pub phrase: String,
    /// What to schedule, as `POST /api/reminders` reads it: the instant
    /// (RFC 3339) for a one-off, the phrase for a repeating one. Null when
    /// the phrase is ambiguous: ask `question` first.
    pub when: Option<String>,
    /// When it would first fire.
    pub at: Option<DateTime<Utc>>,
    /// Set when the time is ambiguous ("3시": 오전 or 오후?): ask the user.
    pub question: Option<String>,
    /// A reminder of this sentence exists already (scheduled or done, not
    /// cancelled): the user confirmed it before; offering it again would
    /// make a second one.
    pub confirmed: bool,
}

/// The suggestions of a document's `passages` (see `reminder_suggestions`),
/// each marked `confirmed` when the user has a reminder of its sentence.
pub async fn document_suggestions(
    store: &dyn Store,
    user: UserId,
    passages: &[Chunk],
    stored_at: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<ReminderSuggestion>> {
    let mut suggestions = reminder_suggestions(passages, stored_at, tz);
    if !suggestions.is_empty() {
        let reminders = store.reminders(user).await?;
        for s in &mut suggestions {
            s.confirmed = reminders.iter().any(|r| r.state != ReminderState::Cancelled && r.text.trim() == s.text);
        }
    }
    Ok(suggestions)
}

/// Suggestions from `passages`, in order; a time already past when the
/// document was stored, or impossible, suggests nothing.
pub fn reminder_suggestions(passages: &[Chunk], stored_at: DateTime<Utc>, tz: Tz) -> Vec<ReminderSuggestion> {
    let mut out = Vec::new();
    for passage in passages {
        for sentence in crate::sentences::split(&passage.text) {
            // A past or impossible time ("we met on March 3, 2020 at 9am") is found as such.
            let Some(found) = find_in(sentence, stored_at, tz) else { continue };
            let (when, at, question) = match found.schedule {
                Ok(Schedule::Once { at }) => (Some(at.to_rfc3339_opts(SecondsFormat::Secs, true)), Some(at), None),
                Ok(recurring @ Schedule::Recurring { .. }) => {
                    (Some(found.phrase.clone()), Some(recurring.first()), None)
                }
                Err(WhenError::Unclear(question)) => (None, None, Some(question)),
                Err(WhenError::Invalid(_)) => continue,
            };
            out.push(ReminderSuggestion {
                passage: passage.ordinal,
                heading: passage.heading.clone(),
                text: sentence.to_string(),
                phrase: found.phrase,
                when,
                at,
                question,
                confirmed: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn passage(ordinal: u32, heading: &str, text: &str) -> Chunk {
        crate::knowledge::passage_fixture(ordinal, Some(heading), text)
    }

    #[test]
    fn time_phrases_in_korean_and_english_become_suggestions_with_the_sentence() {
        let seoul: Tz = "Asia/Seoul".parse().unwrap();
        // Thursday 2026-12-03, 10:00 in Seoul.
        let stored = seoul.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap().with_timezone(&Utc);
        let passages = [
            passage(0, "00:00:00–00:00:40", "Thanks for calling. Let's meet Friday at 10am at the cafe. Bye!"),
            passage(1, "00:00:40–00:01:10", "내일 오후 3시에 치과 예약이 있어요. 그리고 3시에 보자."),
            passage(2, "00:01:10–00:01:30", "We talked about the budget. Remind me every Monday at 8am to send it."),
        ];
        let s = reminder_suggestions(&passages, stored, seoul);
        let friday = &s[0];
        assert_eq!((friday.passage, friday.heading.as_deref()), (0, Some("00:00:00–00:00:40")));
        assert_eq!(friday.text, "Let's meet Friday at 10am at the cafe.");
        assert_eq!(friday.when.as_deref(), Some("2026-12-04T01:00:00Z"), "{friday:?}");
        let dentist = &s[1];
        assert_eq!(dentist.text, "내일 오후 3시에 치과 예약이 있어요.");
        assert_eq!(dentist.at, Some(seoul.with_ymd_and_hms(2026, 12, 4, 15, 0, 0).unwrap().with_timezone(&Utc)));
        // "3시" alone could be 3 am or 3 pm: offered with the question, not a guess.
        let unclear = &s[2];
        assert_eq!((unclear.text.as_str(), unclear.when.as_ref()), ("그리고 3시에 보자.", None));
        assert!(unclear.question.as_deref().is_some_and(|q| q.contains("오후")), "{unclear:?}");
        let weekly = &s[3];
        assert_eq!(weekly.passage, 2);
        assert!(weekly.when.as_deref().is_some_and(|w| w.contains("Monday")), "{weekly:?}");
        assert_eq!(s.len(), 4, "{s:?}");
    }

    #[test]
    fn sentences_without_a_time_or_with_a_past_one_suggest_nothing() {
        let utc: Tz = "UTC".parse().unwrap();
        let stored = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let passages = [passage(0, "00:00:00–00:00:10", "I like green tea. We met on March 3, 2020 at 9am.")];
        assert_eq!(reminder_suggestions(&passages, stored, utc), Vec::new());
    }
}
