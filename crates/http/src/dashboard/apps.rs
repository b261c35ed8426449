//! (in progress)

use axum::Router;

use crate::extract::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
