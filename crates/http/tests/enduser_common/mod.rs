//! End users for the devices and protection suites: an application allowed
//! password and refresh-token grants on the database connection, an API
//! that allows offline access, a user, and logins from a chosen peer
//! address and user agent.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use serde_json::{json, Value};

use crate::common::{Resp, TestServer, DOMAIN};

pub const CONN: &str = "Username-Password-Authentication";
pub const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
pub const API: &str = "https://api.example/";
pub const EMAIL: &str = "jane@example.com";
pub const PASSWORD: &str = "S3cret-Passw0rd";

/// An application and the user Jane.
pub struct EndUser {
    pub client_id: String,
    pub secret: String,
    pub user_id: String,
}

impl EndUser {
    /// `/api/v2/users/<user_id>` with the id percent-encoded.
    pub fn user_path(&self) -> String {
        format!("/api/v2/users/{}", self.user_id.replace('|', "%7C"))
    }
}

pub async fn setup(s: &TestServer, rotating: bool) -> EndUser {
    let t = s.admin_token().await;
    let app = s
        .call(
            "POST",
            "/api/v2/clients",
            Some(&t),
            Some(json!({"name": "web", "app_type": "regular_web",
            "grant_types": ["password", REALM, "refresh_token"],
            "refresh_token": {"rotation_type": if rotating { "rotating" } else { "non-rotating" },
                              "expiration_type": "non-expiring", "leeway": 0}})),
        )
        .await
        .body;
    let client_id = app["client_id"].as_str().unwrap().to_string();
    let conn = s.call("GET", &format!("/api/v2/connections?name={CONN}"), Some(&t), None).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .call(
            "PATCH",
            &format!("/api/v2/connections/{conn}/clients"),
            Some(&t),
            Some(json!([{"client_id": client_id, "status": true}])),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = s
        .call(
            "POST",
            "/api/v2/resource-servers",
            Some(&t),
            Some(json!({"identifier": API, "allow_offline_access": true,
            "scopes": [{"value": "read:things"}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let user = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": CONN, "email": EMAIL, "password": PASSWORD})),
        )
        .await;
    assert_eq!(user.status, 201, "{:?}", user.body);
    EndUser {
        client_id,
        secret: app["client_secret"].as_str().unwrap().to_string(),
        user_id: user.body["user_id"].as_str().unwrap().to_string(),
    }
}

/// Sends a request as if from `ip` (the TCP peer), with a user agent.
pub async fn send_from(s: &TestServer, ip: [u8; 4], agent: &str, method: &str, uri: &str, body: Value) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, DOMAIN)
        .header(header::USER_AGENT, agent)
        .header(header::CONTENT_TYPE, "application/json")
        .extension(ConnectInfo(SocketAddr::from((ip, 40000))))
        .body(Body::from(body.to_string()))
        .unwrap();
    s.send(req).await
}

/// A password-realm login from `ip` for the API, with `offline_access`.
pub async fn login_from(s: &TestServer, u: &EndUser, ip: [u8; 4], username: &str, password: &str) -> Resp {
    login_as(s, u, ip, "test-agent/1.0", username, password).await
}

pub async fn login_as(s: &TestServer, u: &EndUser, ip: [u8; 4], agent: &str, username: &str, password: &str) -> Resp {
    let body = json!({"grant_type": REALM, "client_id": u.client_id, "client_secret": u.secret, "username": username,
        "password": password, "realm": CONN, "scope": "openid offline_access read:things", "audience": API});
    send_from(s, ip, agent, "POST", "/oauth/token", body).await
}

/// Jane's login from 192.0.2.1 with the right password.
pub async fn login(s: &TestServer, u: &EndUser) -> Resp {
    login_from(s, u, [192, 0, 2, 1], EMAIL, PASSWORD).await
}

/// Exchanges a refresh token.
pub async fn refresh(s: &TestServer, u: &EndUser, token: &str) -> Resp {
    let body = json!({"grant_type": "refresh_token", "client_id": u.client_id, "client_secret": u.secret,
        "refresh_token": token});
    send_from(s, [192, 0, 2, 1], "test-agent/2.0", "POST", "/oauth/token", body).await
}

/// How many log events of `kind` the tenant has.
pub async fn count_events(s: &TestServer, token: &str, kind: &str) -> usize {
    let r = s.call("GET", &format!("/api/v2/logs?q=type:{kind}&per_page=100"), Some(token), None).await;
    r.body.as_array().map(Vec::len).unwrap_or_default()
}
