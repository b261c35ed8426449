//! The hosted login flow in process: /authorize, /u/login, /u/signup, code
//! exchange with PKCE, SSO by session, prompt=none, form_post, logout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CONN: &str = "Username-Password-Authentication";
const CB: &str = "https://app.example/cb";

async fn setup(s: &TestServer) -> (String, String) {
    let t = s.admin_token().await;
    let app = s
        .call("POST", "/api/v2/clients", Some(&t), Some(json!({"name": "web", "app_type": "regular_web", "callbacks": [CB],
            "allowed_logout_urls": ["https://app.example/bye"], "grant_types": ["authorization_code", "refresh_token"]})))
        .await
        .body;
    let id = app["client_id"].as_str().unwrap().to_string();
    let conn = s.call("GET", &format!("/api/v2/connections?name={CONN}"), Some(&t), None).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.call(
        "PATCH",
        &format!("/api/v2/connections/{conn}/clients"),
        Some(&t),
        Some(json!([{"client_id": id, "status": true}])),
    )
    .await;
    s.call(
        "POST",
        "/api/v2/users",
        Some(&t),
        Some(json!({"connection": CONN, "email": "jane@example.com", "password": "S3cret-Passw0rd"})),
    )
    .await;
    (id, app["client_secret"].as_str().unwrap().to_string())
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

async fn get(s: &TestServer, uri: &str, cookies: &str) -> Resp {
    let mut b = Request::get(uri).header(header::HOST, DOMAIN);
    if !cookies.is_empty() {
        b = b.header(header::COOKIE, cookies);
    }
    s.send(b.body(Body::empty()).unwrap()).await
}

async fn post_form(s: &TestServer, uri: &str, cookies: &str, fields: &[(&str, &str)]) -> Resp {
    let body = serde_urlencoded::to_string(fields).unwrap();
    s.send(
        Request::post(uri)
            .header(header::HOST, DOMAIN)
            .header(header::COOKIE, cookies)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

fn location(r: &Resp) -> String {
    r.headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

fn set_cookie(r: &Resp, name: &str) -> Option<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

fn html(r: &Resp) -> String {
    String::from_utf8(r.raw.clone()).unwrap()
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let i = page.find(&marker).unwrap() + marker.len();
    page[i..i + page[i..].find('"').unwrap()].to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once(['?', '#'])?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok()?.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn pkce() -> (String, String) {
    let verifier = "v".repeat(20) + &castellan_domain::ids::random_token(30);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Follows /authorize to the hosted page; returns (page response, csrf cookie).
async fn open_login(s: &TestServer, authorize: &str) -> (Resp, String) {
    let r = get(s, authorize, "").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", html(&r));
    let page = get(s, &location(&r), "").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = set_cookie(&page, "castellan_csrf").unwrap();
    (page, csrf)
}

#[tokio::test]
async fn code_flow_with_pkce_sso_and_logout() {
    let s = TestServer::start().await;
    let (id, secret) = setup(&s).await;
    let (verifier, challenge) = pkce();
    let authorize = format!(
        "/authorize?response_type=code&client_id={id}&redirect_uri={}&scope={}&state=xyz&nonce=n-1&code_challenge={challenge}&code_challenge_method=S256",
        enc(CB),
        enc("openid profile email offline_access")
    );
    let (page, csrf) = open_login(&s, &authorize).await;
    let body = html(&page);
    assert!(body.contains(r#"<html lang="en">"#) && body.contains(r#"<label for="password">Password</label>"#));
    for h in ["x-frame-options", "content-security-policy", "cache-control"] {
        assert!(page.headers.get(h).is_some(), "{h}");
    }
    let tx = hidden(&body, "state");
    let token = hidden(&body, "csrf");

    // No CSRF cookie: refused. Wrong password: the page again, with an alert.
    let r = post_form(
        &s,
        "/u/login",
        "",
        &[("state", &tx), ("csrf", &token), ("username", "jane@example.com"), ("password", "S3cret-Passw0rd")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(
        &s,
        "/u/login",
        &csrf,
        &[("state", &tx), ("csrf", &token), ("username", "jane@example.com"), ("password", "nope")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains(r#"role="alert""#) && html(&r).contains("Wrong email or password."));

    let r = post_form(
        &s,
        "/u/login",
        &csrf,
        &[("state", &tx), ("csrf", &token), ("username", "jane@example.com"), ("password", "S3cret-Passw0rd")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", html(&r));
    let to = location(&r);
    assert!(to.starts_with(&format!("{CB}?code=")), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("xyz"));
    let session = set_cookie(&r, "castellan_session").unwrap();
    let sc = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("castellan_session="))
        .unwrap();
    assert!(sc.contains("HttpOnly") && sc.contains("Secure") && sc.contains("SameSite=Lax"));
    // The login page is used up.
    assert_eq!(get(&s, &format!("/u/login?state={tx}"), "").await.status, StatusCode::BAD_REQUEST);

    let code = query_param(&to, "code").unwrap();
    let exchange = |code: String, verifier: String| {
        let (s, id, secret) = (&s, id.clone(), secret.clone());
        async move {
            s.call(
                "POST",
                "/oauth/token",
                None,
                Some(json!({"grant_type": "authorization_code", "client_id": id, "client_secret": secret,
                "code": code, "code_verifier": verifier, "redirect_uri": CB})),
            )
            .await
        }
    };
    let bad = exchange(code.clone(), "w".repeat(50)).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN, "a wrong verifier uses the code up too");
    // A fresh login through SSO: the session cookie skips the page.
    let r = get(&s, &authorize, &session).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let code = query_param(&location(&r), "code").unwrap();
    let ok = exchange(code.clone(), verifier.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let idt: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ok.body["id_token"].as_str().unwrap().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (idt["nonce"].as_str(), idt["aud"].as_str(), idt["email"].as_str()),
        (Some("n-1"), Some(id.as_str()), Some("jane@example.com"))
    );
    assert!(idt["sid"].is_string() && idt["auth_time"].is_number());
    assert!(ok.body["refresh_token"].is_string());
    assert_eq!(exchange(code, verifier.clone()).await.status, StatusCode::FORBIDDEN, "codes are single-use");

    // prompt=none with the session: a code; form_post: an auto-submittable form.
    let r = get(&s, &format!("{authorize}&prompt=none&response_mode=form_post"), &session).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = html(&r);
    assert!(
        page.contains(&format!(r#"action="{CB}""#))
            && page.contains(r#"name="code""#)
            && page.contains(r#"name="state" value="xyz""#)
    );

    // Logout: only to an allowed URL; afterwards prompt=none needs a login.
    let r = get(&s, &format!("/v2/logout?client_id={id}&returnTo={}", enc("https://evil.example/")), &session).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get(&s, &format!("/v2/logout?client_id={id}&returnTo={}", enc("https://app.example/bye")), &session).await;
    assert_eq!((r.status, location(&r)), (StatusCode::FOUND, "https://app.example/bye".to_string()));
    let r = get(&s, &format!("{authorize}&prompt=none"), &session).await;
    assert_eq!(query_param(&location(&r), "error").as_deref(), Some("login_required"));
    let t = s.admin_token().await;
    let kinds: Vec<String> = s
        .call("GET", "/api/v2/logs?per_page=100&sort=date:1", Some(&t), None)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    for k in ["fp", "s", "seacft", "feacft", "slo"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn authorize_errors_signup_branding_and_escaping() {
    let s = TestServer::start().await;
    let (id, _) = setup(&s).await;
    // Errors that cannot go back to the client are pages.
    let r = get(
        &s,
        &format!("/authorize?response_type=code&client_id={id}&redirect_uri={}", enc("https://evil.example/cb")),
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("Callback URL mismatch"));
    assert_eq!(
        get(&s, &format!("/authorize?response_type=code&client_id=nobody&redirect_uri={}", enc(CB)), "").await.status,
        StatusCode::BAD_REQUEST
    );
    // Others go back to the callback.
    let r =
        get(&s, &format!("/authorize?response_type=token&client_id={id}&redirect_uri={}&state=s1", enc(CB)), "").await;
    assert_eq!(query_param(&location(&r), "error").as_deref(), Some("unsupported_response_type"));
    assert_eq!(query_param(&location(&r), "state").as_deref(), Some("s1"));
    let r = get(&s, &format!("/authorize?response_type=code&client_id={id}&redirect_uri={}&prompt=none", enc(CB)), "")
        .await;
    assert_eq!(query_param(&location(&r), "error").as_deref(), Some("login_required"));

    // login_hint is escaped, never markup.
    let hint = r#""><script>alert(1)</script>"#;
    let (page, _) = open_login(
        &s,
        &format!("/authorize?response_type=code&client_id={id}&redirect_uri={}&login_hint={}", enc(CB), enc(hint)),
    )
    .await;
    assert!(!html(&page).contains("<script>"), "{}", html(&page));
    assert!(html(&page).contains("&lt;script&gt;"));

    // Signup on the hosted page, then straight back to the app.
    let (page, csrf) = open_login(
        &s,
        &format!("/authorize?response_type=code&client_id={id}&redirect_uri={}&screen_hint=signup&state=su", enc(CB)),
    )
    .await;
    let body = html(&page);
    assert!(body.contains("Sign up"));
    let (tx, token) = (hidden(&body, "state"), hidden(&body, "csrf"));
    let r = post_form(
        &s,
        "/u/signup",
        &csrf,
        &[("state", &tx), ("csrf", &token), ("username", "new@example.com"), ("password", "weak")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("too weak"));
    let r = post_form(
        &s,
        "/u/signup",
        &csrf,
        &[("state", &tx), ("csrf", &token), ("username", "new@example.com"), ("password", "S3cret-Passw0rd")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", html(&r));
    assert!(location(&r).starts_with(&format!("{CB}?code=")));

    // Branding shows on the pages; bad colors are ignored.
    let t = s.admin_token().await;
    let r = s.call("PATCH", "/api/v2/branding", Some(&t), Some(json!({"colors": {"primary": "#ff0066", "page_background": "red;}body{x"}, "logo_url": "https://cdn.example/logo.png"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(s.call("GET", "/api/v2/branding", Some(&t), None).await.body["colors"]["primary"], "#ff0066");
    let (page, _) =
        open_login(&s, &format!("/authorize?response_type=code&client_id={id}&redirect_uri={}", enc(CB))).await;
    let body = html(&page);
    assert!(body.contains("#ff0066") && body.contains(r#"src="https://cdn.example/logo.png""#));
    assert!(!body.contains("red;}body"));
}
