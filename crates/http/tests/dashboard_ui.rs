//! The dashboard in process: sign-in, sessions, CSRF, pages, and user
//! actions through the forms (same effects and log events as the API).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::{json, Value};

const CONN: &str = "Username-Password-Authentication";
const ADMIN_EMAIL: &str = "admin@tenant.test";

struct Page {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    html: String,
}

async fn get(s: &TestServer, uri: &str, cookie: &str) -> Page {
    let mut b = Request::get(uri).header(header::HOST, DOMAIN);
    if !cookie.is_empty() {
        b = b.header(header::COOKIE, cookie);
    }
    page(s.send(b.body(Body::empty()).unwrap()).await)
}

async fn post(s: &TestServer, uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
    let mut b = Request::post(uri)
        .header(header::HOST, DOMAIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if !cookie.is_empty() {
        b = b.header(header::COOKIE, cookie);
    }
    page(s.send(b.body(Body::from(serde_urlencoded::to_string(fields).unwrap())).unwrap()).await)
}

fn page(r: Resp) -> Page {
    Page {
        status: r.status,
        location: r.headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default(),
        cookies: r.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect(),
        html: String::from_utf8(r.raw).unwrap(),
    }
}

/// The value of the first hidden `csrf` field.
fn csrf(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_string()
}

fn cookie_value(p: &Page, name: &str) -> Option<String> {
    p.cookies.iter().find_map(|c| c.strip_prefix(&format!("{name}="))).map(|c| c.split(';').next().unwrap().to_string())
}

async fn try_sign_in(s: &TestServer, email: &str, password: &str) -> Page {
    let form = get(s, "/dashboard/login", "").await;
    assert_eq!(form.status, StatusCode::OK);
    let token = csrf(&form.html);
    let c = format!("castellan_csrf={}", cookie_value(&form, "castellan_csrf").unwrap());
    post(s, "/dashboard/login", &c, &[("csrf", &token), ("email", email), ("password", password), ("next", "")]).await
}

/// Signs in; returns the Cookie header value of the session.
async fn sign_in(s: &TestServer) -> String {
    let p = try_sign_in(s, ADMIN_EMAIL, DASHBOARD_PASSWORD).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location, "/dashboard/users");
    format!("castellan_dashboard={}", cookie_value(&p, "castellan_dashboard").unwrap())
}

/// The CSRF token of the signed-in session (from any page's sign-out form).
async fn session_csrf(s: &TestServer, c: &str) -> String {
    csrf(&get(s, "/dashboard/users", c).await.html)
}

async fn api_user(s: &TestServer, body: Value) -> String {
    let t = s.admin_token().await;
    let r = s.call("POST", "/api/v2/users", Some(&t), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["user_id"].as_str().unwrap().to_string()
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

/// The types of the events recorded about `user_id`, oldest first.
async fn event_types(s: &TestServer, user_id: &str) -> Vec<String> {
    let t = s.admin_token().await;
    let q = enc(&format!("user_id:\"{user_id}\""));
    let r = s.call("GET", &format!("/api/v2/logs?q={q}&sort=date:1"), Some(&t), None).await;
    r.body.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn pages_require_sign_in() {
    let s = TestServer::start().await;
    for uri in ["/dashboard", "/dashboard/users", "/dashboard/logs", "/dashboard/users/auth0%7Cx"] {
        let p = get(&s, uri, "").await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{uri}");
        assert!(p.location.starts_with("/dashboard/login"), "{uri}: {}", p.location);
    }
    let p = get(&s, "/dashboard/users?q=x", "").await;
    assert_eq!(p.location, "/dashboard/login?next=%2Fdashboard%2Fusers%3Fq%3Dx");
    // A made-up cookie is no session.
    let p = get(&s, "/dashboard/users", "castellan_dashboard=forged").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // A form posted without a session does nothing.
    let p = post(&s, "/dashboard/users/new", "", &[("email", "a@b.c"), ("password", "x")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, "/dashboard/login");
}

#[tokio::test]
async fn sign_in_sets_a_strict_session_cookie_and_goes_back() {
    let s = TestServer::start().await;
    let p = try_sign_in(&s, "ADMIN@tenant.test", DASHBOARD_PASSWORD).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let set = p.cookies.iter().find(|c| c.starts_with("castellan_dashboard=")).unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/dashboard"] {
        assert!(set.contains(flag), "{set}");
    }
    let c = format!("castellan_dashboard={}", cookie_value(&p, "castellan_dashboard").unwrap());
    let home = get(&s, "/dashboard", &c).await;
    assert_eq!(home.location, "/dashboard/users");
    let users = get(&s, "/dashboard/users", &c).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.html.contains(ADMIN_EMAIL));
    assert!(users.html.contains(r#"aria-current="page">Users"#));
    // The session of one tenant is nothing in another.
    let other = s
        .send(
            Request::get("/dashboard/users")
                .header(header::HOST, "other.test")
                .header(header::COOKIE, &c)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn wrong_password_and_lockout() {
    let s = TestServer::start().await;
    let p = try_sign_in(&s, ADMIN_EMAIL, "wrong-password").await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("Wrong email or password."));
    assert!(cookie_value(&p, "castellan_dashboard").is_none());
    let p = try_sign_in(&s, "nobody@tenant.test", "wrong-password").await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("Wrong email or password."));
    for _ in 0..3 {
        try_sign_in(&s, ADMIN_EMAIL, "wrong-password").await;
    }
    let p = try_sign_in(&s, ADMIN_EMAIL, "wrong-password").await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    // Locked: even the right password is refused until the lock runs out.
    let p = try_sign_in(&s, ADMIN_EMAIL, DASHBOARD_PASSWORD).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.html.contains("locked"));
    s.clock.advance_ms(16 * 60 * 1000);
    sign_in(&s).await;
}

#[tokio::test]
async fn csrf_is_required() {
    let s = TestServer::start().await;
    // Sign-in form without the CSRF cookie.
    let form = get(&s, "/dashboard/login", "").await;
    let token = csrf(&form.html);
    let p =
        post(&s, "/dashboard/login", "", &[("csrf", &token), ("email", ADMIN_EMAIL), ("password", DASHBOARD_PASSWORD)])
            .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(cookie_value(&p, "castellan_dashboard").is_none());
    // Signed in, a form without the token, or with another, is refused.
    let c = sign_in(&s).await;
    let fields = [
        ("email", "x@example.com"),
        ("password", "S3cret-Passw0rd"),
        ("repeat", "S3cret-Passw0rd"),
        ("connection", CONN),
    ];
    let p = post(&s, "/dashboard/users/new", &c, &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let mut forged = fields.to_vec();
    forged.push(("csrf", "not-the-token"));
    let p = post(&s, "/dashboard/users/new", &c, &forged).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let t = s.admin_token().await;
    let r = s.call("GET", "/api/v2/users-by-email?email=x@example.com", Some(&t), None).await;
    assert_eq!(r.body, json!([]));
    // The token of another session does not fit this one.
    let c2 = sign_in(&s).await;
    let other = session_csrf(&s, &c2).await;
    forged.pop();
    forged.push(("csrf", &other));
    let p = post(&s, "/dashboard/users/new", &c, &forged).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    let p = post(&s, "/dashboard/logout", &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, "/dashboard/login");
    assert!(p.cookies.iter().any(|c| c.starts_with("castellan_dashboard=;") && c.contains("Max-Age=0")));
    let p = get(&s, "/dashboard/users", &c).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    // Activity keeps the session alive...
    for _ in 0..3 {
        s.clock.advance_ms(20 * 60 * 1000);
        assert_eq!(get(&s, "/dashboard/users", &c).await.status, StatusCode::OK);
    }
    // ...30 minutes without a request end it.
    s.clock.advance_ms(31 * 60 * 1000);
    let p = get(&s, "/dashboard/users", &c).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location.starts_with("/dashboard/login"));
}

#[tokio::test]
async fn every_page_renders() {
    let s = TestServer::start().await;
    let id =
        api_user(&s, json!({"connection": CONN, "email": "jane@example.com", "password": "S3cret-Passw0rd"})).await;
    let c = sign_in(&s).await;
    let t = s.admin_token().await;
    let log_id = s.call("GET", "/api/v2/logs", Some(&t), None).await.body[0]["log_id"].as_str().unwrap().to_string();
    let user = format!("/dashboard/users/{}", enc(&id));
    let mut uris = vec![
        "/dashboard/users".to_string(),
        "/dashboard/users?q=email:jane*&sort=name:1&page=0".into(),
        "/dashboard/users/new".into(),
        format!("{user}/delete"),
        "/dashboard/logs".into(),
        "/dashboard/logs?type=sapi&client=&q=".into(),
        format!("/dashboard/logs/{log_id}"),
    ];
    for tab in ["details", "devices", "history", "raw"] {
        uris.push(format!("{user}?tab={tab}"));
    }
    for uri in &uris {
        let p = get(&s, uri, &c).await;
        assert_eq!(p.status, StatusCode::OK, "{uri}: {}", p.html);
        assert!(p.html.contains("<h1>"), "{uri}");
        assert_eq!(p.cookies.len(), 0, "{uri}");
    }
    let raw = get(&s, &format!("{user}?tab=raw"), &c).await.html;
    assert!(raw.contains("jane@example.com"));
    let history = get(&s, &format!("{user}?tab=history"), &c).await.html;
    assert!(history.contains(">ss<"), "{history}");
    let missing = get(&s, "/dashboard/users/auth0%7Cnope", &c).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.html.contains("The user does not exist."));
}

#[tokio::test]
async fn a_bad_search_explains_itself() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let p = get(&s, &format!("/dashboard/users?q={}", enc("name:(jane")), &c).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains(r#"role="alert""#));
    assert!(p.html.contains("Invalid query string"), "{}", p.html);
    assert!(p.html.contains("Check the query syntax"));
    // The query stays in the box to be corrected.
    assert!(p.html.contains(r#"value="name:(jane""#));
    let p = get(&s, "/dashboard/users?q=email:nobody*", &c).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("No user matches this search."));
    let p = get(&s, "/dashboard/users", &c).await;
    assert!(p.html.contains("There are no users yet."));
}

#[tokio::test]
async fn user_lifecycle_through_the_forms_leaves_the_api_events() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    // A weak password and a mismatch are explained, nothing is created.
    let p = post(
        &s,
        "/dashboard/users/new",
        &c,
        &[("csrf", &token), ("email", "bob@example.com"), ("password", "abc"), ("repeat", "abc"), ("connection", CONN)],
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains("too weak"), "{}", p.html);
    let p = post(
        &s,
        "/dashboard/users/new",
        &c,
        &[
            ("csrf", &token),
            ("email", "bob@example.com"),
            ("password", "S3cret-Passw0rd"),
            ("repeat", "other"),
            ("connection", CONN),
        ],
    )
    .await;
    assert!(p.html.contains("The passwords do not match."));
    // Created.
    let p = post(
        &s,
        "/dashboard/users/new",
        &c,
        &[
            ("csrf", &token),
            ("email", "bob@example.com"),
            ("password", "S3cret-Passw0rd"),
            ("repeat", "S3cret-Passw0rd"),
            ("connection", CONN),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let t = s.admin_token().await;
    let found = s.call("GET", "/api/v2/users-by-email?email=bob@example.com", Some(&t), None).await.body;
    let id = found[0]["user_id"].as_str().unwrap().to_string();
    let user = format!("/dashboard/users/{}", enc(&id));
    assert_eq!(p.location, format!("{user}?ok=user_created"));
    let shown = get(&s, &p.location, &c).await;
    assert!(shown.html.contains("The user was created."));
    // The same events as POST /api/v2/users, attributed to the dashboard.
    let t = s.admin_token().await;
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    let sapi = &logs[0];
    assert_eq!(sapi["description"], "Create a User");
    assert_eq!(sapi["details"]["request"]["path"], "/api/v2/users");
    assert_eq!(sapi["details"]["request"]["method"], "post");
    assert_eq!(sapi["client_name"], "castellan dashboard");
    assert!(sapi["details"]["request"]["body"]["password"] != json!("S3cret-Passw0rd"));
    assert_eq!(event_types(&s, &id).await, vec!["ss"]);

    // Block, unblock.
    let p = post(&s, &format!("{user}/block"), &c, &[("csrf", &token)]).await;
    assert_eq!(p.location, format!("{user}?ok=user_blocked"));
    let r = s.call("GET", &format!("/api/v2/users/{}", enc(&id)), Some(&t), None).await;
    assert_eq!(r.body["blocked"], true);
    assert!(get(&s, &user, &c).await.html.contains("This user is blocked"));
    let p = post(&s, &format!("{user}/unblock"), &c, &[("csrf", &token)]).await;
    assert_eq!(p.location, format!("{user}?ok=user_unblocked"));
    let r = s.call("GET", &format!("/api/v2/users/{}", enc(&id)), Some(&t), None).await;
    assert_eq!(r.body["blocked"], false);
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    assert_eq!(logs[0]["description"], "Update a User");
    assert_eq!(logs[0]["details"]["request"]["body"], json!({"blocked": false}));
    assert_eq!(logs[1]["details"]["request"]["body"], json!({"blocked": true}));

    // Delete: a confirmation first, then the user is gone.
    let confirm = get(&s, &format!("{user}/delete"), &c).await;
    assert!(confirm.html.contains("This cannot be undone"));
    assert!(confirm.html.contains("bob@example.com"));
    let p = post(&s, &format!("{user}/delete"), &c, &[("csrf", &token)]).await;
    assert_eq!(p.location, "/dashboard/users?ok=user_deleted");
    let r = s.call("GET", &format!("/api/v2/users/{}", enc(&id)), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(event_types(&s, &id).await, vec!["ss", "sdu"]);
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    assert_eq!(logs[0]["description"], "Delete a User");
}

#[tokio::test]
async fn metadata_is_validated_and_replaced() {
    let s = TestServer::start().await;
    let id = api_user(
        &s,
        json!({"connection": CONN, "email": "m@example.com", "password": "S3cret-Passw0rd", "user_metadata": {"a": 1, "b": 2}}),
    )
    .await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    let action = format!("/dashboard/users/{}/metadata", enc(&id));
    let p = post(&s, &action, &c, &[("csrf", &token), ("user_metadata", "{not json"), ("app_metadata", "{}")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains("user_metadata is not valid JSON"), "{}", p.html);
    let p = post(&s, &action, &c, &[("csrf", &token), ("user_metadata", "[1]"), ("app_metadata", "{}")]).await;
    assert!(p.html.contains("user_metadata must be a JSON object"));
    let p = post(
        &s,
        &action,
        &c,
        &[("csrf", &token), ("user_metadata", r#"{"a": 1, "c": "x"}"#), ("app_metadata", r#"{"plan": "pro"}"#)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let t = s.admin_token().await;
    let u = s.call("GET", &format!("/api/v2/users/{}", enc(&id)), Some(&t), None).await.body;
    assert_eq!(u["user_metadata"], json!({"a": 1, "c": "x"}));
    assert_eq!(u["app_metadata"], json!({"plan": "pro"}));
}

#[tokio::test]
async fn user_controlled_text_is_escaped() {
    let s = TestServer::start().await;
    let evil = r#"<script>alert("x")</script>"#;
    let id = api_user(
        &s,
        json!({"connection": CONN, "email": "x@example.com", "password": "S3cret-Passw0rd", "name": evil,
               "user_metadata": {"note": format!("</textarea>{evil}")}}),
    )
    .await;
    let c = sign_in(&s).await;
    let user = format!("/dashboard/users/{}", enc(&id));
    let t = s.admin_token().await;
    let log_id =
        s.call("GET", "/api/v2/logs?q=type:sapi", Some(&t), None).await.body[0]["log_id"].as_str().unwrap().to_string();
    for uri in [
        "/dashboard/users".to_string(),
        format!("{user}?tab=details"),
        format!("{user}?tab=raw"),
        format!("{user}?tab=history"),
        format!("{user}/delete"),
        format!("/dashboard/logs/{log_id}"),
        format!("/dashboard/users?q={}", enc(evil)),
        format!("/dashboard/logs?q={}", enc(evil)),
    ] {
        let p = get(&s, &uri, &c).await;
        assert!(!p.html.contains("<script>"), "{uri}: {}", p.html);
        assert!(!p.html.contains("</textarea><"), "{uri}");
    }
    let p = get(&s, &format!("{user}?tab=details"), &c).await;
    assert!(p.html.contains("&lt;script&gt;"));
    // Flash messages come from a fixed list, never from the link.
    let p = get(&s, &format!("{user}?ok={}", enc(evil)), &c).await;
    assert!(!p.html.contains("class=\"flash\""));
}

#[tokio::test]
async fn applications_apis_roles_and_connections() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    for uri in ["/dashboard/applications", "/dashboard/apis", "/dashboard/roles", "/dashboard/connections"] {
        let p = get(&s, uri, &c).await;
        assert_eq!(p.status, StatusCode::OK, "{uri}: {}", p.html);
    }
    // An application: created, configured, secret revealed and rotated.
    let p = post(
        &s,
        "/dashboard/applications",
        &c,
        &[("csrf", &token), ("name", "web & \"co\""), ("app_type", "regular_web")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let app_page = p.location.split('?').next().unwrap().to_string();
    let client_id = app_page.rsplit('/').next().unwrap().to_string();
    let shown = get(&s, &app_page, &c).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.html.contains("web &amp; &quot;co&quot;"));
    assert!(!shown.html.contains("id=\"client-secret\""));
    let p = post(
        &s,
        &app_page,
        &c,
        &[
            ("csrf", &token),
            ("name", "web"),
            ("callbacks", "https://app.example/cb\nhttps://app.example/cb2"),
            ("allowed_logout_urls", "https://app.example/bye"),
            ("grant_types", "authorization_code"),
            ("grant_types", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let t = s.admin_token().await;
    let api_view = s.call("GET", &format!("/api/v2/clients/{client_id}"), Some(&t), None).await.body;
    assert_eq!(api_view["callbacks"], json!(["https://app.example/cb", "https://app.example/cb2"]));
    assert_eq!(api_view["grant_types"], json!(["authorization_code", "refresh_token"]));
    let revealed = post(&s, &format!("{app_page}/reveal"), &c, &[("csrf", &token)]).await;
    assert!(revealed.html.contains("id=\"client-secret\""));
    let p = post(&s, &format!("{app_page}/rotate"), &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    assert_eq!(logs[0]["details"]["request"]["path"], format!("/api/v2/clients/{client_id}/rotate-secret"));

    // The Management API's Test tab: a token for the bootstrap admin application.
    let apis = s.call("GET", "/api/v2/resource-servers", Some(&t), None).await.body;
    let mgmt = apis.as_array().unwrap().iter().find(|a| a["identifier"] == AUDIENCE).unwrap();
    let api_page = format!("/dashboard/apis/{}", mgmt["id"].as_str().unwrap());
    let p = get(&s, &api_page, &c).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains(ADMIN_ID));
    let p = post(&s, &format!("{api_page}/test"), &c, &[("csrf", &token), ("client_id", ADMIN_ID)]).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains("access_token"));
    assert!(p.html.contains("curl --request POST"));
    assert!(p.html.contains("https://tenant.test/oauth/token"));

    // An API with scopes, a role with one of them.
    let p = post(
        &s,
        "/dashboard/apis",
        &c,
        &[("csrf", &token), ("name", "Reports"), ("identifier", "https://reports.example")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let reports = p.location.split('?').next().unwrap().to_string();
    let p = post(
        &s,
        &format!("{reports}/scopes"),
        &c,
        &[("csrf", &token), ("scopes", "read:reports Read the reports\nwrite:reports")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let p = post(&s, "/dashboard/roles", &c, &[("csrf", &token), ("name", "reader"), ("description", "Reads")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let role = p.location.split('?').next().unwrap().to_string();
    let p = post(
        &s,
        &format!("{role}/permissions"),
        &c,
        &[("csrf", &token), ("permission", "https://reports.example read:reports")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let p = get(&s, &role, &c).await;
    assert!(p.html.contains("read:reports"));

    // A user gets the role from their page.
    let id = api_user(&s, json!({"connection": CONN, "email": "r@example.com", "password": "S3cret-Passw0rd"})).await;
    let role_id = role.rsplit('/').next().unwrap().to_string();
    let user = format!("/dashboard/users/{}", enc(&id));
    let p = post(&s, &format!("{user}/roles"), &c, &[("csrf", &token), ("role_id", &role_id)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let roles = s.call("GET", &format!("/api/v2/users/{}/roles", enc(&id)), Some(&t), None).await.body;
    assert_eq!(roles[0]["name"], "reader");
    let p = post(&s, &format!("{user}/roles/remove"), &c, &[("csrf", &token), ("role_id", &role_id)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let roles = s.call("GET", &format!("/api/v2/users/{}/roles", enc(&id)), Some(&t), None).await.body;
    assert_eq!(roles, json!([]));

    // The database connection: policy and brute-force protection.
    let conns = s.call("GET", &format!("/api/v2/connections?name={CONN}"), Some(&t), None).await.body;
    let conn_id = conns[0]["id"].as_str().unwrap().to_string();
    let page_uri = format!("/dashboard/connections/{conn_id}");
    assert_eq!(get(&s, &page_uri, &c).await.status, StatusCode::OK);
    let p = post(
        &s,
        &page_uri,
        &c,
        &[("csrf", &token), ("password_policy", "low"), ("enabled", ADMIN_ID), ("enabled", &client_id)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let conn = s.call("GET", &format!("/api/v2/connections/{conn_id}"), Some(&t), None).await.body;
    assert_eq!(conn["options"]["password_policy"], "low");
    assert_eq!(conn["options"]["brute_force_protection"], false);
    let enabled = s.call("GET", &format!("/api/v2/connections/{conn_id}/clients"), Some(&t), None).await;
    assert!(enabled.raw.windows(client_id.len()).any(|w| w == client_id.as_bytes()), "{:?}", enabled.body);
}

/// The client grants of `client_id` through the Management API.
async fn grants_of(s: &TestServer, client_id: &str) -> Value {
    let t = s.admin_token().await;
    s.call("GET", &format!("/api/v2/client-grants?client_id={client_id}"), Some(&t), None).await.body
}

#[tokio::test]
async fn an_m2m_application_is_authorized_for_an_api_and_gets_a_test_token() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    let p = post(
        &s,
        "/dashboard/applications",
        &c,
        &[("csrf", &token), ("name", "worker"), ("app_type", "non_interactive")],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let app_page = p.location.split('?').next().unwrap().to_string();
    let client_id = app_page.rsplit('/').next().unwrap().to_string();
    let tab = format!("{app_page}/apis");
    let p = get(&s, &tab, &c).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains("Not authorized"));
    assert!(p.html.contains(r#"value="read:users""#));

    // Without the CSRF token nothing is granted.
    let fields = [("audience", AUDIENCE), ("scope", "read:users"), ("scope", "read:clients")];
    let p = post(&s, &tab, &c, &fields).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(grants_of(&s, &client_id).await, json!([]));
    // A permission the API does not define is refused, with the reason.
    let p = post(&s, &tab, &c, &[("csrf", &token), ("audience", AUDIENCE), ("scope", "launch:rockets")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains("launch:rockets is not a permission of the API"), "{}", p.html);
    assert_eq!(grants_of(&s, &client_id).await, json!([]));
    // An unknown API too.
    let p = post(&s, &tab, &c, &[("csrf", &token), ("audience", "https://nope.example")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains(r#"role="alert""#));

    let mut authorized = fields.to_vec();
    authorized.push(("csrf", &token));
    let p = post(&s, &tab, &c, &authorized).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location, format!("{tab}?ok=grant_created"));
    let grants = grants_of(&s, &client_id).await;
    assert_eq!(grants[0]["audience"], AUDIENCE);
    assert_eq!(grants[0]["scope"], json!(["read:users", "read:clients"]));
    let grant_id = grants[0]["id"].as_str().unwrap().to_string();
    let t = s.admin_token().await;
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    assert_eq!(logs[0]["details"]["request"]["path"], "/api/v2/client-grants");
    let p = get(&s, &format!("{tab}?ok=grant_created"), &c).await;
    assert!(p.html.contains("The application is authorized for the API."));
    assert!(p.html.contains("Authorized"));

    // The Management API's Test tab now issues this application a token.
    let apis = s.call("GET", "/api/v2/resource-servers", Some(&t), None).await.body;
    let mgmt = apis.as_array().unwrap().iter().find(|a| a["identifier"] == AUDIENCE).unwrap();
    let api_page = format!("/dashboard/apis/{}", mgmt["id"].as_str().unwrap());
    let p = get(&s, &api_page, &c).await;
    assert!(p.html.contains(&format!(r#"<option value="{client_id}">worker</option>"#)), "{}", p.html);
    let p = post(&s, &format!("{api_page}/test"), &c, &[("csrf", &token), ("client_id", &client_id)]).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains("access_token"), "{}", p.html);
    assert!(p.html.contains("read:users read:clients"), "{}", p.html);
    // The answer keeps the chosen application selected.
    assert!(p.html.contains(&format!(r#"<option value="{client_id}" selected>worker</option>"#)), "{}", p.html);

    // Changing the chosen permissions.
    let grant_uri = format!("{tab}/{grant_id}");
    let p = post(&s, &grant_uri, &c, &[("csrf", &token), ("scope", "read:users")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(grants_of(&s, &client_id).await[0]["scope"], json!(["read:users"]));
    let p = post(&s, &grant_uri, &c, &[("csrf", &token), ("scope", "read:users"), ("scope", "bogus")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(grants_of(&s, &client_id).await[0]["scope"], json!(["read:users"]));

    // Another application's grant, or another tenant's, is not reachable through this page.
    let admin_grant = grants_of(&s, ADMIN_ID).await[0]["id"].as_str().unwrap().to_string();
    let other_tenant_grant = {
        let tenant = s.app.tenant_for_host("other.test").await.unwrap().unwrap();
        let filter = castellan_service::DocFilter { audience: None, client_id: Some("otheradmin".into()) };
        let (g, _) = s.app.list_client_grants(&tenant, &filter, |_| true, 0, 10).await.unwrap();
        g[0]["id"].as_str().unwrap().to_string()
    };
    for forged in [&admin_grant, &other_tenant_grant] {
        let p = post(&s, &format!("{tab}/{forged}"), &c, &[("csrf", &token)]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.html);
        let p = post(&s, &format!("{tab}/{forged}/revoke"), &c, &[("csrf", &token)]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.html);
    }
    assert!(grants_of(&s, ADMIN_ID).await[0]["scope"].as_array().unwrap().len() > 10);
    let p = post(&s, "/dashboard/applications/otheradmin/apis", &c, &authorized).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "{}", p.html);

    // Revoking: a confirmation, then the grant is gone and the token refused.
    let p = get(&s, &format!("{grant_uri}/revoke"), &c).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("cannot be undone"));
    let p = post(&s, &format!("{grant_uri}/revoke"), &c, &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = post(&s, &format!("{grant_uri}/revoke"), &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(grants_of(&s, &client_id).await, json!([]));
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    assert_eq!(logs[0]["details"]["request"]["path"], format!("/api/v2/client-grants/{grant_id}"));

    // The last authorization for the Management API stays.
    let admin_tab = format!("/dashboard/applications/{ADMIN_ID}/apis/{admin_grant}/revoke");
    let p = get(&s, &admin_tab, &c).await;
    assert!(p.html.contains("only application authorized for the Management API"), "{}", p.html);
    assert!(!p.html.contains("confirm-revoke"));
    let p = post(&s, &admin_tab, &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(grants_of(&s, ADMIN_ID).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn applications_apis_roles_and_connections_are_deleted_after_a_confirmation() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    let t = s.admin_token().await;
    let created = |p: Page| {
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
        p.location.split('?').next().unwrap().to_string()
    };
    let app = created(
        post(&s, "/dashboard/applications", &c, &[("csrf", &token), ("name", "old"), ("app_type", "spa")]).await,
    );
    let api = created(
        post(&s, "/dashboard/apis", &c, &[("csrf", &token), ("name", "Old"), ("identifier", "https://old.example")])
            .await,
    );
    let role = created(post(&s, "/dashboard/roles", &c, &[("csrf", &token), ("name", "old-role")]).await);
    let conn = s
        .call(
            "POST",
            "/api/v2/connections",
            Some(&t),
            Some(json!({"name": "old-db", "strategy": "auth0", "enabled_clients": [ADMIN_ID]})),
        )
        .await
        .body;
    let conn = format!("/dashboard/connections/{}", conn["id"].as_str().unwrap());
    let gone_user =
        api_user(&s, json!({"connection": "old-db", "email": "gone@example.com", "password": "S3cret-Passw0rd"})).await;

    for (page, api_path, listed) in [
        (
            &app,
            format!("/api/v2/clients/{}", app.rsplit('/').next().unwrap()),
            "/dashboard/applications?ok=app_deleted",
        ),
        (
            &api,
            format!("/api/v2/resource-servers/{}", api.rsplit('/').next().unwrap()),
            "/dashboard/apis?ok=api_deleted",
        ),
        (&role, format!("/api/v2/roles/{}", role.rsplit('/').next().unwrap()), "/dashboard/roles?ok=role_deleted"),
        (
            &conn,
            format!("/api/v2/connections/{}", conn.rsplit('/').next().unwrap()),
            "/dashboard/connections?ok=connection_deleted",
        ),
    ] {
        // The page links to a confirmation that says it cannot be undone.
        let shown = get(&s, page, &c).await;
        assert!(shown.html.contains(&format!(r#"href="{page}/delete""#)), "{page}");
        let confirm = get(&s, &format!("{page}/delete"), &c).await;
        assert_eq!(confirm.status, StatusCode::OK, "{page}: {}", confirm.html);
        assert!(confirm.html.contains("This cannot be undone"), "{page}");
        assert!(confirm.html.contains("confirm-delete"), "{page}");
        // Without the CSRF token nothing happens.
        let p = post(&s, &format!("{page}/delete"), &c, &[]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{page}");
        assert_eq!(s.call("GET", &api_path, Some(&t), None).await.status, StatusCode::OK, "{api_path}");
        let p = post(&s, &format!("{page}/delete"), &c, &[("csrf", &token)]).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{page}: {}", p.html);
        assert_eq!(p.location, listed);
        assert_eq!(s.call("GET", &api_path, Some(&t), None).await.status, StatusCode::NOT_FOUND, "{api_path}");
        let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
        assert_eq!(logs[0]["details"]["request"]["method"], "delete", "{page}");
        assert_eq!(logs[0]["details"]["request"]["path"], api_path.as_str());
        // Once gone, its pages are "not found".
        assert_eq!(get(&s, &format!("{page}/delete"), &c).await.status, StatusCode::NOT_FOUND, "{page}");
    }
    let r = s.call("GET", &format!("/api/v2/users/{}", enc(&gone_user)), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The Management API and the admin application stay, and say why.
    let apis = s.call("GET", "/api/v2/resource-servers", Some(&t), None).await.body;
    let mgmt = apis.as_array().unwrap().iter().find(|a| a["identifier"] == AUDIENCE).unwrap();
    let mgmt = format!("/dashboard/apis/{}", mgmt["id"].as_str().unwrap());
    let admin_app = format!("/dashboard/applications/{ADMIN_ID}");
    for (page, why) in [(&mgmt, "system API"), (&admin_app, "authorized for the Management API")] {
        let p = get(&s, &format!("{page}/delete"), &c).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.html.contains("cannot be deleted"), "{}", p.html);
        assert!(p.html.contains(why), "{}", p.html);
        assert!(!p.html.contains("confirm-delete"));
        let p = post(&s, &format!("{page}/delete"), &c, &[("csrf", &token)]).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{page}");
        assert!(p.html.contains(why));
    }
    assert_eq!(s.call("GET", &format!("/api/v2/clients/{ADMIN_ID}"), Some(&t), None).await.status, StatusCode::OK);

    // Another tenant's objects are not found, and stay.
    let other = s.app.tenant_for_host("other.test").await.unwrap().unwrap();
    let other_conn = s.app.list_connections(&other, &[], None).await.unwrap()[0]["id"].as_str().unwrap().to_string();
    let other_api =
        s.app.list_resource_servers(&other, &[], 0, 10).await.unwrap().0[0]["id"].as_str().unwrap().to_string();
    for page in [
        "/dashboard/applications/otheradmin".to_string(),
        format!("/dashboard/connections/{other_conn}"),
        format!("/dashboard/apis/{other_api}"),
        "/dashboard/roles/rol_nope".to_string(),
    ] {
        assert_eq!(get(&s, &format!("{page}/delete"), &c).await.status, StatusCode::NOT_FOUND, "{page}");
        let p = post(&s, &format!("{page}/delete"), &c, &[("csrf", &token)]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{page}: {}", p.html);
    }
    assert!(s.app.get_client(&other, "otheradmin", false).await.is_ok());
    assert!(s.app.get_connection(&other, &other_conn).await.is_ok());
}

/// A user of the other tenant (other.test), made through the service.
async fn other_tenant_user(s: &TestServer) -> String {
    let other = s.app.tenant_for_host("other.test").await.unwrap().unwrap();
    let admin = s.app.store.dashboard_admin_by_email(other.id, "admin@other.test").await.unwrap().unwrap();
    let caller = s.app.dashboard_principal(&admin, &["create:users"], Default::default());
    let body = json!({"connection": CONN, "email": "elsewhere@example.com", "password": "S3cret-Passw0rd"});
    let u = s.app.create_user(&other, &caller, &body).await.unwrap();
    u["user_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn identity_fields_and_password_are_edited_like_the_api_does() {
    let s = TestServer::start().await;
    let id = api_user(
        &s,
        json!({"connection": CONN, "email": "ed@example.com", "password": "S3cret-Passw0rd", "nickname": "eddie", "email_verified": true}),
    )
    .await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    let t = s.admin_token().await;
    let user = format!("/dashboard/users/{}", enc(&id));
    let api_view = || async { s.call("GET", &format!("/api/v2/users/{}", enc(&id)), Some(&t), None).await.body };
    let p = get(&s, &user, &c).await;
    assert!(p.html.contains(&format!(r#"href="{user}/edit""#)));
    let form = get(&s, &format!("{user}/edit"), &c).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains(r#"value="eddie""#));
    // The default connection does not use usernames: no field for it.
    assert!(!form.html.contains(r#"name="username""#));
    assert!(form.html.contains("does not use usernames"));

    let edit = format!("{user}/edit");
    let fields = |email: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("name", "Ed Wood".to_string()),
            ("given_name", "Ed".to_string()),
            ("family_name", "Wood".to_string()),
            ("nickname", String::new()),
            ("email", email.to_string()),
            ("picture", "https://pics.example/ed.png".to_string()),
            ("username", "forged".to_string()),
        ]
    };
    let send = |v: Vec<(&'static str, String)>| {
        let c = c.clone();
        let edit = edit.clone();
        let s = &s;
        async move {
            let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(s, &edit, &c, &refs).await
        }
    };
    // A bad email is explained and the form keeps what was typed; nothing changes.
    let p = send(fields("not-an-email")).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.html);
    assert!(p.html.contains("not-an-email is not an email address."), "{}", p.html);
    assert!(p.html.contains(r#"value="Ed Wood""#));
    assert_eq!(api_view().await["name"], "ed@example.com");
    // Without the CSRF token nothing changes either.
    let mut no_csrf = fields("new@example.com");
    no_csrf.remove(0);
    assert_eq!(send(no_csrf).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api_view().await["email"], "ed@example.com");

    let p = send(fields("new@example.com")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let u = api_view().await;
    assert_eq!(u["name"], "Ed Wood");
    assert_eq!(u["given_name"], "Ed");
    assert_eq!(u["family_name"], "Wood");
    assert_eq!(u["picture"], "https://pics.example/ed.png");
    assert_eq!(u["email"], "new@example.com");
    assert_eq!(u["email_verified"], false);
    assert!(u.get("nickname").is_none() || u["nickname"].is_null(), "{u}");
    assert!(u.get("username").is_none(), "{u}");
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&sort=date:-1", Some(&t), None).await.body;
    assert_eq!(logs[0]["details"]["request"]["method"], "patch");
    assert_eq!(logs[0]["details"]["request"]["path"], format!("/api/v2/users/{}", enc(&id)));

    // The password: the policy is shown, a mismatch and a weak one explained.
    let pw = format!("{user}/password");
    let p = get(&s, &pw, &c).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("Password policy of Username-Password-Authentication"), "{}", p.html);
    let p = post(&s, &pw, &c, &[("csrf", &token), ("password", "N3w-Passw0rd!"), ("repeat", "N3w-Passw0rd?")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains("The passwords do not match."));
    let p = post(&s, &pw, &c, &[("csrf", &token), ("password", "short"), ("repeat", "short")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.html.contains("The policy asks for at least 8 characters"), "{}", p.html);
    assert_eq!(
        post(&s, &pw, &c, &[("password", "N3w-Passw0rd!"), ("repeat", "N3w-Passw0rd!")]).await.status,
        StatusCode::FORBIDDEN
    );
    let before = event_types(&s, &id).await;
    assert!(!before.contains(&"scp".to_string()));
    let p = post(&s, &pw, &c, &[("csrf", &token), ("password", "N3w-Passw0rd!"), ("repeat", "N3w-Passw0rd!")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert!(p.location.ends_with("?ok=password_set"));
    assert!(event_types(&s, &id).await.contains(&"scp".to_string()));

    // Unknown users and another tenant's are not found, and stay as they were.
    let elsewhere = other_tenant_user(&s).await;
    for uid in ["auth0|nope", elsewhere.as_str()] {
        let base = format!("/dashboard/users/{}", enc(uid));
        assert_eq!(get(&s, &format!("{base}/edit"), &c).await.status, StatusCode::NOT_FOUND);
        assert_eq!(get(&s, &format!("{base}/password"), &c).await.status, StatusCode::NOT_FOUND);
        let p =
            post(&s, &format!("{base}/edit"), &c, &[("csrf", &token), ("name", "pwned"), ("email", "p@x.io")]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        let p = post(
            &s,
            &format!("{base}/password"),
            &c,
            &[("csrf", &token), ("password", "N3w-Passw0rd!"), ("repeat", "N3w-Passw0rd!")],
        )
        .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
    }
    let other = s.app.tenant_for_host("other.test").await.unwrap().unwrap();
    let u = s.app.get_user(&other, &elsewhere, &[], true).await.unwrap();
    assert_eq!(u["email"], "elsewhere@example.com");
    assert_ne!(u["name"], "pwned");
}

fn is_layout_page(p: &Page) -> bool {
    p.html.starts_with("<!doctype html>") && p.html.contains(r#"<nav class="side""#) && p.html.contains("<h1>")
}

#[tokio::test]
async fn unknown_pages_and_ids_answer_html_in_the_layout() {
    let s = TestServer::start().await;
    // Signed out, an unknown page sends to the sign-in page like any other.
    let p = get(&s, "/dashboard/nope", "").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location.starts_with("/dashboard/login"), "{}", p.location);
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    for uri in [
        "/dashboard/nope",
        "/dashboard/users/x/y/z",
        "/dashboard/users/auth0%7Cx/block",
        "/dashboard/applications/x/rotate",
    ] {
        let p = get(&s, uri, &c).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(is_layout_page(&p), "{uri}: {}", p.html);
        assert!(p.html.contains("Page not found"), "{uri}");
    }
    let p = post(&s, "/dashboard/logs", &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(is_layout_page(&p));
    // Unknown ids: the service's "not found", in the layout.
    for uri in [
        "/dashboard/users/auth0%7Cnope",
        "/dashboard/applications/nope",
        "/dashboard/applications/nope/apis",
        "/dashboard/apis/nope",
        "/dashboard/roles/rol_nope",
        "/dashboard/connections/con_nope",
        "/dashboard/logs/nope",
    ] {
        let p = get(&s, uri, &c).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{uri}: {}", p.html);
        assert!(is_layout_page(&p), "{uri}: {}", p.html);
        assert!(p.html.contains(r#"role="alert""#), "{uri}");
    }
    // A request an extractor refuses (a NUL in the query) is a 400 page, not JSON.
    let p = get(&s, "/dashboard/users?q=%00", &c).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.html);
    assert!(is_layout_page(&p), "{}", p.html);
    assert!(p.html.contains("Bad request"));
    // The Management API keeps its JSON.
    let r = s.call("GET", "/api/v2/nope", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["statusCode"], 404);
}

#[tokio::test]
async fn administrators_are_added_and_removed_but_not_oneself() {
    let s = TestServer::start().await;
    let c = sign_in(&s).await;
    let token = session_csrf(&s, &c).await;
    let p = get(&s, "/dashboard/administrators", &c).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains(ADMIN_EMAIL) && p.html.contains(">You<"));
    let add = |email: &'static str, pw: &'static str, repeat: &'static str| {
        let (s, c, token) = (&s, c.clone(), token.clone());
        async move {
            post(
                s,
                "/dashboard/administrators",
                &c,
                &[("csrf", &token), ("email", email), ("password", pw), ("repeat", repeat)],
            )
            .await
        }
    };
    for (email, pw, repeat, why) in [
        ("second@tenant.test", "long-enough-1", "long-enough-2", "The passwords do not match."),
        ("second@tenant.test", "short", "short", "at least 8 characters"),
        ("not-an-email", "long-enough-1", "long-enough-1", "email address"),
        ("ADMIN@tenant.test", "long-enough-1", "long-enough-1", "admin@tenant.test is already an administrator."),
    ] {
        let p = add(email, pw, repeat).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{email}");
        assert!(p.html.contains(why), "{why}: {}", p.html);
    }
    let p = post(
        &s,
        "/dashboard/administrators",
        &c,
        &[("email", "second@tenant.test"), ("password", "long-enough-1"), ("repeat", "long-enough-1")],
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(try_sign_in(&s, "second@tenant.test", "long-enough-1").await.status, StatusCode::UNAUTHORIZED);
    let p = add("Second@tenant.test", "long-enough-1", "long-enough-1").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let signed = try_sign_in(&s, "second@tenant.test", "long-enough-1").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let c2 = format!("castellan_dashboard={}", cookie_value(&signed, "castellan_dashboard").unwrap());
    let token2 = session_csrf(&s, &c2).await;

    let tenant = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    let first = s.app.store.dashboard_admin_by_email(tenant.id, ADMIN_EMAIL).await.unwrap().unwrap().id;
    let second = s.app.store.dashboard_admin_by_email(tenant.id, "second@tenant.test").await.unwrap().unwrap().id;
    // Nobody removes themselves.
    let own = format!("/dashboard/administrators/{first}/remove");
    let p = get(&s, &own, &c).await;
    assert!(p.html.contains("You cannot remove yourself"));
    assert!(!p.html.contains("confirm-remove"));
    let p = post(&s, &own, &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    // Another tenant's administrator is not found.
    let other = s.app.tenant_for_host("other.test").await.unwrap().unwrap();
    let elsewhere = s.app.store.dashboard_admin_by_email(other.id, "admin@other.test").await.unwrap().unwrap().id;
    let p = post(&s, &format!("/dashboard/administrators/{elsewhere}/remove"), &c, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(s.app.store.dashboard_admin(other.id, &elsewhere).await.unwrap().is_some());
    // The second removes the first: confirmation, then the first is signed out.
    let theirs = format!("/dashboard/administrators/{first}/remove");
    let p = get(&s, &theirs, &c2).await;
    assert!(p.html.contains("This cannot be undone"));
    assert_eq!(post(&s, &theirs, &c2, &[]).await.status, StatusCode::FORBIDDEN);
    let p = post(&s, &theirs, &c2, &[("csrf", &token2)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(get(&s, "/dashboard/users", &c).await.status, StatusCode::SEE_OTHER);
    assert_eq!(try_sign_in(&s, ADMIN_EMAIL, DASHBOARD_PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    // The last one has no Remove button.
    let p = get(&s, "/dashboard/administrators", &c2).await;
    assert!(!p.html.contains("/remove"), "{}", p.html);
    assert!(s.app.store.dashboard_admin(tenant.id, &second).await.unwrap().is_some());
}
