//! The SQLite store: one file, WAL journal (readers never wait for the
//! writer), foreign keys on, schema migrations embedded and applied at open.

use crate::portable::documents;
mod imports;
mod jobs;
use crate::portable::memories;
use crate::portable::messages;
use crate::portable::reminders;
mod search;
use crate::portable::users;
mod vectors;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pai_core::accounts::{Accounts, ApiKey, KeyId, Session};
use pai_core::store::{
    Chunk, ChunkId, Conversation, ConversationId, ConversationSummary, Decision, DecisionRecord, Document,
    DocumentChange, DocumentId, ExtractionJob, ImportId, ImportRecord, ImportState, ItemRef, JobId, JobState, Memory,
    MemoryId, MessageId, NewDocument, NewMemory, NewMessage, Store, StoredMessage, TextHit, User, UserId, VectorHit,
};
use pai_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};

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
    (9, include_str!("../../migrations/sqlite/0009_embed_claims.sql")),
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

impl SqliteStore {
    /// The connection pool, for `pai migrate`.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn claim_job(&self) -> Result<Option<ExtractionJob>> {
        jobs::claim(&self.pool).await
    }

    async fn requeue_jobs(&self) -> Result<u64> {
        jobs::requeue_interrupted(&self.pool).await
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

crate::delegate::store_impls!(SqliteStore);
