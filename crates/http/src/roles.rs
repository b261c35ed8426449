//! /api/v2/roles and /api/v2/users/{id}/roles|permissions.
//!
//! Auth0's status codes here are irregular and kept as recorded: creating a
//! role is 200, deleting one is 200 `{}`, adding role permissions is 201
//! `{}`, adding role users is 200 `{}`, adding user permissions is 201 `{}`,
//! and the other writes are 204. Lists use the shared envelopes; /roles and
//! the role sub-lists page by 50 by default, a user's roles and permissions
//! are unpaged unless `page` or `per_page` is given.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use castellan_service::App;
use serde::Serialize;

use crate::error::{json_response, ApiError};
// Roles validate NUL characters themselves (Auth0's control-character message,
// not-found ids), so they take the lax extractors.
use crate::extract::{AppState, LaxJsonBody as JsonBody, LaxPathId as PathId, LaxQueryPairs as QueryPairs, Mgmt};
use crate::paging::{Checkpoint, Offset};

type ApiResult = Result<Response, ApiError>;

const MAX_PER_PAGE: u64 = 100;
const DEFAULT_PER_PAGE: u64 = 50;
/// Most items an unpaged list returns.
const UNPAGED_CAP: u64 = 1000;

/// The `{}` body of some writes.
#[derive(Serialize)]
struct Empty {}

fn empty(status: StatusCode) -> Response {
    json_response(status, &Empty {})
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Offset paging; `paged_by_default` pages by 50 when neither `page` nor
/// `per_page` is given (what Auth0 documents for /roles and its sub-lists).
fn offset(q: &QueryPairs, paged_by_default: bool) -> Result<Offset, ApiError> {
    let mut o = Offset::from_query(q, MAX_PER_PAGE)?;
    if o.per_page == Some(0) {
        return Err(ApiError::invalid_query(
            "Query validation error: 'Value 0 is less than minimum 1' on property per_page.",
        ));
    }
    if paged_by_default && o.per_page.is_none() {
        o.per_page = Some(DEFAULT_PER_PAGE);
    }
    Ok(o)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/roles", get(list).post(create))
        .route("/api/v2/roles/{id}", get(read).patch(update).delete(delete))
        .route("/api/v2/roles/{id}/permissions", get(permissions).post(add_permissions).delete(remove_permissions))
        .route("/api/v2/roles/{id}/users", get(users).post(assign_users))
        .route("/api/v2/users/{id}/roles", get(user_roles).post(assign_user_roles).delete(remove_user_roles))
        .route(
            "/api/v2/users/{id}/permissions",
            get(user_permissions).post(add_user_permissions).delete(remove_user_permissions),
        )
}

async fn list(State(app): State<App>, m: Mgmt, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/roles")?;
    let o = offset(&q, true)?;
    let (start, limit) = o.window(UNPAGED_CAP);
    let page = app.list_roles(&m.tenant, q.get("name_filter"), start, limit).await?;
    Ok(o.respond("roles", page.items, page.total))
}

async fn create(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/roles")?;
    let role = app.create_role(&m.tenant, &m.principal, &body).await?;
    Ok(json_response(StatusCode::OK, &role))
}

async fn read(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("GET", "/api/v2/roles/{id}")?;
    let role = app.get_role(&m.tenant, &id).await?;
    Ok(json_response(StatusCode::OK, &role))
}

async fn update(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("PATCH", "/api/v2/roles/{id}")?;
    let role = app.update_role(&m.tenant, &m.principal, &id, &body).await?;
    Ok(json_response(StatusCode::OK, &role))
}

/// 200 `{}`; any body (go-auth0 sends `{}`) is ignored.
async fn delete(State(app): State<App>, m: Mgmt, PathId(id): PathId) -> ApiResult {
    m.require("DELETE", "/api/v2/roles/{id}")?;
    app.delete_role(&m.tenant, &m.principal, &id).await?;
    Ok(empty(StatusCode::OK))
}

async fn permissions(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/roles/{id}/permissions")?;
    let o = offset(&q, true)?;
    let (start, limit) = o.window(UNPAGED_CAP);
    let page = app.role_permissions(&m.tenant, &id, start, limit).await?;
    Ok(o.respond("permissions", page.items, page.total))
}

async fn add_permissions(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/roles/{id}/permissions")?;
    app.add_role_permissions(&m.tenant, &m.principal, &id, &body).await?;
    Ok(empty(StatusCode::CREATED))
}

async fn remove_permissions(
    State(app): State<App>,
    m: Mgmt,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult {
    m.require("DELETE", "/api/v2/roles/{id}/permissions")?;
    app.remove_role_permissions(&m.tenant, &m.principal, &id, &body).await?;
    Ok(no_content())
}

/// Checkpoint paging when `from` or `take` is given (even beside
/// `include_totals`/`per_page`, as Auth0 answers), offset paging otherwise.
async fn users(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/roles/{id}/users")?;
    if let Some(c) = Checkpoint::from_query(&q, MAX_PER_PAGE)? {
        let page = app.role_users_checkpoint(&m.tenant, &id, c.from.as_deref(), c.take).await?;
        return Ok(Checkpoint::respond("users", page.users, page.next));
    }
    let o = offset(&q, true)?;
    let (start, limit) = o.window(UNPAGED_CAP);
    let page = app.role_users(&m.tenant, &id, start, limit).await?;
    Ok(o.respond("users", page.items, page.total))
}

async fn assign_users(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/roles/{id}/users")?;
    app.assign_role_users(&m.tenant, &m.principal, &id, &body).await?;
    Ok(empty(StatusCode::OK))
}

async fn user_roles(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users/{id}/roles")?;
    let o = offset(&q, false)?;
    let (start, limit) = o.window(UNPAGED_CAP);
    let page = app.user_roles(&m.tenant, &id, start, limit).await?;
    Ok(o.respond("roles", page.items, page.total))
}

async fn assign_user_roles(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("POST", "/api/v2/users/{id}/roles")?;
    app.assign_user_roles(&m.tenant, &m.principal, &id, &body).await?;
    Ok(no_content())
}

async fn remove_user_roles(State(app): State<App>, m: Mgmt, PathId(id): PathId, JsonBody(body): JsonBody) -> ApiResult {
    m.require("DELETE", "/api/v2/users/{id}/roles")?;
    app.remove_user_roles(&m.tenant, &m.principal, &id, &body).await?;
    Ok(no_content())
}

async fn user_permissions(State(app): State<App>, m: Mgmt, PathId(id): PathId, q: QueryPairs) -> ApiResult {
    m.require("GET", "/api/v2/users/{id}/permissions")?;
    let o = offset(&q, false)?;
    let (start, limit) = o.window(UNPAGED_CAP);
    let page = app.user_permissions(&m.tenant, &id, start, limit).await?;
    Ok(o.respond("permissions", page.items, page.total))
}

async fn add_user_permissions(
    State(app): State<App>,
    m: Mgmt,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult {
    m.require("POST", "/api/v2/users/{id}/permissions")?;
    app.add_user_permissions(&m.tenant, &m.principal, &id, &body).await?;
    Ok(empty(StatusCode::CREATED))
}

async fn remove_user_permissions(
    State(app): State<App>,
    m: Mgmt,
    PathId(id): PathId,
    JsonBody(body): JsonBody,
) -> ApiResult {
    m.require("DELETE", "/api/v2/users/{id}/permissions")?;
    app.remove_user_permissions(&m.tenant, &m.principal, &id, &body).await?;
    Ok(no_content())
}
