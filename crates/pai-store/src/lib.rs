//! Implementations of `pai_core::store::Store`. The only crate with SQL in it.
//! SQLite is the default (one file, nothing to run); the trait is shaped so
//! PostgreSQL can implement it the same way, and one shared test suite
//! (`tests/store_suite.rs`) checks every backend.

mod errors;
pub mod sqlite;

pub use sqlite::SqliteStore;
