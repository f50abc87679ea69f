//! `pai serve`: the HTTP server (OpenAI-compatible API, REST, accounts).

use std::sync::Arc;

use anyhow::Context;
use pai_assistant::conversation::{Assistant, Settings};
use pai_core::accounts::Accounts;
use pai_core::store::Store;
use pai_server::{AppState, secrets};

use crate::config::Config;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080; setting `addr`, PAI_ADDR).
    #[arg(long)]
    addr: Option<String>,
}

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.addr.unwrap_or_else(|| config.addr.clone());
    let (store, embedder) = super::open_store(config).await?;
    let model = super::chat_model(config, None)?;
    first_admin(&*store).await?;
    let assistant = Arc::new(Assistant::new(store.clone(), model.clone(), embedder, Settings::default()));
    let mut settings = config.server.clone();
    if config.remote_url.is_none() {
        // The local model answers one request at a time; more slots only queue inside it.
        settings.limits.generation_slots = 1;
    }
    let state = AppState::new(store.clone(), store.clone(), assistant, settings);
    watch_folders(config, &state).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!("pai is serving {} on http://{local}", model.id());
    eprintln!("  OpenAI SDKs: base_url=\"http://{local}/v1\" with a key from `pai key create --user NAME`");
    eprintln!("  API docs: http://{local}/docs   metrics: http://{local}/metrics   stop: Ctrl-C");
    pai_server::serve(state, listener, shutdown_signal()).await?;
    eprintln!("pai stopped; queued memory jobs run at the next start");
    Ok(())
}

/// Keeps the configured folders indexed: one pass now and one every
/// `watch_interval_secs` (changed files re-indexed, deleted ones removed).
async fn watch_folders(config: &Config, state: &pai_server::SharedState) -> anyhow::Result<()> {
    let mut folders = Vec::new();
    for w in &config.watch {
        let name = w.user.clone().unwrap_or_else(|| config.user.clone());
        let user = state
            .store
            .user_by_name(&name)
            .await?
            .with_context(|| format!("watched folder {}: no user called {name:?}", w.path.display()))?;
        folders.push((user.id, w.path.clone()));
    }
    if folders.is_empty() {
        return Ok(());
    }
    let state = state.clone();
    let every = std::time::Duration::from_secs(config.watch_interval_secs.max(1));
    tokio::spawn(async move {
        loop {
            for (user, dir) in &folders {
                match pai_assistant::knowledge::sync_folder(&*state.store, &*state.assistant.embedder, *user, dir).await
                {
                    Ok(r) => {
                        if r.added + r.updated + r.removed > 0 {
                            tracing::info!(folder = %dir.display(), added = r.added, updated = r.updated,
                                removed = r.removed, "watched folder synced");
                        }
                        for f in &r.failed {
                            tracing::warn!(folder = %dir.display(), "not indexed: {f}");
                        }
                    }
                    Err(e) => tracing::error!(folder = %dir.display(), error = %e, "watched folder: sync failed"),
                }
            }
            tokio::time::sleep(every).await;
        }
    });
    Ok(())
}

/// Ctrl-C or SIGTERM (what systemd and docker send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// On a data directory where nobody can log in as admin, creates `admin` with
/// a random password and says so, once.
async fn first_admin<S: Store + Accounts + ?Sized>(store: &S) -> anyhow::Result<()> {
    if store.users().await?.iter().any(|u| u.admin && !u.disabled) {
        return Ok(());
    }
    let password = secrets::random_hex(10);
    let hash = secrets::hash_password(password.clone()).await?;
    match store.create_account("admin", "UTC", Some(&hash), true).await {
        Ok(_) => {
            eprintln!("Created the first user, an admin: name `admin`, password `{password}` (shown only now).");
            eprintln!("  Log in with POST /api/session, or make an API key: pai key create --user admin");
            eprintln!("  Change the password: pai user passwd admin");
        }
        Err(pai_core::Error::Conflict(_)) => {
            eprintln!("No admin yet, and `admin` is taken: make one with `pai user add NAME --admin`.");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
