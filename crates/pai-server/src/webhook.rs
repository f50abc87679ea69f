//! Reminder notifications POSTed to a configured URL, signed so the receiver
//! can tell they come from this server: `X-Pai-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>` (the
//! timestamp lets the receiver refuse replays). Each notification is sent by
//! the instance that fired it, tried up to three times; a notification whose
//! delivery failed is still listed in `/api/notifications`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use pai_core::reminders::Notification;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use crate::state::SharedState;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST each fired reminder; none: no webhook.
    pub url: Option<String>,
    /// Shared secret for the signature (required with `url`).
    pub secret: Option<String>,
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Checks the settings before the server starts.
pub fn check(settings: &WebhookSettings) -> Result<(), String> {
    match (&settings.url, &settings.secret) {
        (None, _) => Ok(()),
        (Some(_), None) => Err("webhook.url needs webhook.secret to sign with".into()),
        (Some(url), Some(secret)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("webhook.url {url:?} is not an http(s) URL"));
            }
            if secret.len() < 16 {
                return Err("webhook.secret must be at least 16 characters".into());
            }
            Ok(())
        }
    }
}

/// Sends every notification the scheduler fires until `stop` completes.
pub async fn deliver(state: SharedState, stop: impl std::future::Future<Output = ()>) {
    let settings = state.settings.webhook.clone();
    let (Some(url), Some(secret)) = (settings.url, settings.secret) else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "webhook: no HTTP client"),
    };
    let mut fired = state.assistant.scheduler.subscribe();
    tokio::pin!(stop);
    loop {
        let notification = tokio::select! {
            _ = &mut stop => return,
            n = fired.recv() => match n {
                Ok(n) => n,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "webhook: fell behind; those notifications are only listed");
                    continue;
                }
                Err(_) => return,
            },
        };
        let user = state.store.user(notification.user).await.map(|u| u.name).unwrap_or_default();
        send(&client, &url, &secret, &user, &notification).await;
    }
}

async fn send(client: &reqwest::Client, url: &str, secret: &str, user: &str, n: &Notification) {
    let body = json!({"type": "reminder", "user": user, "notification": n}).to_string();
    for attempt in 1..=3u32 {
        let timestamp = chrono::Utc::now().timestamp();
        let result = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-pai-signature", sign(secret, timestamp, body.as_bytes()))
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(status = %r.status(), attempt, "webhook refused a notification"),
            Err(e) => tracing::warn!(error = %e, attempt, "webhook unreachable"),
        }
        tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
    }
    tracing::error!(notification = n.id.0, "webhook: gave up after 3 tries; the notification stays listed");
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_depend_on_secret_time_and_body() {
        let s = super::sign("0123456789abcdef", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("t=1700000000,v1=") && s.len() == "t=1700000000,v1=".len() + 64, "{s}");
        assert_ne!(s, super::sign("0123456789abcdeX", 1_700_000_000, b"{\"a\":1}"));
        assert_ne!(s, super::sign("0123456789abcdef", 1_700_000_001, b"{\"a\":1}"));
        assert_ne!(s, super::sign("0123456789abcdef", 1_700_000_000, b"{\"a\":2}"));
    }
}
