//! `pai migrate`: copies a SQLite database into an empty PostgreSQL one,
//! whole, with every id kept (citations, links and API keys stay valid),
//! then reads both back and compares each table's row count and checksum.
//!
//! One list of tables (`TABLES`) drives the copy and the check: each names
//! its columns and their kinds, so a value is read, written and hashed the
//! same way on both sides. The full-text columns PostgreSQL keeps beside the
//! text (`terms`) are made from the copied text by the same analyzer; the
//! vectors come from SQLite's float copies (`*_floats`), bit for bit.
//!
//! Everything is written in one PostgreSQL transaction: a failed or
//! interrupted migration leaves the target as empty as it was.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};
use pai_core::analyzer::index_text;
use pai_core::{Error, Result};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row, SqlitePool};

use crate::errors::SqlxResult;
use crate::postgres::search::tsvector;
use crate::{Database, PgStore, SqliteStore};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
    Time,
    OptTime,
    OptLocal,
    Float,
    Bool,
    /// SQLite: little-endian f32 blob; PostgreSQL: pgvector.
    Vector,
}
use Kind::*;

/// One value as read from either side.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Time(Option<DateTime<Utc>>),
    Local(Option<NaiveDateTime>),
    Float(f64),
    Bool(bool),
    Vector(Vec<f32>),
}

/// How a table's full-text terms are made from its copied columns (by
/// index), as the stores make them (`crate::indexed`).
#[derive(Clone, Copy)]
enum Terms {
    None,
    /// A message: its text.
    Text(usize),
    /// A memory: (subject, text).
    Memory(usize, usize),
    /// A passage: (heading, text).
    Chunk(usize, usize),
}

struct Table {
    /// Target table (and the name in reports).
    name: &'static str,
    /// The SELECT on SQLite giving `columns` in order (aliases where needed).
    source: &'static str,
    columns: &'static [(&'static str, Kind)],
    terms: Terms,
    /// Identity column whose sequence moves past the copied ids.
    identity: bool,
}

/// In dependency order: a row's parents are copied before it.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        source: "SELECT id, name, timezone, created_at, password_hash, admin, disabled FROM users ORDER BY id",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("timezone", Text),
            ("created_at", Time),
            ("password_hash", OptText),
            ("admin", Bool),
            ("disabled", Bool),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "conversations",
        source: "SELECT user_id, id, title, created_at FROM conversations ORDER BY id",
        columns: &[("user_id", Int), ("id", Int), ("title", Text), ("created_at", Time)],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "messages",
        source: "SELECT user_id, id, conversation_id, role, speaker, content, created_at, external_id, embedded
                 FROM messages ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("conversation_id", Int),
            ("role", Text),
            ("speaker", OptText),
            ("content", Text),
            ("created_at", Time),
            ("external_id", OptText),
            ("embedded", Bool),
        ],
        terms: Terms::Text(5),
        identity: true,
    },
    Table {
        name: "memories",
        source: "SELECT user_id, id, text, kind, subject, importance, valid_from, valid_to, superseded_by,
                 created_at, updated_at, embedded FROM memories ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("text", Text),
            ("kind", Text),
            ("subject", OptText),
            ("importance", Float),
            ("valid_from", OptTime),
            ("valid_to", OptTime),
            ("superseded_by", OptInt),
            ("created_at", Time),
            ("updated_at", Time),
            ("embedded", Bool),
        ],
        terms: Terms::Memory(4, 2),
        identity: true,
    },
    Table {
        name: "memory_sources",
        source:
            "SELECT m.user_id, s.memory_id, s.message_id FROM memory_sources s JOIN memories m ON m.id = s.memory_id
                 ORDER BY s.memory_id, s.message_id",
        columns: &[("user_id", Int), ("memory_id", Int), ("message_id", Int)],
        terms: Terms::None,
        identity: false,
    },
    Table {
        name: "extraction_jobs",
        source: "SELECT user_id, id, conversation_id, state, attempts, last_error, created_at, updated_at
                 FROM extraction_jobs ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("conversation_id", Int),
            ("state", Text),
            ("attempts", Int),
            ("last_error", OptText),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "extraction_job_messages",
        source: "SELECT j.user_id, m.job_id, m.message_id FROM extraction_job_messages m
                 JOIN extraction_jobs j ON j.id = m.job_id ORDER BY m.job_id, m.message_id",
        columns: &[("user_id", Int), ("job_id", Int), ("message_id", Int)],
        terms: Terms::None,
        identity: false,
    },
    Table {
        name: "memory_decisions",
        source: "SELECT user_id, id, job_id, action, candidate, memory_id, target_id, reason, created_at
                 FROM memory_decisions ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("job_id", OptInt),
            ("action", Text),
            ("candidate", Text),
            ("memory_id", OptInt),
            ("target_id", OptInt),
            ("reason", Text),
            ("created_at", Time),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "conversation_summaries",
        source: "SELECT user_id, conversation_id, summary, through_message_id, updated_at FROM conversation_summaries
                 ORDER BY conversation_id",
        columns: &[
            ("user_id", Int),
            ("conversation_id", Int),
            ("summary", Text),
            ("through_message_id", Int),
            ("updated_at", Time),
        ],
        terms: Terms::None,
        identity: false,
    },
    Table {
        name: "api_keys",
        source: "SELECT user_id, id, name, prefix, digest, created_at, last_used_at, revoked_at FROM api_keys ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("name", Text),
            ("prefix", Text),
            ("digest", Text),
            ("created_at", Time),
            ("last_used_at", OptTime),
            ("revoked_at", OptTime),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "sessions",
        source: "SELECT digest, user_id, csrf, created_at, expires_at FROM sessions ORDER BY digest",
        columns: &[("digest", Text), ("user_id", Int), ("csrf", Text), ("created_at", Time), ("expires_at", Time)],
        terms: Terms::None,
        identity: false,
    },
    Table {
        name: "imports",
        source: "SELECT user_id, id, file_name, state, total, done, report, error, created_at, updated_at
                 FROM imports ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("file_name", Text),
            ("state", Text),
            ("total", Int),
            ("done", Int),
            ("report", OptText),
            ("error", OptText),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "documents",
        source: "SELECT user_id, id, title, source, format, content_hash, bytes, pages, created_at, updated_at
                 FROM documents ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("title", Text),
            ("source", Text),
            ("format", Text),
            ("content_hash", Text),
            ("bytes", Int),
            ("pages", OptInt),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "chunks",
        source: "SELECT user_id, id, document_id, ordinal, text, page, heading, start_offset, end_offset, embedded
                 FROM chunks ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("document_id", Int),
            ("ordinal", Int),
            ("text", Text),
            ("page", OptInt),
            ("heading", OptText),
            ("start_offset", Int),
            ("end_offset", Int),
            ("embedded", Bool),
        ],
        terms: Terms::Chunk(6, 4),
        identity: true,
    },
    Table {
        name: "reminders",
        source: "SELECT user_id, id, text, phrase, timezone, rule, start_local, next_at, state, fired, conversation_id,
                 lease_owner, lease_until, created_at, updated_at FROM reminders ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("text", Text),
            ("phrase", Text),
            ("timezone", Text),
            ("rule", OptText),
            ("start_local", OptLocal),
            ("next_at", OptTime),
            ("state", Text),
            ("fired", Int),
            ("conversation_id", OptInt),
            ("lease_owner", OptText),
            ("lease_until", OptTime),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "notifications",
        source: "SELECT user_id, id, reminder_id, text, due_at, fired_at, late, read_at FROM notifications ORDER BY id",
        columns: &[
            ("user_id", Int),
            ("id", Int),
            ("reminder_id", OptInt),
            ("text", Text),
            ("due_at", Time),
            ("fired_at", Time),
            ("late", Bool),
            ("read_at", OptTime),
        ],
        terms: Terms::None,
        identity: true,
    },
    Table {
        name: "memory_vectors",
        source: "SELECT user_id, id, embedding FROM memory_floats ORDER BY id",
        columns: &[("user_id", Int), ("id", Int), ("embedding", Vector)],
        terms: Terms::None,
        identity: false,
    },
    Table {
        name: "message_vectors",
        source: "SELECT user_id, id, embedding FROM message_floats ORDER BY id",
        columns: &[("user_id", Int), ("id", Int), ("embedding", Vector)],
        terms: Terms::None,
        identity: false,
    },
    Table {
        name: "chunk_vectors",
        source: "SELECT user_id, id, embedding FROM chunk_floats ORDER BY id",
        columns: &[("user_id", Int), ("id", Int), ("embedding", Vector)],
        terms: Terms::None,
        identity: false,
    },
];

/// Rows per INSERT: under PostgreSQL's 65,535 bound parameters for any table here.
const BATCH: usize = 1000;

/// What was copied and checked, table by table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    /// SHA-256 over the table's rows (canonical form), equal on both sides.
    pub checksum: String,
}

/// Copies `from` (SQLite) into `to` (an empty PostgreSQL database) and
/// verifies every table; `progress(table, done, total)` is called as rows go.
pub async fn copy(
    from: &Database,
    to: &Database,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<Vec<TableReport>> {
    let (Database::Sqlite(path), Database::Postgres(url)) = (from, to) else {
        return Err(Error::invalid(
            "pai migrate copies a SQLite database into PostgreSQL: --from sqlite://PATH --to postgres://…",
        ));
    };
    if !path.is_file() {
        return Err(Error::not_found(format!("no database at {}", path.display())));
    }
    let source = SqliteStore::open_for_accounts(path).await?;
    let dimension = pai_core::store::Store::vector_dimension(&source);
    let target =
        if dimension > 0 { PgStore::open(url, dimension).await? } else { PgStore::open_for_accounts(url).await? };
    let (src, dst) = (source.pool(), target.pool());
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(dst).await.db()?;
    if users > 0 {
        return Err(Error::Conflict(format!(
            "{} already has {users} users; pai migrate copies into an empty database only",
            to.display()
        )));
    }
    let tables: Vec<&Table> =
        TABLES.iter().filter(|t| dimension > 0 || t.columns.iter().all(|(_, k)| *k != Vector)).collect();
    let mut tx = dst.begin().await.db()?;
    sqlx::query("SET CONSTRAINTS ALL DEFERRED").execute(&mut *tx).await.db()?;
    let mut reports = Vec::new();
    for table in &tables {
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM ({})", table.source)))
            .fetch_one(src)
            .await
            .db()?;
        let rows = read_sqlite(src, table).await?;
        // Inserting into an HNSW index costs ~3 ms a vector here; building it
        // once after the copy is several times faster.
        let kind = table.name.strip_suffix("_vectors");
        if let Some(kind) = kind {
            sqlx::query(AssertSqlSafe(format!("DROP INDEX {kind}_vectors_hnsw"))).execute(&mut *tx).await.db()?;
        }
        let mut hash = Sha256::new();
        for (done, batch) in rows.chunks(BATCH).enumerate() {
            insert(&mut tx, table, batch).await?;
            batch.iter().for_each(|row| hash_row(&mut hash, row));
            progress(table.name, (done * BATCH + batch.len()) as u64, total as u64);
        }
        if let Some(kind) = kind {
            sqlx::query(AssertSqlSafe(crate::postgres::vectors::hnsw_index(kind))).execute(&mut *tx).await.db()?;
        }
        if table.identity {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce((SELECT max(id) FROM {0}), 0) + 1, false)",
                table.name
            )))
            .execute(&mut *tx)
            .await
            .db()?;
        }
        reports.push(TableReport { table: table.name, rows: rows.len() as u64, checksum: hex(hash) });
    }
    // The check reads the target inside the same transaction, before it commits.
    for (table, report) in tables.iter().zip(&reports) {
        let rows = read_postgres(&mut tx, table).await?;
        let mut hash = Sha256::new();
        rows.iter().for_each(|row| hash_row(&mut hash, row));
        let (count, sum) = (rows.len() as u64, hex(hash));
        if count != report.rows || sum != report.checksum {
            return Err(Error::internal(format!(
                "{}: {count} rows with checksum {sum} in the target, {} with {} in the source; nothing was kept",
                table.name, report.rows, report.checksum
            )));
        }
    }
    tx.commit().await.db()?;
    Ok(reports)
}

async fn read_sqlite(pool: &SqlitePool, table: &Table) -> Result<Vec<Vec<Value>>> {
    let rows = sqlx::query(AssertSqlSafe(table.source)).fetch_all(pool).await.db()?;
    // A vector is SQLite's little-endian f32 blob.
    let vector = |r: &sqlx::sqlite::SqliteRow, i| {
        let bytes: Vec<u8> = r.try_get(i).db()?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    };
    rows.iter().map(|r| values(r, table, vector)).collect()
}

async fn read_postgres(tx: &mut sqlx::Transaction<'_, Postgres>, table: &Table) -> Result<Vec<Vec<Value>>> {
    let columns: Vec<String> =
        table.columns.iter().map(|(c, k)| if *k == Vector { format!("{c}::text") } else { c.to_string() }).collect();
    // Same order as the source: by the key columns it was sorted by.
    let order = table.source.rsplit("ORDER BY").next().unwrap_or("1").replace("s.", "").replace("m.", "");
    let sql = format!("SELECT {} FROM {} ORDER BY {order}", columns.join(", "), table.name);
    let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut **tx).await.db()?;
    // A vector is pgvector's text form, `[x,y,…]`.
    let vector = |r: &sqlx::postgres::PgRow, i| {
        let text: String = r.try_get(i).db()?;
        Ok(text.trim_start_matches('[').trim_end_matches(']').split(',').filter_map(|x| x.parse().ok()).collect())
    };
    rows.iter().map(|r| values(r, table, vector)).collect()
}

/// A row's values in `table`'s column order; `vector` reads a vector column.
fn values<R: Row>(r: &R, table: &Table, vector: impl Fn(&R, usize) -> Result<Vec<f32>>) -> Result<Vec<Value>>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<DateTime<Utc>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<NaiveDateTime>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| if *kind == Vector { vector(r, i).map(Value::Vector) } else { read(r, i, *kind) })
        .collect()
}

/// A column of either backend's row. Times are cut to microseconds, what
/// PostgreSQL keeps (SQLite's text times may carry nanoseconds).
fn read<R: Row>(r: &R, i: usize, kind: Kind) -> Result<Value>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<DateTime<Utc>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<NaiveDateTime>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    use chrono::SubsecRound;
    Ok(match kind {
        Int | OptInt => Value::Int(r.try_get(i).db()?),
        Text | OptText => Value::Text(r.try_get(i).db()?),
        Time | OptTime => Value::Time(r.try_get::<Option<DateTime<Utc>>, _>(i).db()?.map(|t| t.trunc_subsecs(6))),
        OptLocal => Value::Local(r.try_get::<Option<NaiveDateTime>, _>(i).db()?.map(|t| t.trunc_subsecs(6))),
        Float => Value::Float(r.try_get(i).db()?),
        Bool => Value::Bool(r.try_get(i).db()?),
        Vector => unreachable!("vectors are read by the caller"),
    })
}

async fn insert(tx: &mut sqlx::Transaction<'_, Postgres>, table: &Table, rows: &[Vec<Value>]) -> Result<()> {
    let mut columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    if !matches!(table.terms, Terms::None) {
        columns.push("terms");
    }
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("INSERT INTO {} ({}) ", table.name, columns.join(", ")));
    q.push_values(rows, |mut b, row| {
        for value in row {
            match value.clone() {
                Value::Int(v) => b.push_bind(v),
                Value::Text(v) => b.push_bind(v),
                Value::Time(v) => b.push_bind(v),
                Value::Local(v) => b.push_bind(v),
                Value::Float(v) => b.push_bind(v),
                Value::Bool(v) => b.push_bind(v),
                Value::Vector(v) => b.push_bind(crate::postgres::vectors::literal(&v)).push_unseparated("::vector"),
            };
        }
        let text = |i: usize| match &row[i] {
            Value::Text(t) => t.as_deref(),
            _ => None,
        };
        let analyzed = match table.terms {
            Terms::None => return,
            Terms::Text(t) => index_text(text(t).unwrap_or_default()),
            Terms::Memory(s, t) => crate::indexed::memory_terms(text(s), text(t).unwrap_or_default()),
            Terms::Chunk(h, t) => crate::indexed::chunk_terms(text(h), text(t).unwrap_or_default()),
        };
        b.push_bind(tsvector(&analyzed)).push_unseparated("::tsvector");
    });
    q.build().execute(&mut **tx).await.db()?;
    Ok(())
}

/// Feeds one row, in a form where no two different rows read the same.
fn hash_row(hash: &mut Sha256, row: &[Value]) {
    let mut s = String::new();
    for v in row {
        let _ = match v {
            Value::Int(x) => write!(s, "{x:?}"),
            Value::Text(x) => write!(s, "{:?}", x),
            Value::Time(x) => write!(s, "{:?}", x.map(|t| t.to_rfc3339())),
            Value::Local(x) => write!(s, "{x:?}"),
            Value::Float(x) => write!(s, "{:?}", x.to_bits()),
            Value::Bool(x) => write!(s, "{x}"),
            Value::Vector(x) => write!(s, "{:?}", x.iter().map(|f| f.to_bits()).collect::<Vec<_>>()),
        };
        s.push('\u{1f}');
    }
    s.push('\u{1e}');
    hash.update(s.as_bytes());
}

fn hex(hash: Sha256) -> String {
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
