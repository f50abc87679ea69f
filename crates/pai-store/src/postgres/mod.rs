//! The PostgreSQL store: for many users and several pai servers on one
//! database. Same contract and test suite as SQLite; the differences are in
//! how things are found: full text is a `tsvector` of pai's own analyzed
//! terms under a GIN index on (user_id, terms) ranked with `ts_rank`, vectors
//! are pgvector columns under HNSW, and queue work (extraction jobs, due
//! reminders, items to embed) is claimed with `FOR UPDATE SKIP LOCKED` so
//! servers never take the same row. The schema is laid out for Citus
//! (distribution by user_id); see migrations/postgres and docs/scaling.md.

use crate::portable::documents;
mod imports;
mod jobs;
use crate::portable::memories;
use crate::portable::messages;
use crate::portable::reminders;
pub(crate) mod search;
use crate::portable::users;
pub(crate) mod vectors;

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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgPool};

use crate::errors::SqlxResult;
use crate::portable::{Arg, Dialect, Pool, Row, Run, Tx};

/// Schema versions, applied in order, each in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/postgres/0001_init.sql"))];

/// Serialises schema changes between servers starting at once (any constant
/// of our own; `pg_advisory_xact_lock` holds it until the transaction ends).
const MIGRATION_LOCK: i64 = 0x7061_695f_6d69_6772; // "pai_migr"

/// The advisory lock class of store instances ("paiO"); the jobs queue
/// reads it from pg_locks (postgres/jobs.rs, ABANDONED).
const LIVENESS_CLASS: i32 = 0x7061_694f;

#[derive(Clone)]
pub struct PgStore {
    pool: Db,
    dimension: usize,
}

/// The pool, with who this store is to the others on the database. Derefs
/// to the pool, so modules that need only the pool take `&PgPool`.
#[derive(Clone)]
pub(crate) struct Db {
    pool: PgPool,
    /// This store's number in `store_instances`; its lock is held on `_liveness`.
    instance: i32,
    /// A connection of its own (not the pool's, which may close idle ones)
    /// holding the instance's advisory lock for as long as the store lives.
    _liveness: std::sync::Arc<std::sync::Mutex<sqlx::PgConnection>>,
}

impl std::ops::Deref for Db {
    type Target = PgPool;
    fn deref(&self) -> &PgPool {
        &self.pool
    }
}

/// Portable statements run on the pool.
#[async_trait::async_trait]
impl Run for Db {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    async fn optional(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
        self.pool.optional(sql, args).await
    }
    async fn all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
        self.pool.all(sql, args).await
    }
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        Run::execute(&self.pool, sql, args).await
    }
}

#[async_trait::async_trait]
impl Pool for Db {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Pool::begin(&self.pool).await
    }
}

/// SQL that is true when the instance in `column` is gone (or never was):
/// no session holds its liveness lock. Work it claimed was left by a dead
/// process and may be taken over. `column` is our own literal.
pub(crate) fn abandoned(column: &str) -> String {
    format!(
        "({column} IS NULL OR NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'
           AND l.classid = {LIVENESS_CLASS} AND l.objid = {column}::oid AND l.objsubid = 2 AND l.granted))"
    )
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), brings the schema
    /// up to date and sizes the vector columns for `vector_dimension`.
    pub async fn open(url: &str, vector_dimension: usize) -> Result<Self> {
        let store = Self::open_unindexed(url).await?;
        vectors::prepare(&store.pool, vector_dimension).await?;
        Ok(PgStore { dimension: vector_dimension, ..store })
    }

    /// Connects for work that never touches vectors (accounts, keys).
    pub async fn open_for_accounts(url: &str) -> Result<Self> {
        let mut store = Self::open_unindexed(url).await?;
        let dim: Option<String> = sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'vector_dimension'")
            .fetch_optional(&*store.pool)
            .await
            .db()?;
        store.dimension = dim.and_then(|d| d.parse().ok()).unwrap_or(0);
        Ok(store)
    }

    async fn open_unindexed(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(format!("not a PostgreSQL URL ({e}): {}", redact(url))))?
            .options([
                // Filtered nearest-neighbour queries keep scanning the HNSW graph
                // until `limit` rows of the user are found (pgvector ≥ 0.8),
                // instead of filtering one fixed candidate list down to few or none.
                ("hnsw.iterative_scan", "strict_order"),
                // Every query names its user, and users differ by orders of
                // magnitude in rows: a plan made for "some user" (the generic
                // plan PostgreSQL switches to after five runs of a prepared
                // statement) reads a 20k-row user through the primary key and
                // parses the query vector once per row: 1.7 s instead of 5 ms
                // by HNSW (measured). Planning each execution for its user costs
                // well under a millisecond.
                ("plan_cache_mode", "force_custom_plan"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|e| Error::unavailable(format!("cannot connect to {}: {e}", redact(url))))?;
        migrate(&pool).await?;
        let mut liveness = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(|e| Error::unavailable(format!("cannot connect to {}: {e}", redact(url))))?;
        let instance: i32 =
            sqlx::query_scalar("SELECT nextval('store_instances')::integer").fetch_one(&mut liveness).await.db()?;
        sqlx::query("SELECT pg_advisory_lock($1, $2)")
            .bind(LIVENESS_CLASS)
            .bind(instance)
            .execute(&mut liveness)
            .await
            .db()?;
        let _liveness = std::sync::Arc::new(std::sync::Mutex::new(liveness));
        Ok(PgStore { pool: Db { pool, instance, _liveness }, dimension: 0 })
    }

    async fn claim_job(&self) -> Result<Option<ExtractionJob>> {
        jobs::claim(&self.pool, self.pool.instance).await
    }

    async fn requeue_jobs(&self) -> Result<u64> {
        jobs::requeue_interrupted(&self.pool, self.pool.instance).await
    }

    /// The connection pool, for `pai migrate` and benchmarks.
    pub fn pool(&self) -> &PgPool {
        &self.pool.pool
    }
}

async fn migrate(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.db()?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await.db()?;
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
    )
    .await
    .db()?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM schema_version").fetch_one(&mut *tx).await.db()?;
    let current = current.unwrap_or(0);
    if let Some((newest, _)) = MIGRATIONS.last().filter(|(v, _)| current > *v) {
        return Err(Error::invalid(format!(
            "the database has schema version {current}, newer than this pai knows ({newest}); upgrade pai"
        )));
    }
    // All pending versions in the lock's transaction: a crash leaves the old schema whole.
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::unavailable(format!("database migration {version} failed: {e}")))?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .db()?;
        tracing::info!(version, "applied database migration");
    }
    tx.commit().await.db()
}

/// The URL without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

crate::delegate::store_impls!(PgStore);
