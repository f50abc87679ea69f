//! The SQLite store: one file, WAL journal (readers never wait for the
//! writer), foreign keys on, schema migrations embedded and applied at open.

mod documents;
mod imports;
mod jobs;
mod memories;
mod messages;
mod reminders;
mod users;
mod vectors;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pai_core::accounts::{Accounts, ApiKey, KeyId, Session};
use pai_core::store::{
    Chunk, ChunkId, Conversation, ConversationId, ConversationSummary, Decision, DecisionRecord, Document,
    DocumentChange, DocumentId, ExtractionJob, ImportId, ImportRecord, ImportState, ItemRef, JobId, JobState, Memory,
    MemoryId, MessageId, NewDocument, NewMemory, NewMessage, Store, StoredMessage, TextHit, User, UserId, VectorHit,
};
use pai_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Executor, SqlitePool};

use crate::errors::SqlxResult;

/// Schema versions, applied in order, each in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_vectors.sql")),
    (3, include_str!("../../migrations/sqlite/0003_extraction.sql")),
    (4, include_str!("../../migrations/sqlite/0004_fts_owner.sql")),
    (5, include_str!("../../migrations/sqlite/0005_fts_vocab.sql")),
    (6, include_str!("../../migrations/sqlite/0006_accounts.sql")),
    (7, include_str!("../../migrations/sqlite/0007_documents.sql")),
    (8, include_str!("../../migrations/sqlite/0008_reminders.sql")),
];

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    dimension: usize,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, brings its schema up to
    /// date, and sizes the vector index for `vector_dimension` (the embedder's).
    pub async fn open(path: &Path, vector_dimension: usize) -> Result<Self> {
        let store = Self::open_unindexed(path).await?;
        vectors::prepare(&store.pool, vector_dimension).await?;
        Ok(SqliteStore { dimension: vector_dimension, ..store })
    }

    /// Opens the database for work that never touches vectors (accounts,
    /// keys), keeping whatever vector index it has: no embedding model needed.
    pub async fn open_for_accounts(path: &Path) -> Result<Self> {
        let mut store = Self::open_unindexed(path).await?;
        let dim: Option<String> = sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'vector_dimension'")
            .fetch_optional(&store.pool)
            .await
            .db()?;
        store.dimension = dim.and_then(|d| d.parse().ok()).unwrap_or(0);
        Ok(store)
    }

    async fn open_unindexed(path: &Path) -> Result<Self> {
        vectors::register_extension();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::invalid(format!("cannot create the data directory {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .db()?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses no committed transaction on a process crash;
            // only a power cut can roll back the last ones.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| Error::unavailable(format!("cannot open the database {}: {e}", path.display())))?;
        let store = SqliteStore { pool, dimension: 0 };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            .await
            .db()?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM schema_version").fetch_one(&self.pool).await.db()?;
        let current = current.unwrap_or(0);
        if let Some((newest, _)) = MIGRATIONS.last().filter(|(v, _)| current > *v) {
            return Err(Error::invalid(format!(
                "the database has schema version {current}, newer than this pai knows ({newest}); upgrade pai"
            )));
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            let mut tx = write_tx(&self.pool).await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await.db()?;
            sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .db()?;
            tx.commit().await.db()?;
            tracing::info!(version, "applied database migration");
        }
        Ok(())
    }
}

/// Starts a transaction that will write. `BEGIN IMMEDIATE` takes SQLite's
/// write lock at once, waiting (busy_timeout) while another connection or
/// process writes. A plain `BEGIN` takes it only at the first write, and a
/// transaction that read before that fails at once with SQLITE_BUSY when
/// someone else wrote in between: the busy timeout does not cover that upgrade.
pub(crate) async fn write_tx(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE").await.db()
}

impl SqliteStore {
    async fn delete_memories(&self, user: UserId, id: Option<MemoryId>) -> Result<u64> {
        let mut tx = write_tx(&self.pool).await?;
        let n = memories::delete(&mut tx, user, id).await?;
        tx.commit().await.db()?;
        Ok(n)
    }

    /// BM25 over one of the two memory tables (current or history): (id, score), best first.
    async fn search_memory_fts(&self, history: bool, user: UserId, q: &str, limit: i64) -> Result<Vec<(i64, f64)>> {
        let table = if history { "memory_history_fts" } else { "memories_fts" };
        // bm25() is lower-is-better; negate so higher is better, as everywhere else.
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT rowid, -bm25({table}, 1.0, 0.0) FROM {table} WHERE {table} MATCH ? AND user_id = ?
             ORDER BY bm25({table}, 1.0, 0.0) LIMIT ?"
        )))
        .bind(q)
        .bind(user.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .db()
    }
}

/// `?, ?, …` for an `IN` list of `n` ids (at least one, so the SQL stays valid),
/// the ids deduplicated and sorted. Chunks of 500 keep under SQLite's variable limit.
fn id_lists(ids: impl IntoIterator<Item = i64>) -> Vec<(String, Vec<i64>)> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.chunks(500).map(|c| (vec!["?"; c.len()].join(", "), c.to_vec())).collect()
}

/// Runs `select` (with `{ids}` where the `IN` list goes and the user bound
/// first) over `ids`, chunk by chunk; rows come back in each chunk's order.
async fn rows_by_id(
    pool: &SqlitePool,
    select: &str,
    user: UserId,
    ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
    let mut out = Vec::new();
    for (marks, chunk) in id_lists(ids) {
        // The list holds only `?` marks we wrote; the ids are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(select.replace("{ids}", &marks))).bind(user.0);
        for id in chunk {
            q = q.bind(id);
        }
        out.extend(q.fetch_all(pool).await.db()?);
    }
    Ok(out)
}

/// A user with more rows than this gets very common terms left out of searches.
const PRUNE_FROM_ROWS: i64 = 20_000;
/// A term in more than this share of such a user's rows is left out (unless
/// it is all there is): it adds little to the ranking and costs a pass over a
/// large share of the index, as a search engine's stop list would.
const PRUNE_SHARE: f64 = 0.02;

/// The query's search terms, without those too common to rank by for a user
/// with a large history (only ever the commonest; the rarest term always stays).
/// `vocab` is the fts5vocab table of the index searched (our own literal).
async fn search_terms_for(pool: &SqlitePool, vocab: &'static str, user: UserId, text: &str) -> Result<Vec<String>> {
    let terms = pai_core::analyzer::search_terms(text);
    if terms.len() < 2 {
        return Ok(terms);
    }
    let owner = format!("u{user}");
    let rows: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT doc FROM {vocab} WHERE term = ? AND col = 'owner'")))
            .bind(&owner)
            .fetch_optional(pool)
            .await
            .db()?;
    let rows = rows.unwrap_or(0);
    if rows < PRUNE_FROM_ROWS {
        return Ok(terms);
    }
    let mut counted = Vec::with_capacity(terms.len());
    for t in terms {
        let doc: Option<i64> =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT doc FROM {vocab} WHERE term = ? AND col = 'terms'")))
                .bind(&t)
                .fetch_optional(pool)
                .await
                .db()?;
        counted.push((t, doc.unwrap_or(0)));
    }
    let rarest = counted.iter().map(|(_, d)| *d).min().unwrap_or(0);
    let limit = (rows as f64 * PRUNE_SHARE) as i64;
    Ok(counted.into_iter().filter(|(_, d)| *d <= limit || *d == rarest).map(|(t, _)| t).collect())
}

/// FTS5 query matching any of `terms` among `user`'s rows (each term quoted,
/// so none is read as FTS syntax). `None` when there is nothing to search for.
fn fts_query(terms: &[String], user: UserId) -> Option<String> {
    (!terms.is_empty()).then(|| {
        let any = terms.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" OR ");
        format!("owner : \"u{user}\" AND terms : ({any})")
    })
}

/// Fails with `NotFound` ("no {what} {id}") unless `user` owns row `id` of
/// `table`, checked inside the caller's transaction. `table` is our own literal.
async fn require_owned(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &'static str,
    what: &str,
    id: i64,
    user: UserId,
) -> Result<()> {
    let owned: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {table} WHERE id = ? AND user_id = ?")))
            .bind(id)
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await
            .db()?;
    owned.map(|_| ()).ok_or_else(|| Error::not_found(format!("no {what} {id}")))
}

fn check_text(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(format!("{what} is empty")));
    }
    if text.len() > pai_core::store::MAX_TEXT_BYTES {
        return Err(Error::invalid(format!(
            "{what} is {} bytes; the limit is {}",
            text.len(),
            pai_core::store::MAX_TEXT_BYTES
        )));
    }
    Ok(())
}

#[async_trait]
impl pai_core::reminders::Reminders for SqliteStore {
    async fn create_reminder(
        &self,
        user: UserId,
        reminder: pai_core::reminders::NewReminder,
    ) -> Result<pai_core::reminders::Reminder> {
        reminders::create(&self.pool, user, reminder).await
    }

    async fn reminders(&self, user: UserId) -> Result<Vec<pai_core::reminders::Reminder>> {
        reminders::list(&self.pool, user).await
    }

    async fn reminder(&self, user: UserId, id: pai_core::store::ReminderId) -> Result<pai_core::reminders::Reminder> {
        reminders::get(&self.pool, user, id).await
    }

    async fn cancel_reminder(
        &self,
        user: UserId,
        id: pai_core::store::ReminderId,
    ) -> Result<pai_core::reminders::Reminder> {
        reminders::cancel(&self.pool, user, id).await
    }

    async fn claim_due_reminders(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<pai_core::reminders::Reminder>> {
        reminders::claim(&self.pool, owner, now, lease_until, limit).await
    }

    async fn complete_reminder(
        &self,
        owner: &str,
        reminder: &pai_core::reminders::Reminder,
        due_at: DateTime<Utc>,
        fired_at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<Option<pai_core::reminders::Notification>> {
        reminders::complete(&self.pool, owner, reminder, due_at, fired_at, next).await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        reminders::next_due(&self.pool).await
    }

    async fn notifications(
        &self,
        user: UserId,
        limit: usize,
        before: Option<pai_core::store::NotificationId>,
    ) -> Result<Vec<pai_core::reminders::Notification>> {
        reminders::notifications(&self.pool, user, limit, before).await
    }

    async fn mark_notification_read(
        &self,
        user: UserId,
        id: pai_core::store::NotificationId,
    ) -> Result<pai_core::reminders::Notification> {
        reminders::mark_read(&self.pool, user, id).await
    }
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_account(
        &self,
        name: &str,
        timezone: &str,
        password_hash: Option<&str>,
        admin: bool,
    ) -> Result<User> {
        users::create_user(&self.pool, name, timezone, password_hash, admin).await
    }

    async fn set_password(&self, user: UserId, password_hash: &str) -> Result<()> {
        users::set_password(&self.pool, user, password_hash).await
    }

    async fn login(&self, name: &str) -> Result<Option<(User, String)>> {
        users::login(&self.pool, name).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        users::users(&self.pool).await
    }

    async fn count_users(&self) -> Result<u64> {
        users::count(&self.pool).await
    }

    async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<User> {
        users::set_disabled(&self.pool, user, disabled).await
    }

    async fn set_timezone(&self, user: UserId, timezone: &str) -> Result<User> {
        users::set_timezone(&self.pool, user, timezone).await
    }

    async fn delete_user(&self, user: UserId) -> Result<()> {
        users::delete_user(&self.pool, user).await
    }

    async fn create_api_key(&self, user: UserId, name: &str, prefix: &str, digest: &str) -> Result<ApiKey> {
        users::create_api_key(&self.pool, user, name, prefix, digest).await
    }

    async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        users::api_keys(&self.pool, user).await
    }

    async fn revoke_api_key(&self, user: UserId, id: KeyId) -> Result<ApiKey> {
        users::revoke_api_key(&self.pool, user, id).await
    }

    async fn authenticate_key(&self, digest: &str) -> Result<Option<(User, KeyId)>> {
        users::authenticate_key(&self.pool, digest).await
    }

    async fn create_session(&self, user: UserId, digest: &str, csrf: &str, expires_at: DateTime<Utc>) -> Result<()> {
        users::create_session(&self.pool, user, digest, csrf, expires_at).await
    }

    async fn session(&self, digest: &str) -> Result<Option<Session>> {
        users::session(&self.pool, digest).await
    }

    async fn delete_session(&self, digest: &str) -> Result<()> {
        users::delete_session(&self.pool, digest).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, name: &str, timezone: &str) -> Result<User> {
        users::create_user(&self.pool, name, timezone, None, false).await
    }

    async fn user(&self, id: UserId) -> Result<User> {
        users::user(&self.pool, id).await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        users::user_by_name(&self.pool, name).await
    }

    async fn import_conversation(
        &self,
        user: UserId,
        title: &str,
        messages: Vec<NewMessage>,
    ) -> Result<(Conversation, Vec<StoredMessage>)> {
        messages::import_conversation(&self.pool, user, title, messages).await
    }

    async fn message_by_external_id(&self, user: UserId, external_id: &str) -> Result<Option<StoredMessage>> {
        messages::message_by_external_id(&self.pool, user, external_id).await
    }

    async fn create_conversation(&self, user: UserId, title: &str) -> Result<Conversation> {
        messages::create_conversation(&self.pool, user, title).await
    }

    async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        messages::conversation(&self.pool, user, id).await
    }

    async fn rename_conversation(&self, user: UserId, id: ConversationId, title: &str) -> Result<Conversation> {
        messages::rename_conversation(&self.pool, user, id, title).await
    }

    async fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<()> {
        messages::delete_conversation(&self.pool, user, id).await
    }

    async fn put_document(&self, user: UserId, document: NewDocument) -> Result<(Document, DocumentChange)> {
        documents::put(&self.pool, user, document).await
    }

    async fn documents(&self, user: UserId) -> Result<Vec<Document>> {
        documents::list(&self.pool, user).await
    }

    async fn document(&self, user: UserId, id: DocumentId) -> Result<Document> {
        documents::get(&self.pool, user, id).await
    }

    async fn documents_by_id(&self, user: UserId, ids: &[DocumentId]) -> Result<Vec<Document>> {
        documents::by_id(&self.pool, user, ids).await
    }

    async fn document_chunks(&self, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
        documents::chunks(&self.pool, user, id).await
    }

    async fn chunks_by_id(&self, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
        documents::chunks_by_id(&self.pool, user, ids).await
    }

    async fn delete_document(&self, user: UserId, id: DocumentId) -> Result<()> {
        documents::delete(&self.pool, user, id).await
    }

    async fn create_import(&self, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord> {
        imports::create(&self.pool, user, file_name, total).await
    }

    async fn update_import(
        &self,
        user: UserId,
        id: ImportId,
        state: ImportState,
        done: u64,
        report: Option<serde_json::Value>,
        error: Option<&str>,
    ) -> Result<ImportRecord> {
        imports::update(&self.pool, user, id, state, done, report, error).await
    }

    async fn import_record(&self, user: UserId, id: ImportId) -> Result<ImportRecord> {
        imports::get(&self.pool, user, id).await
    }

    async fn imports(&self, user: UserId) -> Result<Vec<ImportRecord>> {
        imports::list(&self.pool, user).await
    }

    async fn fail_interrupted_imports(&self) -> Result<u64> {
        imports::fail_interrupted(&self.pool).await
    }

    async fn conversations(&self, user: UserId) -> Result<Vec<Conversation>> {
        messages::conversations(&self.pool, user).await
    }

    async fn add_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        new: Vec<NewMessage>,
    ) -> Result<Vec<StoredMessage>> {
        messages::add_messages(&self.pool, user, conversation, new).await
    }

    async fn messages(&self, user: UserId, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
        messages::messages(&self.pool, user, conversation).await
    }

    async fn messages_by_id(&self, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>> {
        messages::messages_by_id(&self.pool, user, ids).await
    }

    async fn add_memory(&self, user: UserId, memory: NewMemory) -> Result<Memory> {
        let mut tx = write_tx(&self.pool).await?;
        let id = memories::insert(&mut tx, user, &memory, Utc::now()).await?;
        tx.commit().await.db()?;
        self.memory(user, id).await
    }

    async fn memory(&self, user: UserId, id: MemoryId) -> Result<Memory> {
        memories::get(&self.pool, user, id).await
    }

    async fn memories_by_id(&self, user: UserId, ids: &[MemoryId]) -> Result<Vec<Memory>> {
        memories::by_id(&self.pool, user, ids).await
    }

    async fn predecessors(&self, user: UserId, id: MemoryId) -> Result<Vec<Memory>> {
        memories::predecessors(&self.pool, user, id).await
    }

    async fn memories(&self, user: UserId, include_history: bool) -> Result<Vec<Memory>> {
        memories::list(&self.pool, user, include_history, None, None).await
    }

    async fn memories_page(
        &self,
        user: UserId,
        include_history: bool,
        before: Option<MemoryId>,
        limit: usize,
    ) -> Result<Vec<Memory>> {
        memories::list(&self.pool, user, include_history, before, Some(limit)).await
    }

    async fn update_memory(&self, user: UserId, id: MemoryId, text: &str, sources: &[MessageId]) -> Result<Memory> {
        let mut tx = write_tx(&self.pool).await?;
        memories::update(&mut tx, user, id, text, sources).await?;
        tx.commit().await.db()?;
        self.memory(user, id).await
    }

    async fn supersede_memory(&self, user: UserId, old: MemoryId, new: NewMemory, at: DateTime<Utc>) -> Result<Memory> {
        let mut tx = write_tx(&self.pool).await?;
        let id = memories::supersede(&mut tx, user, old, &new, at).await?;
        tx.commit().await.db()?;
        self.memory(user, id).await
    }

    async fn delete_memory(&self, user: UserId, id: MemoryId) -> Result<()> {
        self.delete_memories(user, Some(id)).await.map(|_| ())
    }

    async fn delete_all_memories(&self, user: UserId) -> Result<u64> {
        self.delete_memories(user, None).await
    }

    async fn search_text(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
        // Messages and documents each prune by their own term counts.
        let (terms, chunk_terms) = futures_util::join!(
            search_terms_for(&self.pool, "messages_fts_vocab", user, query),
            search_terms_for(&self.pool, "chunks_fts_vocab", user, query)
        );
        let (Some(q), Some(chunk_q)) = (fts_query(&terms?, user), fts_query(&chunk_terms?, user)) else {
            return Ok(Vec::new());
        };
        let limit = limit.min(1000) as i64;
        // bm25() is lower-is-better; negate so higher is better, as everywhere else.
        // Two tables, two connections: searched at once.
        let messages = sqlx::query_as::<_, (i64, i64, f64)>(
            "SELECT rowid, conversation_id, -bm25(messages_fts, 1.0, 0.0) FROM messages_fts
             WHERE messages_fts MATCH ? AND user_id = ? ORDER BY bm25(messages_fts, 1.0, 0.0) LIMIT ?",
        )
        .bind(&q)
        .bind(user.0)
        .bind(limit)
        .fetch_all(&self.pool);
        let chunks = sqlx::query_as::<_, (i64, i64, f64)>(
            "SELECT rowid, document_id, -bm25(chunks_fts, 1.0, 0.0) FROM chunks_fts
             WHERE chunks_fts MATCH ? AND user_id = ? ORDER BY bm25(chunks_fts, 1.0, 0.0) LIMIT ?",
        )
        .bind(&chunk_q)
        .bind(user.0)
        .bind(limit)
        .fetch_all(&self.pool);
        let (memory_hits, message_hits, chunk_hits) =
            futures_util::join!(self.search_memory_fts(false, user, &q, limit), messages, chunks);
        let (memory_hits, message_hits, chunk_hits) = (memory_hits?, message_hits.db()?, chunk_hits.db()?);
        let mut hits: Vec<TextHit> = memory_hits
            .into_iter()
            .map(|(id, score)| TextHit::Memory { id: MemoryId(id), score: score as f32 })
            .chain(message_hits.into_iter().map(|(id, conv, score)| TextHit::Message {
                id: MessageId(id),
                conversation: ConversationId(conv),
                score: score as f32,
            }))
            .chain(chunk_hits.into_iter().map(|(id, doc, score)| TextHit::Chunk {
                id: ChunkId(id),
                document: DocumentId(doc),
                score: score as f32,
            }))
            .collect();
        let score = TextHit::score;
        hits.sort_by(|a, b| score(b).total_cmp(&score(a)));
        hits.truncate(limit as usize);
        Ok(hits)
    }

    async fn search_history(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
        let terms = search_terms_for(&self.pool, "messages_fts_vocab", user, query).await?;
        let Some(q) = fts_query(&terms, user) else { return Ok(Vec::new()) };
        let hits = self.search_memory_fts(true, user, &q, limit.min(1000) as i64).await?;
        Ok(hits.into_iter().map(|(id, score)| TextHit::Memory { id: MemoryId(id), score: score as f32 }).collect())
    }

    async fn enqueue_extraction(
        &self,
        user: UserId,
        conversation: ConversationId,
        messages: &[MessageId],
    ) -> Result<ExtractionJob> {
        jobs::enqueue(&self.pool, user, conversation, messages).await
    }

    async fn claim_extraction_job(&self) -> Result<Option<ExtractionJob>> {
        jobs::claim(&self.pool).await
    }

    async fn fail_extraction_job(&self, user: UserId, job: JobId, error: &str, retry: bool) -> Result<ExtractionJob> {
        jobs::fail(&self.pool, user, job, error, retry).await
    }

    async fn complete_extraction_job(
        &self,
        user: UserId,
        job: JobId,
        decisions: Vec<Decision>,
    ) -> Result<Vec<DecisionRecord>> {
        jobs::complete(&self.pool, user, job, decisions).await
    }

    async fn extraction_jobs(&self, user: UserId, state: Option<JobState>) -> Result<Vec<ExtractionJob>> {
        jobs::list(&self.pool, user, state).await
    }

    async fn retry_extraction_job(&self, user: UserId, job: JobId) -> Result<ExtractionJob> {
        jobs::retry(&self.pool, user, job).await
    }

    async fn extraction_job_counts(&self) -> Result<Vec<(JobState, u64)>> {
        jobs::counts(&self.pool).await
    }

    async fn requeue_interrupted_jobs(&self) -> Result<u64> {
        jobs::requeue_interrupted(&self.pool).await
    }

    async fn decisions(&self, user: UserId, memory: Option<MemoryId>) -> Result<Vec<DecisionRecord>> {
        jobs::decisions(&self.pool, user, memory).await
    }

    async fn conversation_summary(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<Option<ConversationSummary>> {
        jobs::summary(&self.pool, user, conversation).await
    }

    async fn set_conversation_summary(
        &self,
        user: UserId,
        conversation: ConversationId,
        text: &str,
        through: MessageId,
    ) -> Result<()> {
        jobs::set_summary(&self.pool, user, conversation, text, through).await
    }

    fn vector_dimension(&self) -> usize {
        self.dimension
    }

    async fn put_vectors(&self, user: UserId, vectors: Vec<(ItemRef, Vec<f32>)>) -> Result<()> {
        vectors::put(&self.pool, self.dimension, user, vectors).await
    }

    async fn search_vectors(&self, user: UserId, query: &[f32], limit: usize) -> Result<Vec<VectorHit>> {
        vectors::search(&self.pool, self.dimension, user, query, limit).await
    }

    async fn items_without_vectors(&self, user: UserId, limit: usize) -> Result<Vec<ItemRef>> {
        vectors::missing(&self.pool, user, limit).await
    }

    async fn users_with_unembedded_items(&self, limit: usize) -> Result<Vec<UserId>> {
        vectors::users_missing(&self.pool, limit).await
    }
}
