//! Making and checking secrets: API keys and session tokens (random, stored
//! as SHA-256 digests) and passwords (argon2id, hashed off the async threads).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use pai_core::{Error, Result};
use sha2::{Digest, Sha256};

/// Every API key starts with this, so a leaked one is recognisable (secret scanners).
pub const KEY_PREFIX: &str = "pai-";

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new API key: the key itself (shown once) and the prefix listed with it.
pub fn new_api_key() -> (String, String) {
    let key = format!("{KEY_PREFIX}{}", random_hex(24));
    let prefix = key[..KEY_PREFIX.len() + 6].to_string();
    (key, prefix)
}

/// What the store keeps of a key or session token.
/// Whether two secrets are equal, in time that does not depend on where
/// they first differ (their digests are compared, byte by byte, all of them).
pub fn same(a: &str, b: &str) -> bool {
    digest(a).bytes().zip(digest(b).bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

pub const MIN_PASSWORD_CHARS: usize = 8;

pub fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid_field(
            "password",
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(Error::invalid_field("password", "a password is at most 1024 bytes"));
    }
    Ok(())
}

/// argon2id with the crate's recommended parameters (19 MiB, 2 passes): tens
/// of milliseconds, so it runs on the blocking pool.
pub async fn hash_password(password: String) -> Result<String> {
    check_password_rules(&password)?;
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the operating system's random source works");
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
}

/// Whether `password` matches `hash`. A user that does not exist is checked
/// against a fixed hash, so timing does not tell which names exist.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let found = hash.is_some();
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::encode_b64(&[7u8; 16]).expect("valid salt");
                    Argon2::default().hash_password(b"no such user", &salt).expect("hashes").to_string()
                })
                .clone()
        });
        let Ok(parsed) = PasswordHash::new(&hash) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && found
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_round_trip_and_rules_hold() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse!".into(), Some(hash)).await);
        assert!(!verify_password("anything at all".into(), None).await);
        assert!(matches!(hash_password("short".into()).await, Err(Error::Invalid { .. })));
    }

    #[test]
    fn keys_are_random_prefixed_and_digested() {
        let (a, prefix) = new_api_key();
        let (b, _) = new_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.starts_with(&prefix) && a.len() == 52);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
