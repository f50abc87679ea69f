//! pai's HTTP server: the OpenAI-compatible API (`/v1`), the REST API
//! (`/api`), MCP (`/mcp`), accounts, health and metrics. Handlers are thin: they check the
//! request, take the owner from the credentials (`auth`), and call
//! pai-assistant and the store.

pub mod api;
pub mod auth;
pub mod client_address;
pub mod error;
pub mod extractors;
pub mod limits;
pub mod mcp;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod secrets;
pub mod state;
pub mod web;
pub mod webhook;

use chrono::Utc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
pub use state::{AppState, ServerSettings, SharedState};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::metrics::Gauges;

/// Every route, with limits and metrics around them, and `/openapi.json`
/// collected from the same routes.
pub fn router(state: SharedState) -> Router {
    let (routes, api) = documented_routes(&state).split_for_parts();
    let api = std::sync::Arc::new(api);
    routes
        .merge(mcp::routes(&state))
        .route("/openapi.json", get(move || std::future::ready(axum::Json(api.clone()))))
        .merge(web::routes())
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json").code("unknown_route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method; see /openapi.json")
        })
        .layer(DefaultBodyLimit::max(state.settings.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
        .merge(
            swagger_ui_dist::generate_routes(swagger_ui_dist::ApiDefinition {
                uri_prefix: "/docs",
                api_definition: swagger_ui_dist::OpenApiSource::Uri("/openapi.json"),
                title: Some("pai API"),
            })
            .layer(middleware::map_response(docs_headers)),
        )
}

/// The routes `/openapi.json` describes, each with its operation. `/mcp`
/// is routed apart (the MCP SDK's service) and declared in `openapi::base`.
fn documented_routes(state: &SharedState) -> OpenApiRouter<SharedState> {
    let limits = &state.settings.limits;
    // OPTIONS is routed so that the CORS layer, which wraps each route's
    // handlers, sees the browser's preflight instead of the 405 fallback.
    let preflight = |(schemas, paths, method): UtoipaMethodRouter<SharedState>| {
        (schemas, paths, method.options(|| async { StatusCode::NO_CONTENT }))
    };
    let v1 = OpenApiRouter::new()
        .routes(preflight(routes!(openai::chat::completions)))
        .routes(preflight(routes!(openai::text_completion::completions)))
        .routes(preflight(routes!(openai::responses::responses)))
        .routes(preflight(routes!(openai::models)))
        .routes(preflight(routes!(openai::model)))
        .routes(preflight(routes!(openai::embeddings)).layer(DefaultBodyLimit::max(limits.max_embedding_body_bytes)))
        .routes(preflight(routes!(openai::audio::transcriptions)).layer(DefaultBodyLimit::max(limits.max_audio_bytes)))
        .layer(cors(&state.settings.cors_origins));
    let mut router = OpenApiRouter::with_openapi(openapi::base())
        .merge(v1)
        .merge(api::routes(limits.max_import_bytes))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text));
    openapi::add_error_responses(router.get_openapi_mut());
    router
}

#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "Operations", security(()), summary = "The process is up",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Swagger UI's page starts itself with an inline script, so its policy
/// allows that; it shows no user data, and may not be framed or sniffed.
async fn docs_headers(mut response: Response) -> Response {
    use axum::http::HeaderValue;
    const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                            img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
                            base-uri 'none'; form-action 'self'";
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Cross-origin access to `/v1` for the listed origins: preflights
/// answered, request headers allowed, no credentials (keys, not cookies).
/// No origins: a layer that allows none.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins.iter().filter_map(|o| axum::http::HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        // Any: the OpenAI SDKs add their own (x-stainless-*), and without
        // credentials a header grants nothing the key does not.
        .allow_headers(tower_http::cors::Any)
        .expose_headers([header::HeaderName::from_static(REQUEST_ID), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// The header that names a request in the log and to the client.
pub const REQUEST_ID: &str = "x-request-id";

/// Counts and times every request by its route template (never the raw
/// path: ids would explode the label set), gives it an id (the client's own
/// `x-request-id` when it is a sane token, else a new one) returned in the
/// response, and logs one line for it: info when it succeeded, warn for a
/// 4xx and error for a 5xx, with the reason the client was given. Probes
/// (`/healthz`, `/readyz`, `/metrics`) log at debug. A streamed answer is
/// logged when its headers go out.
async fn observe(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .map_or_else(|| format!("req_{}", secrets::random_hex(12)), str::to_string);
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics.request(&method, &route, status, elapsed);
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let ms = elapsed.as_secs_f64() * 1000.0;
    // The log names the MCP call too; the metrics keep the route template.
    let route = match response.extensions().get::<mcp::McpCall>() {
        Some(call) => format!("{route} {}", call.0),
        None => route,
    };
    let reason = response.extensions().get::<error::FailureReason>();
    let why = reason.map_or("", |r| r.message.as_str());
    let param = reason.and_then(|r| r.param.as_deref()).unwrap_or("");
    match status {
        500.. => tracing::error!(request_id = %id, %method, %route, status, ms, reason = why, param, "request failed"),
        400..=499 => {
            tracing::warn!(request_id = %id, %method, %route, status, ms, reason = why, param, "request refused")
        }
        _ if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") => {
            tracing::debug!(request_id = %id, %method, %route, status, ms, "request")
        }
        _ => tracing::info!(request_id = %id, %method, %route, status, ms, "request"),
    }
    response
}

#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "Operations", security(()),
    summary = "Ready to serve (database reachable, not shutting down)",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn readyz(State(state): State<SharedState>) -> Response {
    if !state.ready.load(Ordering::SeqCst) {
        return ApiError::from(pai_core::Error::unavailable("shutting down")).into_response();
    }
    match state.accounts.count_users().await {
        Ok(_) => "ready".into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Metrics say how busy the server is and how many users it has: for the
/// machine itself, or a scraper that shows `[server] metrics_token`.
fn may_read_metrics(state: &SharedState, request: &Request) -> bool {
    let token = state.settings.metrics_token.as_deref().filter(|t| !t.is_empty());
    let shown = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let (Some(token), Some(shown)) = (token, shown) {
        return shown.strip_prefix("Bearer ").is_some_and(|s| secrets::same(s.trim(), token));
    }
    // No peer address: a request from inside the process (tests), not a
    // socket. Behind a proxy on this machine every peer is loopback: the
    // client the trusted proxy names is the one that counts.
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_none_or(|peer| state.settings.trusted_proxies.client(peer.0.ip(), request.headers()).is_loopback())
}

#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "Operations", security(()),
    summary = "Prometheus metrics (this machine, or with [server] metrics_token)",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics_text(State(state): State<SharedState>, request: Request) -> Response {
    if !may_read_metrics(&state, &request) {
        return ApiError::forbidden(
            "/metrics answers this machine only; set [server] metrics_token and scrape with Authorization: Bearer <token>",
        )
        .into_response();
    }
    let (running, waiting) = state.gate.depth();
    let jobs = state.store.extraction_job_counts().await.unwrap_or_default();
    let gauges = Gauges {
        generations_running: running,
        generations_waiting: waiting,
        extraction_jobs: [
            pai_core::store::JobState::Pending,
            pai_core::store::JobState::Running,
            pai_core::store::JobState::Done,
            pai_core::store::JobState::Failed,
        ]
        .iter()
        .map(|s| (s.as_str(), jobs.iter().find(|(j, _)| j == s).map_or(0, |(_, n)| *n)))
        .collect(),
        prompt_cache: state.assistant.model.prompt_cache(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(&gauges)).into_response()
}

/// Serves until `shutdown` completes: then stops taking connections, lets
/// running requests and streams finish, and stops the extraction worker (a
/// job the model is still deciding goes back to the queue, so a stop takes
/// seconds, not the minutes a job may; queued jobs stay queued for the next
/// start) and the
/// background indexer between passes (what is left is found at the next start)
/// and the reminder scheduler (reminders due meanwhile fire late at the next start).
pub async fn serve(
    state: SharedState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.store.requeue_interrupted_jobs().await.map_err(std::io::Error::other)?;
    state.store.fail_interrupted_imports().await.map_err(std::io::Error::other)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        while rx.changed().await.is_ok() && !*rx.borrow() {}
    };
    let extractor = state.assistant.extractor.clone();
    let worker = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { extractor.run(stop).await }
    });
    let indexer = state.assistant.indexer.clone();
    let index_worker = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { indexer.run(stop).await }
    });
    let scheduler = state.assistant.scheduler.clone();
    let schedule_worker = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { scheduler.run(Utc::now, stop).await }
    });
    let webhook = tokio::spawn(webhook::deliver(state.clone(), stopped(stop_rx)));
    let flag = state.clone();
    let app = router(state);
    let result = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            flag.ready.store(false, Ordering::SeqCst);
            flag.stopping.send_replace(true);
            tracing::info!("shutting down: finishing open requests");
        })
        .await;
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let _ = index_worker.await;
    let _ = schedule_worker.await;
    let _ = webhook.await;
    result
}
