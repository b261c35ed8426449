//! /api/v2/roles and /api/v2/users/{id}/roles|permissions.

use axum::Router;

use crate::extract::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
