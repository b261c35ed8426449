//! Error pages inside the console's layout: unknown dashboard paths (and
//! methods a path does not take) answer an HTML 404, and a 4xx that an
//! extractor answered in JSON (a query with a NUL character, a body too
//! large...) becomes an HTML page with the same status. Without a session
//! both send to the sign-in page, like every dashboard page.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::{alert, Admin};
use crate::extract::AppState;

/// Whether `path` is one of the console's.
pub(crate) fn is_dashboard_path(path: &str) -> bool {
    path == "/dashboard" || path.starts_with("/dashboard/")
}

fn text_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => (
            "Page not found",
            "There is no such page in the dashboard. Check the address, or choose a section in the menu.",
        ),
        StatusCode::FORBIDDEN => ("Not allowed", "This action is not allowed."),
        StatusCode::PAYLOAD_TOO_LARGE => ("Request too large", "What you sent is too large. Please send less at once."),
        _ => ("Bad request", "The request could not be understood. Check the address or the form and try again."),
    }
}

/// The page for `status`, in the layout when someone is signed in.
async fn page(state: &AppState, req: Request, status: StatusCode) -> Response {
    let (mut parts, _) = req.into_parts();
    match Admin::from_request_parts(&mut parts, state).await {
        Ok(admin) => {
            let (title, text) = text_for(status);
            let status = if status == StatusCode::METHOD_NOT_ALLOWED { StatusCode::NOT_FOUND } else { status };
            let body =
                format!(r#"{}<p><a class="button secondary" href="/dashboard/users">Go to Users</a></p>"#, alert(text));
            admin.page_status(status, None, title, &body)
        }
        Err(r) => r,
    }
}

/// The router's fallback for dashboard paths.
pub(crate) async fn not_found(state: AppState, req: Request) -> Response {
    page(&state, req, StatusCode::NOT_FOUND).await
}

/// Turns a 4xx answered in another format than HTML into a page.
pub(crate) async fn html_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (method, uri, headers) = (req.method().clone(), req.uri().clone(), req.headers().clone());
    let resp = next.run(req).await;
    let status = resp.status();
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !status.is_client_error() || html {
        return resp;
    }
    let mut again = Request::new(axum::body::Body::empty());
    *again.method_mut() = method;
    *again.uri_mut() = uri;
    *again.headers_mut() = headers;
    page(&state, again, status).await
}
