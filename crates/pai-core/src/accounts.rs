//! Who may use a pai server, and how they prove it: password logins with
//! sessions (the web app) and API keys (OpenAI SDKs, scripts).
//!
//! Secrets never reach the store in the clear: passwords arrive as argon2
//! hashes, API keys and session tokens as SHA-256 digests (they are long
//! random strings, so a fast hash is enough). Hashing is the server's job.
//!
//! Lookups by credential (`authenticate_key`, `session`, `login`) are the only
//! reads not scoped by an owner: they are how the owner is found.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::store::{User, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct KeyId(pub i64);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An API key as listed: never the key itself, only its first characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: KeyId,
    pub name: String,
    /// The key's first characters, to tell keys apart ("pai-3f9a…").
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user: User,
    /// The token every state-changing request of this session must echo in
    /// `X-CSRF-Token` (a cross-site form cannot read it).
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates a user; `Conflict` when the name is taken.
    async fn create_account(
        &self,
        name: &str,
        timezone: &str,
        password_hash: Option<&str>,
        admin: bool,
    ) -> Result<User>;
    async fn set_password(&self, user: UserId, password_hash: &str) -> Result<()>;
    /// The enabled user called `name` and their password hash, for a login.
    async fn login(&self, name: &str) -> Result<Option<(User, String)>>;
    /// Every user, oldest first (admins only).
    async fn users(&self) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<u64>;
    /// Disabling also ends the user's sessions; keys stop working while disabled.
    async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<User>;
    /// The zone the user's times are read in (an IANA name, checked by the caller).
    async fn set_timezone(&self, user: UserId, timezone: &str) -> Result<User>;
    /// Deletes the user and everything they own, in one transaction.
    async fn delete_user(&self, user: UserId) -> Result<()>;

    async fn create_api_key(&self, user: UserId, name: &str, prefix: &str, digest: &str) -> Result<ApiKey>;
    /// Newest first, revoked ones included.
    async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKey>>;
    async fn revoke_api_key(&self, user: UserId, id: KeyId) -> Result<ApiKey>;
    /// The enabled user owning the unrevoked key with this digest.
    async fn authenticate_key(&self, digest: &str) -> Result<Option<(User, KeyId)>>;

    async fn create_session(&self, user: UserId, digest: &str, csrf: &str, expires_at: DateTime<Utc>) -> Result<()>;
    /// The unexpired session with this token digest, of an enabled user.
    async fn session(&self, digest: &str) -> Result<Option<Session>>;
    async fn delete_session(&self, digest: &str) -> Result<()>;
}
