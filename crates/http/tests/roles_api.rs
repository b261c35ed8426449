//! /api/v2/roles and users' roles and permissions in process: exact bodies
//! and Auth0's irregular status codes, list envelopes, effective permissions
//! with their sources, and scopes. Bad input is in roles_api_inputs.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use castellan_domain::tenant_model::{ResourceServer, Scope};
use common::*;
use serde_json::{json, Value};

const CONN: &str = "Username-Password-Authentication";
const API: &str = "https://api.test/";

fn enc(id: &str) -> String {
    id.replace('|', "%7C")
}

async fn add_api(s: &TestServer) {
    let t = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    let rs = ResourceServer {
        id: "5f0000000000000000000001".into(),
        name: "Test API".into(),
        identifier: API.into(),
        scopes: vec![
            Scope { value: "read:things".into(), description: "Read things".into() },
            Scope { value: "write:things".into(), description: "Write things".into() },
        ],
        signing_alg: "RS256".into(),
        token_lifetime: 86400,
        allow_offline_access: false,
        skip_consent_for_verifiable_first_party_clients: false,
        is_system: false,
        extra: Default::default(),
    };
    s.app.store.insert_resource_server(t.id, &rs, &[]).await.unwrap();
}

async fn role(s: &TestServer, t: &str, name: &str) -> String {
    let r = s
        .call("POST", "/api/v2/roles", Some(t), Some(json!({"name": name, "description": format!("{name} role")})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn user(s: &TestServer, t: &str, email: &str) -> String {
    let body = json!({"connection": CONN, "email": email, "password": "Passw0rd!"});
    let r = s.call("POST", "/api/v2/users", Some(t), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["user_id"].as_str().unwrap().to_string()
}

fn perms(list: &[(&str, &str)]) -> Value {
    let items: Vec<Value> =
        list.iter().map(|(api, name)| json!({"resource_server_identifier": api, "permission_name": name})).collect();
    json!({ "permissions": items })
}

fn role_missing() -> Value {
    json!({"statusCode":404,"error":"Not Found","message":"The role does not exist."})
}

#[tokio::test]
async fn role_crud_with_auth0s_status_codes() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let r = s.call("POST", "/api/v2/roles", Some(&t), Some(json!({"name": "admin", "description": "Admins"}))).await;
    assert_eq!(r.status, StatusCode::OK, "create is 200, not 201");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.len() == 20 && id.starts_with("rol_") && id[4..].chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
    assert_eq!(r.body, json!({"id": id, "name": "admin", "description": "Admins"}));
    assert_eq!(r.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json; charset=utf-8"));

    let path = format!("/api/v2/roles/{id}");
    let r = s.call("GET", &path, Some(&t), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"id": id, "name": "admin", "description": "Admins"}))
    );
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"description": "The Administrator"}))).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"id": id, "name": "admin", "description": "The Administrator"}))
    );
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"name": "root"}))).await;
    assert_eq!(r.body, json!({"id": id, "name": "root", "description": "The Administrator"}));
    let r = s.call("PATCH", &path, Some(&t), Some(json!({}))).await;
    assert_eq!((r.status, r.body["name"].clone()), (StatusCode::OK, json!("root")));

    // Without a description there is no description key.
    let r = s.call("POST", "/api/v2/roles", Some(&t), Some(json!({"name": "bare"}))).await;
    assert_eq!(r.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "name"]);

    // Names are unique.
    let conflict = json!({"statusCode":409,"error":"Conflict","message":"The role already exists."});
    let r = s.call("POST", "/api/v2/roles", Some(&t), Some(json!({"name": "bare"}))).await;
    assert_eq!((r.status, r.body), (StatusCode::CONFLICT, conflict.clone()));
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"name": "bare"}))).await;
    assert_eq!((r.status, r.body), (StatusCode::CONFLICT, conflict));

    // DELETE is 200 {} (go-auth0 sends a `{}` body); then the role is gone.
    let r = s.call("DELETE", &path, Some(&t), Some(json!({}))).await;
    assert_eq!((r.status, r.raw.as_slice()), (StatusCode::OK, b"{}".as_slice()));
    for method in ["GET", "DELETE"] {
        let r = s.call(method, &path, Some(&t), None).await;
        assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing()), "{method}");
    }
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"name": "x"}))).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing()));
}

#[tokio::test]
async fn role_list_envelopes_paging_and_name_filter() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    for name in ["writer", "Reader", "admin", "read-only"] {
        role(&s, &t, name).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
    };
    let r = s.call("GET", "/api/v2/roles", Some(&t), None).await;
    assert_eq!(names(&r.body), ["admin", "read-only", "Reader", "writer"], "bare array, by name");
    let r = s.call("GET", "/api/v2/roles?include_totals=true", Some(&t), None).await;
    assert_eq!(
        (r.body["start"].clone(), r.body["limit"].clone(), r.body["total"].clone()),
        (json!(0), json!(50), json!(4))
    );
    assert_eq!(r.body.as_object().unwrap().len(), 4, "{}", r.body);
    let r = s.call("GET", "/api/v2/roles?per_page=2&page=1&include_totals=TRUE", Some(&t), None).await;
    assert_eq!(names(&r.body["roles"]), ["Reader", "writer"]);
    assert_eq!(
        (r.body["start"].clone(), r.body["limit"].clone(), r.body["total"].clone()),
        (json!(2), json!(2), json!(4))
    );
    let r = s.call("GET", "/api/v2/roles?per_page=2&page=7", Some(&t), None).await;
    assert_eq!(r.body, json!([]), "past the end: an empty page");
    let r = s.call("GET", "/api/v2/roles?name_filter=READ&include_totals=true&per_page=50", Some(&t), None).await;
    assert_eq!(names(&r.body["roles"]), ["read-only", "Reader"]);
    assert_eq!(r.body["total"], 2);
    let r = s.call("GET", "/api/v2/roles?name_filter=nothing", Some(&t), None).await;
    assert_eq!(r.body, json!([]));

    for (query, message) in [
        ("per_page=101", "Query validation error: 'Too large (value 101); maximum 100' on property per_page."),
        ("per_page=0", "Query validation error: 'Value 0 is less than minimum 1' on property per_page."),
        ("page=-1", "Query validation error: 'Expected type integer but found type string' on property page."),
        (
            "include_totals=maybe",
            "Query validation error: 'Expected type boolean but found type string' on property include_totals.",
        ),
    ] {
        let r = s.call("GET", &format!("/api/v2/roles?{query}"), Some(&t), None).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                json!({"statusCode":400,"error":"Bad Request","message":message,"errorCode":"invalid_query_string"})
            ),
            "{query}"
        );
    }
}

#[tokio::test]
async fn role_permissions_add_list_remove() {
    let s = TestServer::start().await;
    add_api(&s).await;
    let t = s.admin_token().await;
    let id = role(&s, &t, "editor").await;
    let path = format!("/api/v2/roles/{id}/permissions");
    let body = perms(&[(API, "write:things"), (API, "read:things")]);
    let r = s.call("POST", &path, Some(&t), Some(body.clone())).await;
    assert_eq!((r.status, r.raw.as_slice()), (StatusCode::CREATED, b"{}".as_slice()));
    let again = s.call("POST", &path, Some(&t), Some(body)).await;
    assert_eq!(again.status, StatusCode::CREATED, "adding twice is fine");

    let item = |name: &str, desc: &str| json!({"permission_name": name, "description": desc, "resource_server_name": "Test API", "resource_server_identifier": API});
    let r = s.call("GET", &path, Some(&t), None).await;
    assert_eq!(r.body, json!([item("read:things", "Read things"), item("write:things", "Write things")]));
    let r = s.call("GET", &format!("{path}?include_totals=true&per_page=1&page=1"), Some(&t), None).await;
    assert_eq!(
        r.body,
        json!({"permissions": [item("write:things", "Write things")], "start": 1, "limit": 1, "total": 2})
    );

    // The Management API is an API like any other.
    let mgmt = perms(&[(AUDIENCE, "read:users")]);
    assert_eq!(s.call("POST", &path, Some(&t), Some(mgmt)).await.status, StatusCode::CREATED);

    let r = s.call("DELETE", &path, Some(&t), Some(perms(&[(API, "write:things"), (AUDIENCE, "read:users")]))).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    let r = s.call("GET", &format!("{path}?include_totals=true"), Some(&t), None).await;
    assert_eq!(
        r.body,
        json!({"permissions": [item("read:things", "Read things")], "start": 0, "limit": 50, "total": 1})
    );

    // Unknown API or permission: 404, and nothing changes.
    let cases = [
        (
            perms(&[(API, "write:things"), ("https://nope/", "read")]),
            json!({"statusCode":404,"error":"Not Found","message":"The resource server does not exist: 'https://nope/'",
                   "errorCode":"inexistent_resource_server"}),
        ),
        (
            perms(&[(API, "write:things"), (API, "delete:things")]),
            json!({"statusCode":404,"error":"Not Found",
                   "message":"The permission does not exist: 'delete:things' on resource server 'https://api.test/'"}),
        ),
    ];
    for (body, want) in cases {
        let r = s.call("POST", &path, Some(&t), Some(body)).await;
        assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, want));
    }
    let r = s.call("DELETE", &path, Some(&t), Some(perms(&[(API, "read:things"), ("https://nope/", "x")]))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(s.call("GET", &path, Some(&t), None).await.body, json!([item("read:things", "Read things")]));
    // Removing a permission the API no longer defines is allowed.
    let r = s.call("DELETE", &path, Some(&t), Some(perms(&[(API, "retired:scope")]))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let missing = "/api/v2/roles/rol_0000000000000000/permissions";
    for (method, body) in [
        ("GET", None),
        ("POST", Some(perms(&[(API, "read:things")]))),
        ("DELETE", Some(perms(&[(API, "read:things")]))),
    ] {
        let r = s.call(method, missing, Some(&t), body).await;
        assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing()), "{method}");
    }
}

#[tokio::test]
async fn role_users_offset_and_checkpoint() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let id = role(&s, &t, "members").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(user(&s, &t, &format!("m{i}@example.com")).await);
    }
    ids.sort();
    let path = format!("/api/v2/roles/{id}/users");
    let r = s.call("POST", &path, Some(&t), Some(json!({"users": ids}))).await;
    assert_eq!((r.status, r.raw.as_slice()), (StatusCode::OK, b"{}".as_slice()), "assign users is 200 {{}}");
    assert_eq!(s.call("POST", &path, Some(&t), Some(json!({"users": []}))).await.status, StatusCode::OK);

    let r = s.call("GET", &format!("{path}?per_page=2&page=0&include_totals=true"), Some(&t), None).await;
    assert_eq!(
        (r.body["start"].clone(), r.body["limit"].clone(), r.body["total"].clone()),
        (json!(0), json!(2), json!(5))
    );
    let first = r.body["users"][0].clone();
    assert_eq!(first.as_object().unwrap().keys().collect::<Vec<_>>(), ["user_id", "email", "picture", "name"]);
    assert_eq!((first["user_id"].as_str(), first["email"].as_str()), (Some(ids[0].as_str()), first["name"].as_str()));
    let r = s.call("GET", &path, Some(&t), None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 5, "bare array");

    // Checkpoint: `take` wins over offset parameters; `next` is absent on the last page.
    let mut seen = Vec::new();
    let mut url = format!("{path}?include_totals=true&per_page=50&take=2");
    let mut pages = 0;
    loop {
        let r = s.call("GET", &url, Some(&t), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let obj = r.body.as_object().unwrap();
        assert!(!obj.contains_key("total") && !obj.contains_key("start"), "{}", r.body);
        seen.extend(r.body["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().to_string()));
        pages += 1;
        match obj.get("next") {
            Some(next) => url = format!("{path}?take=2&from={}", next.as_str().unwrap()),
            None => break,
        }
    }
    assert_eq!((seen, pages), (ids.clone(), 3));
    let r = s.call("GET", &format!("{path}?take=5"), Some(&t), None).await;
    assert!(r.body.get("next").is_none(), "an exact last page has no next: {}", r.body);
    let r = s.call("GET", &format!("{path}?from=%%%"), Some(&t), None).await;
    assert_eq!((r.status, r.body["errorCode"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_query_string")));
    let r = s.call("GET", &format!("{path}?take=101"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Offset paging stops at 1000 records (checkpoint goes further).
    let r = s.call("GET", &format!("{path}?per_page=50&page=20"), Some(&t), None).await;
    assert_eq!((r.status, r.body["errorCode"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_paging")));

    // An unknown user: 404 and nobody is added.
    let other = role(&s, &t, "other").await;
    let opath = format!("/api/v2/roles/{other}/users");
    let r = s.call("POST", &opath, Some(&t), Some(json!({"users": [ids[0], "auth0|nobody"]}))).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::NOT_FOUND,
            json!({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"})
        )
    );
    assert_eq!(s.call("GET", &opath, Some(&t), None).await.body, json!([]));
    let r = s.call("GET", "/api/v2/roles/rol_missing/users?take=2", Some(&t), None).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing()));

    // A deleted user leaves the role.
    assert_eq!(
        s.call("DELETE", &format!("/api/v2/users/{}", enc(&ids[0])), Some(&t), None).await.status,
        StatusCode::NO_CONTENT
    );
    let r = s.call("GET", &format!("{path}?include_totals=true"), Some(&t), None).await;
    assert_eq!(r.body["total"], 4);
}

#[tokio::test]
async fn user_roles_and_effective_permissions() {
    let s = TestServer::start().await;
    add_api(&s).await;
    let t = s.admin_token().await;
    let uid = user(&s, &t, "jane@example.com").await;
    let reader = role(&s, &t, "reader").await;
    let writer = role(&s, &t, "writer").await;
    let rp = |r: &str| format!("/api/v2/roles/{r}/permissions");
    s.call("POST", &rp(&reader), Some(&t), Some(perms(&[(API, "read:things")]))).await;
    s.call("POST", &rp(&writer), Some(&t), Some(perms(&[(API, "read:things"), (API, "write:things")]))).await;

    let roles_path = format!("/api/v2/users/{}/roles", enc(&uid));
    let r = s.call("POST", &roles_path, Some(&t), Some(json!({"roles": [reader, writer]}))).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    let r = s.call("GET", &roles_path, Some(&t), None).await;
    assert_eq!(
        r.body,
        json!([{"id": reader, "name": "reader", "description": "reader role"}, {"id": writer, "name": "writer", "description": "writer role"}])
    );
    let r = s.call("GET", &format!("{roles_path}?include_totals=true"), Some(&t), None).await;
    assert_eq!(
        (r.body["start"].clone(), r.body["limit"].clone(), r.body["total"].clone()),
        (json!(0), json!(2), json!(2))
    );
    let r = s.call("GET", &format!("{roles_path}?per_page=1&page=1&include_totals=true"), Some(&t), None).await;
    assert_eq!(r.body["roles"][0]["id"], json!(writer));

    let perms_path = format!("/api/v2/users/{}/permissions", enc(&uid));
    let r = s.call("POST", &perms_path, Some(&t), Some(perms(&[(API, "write:things")]))).await;
    assert_eq!((r.status, r.raw.as_slice()), (StatusCode::CREATED, b"{}".as_slice()));
    let base = |name: &str, desc: &str, sources: Value| {
        json!({"permission_name": name, "description": desc, "resource_server_name": "Test API",
               "resource_server_identifier": API, "sources": sources})
    };
    let direct = json!({"source_id": "", "source_name": "", "source_type": "DIRECT"});
    let via = |id: &str, name: &str| json!({"source_id": id, "source_name": name, "source_type": "ROLE"});
    let r = s.call("GET", &perms_path, Some(&t), None).await;
    assert_eq!(
        r.body,
        json!([
            base("read:things", "Read things", json!([via(&reader, "reader"), via(&writer, "writer")])),
            base("write:things", "Write things", json!([direct.clone(), via(&writer, "writer")])),
        ])
    );
    let r = s.call("GET", &format!("{perms_path}?include_totals=true&per_page=1"), Some(&t), None).await;
    assert_eq!((r.body["total"].clone(), r.body["limit"].clone()), (json!(2), json!(1)));

    // DELETE takes direct permissions only; roles keep giving theirs.
    let r = s.call("DELETE", &perms_path, Some(&t), Some(perms(&[(API, "write:things")]))).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    let r = s.call("GET", &perms_path, Some(&t), None).await;
    assert_eq!(r.body[1], base("write:things", "Write things", json!([via(&writer, "writer")])));

    // Unknown roles: 404, nothing assigned; removing roles the user lacks is fine.
    let r = s.call("DELETE", &roles_path, Some(&t), Some(json!({"roles": [writer, "rol_never"]}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = s.call("POST", &roles_path, Some(&t), Some(json!({"roles": [writer, "rol_never"]}))).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing()));
    assert_eq!(s.call("GET", &roles_path, Some(&t), None).await.body.as_array().unwrap().len(), 1);

    // Deleting a role takes it (and its permissions) from its users.
    assert_eq!(s.call("DELETE", &format!("/api/v2/roles/{reader}"), Some(&t), None).await.status, StatusCode::OK);
    assert_eq!(s.call("GET", &roles_path, Some(&t), None).await.body, json!([]));
    assert_eq!(s.call("GET", &perms_path, Some(&t), None).await.body, json!([]));

    let nobody = "/api/v2/users/auth0%7Cnobody";
    let no_user = json!({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"});
    for (method, suffix, body) in [
        ("GET", "roles", None),
        ("POST", "roles", Some(json!({"roles": [writer]}))),
        ("DELETE", "roles", Some(json!({"roles": [writer]}))),
        ("GET", "permissions", None),
        ("POST", "permissions", Some(perms(&[(API, "read:things")]))),
        ("DELETE", "permissions", Some(perms(&[(API, "read:things")]))),
    ] {
        let r = s.call(method, &format!("{nobody}/{suffix}"), Some(&t), body).await;
        assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, no_user.clone()), "{method} {suffix}");
    }
}

#[tokio::test]
async fn scopes_from_the_openapi() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let id = role(&s, &admin, "scoped").await;
    s.client_with_scopes("reader", "reader-secret", &["read:roles"]).await;
    let t = s.token_for("reader", "reader-secret").await;
    assert_eq!(s.call("GET", "/api/v2/roles", Some(&t), None).await.status, StatusCode::OK);
    assert_eq!(s.call("GET", &format!("/api/v2/roles/{id}/users"), Some(&t), None).await.status, StatusCode::OK);
    let cases = [
        ("POST", "/api/v2/roles".to_string(), Some(json!({"name": "x"})), "create:roles"),
        ("PATCH", format!("/api/v2/roles/{id}"), Some(json!({"name": "x"})), "update:roles"),
        ("DELETE", format!("/api/v2/roles/{id}"), None, "delete:roles"),
        ("POST", format!("/api/v2/roles/{id}/permissions"), Some(perms(&[(API, "a")])), "update:roles"),
        ("POST", format!("/api/v2/roles/{id}/users"), Some(json!({"users": []})), "update:roles,create:role_members"),
        ("GET", "/api/v2/users/auth0%7Cx/permissions".to_string(), None, "read:users"),
        (
            "POST",
            "/api/v2/users/auth0%7Cx/roles".to_string(),
            Some(json!({"roles": [id]})),
            "update:users,create:role_members",
        ),
        (
            "DELETE",
            "/api/v2/users/auth0%7Cx/roles".to_string(),
            Some(json!({"roles": [id]})),
            "update:users,delete:role_members",
        ),
    ];
    for (method, path, body, scopes) in cases {
        let r = s.call(method, &path, Some(&t), body).await;
        let want = json!({"statusCode":403,"error":"Forbidden","message":format!("Insufficient scope, expected any of: {scopes}"),"errorCode":"insufficient_scope"});
        assert_eq!((r.status, r.body), (StatusCode::FORBIDDEN, want), "{method} {path}");
    }
    assert_eq!(s.call("GET", &format!("/api/v2/roles/{id}"), Some(&admin), None).await.body["name"], "scoped");
    let r = s.call("GET", "/api/v2/roles", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Roles belong to their tenant.
    let on_other = |method: &str, uri: &str, token: Option<&str>, body: Option<Value>| {
        let mut b = Request::builder().method(method).uri(uri).header(header::HOST, "other.test");
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.unwrap_or(Value::Null).to_string()))
            .unwrap()
    };
    let grant = json!({"grant_type": "client_credentials", "client_id": "otheradmin", "client_secret": "other-secret",
                       "audience": "https://other.test/api/v2/"});
    let r = s.send(on_other("POST", "/oauth/token", None, Some(grant))).await;
    let other = r.body["access_token"].as_str().unwrap().to_string();
    let r = s.send(on_other("GET", &format!("/api/v2/roles/{id}"), Some(&other), None)).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, role_missing()));
    let r = s.send(on_other("GET", "/api/v2/roles", Some(&other), None)).await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn writes_leave_sapi_events_and_failures_fapi() {
    let s = TestServer::start().await;
    add_api(&s).await;
    let t = s.admin_token().await;
    let uid = user(&s, &t, "logged@example.com").await;
    let up = format!("/api/v2/users/{}", enc(&uid));
    let id = role(&s, &t, "logged").await;
    let rp = format!("/api/v2/roles/{id}");
    let p = perms(&[(API, "read:things")]);
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("PATCH", rp.clone(), Some(json!({"description": "d"}))),
        ("POST", format!("{rp}/permissions"), Some(p.clone())),
        ("DELETE", format!("{rp}/permissions"), Some(p.clone())),
        ("POST", format!("{rp}/users"), Some(json!({"users": [uid]}))),
        ("DELETE", format!("{up}/roles"), Some(json!({"roles": [id]}))),
        ("POST", format!("{up}/roles"), Some(json!({"roles": [id]}))),
        ("POST", format!("{up}/permissions"), Some(p.clone())),
        ("DELETE", format!("{up}/permissions"), Some(p.clone())),
        ("DELETE", rp.clone(), None),
        ("DELETE", rp.clone(), None), // the role is gone: 404, a failure
    ];
    for (method, path, body) in calls {
        s.call(method, &path, Some(&t), body).await;
    }
    let r = s.call("GET", "/api/v2/logs?per_page=100&sort=date:1", Some(&t), None).await;
    let events: Vec<(String, String, String, i64)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["details"]["request"]["path"].as_str().is_some_and(|p| p.contains("roles") || p.contains("permissions"))
        })
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["description"].as_str().unwrap_or("").to_string(),
                e["details"]["request"]["method"].as_str().unwrap().to_string(),
                e["details"]["response"]["statusCode"].as_i64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("sapi", "Create a role", "post", 200),
        ("sapi", "Update a role", "patch", 200),
        ("sapi", "Associate permissions with a role", "post", 201),
        ("sapi", "Remove permissions from a role", "delete", 204),
        ("sapi", "Assign users to a role", "post", 200),
        ("sapi", "Removes roles from a user", "delete", 204),
        ("sapi", "Assign roles to a user", "post", 204),
        ("sapi", "Assign Permissions to a User", "post", 201),
        ("sapi", "Remove Permissions from a User", "delete", 204),
        ("sapi", "Delete a role", "delete", 200),
        ("fapi", "The role does not exist.", "delete", 404),
    ];
    let want: Vec<(String, String, String, i64)> =
        want.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), *d)).collect();
    assert_eq!(events, want);
}
