//! End-user flows in process: password grants, refresh tokens (rotation and
//! reuse detection), /userinfo, /dbconnections, revocation, brute force.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const CONN: &str = "Username-Password-Authentication";
const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A regular web app enabled on the database connection, and an API.
async fn setup(s: &TestServer, rotating: bool) -> (String, String) {
    let t = s.admin_token().await;
    let app = s
        .call("POST", "/api/v2/clients", Some(&t), Some(json!({"name": "web", "app_type": "regular_web",
            "grant_types": ["password", REALM, "refresh_token", "authorization_code"],
            "refresh_token": {"rotation_type": if rotating { "rotating" } else { "non-rotating" }, "expiration_type": "expiring", "leeway": 0, "token_lifetime": 3600, "infinite_token_lifetime": false}})))
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
    s.call("POST", "/api/v2/resource-servers", Some(&t), Some(json!({"identifier": "https://api.example/", "allow_offline_access": true,
        "scopes": [{"value": "read:things"}, {"value": "write:things"}], "enforce_policies": true, "token_dialect": "access_token_authz"}))).await;
    s.call(
        "POST",
        "/api/v2/users",
        Some(&t),
        Some(json!({"connection": CONN, "email": "jane@example.com", "password": "S3cret-Passw0rd", "name": "Jane"})),
    )
    .await;
    (id, app["client_secret"].as_str().unwrap().to_string())
}

async fn login(s: &TestServer, id: &str, secret: &str, password: &str, scope: &str) -> (StatusCode, Value) {
    let r = s
        .call(
            "POST",
            "/oauth/token",
            None,
            Some(json!({"grant_type": REALM, "client_id": id, "client_secret": secret, "username": "Jane@Example.com",
            "password": password, "realm": CONN, "scope": scope, "audience": "https://api.example/"})),
        )
        .await;
    (r.status, r.body)
}

#[tokio::test]
async fn password_login_tokens_userinfo_and_refresh_rotation() {
    let s = TestServer::start().await;
    let (id, secret) = setup(&s, true).await;
    let t = s.admin_token().await;
    // Permissions: one direct, and only those narrow the API's scopes.
    let uid = s.call("GET", "/api/v2/users-by-email?email=jane%40example.com", Some(&t), None).await.body[0]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let upath = format!("/api/v2/users/{}", uid.replace('|', "%7C"));
    let r = s.call("POST", &format!("{upath}/permissions"), Some(&t), Some(json!({"permissions": [{"resource_server_identifier": "https://api.example/", "permission_name": "read:things"}]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let (st, body) =
        login(&s, &id, &secret, "S3cret-Passw0rd", "openid profile email offline_access read:things write:things")
            .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "openid profile email offline_access read:things", "write:things is not the user's");
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["sub"], uid);
    assert_eq!(at["aud"], json!(["https://api.example/", "https://tenant.test/userinfo"]));
    assert_eq!(at["permissions"], json!(["read:things"]));
    assert_eq!(at["gty"], "password");
    let idt = claims(body["id_token"].as_str().unwrap());
    assert_eq!(
        (idt["aud"].as_str(), idt["email"].as_str(), idt["name"].as_str()),
        (Some(id.as_str()), Some("jane@example.com"), Some("Jane"))
    );
    assert!(idt["at_hash"].is_string());
    let rt1 = body["refresh_token"].as_str().unwrap().to_string();

    // /userinfo with the access token.
    let r = s
        .send(
            axum::http::Request::get("/userinfo")
                .header("host", DOMAIN)
                .header("authorization", format!("Bearer {}", body["access_token"].as_str().unwrap()))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["sub"], uid);
    assert_eq!(r.body["email"], "jane@example.com");
    assert!(r.body["updated_at"].is_string());
    let r = s
        .send(
            axum::http::Request::get("/userinfo")
                .header("host", DOMAIN)
                .header("authorization", "Bearer junk")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get("www-authenticate").is_some());

    // Bookkeeping.
    let u = s.call("GET", &upath, Some(&t), None).await.body;
    assert_eq!(u["logins_count"], 1);
    assert!(u["last_login"].is_string() && u["last_ip"].is_string());

    // Rotation: the new refresh token works, the old one is reuse and revokes the family.
    let refresh = |rt: String| {
        let (s, id, secret) = (&s, id.clone(), secret.clone());
        async move {
            s.call("POST", "/oauth/token", None, Some(json!({"grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": rt}))).await
        }
    };
    let r = refresh(rt1.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let rt2 = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(claims(r.body["access_token"].as_str().unwrap())["gty"], "refresh_token");
    let r = refresh(rt1.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["error"], "invalid_grant");
    let r = refresh(rt2).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the family is revoked after reuse");
    let logs = s.call("GET", "/api/v2/logs?q=type:ferrt", Some(&t), None).await.body;
    assert_eq!(logs.as_array().unwrap().len(), 1);

    // Revocation of a fresh token.
    let (_, body) = login(&s, &id, &secret, "S3cret-Passw0rd", "openid offline_access").await;
    let rt3 = body["refresh_token"].as_str().unwrap().to_string();
    let r = s
        .call("POST", "/oauth/revoke", None, Some(json!({"client_id": id, "client_secret": secret, "token": rt3})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(refresh(rt3).await.status, StatusCode::FORBIDDEN);
    let r = s
        .call(
            "POST",
            "/oauth/revoke",
            None,
            Some(json!({"client_id": id, "client_secret": secret, "token": "unknown"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "unknown tokens are not an error (RFC 7009)");

    // A blocked user can neither log in nor refresh.
    let (_, body) = login(&s, &id, &secret, "S3cret-Passw0rd", "openid offline_access").await;
    let rt4 = body["refresh_token"].as_str().unwrap().to_string();
    s.call("PATCH", &upath, Some(&t), Some(json!({"blocked": true}))).await;
    let (st, body) = login(&s, &id, &secret, "S3cret-Passw0rd", "openid").await;
    assert_eq!(
        (st, body),
        (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized", "error_description": "user is blocked"}))
    );
    let r = refresh(rt4).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error_description"], "user is blocked");
}

#[tokio::test]
async fn wrong_passwords_brute_force_and_events() {
    let s = TestServer::start().await;
    let (id, secret) = setup(&s, false).await;
    let t = s.admin_token().await;
    let (st, body) = login(&s, &id, &secret, "nope", "openid").await;
    assert_eq!(
        (st, body),
        (StatusCode::FORBIDDEN, json!({"error": "invalid_grant", "error_description": "Wrong email or password."}))
    );
    let r = s.call("POST", "/oauth/token", None, Some(json!({"grant_type": REALM, "client_id": id, "client_secret": secret, "username": "ghost@example.com", "password": "x", "realm": CONN}))).await;
    assert_eq!(r.body["error_description"], "Wrong email or password.", "unknown users look the same");
    for _ in 0..9 {
        login(&s, &id, &secret, "nope", "openid").await;
    }
    let (st, body) = login(&s, &id, &secret, "S3cret-Passw0rd", "openid").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "blocked after 10 failures even with the right password: {body}");
    assert_eq!(body["error"], "too_many_attempts");
    let kinds = |q: &str| {
        let (s, t) = (&s, &t);
        let q = q.to_string();
        async move {
            s.call("GET", &format!("/api/v2/logs?q={q}&per_page=100"), Some(t), None)
                .await
                .body
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(kinds("type:fp").await, 10);
    assert_eq!(kinds("type:fu").await, 1);
    assert_eq!(kinds("type:limit_wc").await, 1);
}

#[tokio::test]
async fn dbconnections_signup_and_change_password() {
    let s = TestServer::start().await;
    let (id, _secret) = setup(&s, false).await;
    let r = s
        .call("POST", "/dbconnections/signup", None, Some(json!({"client_id": id, "email": "New@Example.com", "password": "S3cret-Passw0rd", "connection": CONN, "given_name": "N", "user_metadata": {"plan": "free"}})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["email"], "new@example.com");
    assert_eq!(r.body["email_verified"], false);
    assert_eq!(r.body["_id"].as_str().unwrap().len(), 24);
    assert_eq!(r.body["given_name"], "N");
    let again = s
        .call(
            "POST",
            "/dbconnections/signup",
            None,
            Some(
                json!({"client_id": id, "email": "new@example.com", "password": "S3cret-Passw0rd", "connection": CONN}),
            ),
        )
        .await;
    assert_eq!(
        again.body,
        json!({"name": "BadRequestError", "code": "invalid_signup", "description": "Invalid sign up", "statusCode": 400})
    );
    let weak = s
        .call(
            "POST",
            "/dbconnections/signup",
            None,
            Some(json!({"client_id": id, "email": "w@example.com", "password": "weak", "connection": CONN})),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (weak.body["name"].as_str(), weak.body["code"].as_str()),
        (Some("PasswordStrengthError"), Some("invalid_password"))
    );
    for bad in [
        json!({"email": "a@b.co", "password": "S3cret-Passw0rd", "connection": CONN}),
        json!({"client_id": id, "password": "S3cret-Passw0rd", "connection": CONN}),
        json!({"client_id": id, "email": "a@b.co", "password": "S3cret-Passw0rd", "connection": "nope"}),
        json!({"client_id": "nobody", "email": "a@b.co", "password": "S3cret-Passw0rd", "connection": CONN}),
        json!({"client_id": id, "email": "a@b.co", "password": "S3cret-Passw0rd", "connection": CONN, "user_metadata": {"n": 1}}),
    ] {
        let r = s.call("POST", "/dbconnections/signup", None, Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
        assert_eq!(r.body["statusCode"], 400);
        assert!(r.body["name"].is_string() && r.body["code"].is_string(), "{:?}", r.body);
    }
    // The new user can log in.
    let r = s.call("POST", "/oauth/token", None, Some(json!({"grant_type": REALM, "client_id": id, "client_secret": _secret, "username": "new@example.com", "password": "S3cret-Passw0rd", "realm": CONN, "scope": "openid"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // change_password answers the same whatever the email.
    for email in ["new@example.com", "nobody@example.com"] {
        let r = s
            .call(
                "POST",
                "/dbconnections/change_password",
                None,
                Some(json!({"client_id": id, "email": email, "connection": CONN})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(String::from_utf8(r.raw).unwrap(), "We've just sent you an email to reset your password.");
    }
    let t = s.admin_token().await;
    let ss = s.call("GET", "/api/v2/logs?q=type:ss", Some(&t), None).await.body;
    assert_eq!(ss.as_array().unwrap().len(), 2, "the admin-created user and the signup");
    let fs = s.call("GET", "/api/v2/logs?q=type:fs&per_page=100", Some(&t), None).await.body;
    assert_eq!(
        fs.as_array().unwrap().len(),
        7,
        "every refused signup: the duplicate, the weak password and the five bad bodies"
    );
}

#[tokio::test]
async fn tokeninfo_returns_the_profile_of_a_valid_id_token() {
    let s = TestServer::start().await;
    let (id, secret) = setup(&s, false).await;
    let (_, body) = login(&s, &id, &secret, "S3cret-Passw0rd", "openid profile email").await;
    let id_token = body["id_token"].as_str().unwrap().to_string();
    let r = s.call("POST", "/tokeninfo", None, Some(json!({"id_token": id_token}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["email"].as_str(), r.body["clientID"].as_str()), (Some("jane@example.com"), Some(id.as_str())));
    assert!(r.body["identities"].is_array());
    // An access token is not an ID token; a tampered token and nothing at all are refused.
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(
        s.call("POST", "/tokeninfo", None, Some(json!({"id_token": at}))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"aud": id, "sub": "auth0|x", "iss": "https://tenant.test/", "exp": 9999999999u64}).to_string());
    assert_eq!(
        s.call("POST", "/tokeninfo", None, Some(json!({"id_token": parts.join(".")}))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.call("POST", "/tokeninfo", None, Some(json!({}))).await.status, StatusCode::BAD_REQUEST);
}
