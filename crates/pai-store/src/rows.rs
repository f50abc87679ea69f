//! Reading a result row into pai's types, once for both backends. The SQL
//! differs between SQLite and PostgreSQL; the columns they return do not, so
//! each `*_from_row` here serves both through `Get`.

use chrono::{DateTime, NaiveDateTime, Utc};
use pai_core::accounts::{ApiKey, KeyId};
use pai_core::reminders::{Notification, Reminder, ReminderState};
use pai_core::store::{
    Chunk, ChunkId, ConversationId, Document, DocumentFormat, DocumentId, ExtractionJob, ImportId, ImportRecord,
    ImportState, JobId, JobState, Memory, MemoryId, MemoryKind, MessageId, NotificationId, ReminderId, StoredMessage,
    User, UserId,
};
use pai_core::{Error, Result, Role};
use sqlx::Row;

/// Typed column access by name, for the column types pai uses. A column
/// missing or of another type is a bug in our SQL, hence the panic (as
/// `Row::get` does).
pub(crate) trait Get {
    fn int(&self, col: &str) -> i64;
    fn opt_int(&self, col: &str) -> Option<i64>;
    fn text(&self, col: &str) -> String;
    fn opt_text(&self, col: &str) -> Option<String>;
    fn time(&self, col: &str) -> DateTime<Utc>;
    fn opt_time(&self, col: &str) -> Option<DateTime<Utc>>;
    fn opt_local(&self, col: &str) -> Option<NaiveDateTime>;
    fn float(&self, col: &str) -> f64;
    fn flag(&self, col: &str) -> bool;
}

macro_rules! impl_get {
    ($row:ty) => {
        impl Get for $row {
            fn int(&self, col: &str) -> i64 {
                self.get(col)
            }
            fn opt_int(&self, col: &str) -> Option<i64> {
                self.get(col)
            }
            fn text(&self, col: &str) -> String {
                self.get(col)
            }
            fn opt_text(&self, col: &str) -> Option<String> {
                self.get(col)
            }
            fn time(&self, col: &str) -> DateTime<Utc> {
                self.get(col)
            }
            fn opt_time(&self, col: &str) -> Option<DateTime<Utc>> {
                self.get(col)
            }
            fn opt_local(&self, col: &str) -> Option<NaiveDateTime> {
                self.get(col)
            }
            fn float(&self, col: &str) -> f64 {
                self.get(col)
            }
            fn flag(&self, col: &str) -> bool {
                self.get(col)
            }
        }
    };
}
impl_get!(sqlx::sqlite::SqliteRow);
impl_get!(sqlx::postgres::PgRow);

/// Ids from a comma-separated list (`group_concat` / `string_agg`), sorted.
fn id_list<T: Ord>(list: Option<String>, make: impl Fn(i64) -> T) -> Vec<T> {
    let mut ids: Vec<T> = list.unwrap_or_default().split(',').filter_map(|s| s.parse().ok()).map(make).collect();
    ids.sort();
    ids
}

fn parsed<T>(what: &str, value: String, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    parse(&value).ok_or_else(|| Error::internal(format!("unknown {what} {value} in the database")))
}

pub(crate) const USER_COLUMNS: &str = "id, name, timezone, created_at, admin, disabled";

pub(crate) fn user(r: &(impl Get + ?Sized)) -> User {
    User {
        id: UserId(r.int("id")),
        name: r.text("name"),
        timezone: r.text("timezone"),
        created_at: r.time("created_at"),
        admin: r.flag("admin"),
        disabled: r.flag("disabled"),
    }
}

pub(crate) const KEY_COLUMNS: &str = "id, name, prefix, created_at, last_used_at, revoked_at";

pub(crate) fn api_key(r: &(impl Get + ?Sized)) -> ApiKey {
    ApiKey {
        id: KeyId(r.int("id")),
        name: r.text("name"),
        prefix: r.text("prefix"),
        created_at: r.time("created_at"),
        last_used_at: r.opt_time("last_used_at"),
        revoked_at: r.opt_time("revoked_at"),
    }
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, role, speaker, content, created_at, external_id";

pub(crate) fn message(r: &(impl Get + ?Sized)) -> Result<StoredMessage> {
    let role = parsed("role", r.text("role"), |s| {
        Some(match s {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            _ => return None,
        })
    })?;
    Ok(StoredMessage {
        id: MessageId(r.int("id")),
        conversation: ConversationId(r.int("conversation_id")),
        role,
        speaker: r.opt_text("speaker"),
        content: r.text("content"),
        created_at: r.time("created_at"),
        external_id: r.opt_text("external_id"),
    })
}

/// A memory row with its sources as a comma-separated `sources` column.
pub(crate) fn memory(r: &(impl Get + ?Sized)) -> Result<Memory> {
    Ok(Memory {
        id: MemoryId(r.int("id")),
        user: UserId(r.int("user_id")),
        text: r.text("text"),
        kind: parsed("memory kind", r.text("kind"), MemoryKind::parse)?,
        subject: r.opt_text("subject"),
        importance: r.float("importance") as f32,
        valid_from: r.opt_time("valid_from"),
        valid_to: r.opt_time("valid_to"),
        superseded_by: r.opt_int("superseded_by").map(MemoryId),
        sources: id_list(r.opt_text("sources"), MessageId),
        created_at: r.time("created_at"),
        updated_at: r.time("updated_at"),
    })
}

/// A job row with its messages as a comma-separated `messages` column.
pub(crate) fn job(r: &(impl Get + ?Sized)) -> Result<ExtractionJob> {
    Ok(ExtractionJob {
        id: JobId(r.int("id")),
        user: UserId(r.int("user_id")),
        conversation: ConversationId(r.int("conversation_id")),
        messages: id_list(r.opt_text("messages"), MessageId),
        state: parsed("job state", r.text("state"), JobState::parse)?,
        attempts: r.int("attempts") as u32,
        last_error: r.opt_text("last_error"),
        created_at: r.time("created_at"),
        updated_at: r.time("updated_at"),
    })
}

pub(crate) const IMPORT_COLUMNS: &str = "id, file_name, state, total, done, report, error, created_at, updated_at";

pub(crate) fn import(r: &(impl Get + ?Sized)) -> Result<ImportRecord> {
    Ok(ImportRecord {
        id: ImportId(r.int("id")),
        file_name: r.text("file_name"),
        state: parsed("import state", r.text("state"), ImportState::parse)?,
        total: r.int("total") as u64,
        done: r.int("done") as u64,
        report: r.opt_text("report").and_then(|s| serde_json::from_str(&s).ok()),
        error: r.opt_text("error"),
        created_at: r.time("created_at"),
        updated_at: r.time("updated_at"),
    })
}

/// A document row with `chunk_count` and `pending_count` columns.
pub(crate) fn document(r: &(impl Get + ?Sized)) -> Result<Document> {
    Ok(Document {
        id: DocumentId(r.int("id")),
        title: r.text("title"),
        source: r.text("source"),
        format: parsed("document format", r.text("format"), DocumentFormat::parse)?,
        content_hash: r.text("content_hash"),
        bytes: r.int("bytes") as u64,
        pages: r.opt_int("pages").map(|p| p as u32),
        chunks: r.int("chunk_count") as u64,
        pending: r.int("pending_count") as u64,
        created_at: r.time("created_at"),
        updated_at: r.time("updated_at"),
    })
}

pub(crate) const CHUNK_COLUMNS: &str = "id, document_id, ordinal, text, page, heading, start_offset, end_offset";

pub(crate) fn chunk(r: &(impl Get + ?Sized)) -> Chunk {
    Chunk {
        id: ChunkId(r.int("id")),
        document: DocumentId(r.int("document_id")),
        ordinal: r.int("ordinal") as u32,
        text: r.text("text"),
        page: r.opt_int("page").map(|p| p as u32),
        heading: r.opt_text("heading"),
        start: r.int("start_offset") as u64,
        end: r.int("end_offset") as u64,
    }
}

pub(crate) const REMINDER_COLUMNS: &str = "id, user_id, text, phrase, timezone, rule, start_local, next_at, state, \
                                           fired, conversation_id, created_at, updated_at";

pub(crate) fn reminder(r: &(impl Get + ?Sized)) -> Result<Reminder> {
    Ok(Reminder {
        id: ReminderId(r.int("id")),
        user: UserId(r.int("user_id")),
        text: r.text("text"),
        phrase: r.text("phrase"),
        timezone: r.text("timezone"),
        rule: r.opt_text("rule"),
        start: r.opt_local("start_local"),
        next_at: r.opt_time("next_at"),
        state: parsed("reminder state", r.text("state"), ReminderState::parse)?,
        fired: r.int("fired") as u32,
        conversation: r.opt_int("conversation_id").map(ConversationId),
        created_at: r.time("created_at"),
        updated_at: r.time("updated_at"),
    })
}

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, user_id, reminder_id, text, due_at, fired_at, late, read_at";

pub(crate) fn notification(r: &(impl Get + ?Sized)) -> Notification {
    Notification {
        id: NotificationId(r.int("id")),
        user: UserId(r.int("user_id")),
        reminder: r.opt_int("reminder_id").map(ReminderId),
        text: r.text("text"),
        due_at: r.time("due_at"),
        fired_at: r.time("fired_at"),
        late: r.flag("late"),
        read_at: r.opt_time("read_at"),
    }
}
