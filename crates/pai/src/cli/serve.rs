//! `pai serve`: the HTTP server (OpenAI-compatible API, REST, accounts).

use std::sync::Arc;

use anyhow::Context;
use pai_assistant::assistant::{Assistant, Settings};
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
    pai_server::webhook::check(&config.server.webhook).map_err(|e| anyhow::anyhow!("server.{e}"))?;
    let config = &Config { serving: true, ..config.clone() };
    let (store, embedder) = super::open_store(config).await?;
    let model = super::chat_model(config, None)?;
    first_admin(&*store).await?;
    let english_only_model = super::english_only_model(config, None);
    let assistant = Arc::new(Assistant::new(
        store.clone(),
        model.clone(),
        embedder,
        Settings { english_only_model, ..Settings::default() },
    ));
    let mut settings = config.server.clone();
    if config.remote_url.is_none() {
        // The local model decodes `parallel` answers together; more would only queue inside it.
        settings.limits.generation_slots = model.parallel();
    }
    let threads = config.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    // One transcription at a time: each takes every core.
    let speech = Arc::new(pai_voice::Speech::new(config.model_path(&config.speech_model), threads, 1));
    let state = AppState::new(store.clone(), store.clone(), assistant, speech, settings);
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

/// Keeps the configured folders indexed: one pass at start, one a couple of
/// seconds after the folder changes (file-system events), and one every
/// `watch_interval_secs` anyway, for file systems that send no events
/// (network shares). A pass re-indexes changed files and removes deleted ones.
async fn watch_folders(config: &Config, state: &pai_server::SharedState) -> anyhow::Result<()> {
    let mut folders = Vec::new();
    for w in &config.watch {
        let user =
            match &w.user {
                Some(name) => state
                    .store
                    .user_by_name(name)
                    .await?
                    .with_context(|| format!("watched folder {}: no user called {name:?}", w.path.display()))?,
                // A personal install: the CLI's user if there is one, else the
                // admin who runs the server (the account made at first start).
                None => match state.store.user_by_name(&config.user).await? {
                    Some(u) => u,
                    None => state.accounts.users().await?.into_iter().find(|u| u.admin && !u.disabled).with_context(
                        || format!("watched folder {}: set `user` to the account it belongs to", w.path.display()),
                    )?,
                },
            };
        folders.push((user.id, w.path.clone()));
    }
    if folders.is_empty() {
        return Ok(());
    }
    let (changed_tx, mut changed) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let mut watchers = Vec::new();
    for (i, (_, dir)) in folders.iter().enumerate() {
        match folder_events(dir, i, changed_tx.clone()) {
            Ok(w) => watchers.push(w),
            Err(e) => tracing::warn!(folder = %dir.display(), error = %e, "no change events; polling only"),
        }
    }
    let state = state.clone();
    let every = std::time::Duration::from_secs(config.watch_interval_secs.max(1));
    tokio::spawn(async move {
        let _watchers = watchers; // dropping one stops its events
        let mut due = vec![true; folders.len()];
        // A file that cannot be read is logged once, not at every pass.
        let mut reported = std::collections::HashSet::new();
        loop {
            for (i, (user, dir)) in folders.iter().enumerate() {
                if std::mem::take(&mut due[i]) {
                    // A pass that failed for a passing reason (the database busy
                    // with another process) is tried again soon, not in an hour.
                    due[i] = !sync_watched(&state, *user, dir, &mut reported).await;
                }
            }
            let wait = if due.iter().any(|&d| d) { RETRY_SYNC.min(every) } else { every };
            tokio::select! {
                _ = tokio::time::sleep(wait) => due.iter_mut().for_each(|d| *d = true),
                Some(i) = changed.recv() => {
                    due[i] = true;
                    // Saving a file is several events, copying a folder many:
                    // wait for them to settle, then make one pass.
                    let settle = tokio::time::sleep(std::time::Duration::from_secs(2));
                    tokio::pin!(settle);
                    loop {
                        tokio::select! {
                            _ = &mut settle => break,
                            Some(j) = changed.recv() => due[j] = true,
                        }
                    }
                }
            }
        }
    });
    Ok(())
}

/// Sends `index` whenever something under `dir` is created, written, renamed
/// or removed. Reads and metadata changes are ignored: the sync pass reads
/// every file, and must not wake itself.
fn folder_events(
    dir: &std::path::Path,
    index: usize,
    tx: tokio::sync::mpsc::UnboundedSender<usize>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    use notify::event::{EventKind, ModifyKind};
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = match event.kind {
            EventKind::Modify(ModifyKind::Metadata(_)) => false,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
            _ => false,
        };
        if relevant {
            let _ = tx.send(index);
        }
    })?;
    watcher.watch(dir, notify::RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// Wait before passing again over a folder whose pass failed for a passing reason.
const RETRY_SYNC: std::time::Duration = std::time::Duration::from_secs(5);

/// One pass over a watched folder. False when it failed for a reason that may
/// pass (the database busy): try again soon.
async fn sync_watched(
    state: &pai_server::SharedState,
    user: pai_core::store::UserId,
    dir: &std::path::Path,
    reported: &mut std::collections::HashSet<String>,
) -> bool {
    match pai_assistant::knowledge::sync_folder(&*state.store, &*state.assistant.embedder, user, dir).await {
        Ok(r) => {
            if r.added + r.updated + r.removed > 0 {
                tracing::info!(folder = %dir.display(), added = r.added, updated = r.updated,
                    removed = r.removed, "watched folder synced");
            }
            for f in r.failed {
                if reported.insert(f.clone()) {
                    tracing::warn!(folder = %dir.display(), "not indexed: {f}");
                }
            }
        }
        Err(e @ pai_core::Error::Unavailable { .. }) => {
            tracing::warn!(folder = %dir.display(), error = %e, "watched folder: sync failed; trying again shortly");
            return false;
        }
        Err(e) => tracing::error!(folder = %dir.display(), error = %e, "watched folder: sync failed"),
    }
    true
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
