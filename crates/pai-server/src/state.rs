//! What every handler shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use pai_assistant::assistant::Assistant;
use pai_core::accounts::Accounts;
use pai_core::store::Store;
use serde::{Deserialize, Serialize};

use crate::limits::{FairGate, Limits, RateLimiter};
use crate::metrics::Metrics;

/// Server settings beyond the models and the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub limits: Limits,
    /// Mark session cookies `Secure` (browsers then send them over HTTPS and
    /// to localhost only). Turn off only for plain HTTP on a trusted LAN.
    pub cookie_secure: bool,
    /// Let anyone create an account with `POST /api/signup`.
    pub open_signup: bool,
    /// How long a login lasts.
    pub session_hours: u32,
    /// Time zone of accounts created without one.
    pub default_timezone: String,
    /// Fired reminders POSTed, signed, to a URL.
    pub webhook: crate::webhook::WebhookSettings,
    /// Other names `/v1` answers to, for tools that hard-code a model name:
    /// `[server.model_aliases]` `"gpt-4o-mini" = "chat"`,
    /// `"text-embedding-3-small" = "embedding"`, `"whisper-large-v3" = "speech"`
    /// (`whisper-1` names the speech model without one).
    pub model_aliases: BTreeMap<String, ModelRole>,
    /// Web origins whose pages may call `/v1` with an API key
    /// (`["https://chat.example.org"]`, or `["*"]` for any): browser front
    /// ends on another origin. `/api`, which takes session cookies, never
    /// answers another origin. Empty: no cross-origin calls.
    pub cors_origins: Vec<String>,
    /// A bearer token that lets `/metrics` answer scrapers from other hosts;
    /// without it (or without the token) it answers loopback only.
    pub metrics_token: Option<String>,
    /// Reverse proxies (addresses or networks, `["127.0.0.1", "10.0.0.0/8"]`)
    /// whose `X-Forwarded-For` names the client, for per-address limits.
    /// Empty: the socket's peer is the client and the header is ignored.
    pub trusted_proxies: crate::client_address::TrustedProxies,
}

/// Which of pai's models an alias names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelRole {
    Chat,
    Embedding,
    /// The speech model of `/v1/audio/transcriptions`.
    Speech,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            limits: Limits::default(),
            cookie_secure: true,
            open_signup: false,
            session_hours: 24 * 7,
            default_timezone: "UTC".into(),
            webhook: Default::default(),
            model_aliases: BTreeMap::new(),
            cors_origins: Vec::new(),
            metrics_token: None,
            trusted_proxies: Default::default(),
        }
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub accounts: Arc<dyn Accounts>,
    pub assistant: Arc<Assistant>,
    /// Speech to text, loaded at the first recording.
    pub speech: Arc<pai_voice::Speech>,
    pub settings: ServerSettings,
    pub metrics: Metrics,
    pub gate: Arc<FairGate>,
    pub rate: RateLimiter,
    pub logins: RateLimiter,
    /// Failed logins per client address: one password tried over many names.
    pub login_failures: RateLimiter,
    /// False while starting and once shutting down (`/readyz`).
    pub ready: AtomicBool,
    /// Becomes true when shutdown begins: endless streams (notifications)
    /// end then, or the graceful shutdown would wait for them forever.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// `/v1/responses` answers and items that later requests may point at.
    pub responses: crate::openai::responses::Kept,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        accounts: Arc<dyn Accounts>,
        assistant: Arc<Assistant>,
        speech: Arc<pai_voice::Speech>,
        settings: ServerSettings,
    ) -> SharedState {
        let limits = &settings.limits;
        Arc::new(AppState {
            gate: FairGate::new(
                limits.generation_slots,
                limits.generations_per_user,
                limits.queued_per_user,
                std::time::Duration::from_secs(limits.queue_wait_secs),
            ),
            rate: RateLimiter::new(limits.requests_per_minute),
            logins: RateLimiter::new(10),
            login_failures: RateLimiter::new(limits.login_failures_per_address),
            store,
            accounts,
            assistant,
            speech,
            settings,
            metrics: Metrics::default(),
            responses: Default::default(),
            ready: AtomicBool::new(true),
            stopping: tokio::sync::watch::Sender::new(false),
        })
    }
}
