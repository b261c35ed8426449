//! /api/v2/clients, /api/v2/client-grants, /api/v2/resource-servers and
//! /api/v2/connections.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use castellan_domain::user::project;
use castellan_service::App;
use castellan_service::DocFilter;
use serde_json::Value;

use crate::body_schema;
use crate::error::{json_response, ApiError};
use crate::extract::{AppState, JsonBody, Mgmt, PathId, QueryPairs};
use crate::paging::ListMode;

type ApiResult = Result<Response, ApiError>;

/// Lists that Auth0 does not page when no paging is asked for are capped here.
const UNPAGED_CAP: u64 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/clients", get(list_clients).post(create_client))
        .route("/api/v2/clients/{id}", get(get_client).patch(update_client).delete(delete_client))
        .route("/api/v2/clients/{id}/rotate-secret", post(rotate_secret))
        .route("/api/v2/client-grants", get(list_grants).post(create_grant))
        .route("/api/v2/client-grants/{id}", get(get_grant).patch(update_grant).delete(delete_grant))
        .route("/api/v2/resource-servers", get(list_apis).post(create_api))
        .route("/api/v2/resource-servers/{id}", get(get_api).patch(update_api).delete(delete_api))
        .route("/api/v2/connections", get(list_connections).post(create_connection))
        .route("/api/v2/connections/{id}", get(get_connection).patch(update_connection).delete(delete_connection))
        .route("/api/v2/connections/{id}/clients", get(connection_clients).patch(set_connection_clients))
}

fn checked(method: &str, template: &str, body: &Value) -> Result<(), ApiError> {
    body_schema::validate(method, template, body)
}

/// A token with only `read:client_summary` sees a client's summary.
fn summary_only(m: &Mgmt) -> bool {
    !m.principal.has_any(&["read:clients", "read:client_keys"])
}

const SUMMARY_FIELDS: &[&str] = &["client_id", "app_type", "name", "description"];

fn summarized(m: &Mgmt, v: Value) -> Value {
    if summary_only(m) {
        project(v, &SUMMARY_FIELDS.iter().map(|s| s.to_string()).collect::<Vec<_>>(), true)
    } else {
        v
    }
}

fn projected(q: &QueryPairs, v: Value) -> Result<Value, ApiError> {
    Ok(project(v, &q.list("fields"), q.bool("include_fields", true)?))
}

// ---- clients ---------------------------------------------------------------

async fn list_clients(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/clients")?;
    let mode = ListMode::from_query(&q, 100)?;
    let (offset, limit) = mode.window(UNPAGED_CAP)?;
    let app_types = q.list("app_type");
    let first_party = q.get("is_first_party").map(|_| q.bool("is_first_party", false)).transpose()?;
    let global = q.get("is_global").map(|_| q.bool("is_global", false)).transpose()?;
    let keep = |c: &Value| {
        (app_types.is_empty() || app_types.iter().any(|t| c.get("app_type").and_then(Value::as_str) == Some(t)))
            && first_party.is_none_or(|f| c.get("is_first_party").and_then(Value::as_bool).unwrap_or(true) == f)
            && global.is_none_or(|g| c.get("global").and_then(Value::as_bool).unwrap_or(false) == g)
    };
    let with_secret = m.principal.has("read:client_keys");
    let (items, total) = app.list_clients(&m.tenant, offset, limit, with_secret, keep).await?;
    let items = items.into_iter().map(|c| projected(&q, summarized(&m, c))).collect::<Result<Vec<_>, _>>()?;
    mode.respond("clients", items, total, UNPAGED_CAP)
}

async fn create_client(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/clients")?;
    checked("POST", "/api/v2/clients", &body)?;
    Ok(json_response(StatusCode::CREATED, &app.create_client(&m.tenant, &m.principal, &body).await?))
}

async fn get_client(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/clients/{id}")?;
    let c = app.get_client(&m.tenant, &id, m.principal.has("read:client_keys")).await?;
    Ok(json_response(StatusCode::OK, &projected(&q, summarized(&m, c))?))
}

async fn update_client(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/clients/{id}")?;
    checked("PATCH", "/api/v2/clients/{id}", &body)?;
    if body.get("client_secret").is_some() && !m.principal.has("update:client_keys") {
        return Err(ApiError::insufficient_scope(&["update:client_keys"]));
    }
    let c = app.update_client(&m.tenant, &m.principal, &id, &body, m.principal.has("read:client_keys")).await?;
    Ok(json_response(StatusCode::OK, &c))
}

async fn delete_client(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/clients/{id}")?;
    app.delete_client(&m.tenant, &m.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rotate_secret(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("POST", "/api/v2/clients/{id}/rotate-secret")?;
    Ok(json_response(StatusCode::OK, &app.rotate_client_secret(&m.tenant, &m.principal, &id).await?))
}

// ---- client grants ---------------------------------------------------------

async fn list_grants(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/client-grants")?;
    let mode = ListMode::from_query(&q, 100)?;
    let (offset, limit) = mode.window(UNPAGED_CAP)?;
    let filter = DocFilter {
        audience: q.get("audience").filter(|s| !s.is_empty()).map(str::to_string),
        client_id: q.get("client_id").filter(|s| !s.is_empty()).map(str::to_string),
    };
    let any_org = q.get("allow_any_organization").map(|_| q.bool("allow_any_organization", false)).transpose()?;
    let subject = q.get("subject_type").filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(t) = &subject {
        if !["client", "user", "anonymous_user"].contains(&t.as_str()) {
            return Err(ApiError::invalid_query(format!(
                "Query validation error: 'No enum match for: {t}' on property subject_type."
            )));
        }
    }
    let keep = |g: &Value| {
        any_org.is_none_or(|a| g.get("allow_any_organization").and_then(Value::as_bool).unwrap_or(false) == a)
            && subject.as_deref().is_none_or(|t| g.get("subject_type").and_then(Value::as_str).unwrap_or("client") == t)
    };
    let (items, total) = app.list_client_grants(&m.tenant, &filter, keep, offset, limit).await?;
    mode.respond("client_grants", items, total, UNPAGED_CAP)
}

async fn create_grant(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/client-grants")?;
    checked("POST", "/api/v2/client-grants", &body)?;
    Ok(json_response(StatusCode::CREATED, &app.create_client_grant(&m.tenant, &m.principal, &body).await?))
}

async fn get_grant(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/client-grants/{id}")?;
    Ok(json_response(StatusCode::OK, &app.get_client_grant(&m.tenant, &id).await?))
}

async fn update_grant(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/client-grants/{id}")?;
    checked("PATCH", "/api/v2/client-grants/{id}", &body)?;
    Ok(json_response(StatusCode::OK, &app.update_client_grant(&m.tenant, &m.principal, &id, &body).await?))
}

async fn delete_grant(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/client-grants/{id}")?;
    app.delete_client_grant(&m.tenant, &m.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- resource servers ------------------------------------------------------

async fn list_apis(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/resource-servers")?;
    let mode = ListMode::from_query(&q, 100)?;
    let (offset, limit) = mode.window(UNPAGED_CAP)?;
    let identifiers: Vec<String> = q.0.iter().filter(|(k, _)| k == "identifiers").map(|(_, v)| v.clone()).collect();
    let (items, total) = app.list_resource_servers(&m.tenant, &identifiers, offset, limit).await?;
    let items = items.into_iter().map(|c| projected(&q, c)).collect::<Result<Vec<_>, _>>()?;
    mode.respond("resource_servers", items, total, UNPAGED_CAP)
}

async fn create_api(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/resource-servers")?;
    checked("POST", "/api/v2/resource-servers", &body)?;
    Ok(json_response(StatusCode::CREATED, &app.create_resource_server(&m.tenant, &m.principal, &body).await?))
}

async fn get_api(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/resource-servers/{id}")?;
    let rs = app.get_resource_server(&m.tenant, &id).await?;
    Ok(json_response(StatusCode::OK, &projected(&q, rs)?))
}

async fn update_api(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/resource-servers/{id}")?;
    checked("PATCH", "/api/v2/resource-servers/{id}", &body)?;
    Ok(json_response(StatusCode::OK, &app.update_resource_server(&m.tenant, &m.principal, &id, &body).await?))
}

async fn delete_api(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/resource-servers/{id}")?;
    app.delete_resource_server(&m.tenant, &m.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- connections -----------------------------------------------------------

async fn list_connections(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/connections")?;
    let mode = ListMode::from_query(&q, 100)?;
    let (offset, limit) = mode.window(UNPAGED_CAP)?;
    // `strategy=auth0&strategy=email` and `strategy[0]=auth0&strategy[1]=email` both occur.
    let strategies: Vec<String> =
        q.0.iter()
            .filter(|(k, _)| k == "strategy" || (k.starts_with("strategy[") && k.ends_with(']')))
            .map(|(_, v)| v.clone())
            .collect();
    let all = app.list_connections(&m.tenant, &strategies, q.get("name").filter(|s| !s.is_empty())).await?;
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|c| projected(&q, c))
        .collect::<Result<Vec<_>, _>>()?;
    mode.respond("connections", items, total, UNPAGED_CAP)
}

async fn create_connection(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/connections")?;
    checked("POST", "/api/v2/connections", &body)?;
    Ok(json_response(StatusCode::CREATED, &app.create_connection(&m.tenant, &m.principal, &body).await?))
}

async fn get_connection(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/connections/{id}")?;
    let c = serde_json::to_value(app.get_connection(&m.tenant, &id).await?).unwrap_or_default();
    Ok(json_response(StatusCode::OK, &projected(&q, c)?))
}

async fn update_connection(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/connections/{id}")?;
    checked("PATCH", "/api/v2/connections/{id}", &body)?;
    Ok(json_response(StatusCode::OK, &app.update_connection(&m.tenant, &m.principal, &id, &body).await?))
}

async fn delete_connection(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/connections/{id}")?;
    Ok(json_response(StatusCode::ACCEPTED, &app.delete_connection(&m.tenant, &m.principal, &id).await?))
}

async fn connection_clients(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/connections/{id}/clients")?;
    let conn = app.get_connection(&m.tenant, &id).await?;
    let mode = match ListMode::from_query(&q, 100)? {
        ListMode::Offset(_) => ListMode::Checkpoint(crate::paging::Checkpoint { from: None, take: 50 }),
        c => c,
    };
    let (offset, limit) = mode.window(UNPAGED_CAP)?;
    let total = conn.enabled_clients.len() as u64;
    let items: Vec<Value> = conn
        .enabled_clients
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|c| serde_json::json!({"client_id": c}))
        .collect();
    mode.respond("clients", items, total, UNPAGED_CAP)
}

/// Auth0 caps this call at 50 changes.
const MAX_CLIENT_CHANGES: usize = 50;

async fn set_connection_clients(
    State(app): State<App>,
    m: Mgmt,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult {
    m.require("PATCH", "/api/v2/connections/{id}/clients")?;
    checked("PATCH", "/api/v2/connections/{id}/clients", &body)?;
    let items = body.as_array().ok_or_else(|| {
        ApiError::invalid_body("Payload validation error: 'Expected type array but found type object'.")
    })?;
    if items.len() > MAX_CLIENT_CHANGES {
        return Err(ApiError::invalid_body(format!(
            "Payload validation error: 'Array is too long ({}), maximum {MAX_CLIENT_CHANGES}'.",
            items.len()
        )));
    }
    let mut changes = Vec::with_capacity(items.len());
    for item in items {
        let client = item.get("client_id").and_then(Value::as_str);
        let status = item.get("status").and_then(Value::as_bool);
        match (client, status) {
            (Some(c), Some(s)) => changes.push((c.to_string(), s)),
            _ => {
                return Err(ApiError::invalid_body(
                    "Payload validation error: 'Each item needs client_id (string) and status (boolean)'.",
                ))
            }
        }
    }
    app.set_connection_clients(&m.tenant, &m.principal, &id, &changes).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
