//! /api/v2/users and /api/v2/users-by-email.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_service::users::ListUsers;
use castellan_service::App;

use crate::error::{json_response, ApiError};
use crate::extract::{JsonBody, Mgmt, PathId, QueryPairs};

type ApiResult = Result<Response, ApiError>;

pub async fn list(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users")?;
    let p = ListUsers {
        page: q.uint("page")?,
        per_page: q.uint("per_page")?,
        include_totals: q.bool("include_totals", false)?,
        sort: q.get("sort").filter(|s| !s.is_empty()).map(str::to_string),
        fields: q.list("fields"),
        include_fields: q.bool("include_fields", true)?,
        q: q.get("q").map(str::to_string),
        search_engine: q.get("search_engine").filter(|s| !s.is_empty()).map(str::to_string),
    };
    let out = app.list_users(&m.tenant, &p).await?;
    Ok(json_response(StatusCode::OK, &out))
}

pub async fn create(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/users")?;
    let user = app.create_user(&m.tenant, &m.principal, &body).await?;
    Ok(json_response(StatusCode::CREATED, &user))
}

pub async fn get(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users/{id}")?;
    let user = app.get_user(&m.tenant, &id, &q.list("fields"), q.bool("include_fields", true)?).await?;
    Ok(json_response(StatusCode::OK, &user))
}

pub async fn update(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/users/{id}")?;
    let user = app.update_user(&m.tenant, &m.principal, &id, &body).await?;
    Ok(json_response(StatusCode::OK, &user))
}

pub async fn delete(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/users/{id}")?;
    app.delete_user(&m.tenant, &m.principal, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn by_email(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users-by-email")?;
    let email = q.get("email").filter(|e| !e.is_empty()).ok_or_else(|| {
        ApiError::invalid_query("Query validation error: 'Missing required property: email' on property email.")
    })?;
    let users = app.users_by_email(&m.tenant, email, &q.list("fields"), q.bool("include_fields", true)?).await?;
    Ok(json_response(StatusCode::OK, &users))
}
