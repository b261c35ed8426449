//! Bad input to the RBAC endpoints: broken JSON, wrong types, missing and
//! unknown fields, hostile values and oversized arrays all get an
//! Auth0-shaped 4xx, and none of them changes anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use castellan_domain::tenant_model::{ResourceServer, Scope};
use common::*;
use serde_json::{json, Value};

const API: &str = "https://api.test/";

fn raw(method: &str, uri: &str, token: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, DOMAIN)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn invalid_body(message: &str) -> Value {
    json!({"statusCode":400,"error":"Bad Request","message":message,"errorCode":"invalid_body"})
}

struct Fixture {
    s: TestServer,
    t: String,
    role: String,
    user_path: String,
}

/// A role with one permission and one member who also has a direct permission.
async fn fixture() -> Fixture {
    let s = TestServer::start().await;
    let tenant = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    let rs = ResourceServer {
        id: "5f0000000000000000000001".into(),
        name: "Test API".into(),
        identifier: API.into(),
        scopes: vec![Scope { value: "read:things".into(), description: "Read things".into() }],
        signing_alg: "RS256".into(),
        token_lifetime: 86400,
        allow_offline_access: false,
        skip_consent_for_verifiable_first_party_clients: false,
        is_system: false,
        extra: Default::default(),
    };
    s.app.store.insert_resource_server(tenant.id, &rs, &[]).await.unwrap();
    let t = s.admin_token().await;
    let role = s.call("POST", "/api/v2/roles", Some(&t), Some(json!({"name": "base"}))).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = json!({"permissions": [{"resource_server_identifier": API, "permission_name": "read:things"}]});
    s.call("POST", &format!("/api/v2/roles/{role}/permissions"), Some(&t), Some(p.clone())).await;
    let u = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": "Username-Password-Authentication", "email": "x@example.com", "password": "Passw0rd!"})),
        )
        .await;
    let user_path = format!("/api/v2/users/{}", u.body["user_id"].as_str().unwrap().replace('|', "%7C"));
    s.call("POST", &format!("{user_path}/roles"), Some(&t), Some(json!({"roles": [role]}))).await;
    s.call("POST", &format!("{user_path}/permissions"), Some(&t), Some(p)).await;
    Fixture { s, t, role, user_path }
}

/// Everything the fixture can observe, to compare before and after.
async fn snapshot(f: &Fixture) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v2/roles?include_totals=true".to_string(),
        format!("/api/v2/roles/{}/permissions", f.role),
        format!("/api/v2/roles/{}/users", f.role),
        format!("{}/roles", f.user_path),
        format!("{}/permissions", f.user_path),
    ] {
        let r = f.s.call("GET", &path, Some(&f.t), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        out.push(r.body);
    }
    out
}

/// Every write endpoint, as (method, path).
fn writes(f: &Fixture) -> Vec<(&'static str, String)> {
    vec![
        ("POST", "/api/v2/roles".into()),
        ("PATCH", format!("/api/v2/roles/{}", f.role)),
        ("POST", format!("/api/v2/roles/{}/permissions", f.role)),
        ("DELETE", format!("/api/v2/roles/{}/permissions", f.role)),
        ("POST", format!("/api/v2/roles/{}/users", f.role)),
        ("POST", format!("{}/roles", f.user_path)),
        ("DELETE", format!("{}/roles", f.user_path)),
        ("POST", format!("{}/permissions", f.user_path)),
        ("DELETE", format!("{}/permissions", f.user_path)),
    ]
}

#[tokio::test]
async fn unreadable_bodies_are_400_and_change_nothing() {
    let f = fixture().await;
    let before = snapshot(&f).await;
    let bodies: Vec<(Vec<u8>, Value)> = vec![
        (b"{\"name\": ".to_vec(), invalid_body("Invalid request payload JSON format")),
        (vec![0xff, 0xfe, 0x00], invalid_body("Invalid request payload JSON format")),
        (Vec::new(), invalid_body("Payload validation error: 'Expected type object but found type null'.")),
        (b"[1,2]".to_vec(), invalid_body("Payload validation error: 'Expected type object but found type array'.")),
        (b"\"x\"".to_vec(), invalid_body("Payload validation error: 'Expected type object but found type string'.")),
    ];
    for (method, path) in writes(&f) {
        for (body, want) in &bodies {
            let r = f.s.send(raw(method, &path, &f.t, body.clone())).await;
            assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, want), "{method} {path} {body:?}");
        }
    }
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let r = f.s.send(raw("POST", "/api/v2/roles", &f.t, big.into_bytes())).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(snapshot(&f).await, before);
}

#[tokio::test]
async fn invalid_bodies_get_auth0s_messages_and_change_nothing() {
    let f = fixture().await;
    let before = snapshot(&f).await;
    let role_path = format!("/api/v2/roles/{}", f.role);
    let rp = format!("{role_path}/permissions");
    let up = format!("{}/permissions", f.user_path);
    let ur = format!("{}/roles", f.user_path);
    let many_users: Vec<String> = (0..1001).map(|i| format!("auth0|{i}")).collect();
    let many_perms: Vec<Value> =
        (0..1001).map(|i| json!({"resource_server_identifier": API, "permission_name": format!("p{i}")})).collect();
    let cases: Vec<(&str, String, Value, &str)> = vec![
        ("POST", "/api/v2/roles".into(), json!({}), "'Missing required property: name'."),
        ("POST", "/api/v2/roles".into(), json!({"name": 1}), "'Expected type string but found type integer' on property name (Name of the role.)."),
        ("POST", "/api/v2/roles".into(), json!({"name": "a", "permissions": []}), "'Additional properties not allowed: permissions'."),
        ("POST", "/api/v2/roles".into(), json!({"name": "a", "description": 5}), "'Expected type string but found type integer' on property description (Description of the role.)."),
        ("POST", "/api/v2/roles".into(), json!({"name": "bad\u{0}name"}), "'String must not contain control characters' on property name (Name of the role.)."),
        ("POST", "/api/v2/roles".into(), json!({"name": "n".repeat(256)}), "'String is too long (256 chars), maximum 255' on property name (Name of the role.)."),
        ("PATCH", role_path.clone(), json!({"name": ""}), "'String is too short (0 chars), minimum 1' on property name (Name of the role.)."),
        ("PATCH", role_path.clone(), json!({"id": "rol_other"}), "'Additional properties not allowed: id'."),
        ("POST", rp.clone(), json!({"permissions": []}), "'Array is too short (0), minimum 1' on property permissions (array of resource_server_identifier, permission_name pairs.)."),
        ("DELETE", rp.clone(), json!({}), "'Missing required property: permissions'."),
        ("POST", rp.clone(), json!({"permissions": [{"permission_name": "read:things"}]}), "'Missing required property: resource_server_identifier' on property permissions[0]."),
        ("POST", up.clone(), json!({"permissions": [{"resource_server_identifier": API, "permission_name": ["read:things"]}]}), "'Expected type string but found type array' on property permissions[0].permission_name (Name of this permission.)."),
        ("POST", up.clone(), json!({ "permissions": many_perms }), "'Array is too long (1001), maximum 1000' on property permissions (array of resource_server_identifier, permission_name pairs.)."),
        ("DELETE", up.clone(), json!({"permissions": [{"resource_server_identifier": API, "permission_name": "read:things", "sources": []}]}), "'Additional properties not allowed: sources' on property permissions[0]."),
        ("POST", format!("{role_path}/users"), json!({"users": "auth0|1"}), "'Expected type array but found type string' on property users (user_id's of the users to assign the role to.)."),
        ("POST", format!("{role_path}/users"), json!({"users": [1]}), "'Expected type string but found type integer' on property users[0]."),
        ("POST", format!("{role_path}/users"), json!({ "users": many_users }), "'Array is too long (1001), maximum 1000' on property users (user_id's of the users to assign the role to.)."),
        ("POST", ur.clone(), json!({"roles": []}), "'Array is too short (0), minimum 1' on property roles (List of roles IDs to associated with the user.)."),
        ("DELETE", ur.clone(), json!({"roles": [""]}), "'String is too short (0 chars), minimum 1' on property roles[0]."),
        ("DELETE", ur.clone(), json!({"roles": null}), "'Expected type array but found type null' on property roles (List of roles IDs to remove from the user.)."),
    ];
    for (method, path, body, message) in cases {
        let r = f.s.call(method, &path, Some(&f.t), Some(body.clone())).await;
        let want = invalid_body(&format!("Payload validation error: {message}"));
        assert_eq!((r.status, r.body), (StatusCode::BAD_REQUEST, want), "{method} {path} {body}");
    }
    assert_eq!(snapshot(&f).await, before);
}

#[tokio::test]
async fn hostile_values_are_answered_cleanly() {
    let f = fixture().await;
    let (s, t) = (&f.s, &f.t);
    let before = snapshot(&f).await;
    let role_missing = json!({"statusCode":404,"error":"Not Found","message":"The role does not exist."});
    // NUL and other odd bytes in ids: no such role or user, never a 500.
    for path in [
        "/api/v2/roles/rol_%00",
        "/api/v2/roles/%27%3B%20DROP%20TABLE%20roles%3B--",
        "/api/v2/roles/rol_%00/permissions",
    ] {
        let r = s.call("GET", path, Some(t), None).await;
        assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing.clone()), "{path}");
    }
    let r = s.call("GET", "/api/v2/roles/rol_%FF", Some(t), None).await;
    assert_eq!((r.status, r.body["errorCode"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_uri")));
    for path in ["/api/v2/users/auth0%7C%00/roles", "/api/v2/users/auth0%7C%00/permissions"] {
        let r = s.call("GET", path, Some(t), None).await;
        assert_eq!(
            (r.status, r.body["errorCode"].clone()),
            (StatusCode::NOT_FOUND, json!("inexistent_user")),
            "{path}"
        );
    }
    let ur = format!("{}/roles", f.user_path);
    let r = s.call("POST", &ur, Some(t), Some(json!({"roles": ["rol_\u{0}"]}))).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing.clone()));
    let r = s.call("DELETE", &ur, Some(t), Some(json!({"roles": ["rol_\u{0}"]}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = s
        .call("POST", &format!("/api/v2/roles/{}/users", f.role), Some(t), Some(json!({"users": ["auth0|\u{0}"]})))
        .await;
    assert_eq!((r.status, r.body["errorCode"].clone()), (StatusCode::NOT_FOUND, json!("inexistent_user")));
    let nul_api =
        json!({"permissions": [{"resource_server_identifier": "https://x/\u{0}", "permission_name": "a\u{0}"}]});
    let r = s.call("POST", &format!("{}/permissions", f.user_path), Some(t), Some(nul_api.clone())).await;
    assert_eq!(
        (r.status, r.body["message"].clone()),
        (StatusCode::NOT_FOUND, json!("The resource server does not exist: 'https://x/\u{0}'"))
    );
    let r = s.call("DELETE", &format!("/api/v2/roles/{}/permissions", f.role), Some(t), Some(nul_api)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for filter in ["%00", "%25", "_", "%5C", "%27"] {
        let r = s.call("GET", &format!("/api/v2/roles?name_filter={filter}"), Some(t), None).await;
        assert_eq!((r.status, r.body), (StatusCode::OK, json!([])), "name_filter={filter}");
    }
    assert_eq!(snapshot(&f).await, before);

    // Markup and SQL in names are only text, returned as given.
    for name in ["<script>alert(1)</script>", "'; DROP TABLE roles; --", "rôle ünïcode 🚀", "50%_off\\"] {
        let r = s
            .call("POST", "/api/v2/roles", Some(t), Some(json!({"name": name, "description": "line 1\nline 2"})))
            .await;
        assert_eq!((r.status, r.body["name"].clone()), (StatusCode::OK, json!(name)));
        let got = s.call("GET", &format!("/api/v2/roles/{}", r.body["id"].as_str().unwrap()), Some(t), None).await;
        assert_eq!(got.body, r.body);
    }
    let r = s.call("GET", "/api/v2/roles?name_filter=50%25_OFF%5C", Some(t), None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.body);
    let r = s.call("GET", "/api/v2/roles?name_filter=%C3%9CN%C3%8F", Some(t), None).await;
    assert_eq!(r.body, json!([]), "only ASCII letters fold case");
}
