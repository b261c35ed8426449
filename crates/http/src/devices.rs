//! /api/v2/device-credentials, /api/v2/refresh-tokens,
//! /api/v2/users/{id}/refresh-tokens, /api/v2/sessions and
//! /api/v2/users/{id}/sessions.
//!
//! Status codes as Auth0 answers them: deleting a device credential or a
//! refresh token is 204 (even when it is already gone), deleting a user's
//! refresh tokens or sessions and deleting or revoking a session is 202
//! `{}`. Device credentials page by offset (`page`/`per_page`); refresh
//! tokens and sessions by checkpoint (`from`/`take`, `next` left out on the
//! last page, `total` with `include_totals=true`). POST /device-credentials
//! (public keys) is not served: it answers 501.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use castellan_domain::user::project;
use castellan_service::devices::{CheckpointPage, DeviceKind};
use castellan_service::App;
use serde_json::{json, Map, Value};

use crate::body_schema;
use crate::error::{json_response, ApiError};
use crate::extract::{AppState, JsonBody, Mgmt, PathId, QueryPairs};
use crate::paging::{Checkpoint, Offset};

type ApiResult = Result<Response, ApiError>;

const MAX_PER_PAGE: u64 = 100;
const MAX_TAKE: u64 = 100;
const DEFAULT_TAKE: u64 = 50;
/// Most device credentials an unpaged list returns.
const UNPAGED_CAP: u64 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/device-credentials", get(list_device_credentials))
        .route("/api/v2/device-credentials/{id}", delete(delete_device_credential))
        .route("/api/v2/refresh-tokens", get(list_refresh_tokens))
        .route("/api/v2/refresh-tokens/revoke", post(revoke_refresh_tokens))
        .route(
            "/api/v2/refresh-tokens/{id}",
            get(get_refresh_token).patch(update_refresh_token).delete(delete_refresh_token),
        )
        .route("/api/v2/users/{id}/refresh-tokens", get(user_refresh_tokens).delete(delete_user_refresh_tokens))
        .route("/api/v2/sessions/{id}", get(get_session).patch(update_session).delete(delete_session))
        .route("/api/v2/sessions/{id}/revoke", post(revoke_session))
        .route("/api/v2/users/{id}/sessions", get(user_sessions).delete(delete_user_sessions))
}

fn accepted() -> Response {
    json_response(StatusCode::ACCEPTED, &json!({}))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `from`/`take`; without either, the first 50.
fn checkpoint(q: &QueryPairs) -> Result<Checkpoint, ApiError> {
    Ok(Checkpoint::from_query(q, MAX_TAKE)?.unwrap_or(Checkpoint { from: None, take: DEFAULT_TAKE }))
}

/// `{"<key>": [...], "next"?, "total"?}`.
fn checkpoint_response(key: &str, page: CheckpointPage, with_total: bool) -> Response {
    let mut m = Map::new();
    m.insert(key.into(), Value::Array(page.items));
    if let Some(n) = page.next {
        m.insert("next".into(), Value::String(n));
    }
    if with_total {
        m.insert("total".into(), page.total.into());
    }
    json_response(StatusCode::OK, &Value::Object(m))
}

fn projected(q: &QueryPairs, v: Value) -> Result<Value, ApiError> {
    Ok(project(v, &q.list("fields"), q.bool("include_fields", true)?))
}

fn nonempty<'a>(q: &'a QueryPairs, key: &str) -> Option<&'a str> {
    q.get(key).filter(|s| !s.is_empty())
}

// ---- device credentials ----------------------------------------------------

async fn list_device_credentials(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/device-credentials")?;
    let o = Offset::from_query(&q, MAX_PER_PAGE)?;
    if o.per_page == Some(0) {
        return Err(ApiError::invalid_query(
            "Query validation error: 'Value 0 is less than minimum 1' on property per_page.",
        ));
    }
    let kind = match nonempty(&q, "type") {
        Some(t) => Some(DeviceKind::parse(t).ok_or_else(|| {
            ApiError::invalid_query(format!("Query validation error: 'No enum match for: {t}' on property type."))
        })?),
        // Auth0: `type` defaults to refresh_token when paging is requested.
        None if o.per_page.is_some() => Some(DeviceKind::RefreshToken),
        None => None,
    };
    let (offset, limit) = o.window(UNPAGED_CAP);
    let (items, total) = app
        .list_device_credentials(&m.tenant, nonempty(&q, "user_id"), nonempty(&q, "client_id"), kind, offset, limit)
        .await?;
    let items = items.into_iter().map(|c| projected(&q, c)).collect::<Result<Vec<_>, _>>()?;
    Ok(o.respond("device_credentials", items, total))
}

async fn delete_device_credential(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/device-credentials/{id}")?;
    app.revoke_refresh_token(&m.tenant, &m.principal, &id, 204).await?;
    Ok(no_content())
}

// ---- refresh tokens --------------------------------------------------------

async fn list_refresh_tokens(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/refresh-tokens")?;
    let user_id = nonempty(&q, "user_id").ok_or_else(|| {
        ApiError::invalid_query("Query validation error: 'Missing required property: user_id' on property user_id.")
    })?;
    let c = checkpoint(&q)?;
    let mut page =
        app.list_refresh_tokens(&m.tenant, user_id, nonempty(&q, "client_id"), c.from.as_deref(), c.take).await?;
    page.items = page.items.into_iter().map(|t| projected(&q, t)).collect::<Result<Vec<_>, _>>()?;
    Ok(checkpoint_response("refresh_tokens", page, false))
}

async fn revoke_refresh_tokens(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/refresh-tokens/revoke")?;
    body_schema::validate("POST", "/api/v2/refresh-tokens/revoke", &body)?;
    app.revoke_refresh_tokens_bulk(&m.tenant, &m.principal, &body).await?;
    Ok(accepted())
}

async fn get_refresh_token(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/refresh-tokens/{id}")?;
    Ok(json_response(StatusCode::OK, &app.get_refresh_token(&m.tenant, &id).await?))
}

async fn update_refresh_token(
    State(app): State<App>,
    m: Mgmt,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult {
    m.require("PATCH", "/api/v2/refresh-tokens/{id}")?;
    body_schema::validate("PATCH", "/api/v2/refresh-tokens/{id}", &body)?;
    Ok(json_response(StatusCode::OK, &app.update_refresh_token(&m.tenant, &m.principal, &id, &body).await?))
}

async fn delete_refresh_token(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/refresh-tokens/{id}")?;
    app.revoke_refresh_token(&m.tenant, &m.principal, &id, 204).await?;
    Ok(no_content())
}

async fn user_refresh_tokens(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users/{user_id}/refresh-tokens")?;
    let c = checkpoint(&q)?;
    let page = app.list_refresh_tokens(&m.tenant, &id, None, c.from.as_deref(), c.take).await?;
    Ok(checkpoint_response("tokens", page, q.bool("include_totals", false)?))
}

async fn delete_user_refresh_tokens(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/users/{user_id}/refresh-tokens")?;
    app.revoke_user_refresh_tokens(&m.tenant, &m.principal, &id).await?;
    Ok(accepted())
}

// ---- sessions --------------------------------------------------------------

async fn user_sessions(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users/{user_id}/sessions")?;
    let c = checkpoint(&q)?;
    let page = app.list_sessions(&m.tenant, &id, c.from.as_deref(), c.take).await?;
    Ok(checkpoint_response("sessions", page, q.bool("include_totals", false)?))
}

async fn delete_user_sessions(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/users/{user_id}/sessions")?;
    app.end_user_sessions(&m.tenant, &m.principal, &id).await?;
    Ok(accepted())
}

async fn get_session(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/sessions/{id}")?;
    Ok(json_response(StatusCode::OK, &app.get_session(&m.tenant, &id).await?))
}

async fn update_session(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/sessions/{id}")?;
    body_schema::validate("PATCH", "/api/v2/sessions/{id}", &body)?;
    Ok(json_response(StatusCode::OK, &app.update_session(&m.tenant, &m.principal, &id, &body).await?))
}

async fn delete_session(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/sessions/{id}")?;
    app.end_session(&m.tenant, &m.principal, &id, false).await?;
    Ok(accepted())
}

async fn revoke_session(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("POST", "/api/v2/sessions/{id}/revoke")?;
    app.end_session(&m.tenant, &m.principal, &id, true).await?;
    Ok(accepted())
}
