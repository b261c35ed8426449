//! Sign-in and sign-out of dashboard administrators. The sign-in form uses
//! the hosted pages' double-submit CSRF cookie (there is no session yet);
//! a successful sign-in sets the session cookie: HttpOnly, Secure,
//! SameSite=Strict, scoped to /dashboard, with no lifetime of its own (the
//! server ends idle sessions).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use castellan_service::dashboard::SignInError;
use castellan_service::{App, Tenant};
use serde::Deserialize;

use super::{
    alert, clear_session_cookie, html_response, safe_next, see_other, set_session_cookie, Admin, Posted, STYLE,
};
use crate::extract::{AppState, Info, QueryPairs, TenantCtx};
use crate::hosted::{csrf_ok, csrf_pair_at, esc, set_cookie};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(home))
        .route("/dashboard/", get(home))
        .route("/dashboard/login", get(login_page).post(login_submit))
        .route("/dashboard/logout", post(logout))
}

async fn home(_admin: Admin) -> Response {
    see_other("/dashboard/users")
}

fn sign_in_page(tenant: &Tenant, status: StatusCode, message: Option<&str>, email: &str, next: &str) -> Response {
    let (token, set) = csrf_pair_at("/dashboard");
    let alert = message.map(alert).unwrap_or_default();
    let described = if message.is_some() { r#" aria-describedby="error""# } else { "" };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {domain} · castellan</title>
<style>{STYLE}
main{{max-width:420px;margin:3rem auto;background:#fff;border:1px solid #dde0ea;border-radius:8px;padding:2rem}}
</style>
</head>
<body>
<main id="content">
<h1>Sign in to the dashboard</h1>
<p class="hint">Tenant {domain}</p>
{alert}
<form method="post" action="/dashboard/login">
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{email}"{described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{described}>
<button type="submit" id="sign-in">Sign in</button>
</form>
</main>
</body>
</html>"#,
        domain = esc(&tenant.domain),
        email = esc(email),
        next = esc(next),
    );
    let mut r = html_response(status, html);
    set_cookie(&mut r, set);
    r
}

async fn login_page(TenantCtx(tenant): TenantCtx, q: QueryPairs) -> Response {
    let next = q.get("next").and_then(safe_next).unwrap_or("/dashboard/users");
    sign_in_page(&tenant, StatusCode::OK, None, "", next)
}

#[derive(Deserialize, Default)]
struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login_submit(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Info(info): Info,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: SignIn = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let next = safe_next(&f.next).unwrap_or("/dashboard/users").to_string();
    if !csrf_ok(&headers, &f.csrf) {
        let m = "The form could not be verified. Please try again.";
        return sign_in_page(&tenant, StatusCode::FORBIDDEN, Some(m), &f.email, &next);
    }
    if f.email.trim().is_empty() || f.password.is_empty() {
        let m = "Enter your email and password.";
        return sign_in_page(&tenant, StatusCode::BAD_REQUEST, Some(m), &f.email, &next);
    }
    match app.dashboard_sign_in(&tenant, &f.email, &f.password, &info).await {
        Ok(cookie) => {
            let mut r = see_other(&next);
            set_session_cookie(&mut r, &cookie);
            r
        }
        Err(SignInError::Wrong) => {
            sign_in_page(&tenant, StatusCode::UNAUTHORIZED, Some("Wrong email or password."), &f.email, &next)
        }
        Err(SignInError::Locked) => sign_in_page(
            &tenant,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed attempts: this account is locked for 15 minutes."),
            &f.email,
            &next,
        ),
        Err(SignInError::Internal) => sign_in_page(
            &tenant,
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("Something went wrong. Please try again later."),
            &f.email,
            &next,
        ),
    }
}

async fn logout(Posted { admin, .. }: Posted) -> Response {
    if let Err(e) = admin.app.dashboard_sign_out(&admin.tenant, &admin.s.session.id).await {
        return admin.error(None, &e);
    }
    let mut r = see_other("/dashboard/login");
    clear_session_cookie(&mut r);
    r
}
