//! The route table. Served endpoints are listed here and in
//! `implemented.rs`; every other Auth0 path answers an Auth0-shaped 501, and
//! anything else an Auth0-shaped 404.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use castellan_service::App;
use serde_json::json;

use crate::endpoints::{self, Miss, Surface};
use crate::error::{json_response, ApiError};
use crate::extract::{AppState, CallerSlot, MAX_BODY};
use crate::{dashboard, devices, enduser, hosted, implemented, logs, oauth, protection, roles, tenant_config, users};

pub fn router(app: App) -> Router {
    let state = AppState { app };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/oauth/token", post(oauth::token))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route("/.well-known/openid-configuration", get(oauth::openid_configuration))
        .route("/api/v2/users", get(users::list).post(users::create))
        .route("/api/v2/users/{id}", get(users::get).patch(users::update).delete(users::delete))
        .route("/api/v2/users-by-email", get(users::by_email))
        .merge(tenant_config::routes())
        .merge(roles::routes())
        .merge(logs::routes())
        .merge(enduser::routes())
        .merge(hosted::routes())
        .merge(dashboard::routes().layer(middleware::from_fn_with_state(state.clone(), dashboard::html_errors)))
        .merge(devices::routes())
        .merge(protection::routes())
        .fallback(fallback)
        .method_not_allowed_fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), record_failures))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// Records a `fapi` event when a Management API call by a verified caller
/// fails (calls without a valid token are not attributed to anyone and are
/// not recorded, so they cannot flood the log).
async fn record_failures(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/v2/") {
        return next.run(req).await;
    }
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let caller = slot.0.lock().ok().and_then(|mut s| s.take());
    let Some((tenant, principal)) = caller else {
        return resp;
    };
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let mut event = state.app.fapi(&tenant, &principal, status.as_u16(), &value);
    if let Some(m) = value.get("message").and_then(|m| m.as_str()) {
        event.description = Some(m.chars().take(512).collect());
    }
    if let Err(e) = state.app.log_events(tenant.id, vec![event]).await {
        tracing::error!(error = %e, "could not record a failed API call");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.app.store.ping().await {
        Ok(()) => json_response(StatusCode::OK, &json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({"status": "unavailable"}))
        }
    }
}

async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    if dashboard::is_dashboard_path(req.uri().path()) {
        return dashboard::not_found(state, req).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    match endpoints::find(&method, &path) {
        Ok(ep) if !implemented::serves(ep) => endpoints::not_implemented(ep),
        Ok(ep) if ep.surface == Surface::Authentication => {
            json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found", "error_description": "Not Found"}))
        }
        // A served template reached here only through a method it lacks.
        Ok(_) | Err(Miss::MethodNotAllowed) | Err(Miss::Unknown) => {
            ApiError::new(404, "Not Found", None).into_response()
        }
    }
}

/// One structured line per request: id, method, route, status, latency.
/// Never the query string (it can hold search terms) nor any header.
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "<unmatched>".into());
    let id = castellan_domain::ids::random_token(12);
    let mut resp = next.run(req).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}
