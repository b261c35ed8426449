//! Logs: the tenant's events, newest first, filtered by type, user,
//! application and a free `q` (the API's Lucene syntax), and one event's
//! page with its raw JSON.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use castellan_service::logs::{ListLogs, LogList};
use castellan_service::ServiceError;
use serde_json::Value;

use super::{alert, enc, message, pager, pretty, s, Admin, Nav};
use crate::extract::{AppState, QueryPairs};
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/dashboard/logs", get(list)).route("/dashboard/logs/{id}", get(show))
}

const PER_PAGE: u64 = 50;

/// A table of log events linking to their pages.
pub(crate) fn log_table(logs: &[Value]) -> String {
    let rows: String = logs
        .iter()
        .map(|l| {
            let id = s(l, "log_id");
            format!(
                r#"<tr><td><a href="/dashboard/logs/{}">{}</a></td><td><span class="badge">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&enc(id)),
                esc(s(l, "date")),
                esc(s(l, "type")),
                esc(s(l, "description")),
                esc(Some(s(l, "user_name")).filter(|v| !v.is_empty()).unwrap_or(s(l, "user_id"))),
                esc(s(l, "client_name")),
                esc(s(l, "ip")),
            )
        })
        .collect();
    format!(
        r#"<table class="wide" id="logs"><thead><tr><th scope="col">Date</th><th scope="col">Type</th><th scope="col">Description</th><th scope="col">User</th><th scope="col">Application</th><th scope="col">IP</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

/// A Lucene phrase for `v` (quotes and backslashes escaped).
fn phrase(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn list(admin: Admin, q: QueryPairs) -> Response {
    let get = |k: &str| q.get(k).unwrap_or("").trim().to_string();
    let (kind, user, client, free) = (get("type"), get("user"), get("client"), get("q"));
    let page = q.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
    let mut parts = Vec::new();
    if !kind.is_empty() {
        parts.push(format!("type:{}", phrase(&kind)));
    }
    if !user.is_empty() {
        parts.push(format!("user_id:{}", phrase(&user)));
    }
    if !client.is_empty() {
        parts.push(format!("client_id:{}", phrase(&client)));
    }
    if !free.is_empty() {
        parts.push(format!("({free})"));
    }
    let form = format!(
        r#"<form method="get" action="/dashboard/logs" role="search" class="row">
<div><label for="type">Type</label><input id="type" name="type" type="text" value="{kind}" placeholder="s, f, sapi…"></div>
<div><label for="user">User id</label><input id="user" name="user" type="text" value="{user}"></div>
<div><label for="client">Client id</label><input id="client" name="client" type="text" value="{client}"></div>
<div><label for="q">Query</label><input id="q" name="q" type="search" value="{free}" placeholder="description:*password*"></div>
<div><button type="submit" id="filter">Filter</button></div>
</form>"#,
        kind = esc(&kind),
        user = esc(&user),
        client = esc(&client),
        free = esc(&free),
    );
    let p = ListLogs {
        q: Some(parts.join(" AND ")).filter(|v| !v.is_empty()),
        page: Some(page),
        per_page: Some(PER_PAGE),
        include_totals: true,
        ..Default::default()
    };
    let body = match admin.app.list_logs(&admin.tenant, &p).await {
        Err(e) => {
            let status = if matches!(e, ServiceError::Internal(_)) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            let text = format!("{} Check the filters and try again.", message(&e));
            return admin.page_status(status, Some(Nav::Logs), "Logs", &format!("{form}{}", alert(&text)));
        }
        Ok(list) => {
            let (logs, total) = match list {
                LogList::Totals { logs, total, .. } => (logs, total),
                LogList::Array(logs) => {
                    let n = logs.len() as u64;
                    (logs, n)
                }
            };
            if logs.is_empty() {
                format!(r#"{form}<p class="empty">No events match.</p>"#)
            } else {
                let base = format!(
                    "/dashboard/logs?type={}&user={}&client={}&q={}&",
                    enc(&kind),
                    enc(&user),
                    enc(&client),
                    enc(&free)
                );
                format!("{form}{}{}", log_table(&logs), pager(&base, page, PER_PAGE, total))
            }
        }
    };
    admin.page(Some(Nav::Logs), "Logs", &body)
}

async fn show(admin: Admin, Path(id): Path<String>) -> Response {
    match admin.app.get_log(&admin.tenant, &id).await {
        Ok(l) => {
            let title = format!("Event {}", s(&l, "type"));
            let body = format!(
                r#"<dl class="kv"><dt>Date</dt><dd>{}</dd><dt>Type</dt><dd>{}</dd><dt>Description</dt><dd>{}</dd><dt>User</dt><dd>{}</dd><dt>Application</dt><dd>{}</dd><dt>IP</dt><dd>{}</dd></dl><h2>Raw JSON</h2>{}"#,
                esc(s(&l, "date")),
                esc(s(&l, "type")),
                esc(s(&l, "description")),
                esc(s(&l, "user_id")),
                esc(s(&l, "client_name")),
                esc(s(&l, "ip")),
                pretty(&l)
            );
            admin.page(Some(Nav::Logs), &title, &body)
        }
        Err(e) => admin.error(Some(Nav::Logs), &e),
    }
}
