//! The web console at `/dashboard`: server-rendered HTML for a tenant's
//! administrators (by Host, like every surface). No JavaScript: actions are
//! forms, confirmations are pages of their own.
//!
//! Every page needs a signed-in administrator (`Admin`); every form carries
//! the session's CSRF token and is checked before its handler runs
//! (`Posted`). Actions call the same service functions as the Management
//! API, with a `Principal` holding the one scope the action needs and the
//! request described as the equivalent API call, so they leave the same log
//! events. Markup and escaping follow the hosted pages (`crate::hosted`).

mod admins;
mod apps;
mod deletes;
mod errors;
mod grants;
mod logs;
mod profile;
mod roles;
mod signin;
mod users;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use castellan_service::dashboard::AdminSession;
use castellan_service::{App, Principal, RequestInfo, ServiceError, Tenant};
use subtle::ConstantTimeEq;

use crate::endpoints;
use crate::extract::{request_info, AppState, TenantCtx, MAX_BODY};
use crate::hosted::{cookie, esc, secure_headers, set_cookie};

pub(crate) const SESSION_COOKIE: &str = "castellan_dashboard";

pub(crate) use errors::{html_errors, is_dashboard_path, not_found};

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(signin::routes())
        .merge(users::routes())
        .merge(profile::routes())
        .merge(apps::routes())
        .merge(grants::routes())
        .merge(deletes::routes())
        .merge(roles::routes())
        .merge(logs::routes())
        .merge(admins::routes())
}

/// The sections of the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Users,
    Applications,
    Apis,
    Roles,
    Logs,
    Connections,
    Administrators,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Users, "/dashboard/users", "Users"),
    (Nav::Applications, "/dashboard/applications", "Applications"),
    (Nav::Apis, "/dashboard/apis", "APIs"),
    (Nav::Roles, "/dashboard/roles", "Roles"),
    (Nav::Logs, "/dashboard/logs", "Logs"),
    (Nav::Connections, "/dashboard/connections", "Connections"),
    (Nav::Administrators, "/dashboard/administrators", "Administrators"),
];

/// Messages shown after a redirect (`?ok=<code>`): fixed texts only, so a
/// link cannot put words on the page.
const FLASHES: &[(&str, &str)] = &[
    ("user_created", "The user was created."),
    ("user_blocked", "The user is blocked."),
    ("user_unblocked", "The user is unblocked."),
    ("user_deleted", "The user was deleted."),
    ("user_saved", "The user was saved."),
    ("password_set", "The new password is set."),
    ("device_unlinked", "The device was unlinked: its refresh token is revoked."),
    ("roles_assigned", "The role was assigned."),
    ("role_removed", "The role was removed from the user."),
    ("app_created", "The application was created."),
    ("app_saved", "The application settings were saved."),
    ("secret_rotated", "The client secret was rotated. Update the applications that use it."),
    ("grant_created", "The application is authorized for the API."),
    ("grant_saved", "The permissions were saved."),
    ("grant_revoked", "The authorization was revoked."),
    ("app_deleted", "The application was deleted."),
    ("api_deleted", "The API was deleted."),
    ("role_deleted", "The role was deleted."),
    ("connection_deleted", "The connection was deleted, with its users."),
    ("admin_added", "The administrator was added. Give them their password over a safe channel."),
    ("admin_removed", "The administrator was removed and signed out."),
    ("api_created", "The API was created."),
    ("api_saved", "The API was saved."),
    ("role_created", "The role was created."),
    ("role_saved", "The role was saved."),
    ("connection_saved", "The connection was saved."),
];

pub(crate) const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1f2a;background:#f5f6fa}
a{color:#2b3bb0}
a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus{outline:3px solid #3b4cca;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:9}
header.top{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;justify-content:space-between;background:#1d1f2a;color:#fff;padding:.6rem 1rem}
header.top a{color:#fff;font-weight:700;text-decoration:none}
header.top form{display:inline;margin:0}
header.top button{background:transparent;color:#fff;border:1px solid #8a8fa3;margin:0 0 0 .5rem}
.shell{display:flex;min-height:calc(100vh - 52px)}
nav.side{width:200px;flex:none;background:#fff;border-right:1px solid #dde0ea;padding:1rem 0}
nav.side ul{list-style:none;margin:0;padding:0}
nav.side a{display:block;padding:.5rem 1.25rem;text-decoration:none;color:#1d1f2a}
nav.side a[aria-current=page]{background:#eef0fb;border-left:4px solid #3b4cca;font-weight:600}
main{flex:1;min-width:0;padding:1.5rem 2rem;max-width:1200px}
h1{font-size:1.6rem;margin:0 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde0ea}
th,td{text-align:left;padding:.5rem .75rem;border-bottom:1px solid #eceef4;vertical-align:top;overflow-wrap:anywhere}
th{background:#f0f1f6;font-weight:600}
label{display:block;font-weight:600;margin:.9rem 0 .25rem}
input[type=text],input[type=email],input[type=password],input[type=search],input[type=url],select,textarea{width:100%;max-width:640px;padding:.5rem .6rem;border:1px solid #8a8fa3;border-radius:4px;font:inherit;background:#fff}
textarea{font-family:ui-monospace,Menlo,Consolas,monospace;min-height:10rem}
button,.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;border:0;border-radius:4px;background:#3b4cca;color:#fff;font:inherit;font-weight:600;cursor:pointer;text-decoration:none}
button.danger{background:#b3261e}button.secondary,.button.secondary{background:#fff;color:#1d1f2a;border:1px solid #8a8fa3}
.inline{display:inline}.inline button{margin:0 .25rem 0 0}
.row{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end}.row label{margin-top:0}
.alert{background:#fdecea;border:1px solid #e5a3a0;color:#8a1c16;padding:.75rem;border-radius:4px}
.flash{background:#e7f5ec;border:1px solid #8cc9a3;color:#14532d;padding:.75rem;border-radius:4px}
.hint{color:#4a4f63;font-size:.9rem;margin:.25rem 0}
.empty{background:#fff;border:1px dashed #b8bccb;padding:1.5rem;text-align:center;color:#4a4f63}
pre{background:#1d1f2a;color:#f5f6fa;padding:1rem;border-radius:4px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.tabs{display:flex;flex-wrap:wrap;gap:.25rem;border-bottom:1px solid #dde0ea;margin:1rem 0;padding:0;list-style:none}
.tabs a{display:block;padding:.5rem 1rem;text-decoration:none}
.tabs a[aria-current=page]{border-bottom:3px solid #3b4cca;font-weight:600}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;background:#eef0fb;font-size:.85rem}
.badge.bad{background:#fdecea;color:#8a1c16}
.scopes{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.1rem 1rem}
.pager{display:flex;gap:1rem;align-items:center;margin:1rem 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;border:1px solid #dde0ea;padding:1rem;margin:0}
dl.kv dt{font-weight:600}dl.kv dd{margin:0;overflow-wrap:anywhere}
@media (max-width:720px){.shell{display:block}nav.side{width:auto;border-right:0;border-bottom:1px solid #dde0ea;padding:0}
nav.side ul{display:flex;flex-wrap:wrap}nav.side a{padding:.5rem .75rem}nav.side a[aria-current=page]{border-left:0;border-bottom:3px solid #3b4cca}
main{padding:1rem}table.wide thead{display:none}table.wide td{display:block;border:0}table.wide tr{display:block;border-bottom:1px solid #dde0ea}}
"#;

/// A signed-in administrator and what a page needs about the request.
pub(crate) struct Admin {
    pub app: App,
    pub tenant: Arc<Tenant>,
    pub s: AdminSession,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
    pub info: RequestInfo,
    flash: Option<&'static str>,
}

fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with("/dashboard") && !next.contains("//") && !next.contains('\\')).then_some(next)
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved
/// characters stay as they are).
pub(crate) fn enc(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    App: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = App::from_ref(state);
        let TenantCtx(tenant) =
            TenantCtx::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let to_sign_in = |parts: &Parts| {
            let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/dashboard");
            let mut r = if parts.method == axum::http::Method::GET && safe_next(here).is_some() {
                see_other(&format!("/dashboard/login?next={}", enc(here)))
            } else {
                see_other("/dashboard/login")
            };
            clear_session_cookie(&mut r);
            r
        };
        let Some(c) = cookie(&parts.headers, SESSION_COOKIE).filter(|c| !c.is_empty()) else {
            return Err(to_sign_in(parts));
        };
        let s = match app.dashboard_session(&tenant, &c).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(to_sign_in(parts)),
            Err(e) => return Err(bare_error(&e)),
        };
        let flash = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "ok"))
            .and_then(|(_, v)| FLASHES.iter().find(|(code, _)| *code == v).map(|(_, m)| *m));
        Ok(Admin { csrf: app.dashboard_csrf(&tenant, &c), info: request_info(parts), app, tenant, s, flash })
    }
}

/// A posted form whose CSRF token matched the session's.
pub(crate) struct Posted {
    pub admin: Admin,
    pub f: Fields,
}

impl<S: Send + Sync> FromRequest<S> for Posted
where
    App: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
        let f = Fields(serde_urlencoded::from_bytes(&bytes).unwrap_or_default());
        let given = f.get("csrf");
        if given.is_empty() || !bool::from(given.as_bytes().ct_eq(admin.csrf.as_bytes())) {
            let body = r#"<p class="alert" role="alert">The form could not be verified. Please reload the page and try again.</p>"#;
            return Err(admin.page_status(StatusCode::FORBIDDEN, None, "Request refused", body));
        }
        Ok(Posted { admin, f })
    }
}

/// Form fields in order (a key may repeat: checkboxes).
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The last value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
    }
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }
}

impl Admin {
    /// A page in the console layout.
    pub fn page(&self, nav: Option<Nav>, title: &str, body: &str) -> Response {
        self.page_status(StatusCode::OK, nav, title, body)
    }

    pub fn page_status(&self, status: StatusCode, nav: Option<Nav>, title: &str, body: &str) -> Response {
        let links: String = NAV
            .iter()
            .map(|(n, href, label)| {
                let current = if Some(*n) == nav { r#" aria-current="page""# } else { "" };
                format!(r#"<li><a href="{href}"{current}>{label}</a></li>"#)
            })
            .collect();
        let flash = self.flash.map(|m| format!(r#"<p class="flash" role="status">{}</p>"#, esc(m))).unwrap_or_default();
        let html = format!(
            r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {domain} · castellan</title>
<style>{STYLE}</style>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="top"><a href="/dashboard">castellan · {domain}</a>
<div><span id="admin-email">{email}</span>
<form method="post" action="/dashboard/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" id="sign-out">Sign out</button></form></div>
</header>
<div class="shell">
<nav class="side" aria-label="Main"><ul>{links}</ul></nav>
<main id="content">
{flash}<h1>{title}</h1>
{body}
</main>
</div>
</body>
</html>"##,
            title = esc(title),
            domain = esc(&self.tenant.domain),
            email = esc(&self.s.admin.email),
            csrf = esc(&self.csrf),
        );
        html_response(status, html)
    }

    /// A page that says what went wrong (a service error).
    pub fn error(&self, nav: Option<Nav>, e: &ServiceError) -> Response {
        let status = match e {
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::Conflict { .. } => StatusCode::CONFLICT,
            ServiceError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ServiceError::Status { status, .. } => {
                StatusCode::from_u16(*status).ok().filter(|s| s.is_client_error()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ServiceError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        };
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            _ => "Something went wrong",
        };
        self.page_status(status, nav, title, &alert(&message(e)))
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> String {
        format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(&self.csrf))
    }

    /// A one-button form posting to `action`.
    pub fn button(&self, action: &str, label: &str, class: &str, id: &str) -> String {
        format!(
            r#"<form class="inline" method="post" action="{}">{}<button type="submit" class="{class}" id="{id}">{}</button></form>"#,
            esc(action),
            self.csrf_field(),
            esc(label)
        )
    }

    /// The caller for an action equivalent to the Management API call
    /// `method template` on `path`: the endpoint's first scope, its summary.
    pub fn act(&self, method: &str, template: &str, path: &str) -> Principal {
        let ep = endpoints::lookup(method, template);
        let scopes: Vec<&str> = ep.and_then(|e| e.scopes.first().copied()).into_iter().collect();
        let mut info = self.info.clone();
        info.method = method.to_string();
        info.path = path.to_string();
        info.query = Vec::new();
        info.description = ep.map(|e| e.summary.to_string()).unwrap_or_default();
        info.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self.app.dashboard_principal(&self.s.admin, &scopes, info)
    }
}

/// The text of a service error fit for the page (never internal detail).
pub(crate) fn message(e: &ServiceError) -> String {
    match e {
        ServiceError::Internal(detail) => {
            tracing::error!(error = %detail, "dashboard action failed");
            "Something went wrong. Please try again later.".into()
        }
        other => other.to_string(),
    }
}

pub(crate) fn alert(m: &str) -> String {
    format!(r#"<p class="alert" role="alert" id="error">{}</p>"#, esc(m))
}

pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    secure_headers(r.headers_mut());
    r
}

fn bare_error(e: &ServiceError) -> Response {
    html_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("<!doctype html><html lang=\"en\"><title>Error</title><p>{}</p></html>", esc(&message(e))),
    )
}

/// A 303 to a dashboard page (after a form, or to sign in).
pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn set_session_cookie(r: &mut Response, value: &str) {
    set_cookie(r, format!("{SESSION_COOKIE}={value}; Path=/dashboard; HttpOnly; Secure; SameSite=Strict"));
}

pub(crate) fn clear_session_cookie(r: &mut Response) {
    set_cookie(r, format!("{SESSION_COOKIE}=; Path=/dashboard; HttpOnly; Secure; SameSite=Strict; Max-Age=0"));
}

/// Milliseconds since the epoch as an ISO date, or a dash.
pub(crate) fn when(ms: Option<i64>) -> String {
    ms.map(castellan_domain::clock::format_ms).unwrap_or_else(|| "—".into())
}

/// A JSON value as an escaped, indented block.
pub(crate) fn pretty(v: &serde_json::Value) -> String {
    format!("<pre>{}</pre>", esc(&serde_json::to_string_pretty(v).unwrap_or_default()))
}

/// A string field of a JSON object, or "".
pub(crate) fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or("")
}

/// Previous/next links for offset paging; `base` already holds the other
/// query parameters (ending in `&` or `?`).
pub(crate) fn pager(base: &str, page: u64, per_page: u64, total: u64) -> String {
    let last = total.saturating_sub(1) / per_page.max(1);
    let mut out = String::from(r#"<nav class="pager" aria-label="Pages">"#);
    if page > 0 {
        out.push_str(&format!(r#"<a href="{}page={}" rel="prev">Previous</a>"#, esc(base), page - 1));
    }
    out.push_str(&format!("<span>Page {} of {}</span>", page + 1, last + 1));
    if page < last {
        out.push_str(&format!(r#"<a href="{}page={}" rel="next">Next</a>"#, esc(base), page + 1));
    }
    out.push_str("</nav>");
    out
}
