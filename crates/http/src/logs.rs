//! /api/v2/logs, /api/v2/logs/{id}, /api/v2/users/{id}/logs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use castellan_domain::user::project;
use castellan_service::logs::{ListLogs, LogList};
use castellan_service::App;
use serde_json::Value;

use crate::error::{json_response, ApiError};
use crate::extract::{AppState, JsonBody, Mgmt, PathId, QueryPairs};

type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/logs", get(list))
        .route("/api/v2/logs/{id}", get(get_one))
        .route("/api/v2/users/{id}/logs", get(user_logs))
        .route("/api/v2/log-streams", get(list_streams).post(create_stream))
        .route("/api/v2/log-streams/{id}", get(get_stream).patch(update_stream).delete(delete_stream))
}

fn params(q: &QueryPairs) -> Result<ListLogs, ApiError> {
    let text = |k: &str| q.get(k).filter(|s| !s.is_empty()).map(str::to_string);
    Ok(ListLogs {
        // The newest SDKs send `search`; older ones `q`.
        q: text("q").or_else(|| text("search")),
        page: q.uint("page")?,
        per_page: q.uint("per_page")?,
        include_totals: q.bool("include_totals", false)?,
        sort: text("sort"),
        from: text("from"),
        take: q.uint("take")?,
        user_id: None,
    })
}

fn shaped(out: LogList, q: &QueryPairs) -> ApiResult {
    let fields = q.list("fields");
    let include = q.bool("include_fields", true)?;
    let proj = |v: Vec<Value>| v.into_iter().map(|e| project(e, &fields, include)).collect::<Vec<_>>();
    let out = match out {
        LogList::Array(v) => LogList::Array(proj(v)),
        LogList::Totals { logs, start, limit, length, total } => {
            LogList::Totals { logs: proj(logs), start, limit, length, total }
        }
    };
    Ok(json_response(StatusCode::OK, &out))
}

async fn list(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/logs")?;
    shaped(app.list_logs(&m.tenant, &params(&q)?).await?, &q)
}

async fn get_one(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/logs/{id}")?;
    Ok(json_response(StatusCode::OK, &app.get_log(&m.tenant, &id).await?))
}

async fn user_logs(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users/{id}/logs")?;
    let mut p = params(&q)?;
    p.from = None;
    p.take = None;
    p.q = None;
    p.user_id = Some(id);
    shaped(app.list_logs(&m.tenant, &p).await?, &q)
}

async fn list_streams(State(app): State<App>, m: Mgmt) -> ApiResult {
    m.require("GET", "/api/v2/log-streams")?;
    Ok(json_response(StatusCode::OK, &app.list_log_streams(&m.tenant).await?))
}

/// Auth0 answers 200 (not 201) to a new stream.
async fn create_stream(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/log-streams")?;
    crate::body_schema::validate("POST", "/api/v2/log-streams", &body)?;
    Ok(json_response(StatusCode::OK, &app.create_log_stream(&m.tenant, &m.principal, &body).await?))
}

async fn get_stream(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/log-streams/{id}")?;
    Ok(json_response(StatusCode::OK, &app.get_log_stream(&m.tenant, &id).await?))
}

async fn update_stream(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/log-streams/{id}")?;
    crate::body_schema::validate("PATCH", "/api/v2/log-streams/{id}", &body)?;
    Ok(json_response(StatusCode::OK, &app.update_log_stream(&m.tenant, &m.principal, &id, &body).await?))
}

async fn delete_stream(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/log-streams/{id}")?;
    app.delete_log_stream(&m.tenant, &m.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
