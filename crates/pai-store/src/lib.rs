//! Implementations of `pai_core::store::Store`. The only crate with SQL in it.
//! SQLite is the default (one file, nothing to run); PostgreSQL serves many
//! users from several pai servers. One shared test suite
//! (`tests/store_suite.rs`) checks both backends.

mod delegate;
mod errors;
pub mod postgres;
mod rows;
pub mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
