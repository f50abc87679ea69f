//! Implementations of `pai_core::store::Store`. The only crate with SQL in it.
//! SQLite is the default (one file, nothing to run); PostgreSQL serves many
//! users from several pai servers. One shared test suite
//! (`tests/store_suite.rs`) checks both backends.

mod checks;
pub mod copy_to_postgres;
mod delegate;
mod errors;
mod indexed;
mod portable;
pub mod postgres;
mod rows;
pub mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::path::PathBuf;
use std::sync::Arc;

use pai_core::accounts::Accounts;
use pai_core::store::Store;
use pai_core::{Error, Result};

/// Everything a server needs of a database: user data and accounts.
pub trait Backend: Store + Accounts {}
impl<T: Store + Accounts> Backend for T {}

/// Where the data lives, as the user names it: `sqlite://PATH` (or a bare
/// path) for one file, `postgres://user[:password]@host[:port]/db` for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_string()));
        }
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::invalid("sqlite:// needs a path, e.g. sqlite:///var/lib/pai/pai.db"));
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(Error::invalid(format!(
                "unknown database scheme {scheme}://; use sqlite://PATH or postgres://user@host/db"
            )));
        }
        if s.is_empty() {
            return Err(Error::invalid("the database is empty; use sqlite://PATH or postgres://user@host/db"));
        }
        Ok(Database::Sqlite(PathBuf::from(s)))
    }

    /// For messages and logs: a PostgreSQL URL without its password.
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres(url) => postgres::redact(url),
        }
    }

    /// Opens the store with its vector index sized for `vector_dimension`.
    pub async fn open(&self, vector_dimension: usize) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Database::Sqlite(path) => Arc::new(SqliteStore::open(path, vector_dimension).await?),
            Database::Postgres(url) => Arc::new(PgStore::open(url, vector_dimension).await?),
        })
    }

    /// Opens the store for accounts and keys only: no embedding model needed.
    pub async fn open_for_accounts(&self) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Database::Sqlite(path) => Arc::new(SqliteStore::open_for_accounts(path).await?),
            Database::Postgres(url) => Arc::new(PgStore::open_for_accounts(url).await?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(Database::parse("sqlite:///tmp/a.db").unwrap(), Database::Sqlite("/tmp/a.db".into()));
        assert_eq!(Database::parse("data/pai.db").unwrap(), Database::Sqlite("data/pai.db".into()));
        let pg = Database::parse("postgres://pai:secret@db:5432/pai").unwrap();
        assert_eq!(pg, Database::Postgres("postgres://pai:secret@db:5432/pai".into()));
        assert_eq!(pg.display(), "postgres://pai:***@db:5432/pai");
        assert!(Database::parse("mysql://x").is_err());
        assert!(Database::parse("sqlite://").is_err());
    }
}
