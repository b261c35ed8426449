//! /api/v2/user-blocks, /api/v2/attack-protection/{brute-force-protection,
//! suspicious-ip-throttling, breached-password-detection} and
//! /api/v2/anomaly/blocks/ips/{ip}.
//!
//! As Auth0 answers them: user blocks are `{"blocked_for": [...]}` and
//! lifting them is 204; attack protection PATCH answers the whole object;
//! an IP check is 200 with an empty body when the IP is blocked and a 404
//! `{"statusCode":404,"error":"Not Found","message":"Not Found"}` when it is
//! not; lifting an IP block is 204.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use castellan_service::attack_protection::Protection;
use castellan_service::App;

use crate::body_schema;
use crate::error::{json_response, ApiError};
use crate::extract::{AppState, JsonBody, Mgmt, PathId, QueryPairs};

type ApiResult = Result<Response, ApiError>;

const BRUTE_FORCE: &str = "/api/v2/attack-protection/brute-force-protection";
const SUSPICIOUS_IP: &str = "/api/v2/attack-protection/suspicious-ip-throttling";
const BREACHED_PASSWORD: &str = "/api/v2/attack-protection/breached-password-detection";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/user-blocks", get(blocks_by_identifier).delete(unblock_identifier))
        .route("/api/v2/user-blocks/{id}", get(user_blocks).delete(unblock_user))
        .route(BRUTE_FORCE, get(get_brute_force).patch(patch_brute_force))
        .route(SUSPICIOUS_IP, get(get_suspicious_ip).patch(patch_suspicious_ip))
        .route(BREACHED_PASSWORD, get(get_breached_password).patch(patch_breached_password))
        .route("/api/v2/anomaly/blocks/ips/{id}", get(check_ip).delete(unblock_ip))
}

// ---- user blocks -----------------------------------------------------------

fn identifier(q: &QueryPairs) -> Result<&str, ApiError> {
    q.get("identifier").filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::invalid_query(
            "Query validation error: 'Missing required property: identifier' on property identifier.",
        )
    })
}

async fn blocks_by_identifier(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/user-blocks")?;
    let id = identifier(&q)?;
    let consider = q.bool("consider_brute_force_enablement", false)?;
    Ok(json_response(StatusCode::OK, &app.user_blocks_by_identifier(&m.tenant, id, consider).await?))
}

async fn unblock_identifier(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("DELETE", "/api/v2/user-blocks")?;
    app.unblock_identifier(&m.tenant, &m.principal, identifier(&q)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn user_blocks(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/user-blocks/{id}")?;
    let consider = q.bool("consider_brute_force_enablement", false)?;
    Ok(json_response(StatusCode::OK, &app.user_blocks(&m.tenant, &id, consider).await?))
}

async fn unblock_user(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/user-blocks/{id}")?;
    app.unblock_user(&m.tenant, &m.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- attack protection -----------------------------------------------------

fn read(app: &App, m: &Mgmt, template: &str, which: Protection) -> ApiResult {
    m.require("GET", template)?;
    Ok(json_response(StatusCode::OK, &app.attack_protection(&m.tenant, which)))
}

async fn patch(app: &App, m: &Mgmt, template: &str, which: Protection, body: &serde_json::Value) -> ApiResult {
    m.require("PATCH", template)?;
    body_schema::validate("PATCH", template, body)?;
    Ok(json_response(StatusCode::OK, &app.update_attack_protection(&m.tenant, &m.principal, which, body).await?))
}

async fn get_brute_force(State(app): State<App>, m: Mgmt) -> ApiResult {
    read(&app, &m, BRUTE_FORCE, Protection::BruteForce)
}

async fn patch_brute_force(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    patch(&app, &m, BRUTE_FORCE, Protection::BruteForce, &body).await
}

async fn get_suspicious_ip(State(app): State<App>, m: Mgmt) -> ApiResult {
    read(&app, &m, SUSPICIOUS_IP, Protection::SuspiciousIp)
}

async fn patch_suspicious_ip(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    patch(&app, &m, SUSPICIOUS_IP, Protection::SuspiciousIp, &body).await
}

async fn get_breached_password(State(app): State<App>, m: Mgmt) -> ApiResult {
    read(&app, &m, BREACHED_PASSWORD, Protection::BreachedPassword)
}

async fn patch_breached_password(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    patch(&app, &m, BREACHED_PASSWORD, Protection::BreachedPassword, &body).await
}

// ---- anomaly IP blocks -----------------------------------------------------

/// The path's IP address in canonical form; anything else is a 400.
fn ip_param(id: &str) -> Result<String, ApiError> {
    castellan_domain::ip::canonical(id).map(|ip| ip.to_string()).ok_or_else(|| {
        ApiError::bad_request(
            format!("Path validation error: 'Object didn't pass validation for format ipv4 or ipv6: {id}' on property id (IP address to check)."),
            "invalid_uri",
        )
    })
}

async fn check_ip(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/anomaly/blocks/ips/{id}")?;
    let ip = ip_param(&id)?;
    if app.ip_is_blocked(&m.tenant, &ip).await? {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(ApiError::new(404, "Not Found", None))
    }
}

async fn unblock_ip(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/anomaly/blocks/ips/{id}")?;
    let ip = ip_param(&id)?;
    app.unblock_ip(&m.tenant, &m.principal, &ip).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
