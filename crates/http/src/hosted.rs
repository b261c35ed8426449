//! The hosted pages: /authorize, /u/login, /u/signup, /v2/logout, and
//! Auth0's /api/v2/branding (logo and colors of those pages).
//!
//! Plain HTML that works without JavaScript: labelled fields, errors in a
//! `role="alert"` region, a `lang` attribute, readable at narrow widths. The
//! forms carry a double-submit CSRF token; the session cookie is HttpOnly,
//! Secure and SameSite=Lax; pages cannot be framed and are not cached.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use castellan_service::hosted::{AuthorizeParams, FormOutcome, Next, PageError};
use castellan_service::{App, Tenant};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::error::{json_response, ApiError};
use crate::extract::{AppState, Info, JsonBody, Mgmt, QueryPairs, TenantCtx};

pub const SESSION_COOKIE: &str = "castellan_session";
const CSRF_COOKIE: &str = "castellan_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/u/login", get(login_page).post(login_submit))
        .route("/u/signup", get(signup_page).post(signup_submit))
        .route("/v2/logout", get(logout))
        .route("/api/v2/branding", get(get_branding).patch(patch_branding))
}

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A CSS color from settings, or the default (anything else is refused).
fn color(v: Option<&Value>, default: &str) -> String {
    match v.and_then(Value::as_str) {
        Some(c) if c.len() <= 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit()) => c.to_string(),
        _ => default.to_string(),
    }
}

fn page(tenant: &Tenant, status: StatusCode, title: &str, body: &str) -> Response {
    let b = tenant.settings.branding.clone().unwrap_or(json!({}));
    let primary = color(b.get("colors").and_then(|c| c.get("primary")), "#3b4cca");
    let background = color(b.get("colors").and_then(|c| c.get("page_background")), "#f2f4f8");
    let logo = b
        .get("logo_url")
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://"))
        .map(|u| format!(r#"<img class="logo" src="{}" alt="">"#, esc(u)))
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {domain}</title>
<style>
*{{box-sizing:border-box}}
body{{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:{background};font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1f2a}}
main{{background:#fff;width:100%;max-width:400px;margin:1rem;padding:2rem;border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.12)}}
h1{{font-size:1.5rem;margin:.5rem 0 1.5rem;text-align:center}}
.logo{{display:block;max-height:52px;margin:0 auto}}
label{{display:block;font-weight:600;margin:1rem 0 .25rem}}
input[type=email],input[type=password],input[type=text]{{width:100%;padding:.65rem .75rem;border:1px solid #8a8fa3;border-radius:4px;font:inherit}}
input:focus,button:focus,a:focus{{outline:3px solid {primary};outline-offset:2px}}
button{{width:100%;margin-top:1.5rem;padding:.75rem;border:0;border-radius:4px;background:{primary};color:#fff;font:inherit;font-weight:600;cursor:pointer}}
.alert{{background:#fdecea;border:1px solid #e5a3a0;color:#8a1c16;padding:.75rem;border-radius:4px}}
p.alt{{text-align:center;margin-top:1.5rem}}
a{{color:{primary}}}
</style>
</head>
<body>
<main>
{logo}
<h1>{title}</h1>
{body}
</main>
</body>
</html>"#,
        title = esc(title),
        domain = esc(&tenant.domain),
    );
    let mut r = (status, html).into_response();
    secure_headers(r.headers_mut());
    r
}

fn secure_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-type", "text/html; charset=utf-8");
    set(h, "cache-control", "no-store");
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(
        h,
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'",
    );
}

fn error_page(tenant: &Tenant, e: PageError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    page(tenant, status, &e.title, &format!(r#"<p class="alert" role="alert">{}</p>"#, esc(&e.message)))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn go(tenant: &Tenant, next: Next, session_cookie: Option<String>) -> Response {
    let mut resp = match next {
        Next::Redirect(url) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Next::FormPost { url, fields } => {
            let inputs: String = fields
                .iter()
                .map(|(k, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(k), esc(v)))
                .collect();
            page(
                tenant,
                StatusCode::OK,
                "Continue to the application",
                &format!(
                    r#"<form method="post" action="{}">{inputs}<button type="submit">Continue</button></form>"#,
                    esc(&url)
                ),
            )
        }
        Next::Page { tx, signup } => {
            let to = if signup { "/u/signup" } else { "/u/login" };
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{to}?state={tx}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
    };
    if let Some(c) = session_cookie {
        set_cookie(
            &mut resp,
            format!("{SESSION_COOKIE}={c}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}", 7 * 24 * 3600),
        );
    }
    resp
}

async fn authorize(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    q: QueryPairs,
    headers: HeaderMap,
) -> Response {
    let g = |k: &str| q.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let p = AuthorizeParams {
        response_type: g("response_type"),
        client_id: g("client_id"),
        redirect_uri: g("redirect_uri"),
        scope: g("scope"),
        state: g("state"),
        audience: g("audience"),
        nonce: g("nonce"),
        code_challenge: g("code_challenge"),
        code_challenge_method: g("code_challenge_method"),
        response_mode: g("response_mode"),
        prompt: g("prompt"),
        login_hint: g("login_hint"),
        connection: g("connection"),
        screen_hint: g("screen_hint"),
    };
    match app.authorize(&tenant, p, cookie(&headers, SESSION_COOKIE).as_deref(), &info).await {
        Ok(next) => go(&tenant, next, None),
        Err(e) => error_page(&tenant, e),
    }
}

fn csrf_pair() -> (String, String) {
    let token = castellan_domain::ids::client_secret();
    (token.clone(), format!("{CSRF_COOKIE}={token}; Path=/u; HttpOnly; Secure; SameSite=Strict; Max-Age=1800"))
}

fn form(
    tenant: &Tenant,
    signup: bool,
    tx: &str,
    hint: &str,
    message: Option<&str>,
    status: StatusCode,
    signup_allowed: bool,
) -> Response {
    let (token, set) = csrf_pair();
    let alert =
        message.map(|m| format!(r#"<p class="alert" role="alert" id="error">{}</p>"#, esc(m))).unwrap_or_default();
    let described = if message.is_some() { r#" aria-describedby="error""# } else { "" };
    let (title, action, button, pw_auto, other) = if signup {
        (
            "Sign up",
            "/u/signup",
            "Continue",
            "new-password",
            format!(r#"<p class="alt">Already have an account? <a href="/u/login?state={}">Log in</a></p>"#, esc(tx)),
        )
    } else {
        let other = if signup_allowed {
            format!(r#"<p class="alt">Don't have an account? <a href="/u/signup?state={}">Sign up</a></p>"#, esc(tx))
        } else {
            String::new()
        };
        ("Log in", "/u/login", "Continue", "current-password", other)
    };
    let body = format!(
        r#"{alert}<form method="post" action="{action}" novalidate>
<input type="hidden" name="state" value="{tx}">
<input type="hidden" name="csrf" value="{token}">
<label for="username">Email address</label>
<input id="username" name="username" type="email" autocomplete="username" required value="{hint}"{described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="{pw_auto}" required{described}>
<button type="submit">{button}</button>
</form>{other}"#,
        tx = esc(tx),
        hint = esc(hint),
    );
    let mut r = page(tenant, status, title, &body);
    set_cookie(&mut r, set);
    r
}

async fn show(app: &App, tenant: &Tenant, q: &QueryPairs, signup: bool) -> Response {
    let tx = q.get("state").unwrap_or("").to_string();
    match app.login_tx(tenant, &tx).await {
        Some((txdoc, _, conn)) => {
            let allowed = !conn.options.disable_signup.unwrap_or(false);
            if signup && !allowed {
                return error_page(
                    tenant,
                    PageError { status: 403, title: "Sign up".into(), message: "Signups are disabled.".into() },
                );
            }
            let hint = txdoc.get("login_hint").and_then(Value::as_str).unwrap_or("");
            form(tenant, signup, &tx, hint, None, StatusCode::OK, allowed)
        }
        None => error_page(
            tenant,
            PageError {
                status: 400,
                title: "Login expired".into(),
                message: "This login page has expired. Please go back to the application and try again.".into(),
            },
        ),
    }
}

async fn login_page(State(app): State<App>, TenantCtx(tenant): TenantCtx, q: QueryPairs) -> Response {
    show(&app, &tenant, &q, false).await
}

async fn signup_page(State(app): State<App>, TenantCtx(tenant): TenantCtx, q: QueryPairs) -> Response {
    show(&app, &tenant, &q, true).await
}

#[derive(Deserialize)]
struct Submitted {
    #[serde(default)]
    state: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    match cookie(headers, CSRF_COOKIE) {
        Some(c) => !c.is_empty() && c.as_bytes().ct_eq(submitted.as_bytes()).into(),
        None => false,
    }
}

async fn submit(
    app: &App,
    tenant: &Tenant,
    info: castellan_service::RequestInfo,
    headers: &HeaderMap,
    f: Submitted,
    signup: bool,
) -> Response {
    if !csrf_ok(headers, &f.csrf) {
        return error_page(
            tenant,
            PageError {
                status: 403,
                title: "Request refused".into(),
                message: "The form could not be verified. Please reload the page and try again.".into(),
            },
        );
    }
    let outcome = if signup {
        app.signup_page_submit(tenant, &f.state, &f.username, &f.password, &info).await
    } else {
        app.login_page_submit(tenant, &f.state, &f.username, &f.password, &info).await
    };
    match outcome {
        Ok(FormOutcome::Done { next, session_cookie }) => go(tenant, next, Some(session_cookie)),
        Ok(FormOutcome::Retry { message, status }) => {
            let allowed = match app.login_tx(tenant, &f.state).await {
                Some((_, _, conn)) => !conn.options.disable_signup.unwrap_or(false),
                None => false,
            };
            form(
                tenant,
                signup,
                &f.state,
                &f.username,
                Some(&message),
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                allowed,
            )
        }
        Err(e) => error_page(tenant, e),
    }
}

async fn login_submit(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    Form(f): Form<Submitted>,
) -> Response {
    submit(&app, &tenant, info, &headers, f, false).await
}

async fn signup_submit(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    Form(f): Form<Submitted>,
) -> Response {
    submit(&app, &tenant, info, &headers, f, true).await
}

async fn logout(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    q: QueryPairs,
    headers: HeaderMap,
) -> Response {
    let session = cookie(&headers, SESSION_COOKIE);
    match app.logout(&tenant, q.get("client_id"), q.get("returnTo"), session.as_deref(), &info).await {
        Ok(to) => {
            let mut r = match to {
                Some(url) => go(&tenant, Next::Redirect(url), None),
                None => page(
                    &tenant,
                    StatusCode::OK,
                    "You are logged out",
                    "<p>You have been logged out. You can close this window.</p>",
                ),
            };
            set_cookie(&mut r, format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"));
            r
        }
        Err(e) => error_page(&tenant, e),
    }
}

async fn get_branding(m: Mgmt) -> Result<Response, ApiError> {
    m.require("GET", "/api/v2/branding")?;
    Ok(json_response(StatusCode::OK, &m.tenant.settings.branding.clone().unwrap_or(json!({}))))
}

async fn patch_branding(State(app): State<App>, m: Mgmt, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    m.require("PATCH", "/api/v2/branding")?;
    crate::body_schema::validate("PATCH", "/api/v2/branding", &body)?;
    let out = app.update_branding(&m.tenant, &m.principal, &body).await?;
    Ok(json_response(StatusCode::OK, &out))
}
