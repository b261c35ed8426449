//! /api/v2/clients, /api/v2/client-grants, /api/v2/resource-servers and
//! /api/v2/connections.

use axum::Router;

use crate::extract::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
