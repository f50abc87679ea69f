//! The store's statements, written once for both backends. A statement is
//! SQL with `$n` placeholders (PostgreSQL's; sqlx-sqlite binds `$n` by its
//! number too) and its arguments as `Arg`s; `Run` executes it on a pool or
//! inside a transaction, and the rows come back as `Get` for `rows.rs`.
//! Where the dialects differ by a clause, `Dialect` gives that clause; what
//! a row's text derives (full-text entry, vector) is `derived.rs`, both
//! sides together. What differs by more (search, vectors, claiming work for
//! a server instance, opening and migrating) stays in `sqlite/` and
//! `postgres/`.

pub(crate) mod derived;
pub(crate) mod documents;
pub(crate) mod imports;
pub(crate) mod jobs;
pub(crate) mod memories;
pub(crate) mod messages;
pub(crate) mod reminders;
pub(crate) mod users;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use pai_core::{Error, Result};
use sqlx::AssertSqlSafe;
use tokio::sync::Mutex;

use crate::errors::SqlxResult;
use crate::rows::Get;

/// One argument of a statement, in the column types pai uses.
#[derive(Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    /// A wall-clock time with no zone (a reminder's local start).
    OptLocal(Option<NaiveDateTime>),
    Flag(bool),
    Float(f64),
    /// Ids for `Dialect::any`: one argument however many.
    Ids(&'a [i64]),
}

pub(crate) type Row = Box<dyn Get + Send>;

/// Which SQL a statement is run as, for the clauses that differ.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The end of a `SELECT` that claims rows: PostgreSQL passes over rows
    /// another server is claiming this instant instead of waiting for them;
    /// SQLite has one writer, so the claiming `UPDATE` is alone anyway.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The end of a `SELECT` inside a transaction that locks the rows it
    /// reads until the transaction ends: a concurrent writer of the same
    /// rows waits, then sees what this one did (SQLite's write transaction
    /// holds the whole database already).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// The end of a `SELECT` inside a transaction that keeps the row from
    /// being deleted until the transaction ends (SQLite's write transaction
    /// holds the whole database already).
    pub(crate) fn key_share(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR KEY SHARE",
        }
    }

    /// `= ANY(…)` of the `Arg::Ids` argument `$n`: one statement for any
    /// number of ids (SQLite reads them from a JSON array).
    pub(crate) fn any(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("IN (SELECT value FROM json_each(${n}))"),
            Dialect::Postgres => format!("= ANY(${n})"),
        }
    }

    /// A unique key as the schema declares it: PostgreSQL's keys lead with
    /// `user_id`, the column Citus distributes rows by.
    pub(crate) fn user_key(self, key: &str) -> String {
        match self {
            Dialect::Sqlite => key.to_string(),
            Dialect::Postgres => format!("user_id, {key}"),
        }
    }

    /// The values of `expr` over a group as one comma-separated text.
    pub(crate) fn comma_list(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("group_concat({expr})"),
            Dialect::Postgres => format!("string_agg(({expr})::text, ',')"),
        }
    }

    /// A time as this backend keeps it: PostgreSQL keeps microseconds, so
    /// times are cut to that before they are stored, and what a call
    /// returns equals what a later read gives.
    pub(crate) fn kept(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Dialect::Sqlite => t,
            Dialect::Postgres => t.trunc_subsecs(6),
        }
    }

    /// The store's clock, read here and nowhere else in the statements.
    pub(crate) fn now(self) -> DateTime<Utc> {
        self.kept(Utc::now())
    }
}

/// Runs portable statements: a pool, or a transaction (`Tx`).
#[async_trait]
pub(crate) trait Run: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// The row the statement returns, if any.
    async fn optional(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>>;
    /// Every row it returns.
    async fn all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>>;
    /// How many rows it changed.
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64>;

    /// The row the statement returns, or `NotFound` with `missing`.
    async fn one(&self, sql: &str, args: &[Arg<'_>], missing: &str) -> Result<Row> {
        self.optional(sql, args).await?.ok_or_else(|| Error::not_found(missing.to_string()))
    }
}

/// A pool: begins transactions that write.
#[async_trait]
pub(crate) trait Pool: Run {
    /// SQLite's begins with the write lock taken (`sqlite::write_tx`).
    async fn begin(&self) -> Result<Box<dyn Tx>>;
}

/// Statements in one transaction: dropped without `commit`, it rolls back.
#[async_trait]
pub(crate) trait Tx: Run {
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// A transaction of either backend. The mutex only lets `Run` take `&self`:
/// one caller runs one statement at a time, so it never waits.
pub(crate) struct InTx<DB: sqlx::Database>(Mutex<sqlx::Transaction<'static, DB>>);

impl<DB: sqlx::Database> InTx<DB> {
    pub(crate) fn new(tx: sqlx::Transaction<'static, DB>) -> Self {
        InTx(Mutex::new(tx))
    }

    pub(crate) async fn commit(self) -> Result<()> {
        self.0.into_inner().commit().await.db()
    }
}

/// The statement with its arguments bound (a macro: the query's type is
/// the backend's).
macro_rules! bound {
    ($sql:expr, $args:expr, $dialect:expr, $ids:expr) => {{
        let mut query = sqlx::query(AssertSqlSafe($sql.to_string()));
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::OptInt(v) => query.bind(*v),
                Arg::Text(v) => query.bind(v.to_string()),
                Arg::OptText(v) => query.bind(v.map(str::to_string)),
                Arg::Time(v) => query.bind($dialect.kept(*v)),
                Arg::OptTime(v) => query.bind(v.map(|t| $dialect.kept(t))),
                Arg::OptLocal(v) => query.bind(*v),
                Arg::Flag(v) => query.bind(*v),
                Arg::Float(v) => query.bind(*v),
                Arg::Ids(v) => query.bind($ids(v)),
            };
        }
        query
    }};
}

/// The executor a `Run` runs on: the pool itself, or the transaction's
/// connection (locked for the one statement).
macro_rules! executor {
    (pool, $this:expr) => {
        $this
    };
    (tx, $this:expr) => {
        &mut **$this.0.lock().await
    };
}

/// `Run` for a pool or a transaction of one backend.
macro_rules! run_on {
    ($ty:ty, $kind:ident, $dialect:expr, $ids:expr) => {
        #[async_trait]
        impl Run for $ty {
            fn dialect(&self) -> Dialect {
                $dialect
            }

            async fn optional(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
                let query = bound!(sql, args, $dialect, $ids);
                Ok(query.fetch_optional(executor!($kind, self)).await.db()?.map(|r| Box::new(r) as Row))
            }

            async fn all(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
                let query = bound!(sql, args, $dialect, $ids);
                let rows = query.fetch_all(executor!($kind, self)).await.db()?;
                Ok(rows.into_iter().map(|r| Box::new(r) as Row).collect())
            }

            async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
                let query = bound!(sql, args, $dialect, $ids);
                Ok(query.execute(executor!($kind, self)).await.db()?.rows_affected())
            }
        }
    };
}

/// Ids as SQLite reads them in `json_each` (`Dialect::any`): one argument
/// however many, so no list of marks to build and no variable limit.
pub(crate) fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).expect("integers serialise")
}

/// Ids as PostgreSQL's array for `= ANY($n)`.
fn ids_array(ids: &[i64]) -> Vec<i64> {
    ids.to_vec()
}

run_on!(sqlx::SqlitePool, pool, Dialect::Sqlite, ids_json);
run_on!(sqlx::PgPool, pool, Dialect::Postgres, ids_array);
run_on!(InTx<sqlx::Sqlite>, tx, Dialect::Sqlite, ids_json);
run_on!(InTx<sqlx::Postgres>, tx, Dialect::Postgres, ids_array);

#[async_trait]
impl Pool for sqlx::SqlitePool {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(InTx::new(crate::sqlite::write_tx(self).await?)))
    }
}

#[async_trait]
impl Pool for sqlx::PgPool {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(InTx::new(sqlx::Pool::begin(self).await.db()?)))
    }
}

macro_rules! commit {
    ($db:ty) => {
        #[async_trait]
        impl Tx for InTx<$db> {
            async fn commit(self: Box<Self>) -> Result<()> {
                InTx::commit(*self).await
            }
        }
    };
}
commit!(sqlx::Sqlite);
commit!(sqlx::Postgres);

/// Fails with `NotFound` ("no {what} {id}") unless `user` owns row `id` of
/// `table`, checked inside the caller's transaction (and, on PostgreSQL,
/// locking the row so it cannot be deleted under the caller). `table` is our
/// own literal.
pub(crate) async fn require_owned(
    tx: &dyn Run,
    table: &'static str,
    what: &str,
    id: i64,
    user: pai_core::store::UserId,
) -> Result<()> {
    let sql = format!("SELECT id FROM {table} WHERE user_id = $1 AND id = $2{}", tx.dialect().key_share());
    tx.one(&sql, &[Arg::Int(user.0), Arg::Int(id)], &format!("no {what} {id}")).await.map(|_| ())
}
