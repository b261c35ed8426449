//! /api/v2/users in process: exact bodies, Auth0's rules and errors, and bad
//! input that must change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::{json, Value};

const CONN: &str = "Username-Password-Authentication";

async fn create(s: &TestServer, token: &str, body: Value) -> Value {
    let r = s.call("POST", "/api/v2/users", Some(token), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

fn enc(id: &str) -> String {
    id.replace('|', "%7C")
}

#[tokio::test]
async fn create_returns_auth0s_user_shape() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let u = create(&s, &t, json!({"connection": CONN, "email": "Chuck@Example.com", "password": "Passw0rd!"})).await;
    assert_eq!(
        redact(u.clone()),
        json!({
            "created_at": "2023-11-14T22:13:20.000Z",
            "email": "chuck@example.com",
            "email_verified": false,
            "identities": [{"connection": CONN, "user_id": "[id]", "provider": "auth0", "isSocial": false}],
            "name": "chuck@example.com",
            "nickname": "chuck",
            "picture": "[picture]",
            "updated_at": "2023-11-14T22:13:20.000Z",
            "user_id": "[id]"
        })
    );
    let id = u["user_id"].as_str().unwrap();
    assert!(id.starts_with("auth0|6553f100"), "{id}: the first 8 hex digits are the creation time");
    assert_eq!(u["identities"][0]["user_id"].as_str().unwrap(), &id[6..]);
    assert!(u["picture"].as_str().unwrap().contains("avatars%2Fch.png"));
    assert!(!String::from_utf8_lossy(&s.call("GET", &format!("/api/v2/users/{}", enc(id)), Some(&t), None).await.raw)
        .contains("Passw0rd"));

    // Given values win over defaults; metadata appears once set.
    let u = create(&s, &t, json!({"connection": CONN, "email": "x@example.com", "password": "Passw0rd!", "name": "X Y",
        "nickname": "xy", "given_name": "X", "family_name": "Y", "user_metadata": {"theme": "dark"}, "app_metadata": {"plan": "gold"},
        "email_verified": true, "blocked": false, "user_id": "custom123"})).await;
    assert_eq!(u["user_id"], "auth0|custom123");
    assert_eq!(
        (u["name"].as_str(), u["nickname"].as_str(), u["email_verified"].as_bool()),
        (Some("X Y"), Some("xy"), Some(true))
    );
    assert_eq!(u["user_metadata"], json!({"theme": "dark"}));
    assert_eq!(u["app_metadata"], json!({"plan": "gold"}));
    assert_eq!(u["blocked"], false);
}

#[tokio::test]
async fn create_errors() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    create(&s, &t, json!({"connection": CONN, "email": "dup@example.com", "password": "Passw0rd!"})).await;
    let cases: Vec<(Value, u16, Value)> = vec![
        (
            json!({"connection": CONN, "email": "DUP@example.com", "password": "Passw0rd!"}),
            409,
            json!({"statusCode":409,"error":"Conflict","message":"The user already exists.","errorCode":"auth0_idp_error"}),
        ),
        (
            json!({"connection": CONN, "email": "weak@example.com", "password": "short"}),
            400,
            json!({"statusCode":400,"error":"Bad Request","message":"PasswordStrengthError: Password is too weak"}),
        ),
        (
            json!({"connection": CONN, "email": "a@example.com", "password": "Passw0rd!", "enabled": true}),
            400,
            json!({"statusCode":400,"error":"Bad Request","message":"Payload validation error: 'Additional properties not allowed: enabled'.","errorCode":"invalid_body"}),
        ),
        (
            json!({"connection": CONN, "email": "foo", "password": "Passw0rd!"}),
            400,
            json!({"statusCode":400,"error":"Bad Request","message":"Payload validation error: 'Object didn't pass validation for format email: foo' on property email (The user's email.).","errorCode":"invalid_body"}),
        ),
        (
            json!({"connection": "nope", "email": "a@example.com", "password": "Passw0rd!"}),
            400,
            json!({"statusCode":400,"error":"Bad Request","message":"The connection does not exist.","errorCode":"inexistent_connection"}),
        ),
        (
            json!({"email": "a@example.com", "password": "Passw0rd!"}),
            400,
            json!({"statusCode":400,"error":"Bad Request","message":"Payload validation error: 'Missing required property: connection'.","errorCode":"invalid_body"}),
        ),
        (
            json!({"connection": CONN, "email": "a@example.com", "password": "Passw0rd!", "username": "abc"}),
            400,
            json!({"statusCode":400,"error":"Bad Request","message":"Cannot set username for connection without requires_username."}),
        ),
    ];
    for (body, status, want) in cases {
        let r = s.call("POST", "/api/v2/users", Some(&t), Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body}");
        assert_eq!(r.body, want, "{body}");
    }
    // An M2M client that is not enabled on the connection.
    s.client_with_scopes("creator", "creator-secret", &["create:users", "read:users"]).await;
    let other = s.token_for("creator", "creator-secret").await;
    let r = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&other),
            Some(json!({"connection": CONN, "email": "c@example.com", "password": "Passw0rd!"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["message"],
        format!("Connection must be enabled for this client to perform single user creation and signup operations (client_id: creator - connection: {CONN})")
    );
    // Nothing above left a user behind.
    let all = s.call("GET", "/api/v2/users?include_totals=true", Some(&t), None).await;
    assert_eq!(all.body["total"], 1);
}

#[tokio::test]
async fn get_patch_delete_and_metadata_merge() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let u = create(&s, &t, json!({"connection": CONN, "email": "m@example.com", "password": "Passw0rd!"})).await;
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));

    let patch = |body: Value| {
        let (s, t, path) = (&s, &t, &path);
        async move { s.call("PATCH", path, Some(t), Some(body)).await }
    };
    s.clock.advance_ms(1000);
    let r = patch(json!({"name": "My name is..."})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "My name is...");
    assert_eq!(r.body["updated_at"], "2023-11-14T22:13:21.000Z");
    patch(json!({"user_metadata": {"theme": "light", "nested": {"a": 1, "b": 2}}, "app_metadata": {"experimental_features": true}})).await;
    let r = patch(
        json!({"user_metadata": {"font_size": "16px", "nested": {"c": 3}}, "app_metadata": {"notifications": false}}),
    )
    .await;
    assert_eq!(r.body["user_metadata"], json!({"theme": "light", "nested": {"c": 3}, "font_size": "16px"}));
    assert_eq!(r.body["app_metadata"], json!({"experimental_features": true, "notifications": false}));
    let r = patch(json!({"user_metadata": {"theme": null}})).await;
    assert_eq!(r.body["user_metadata"], json!({"nested": {"c": 3}, "font_size": "16px"}));
    let r = patch(json!({"user_metadata": {}})).await;
    assert!(r.body.get("user_metadata").is_none(), "{{}} clears: {:?}", r.body);
    let r = patch(json!({"nickname": null})).await;
    assert!(r.body.get("nickname").is_none());

    // Password change: last_password_reset appears; no hash anywhere.
    let r = patch(json!({"password": "N3w-Passw0rd", "connection": CONN})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["last_password_reset"], "2023-11-14T22:13:21.000Z");
    assert!(!String::from_utf8_lossy(&r.raw).contains("$2b$"));
    assert_eq!(patch(json!({"password": "weak"})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        patch(json!({"password": "N3w-Passw0rd", "email": "z@example.com"})).await.status,
        StatusCode::BAD_REQUEST
    );

    // Email change resets email_verified unless given.
    let r = patch(json!({"email": "New@Example.com", "email_verified": true})).await;
    assert_eq!((r.body["email"].as_str(), r.body["email_verified"].as_bool()), (Some("new@example.com"), Some(true)));
    let r = patch(json!({"email": "new2@example.com"})).await;
    assert_eq!(r.body["email_verified"], false);
    let r = patch(json!({"blocked": true})).await;
    assert_eq!(r.body["blocked"], true);
    // Another user's email: 400, and nothing of the update stays.
    create(&s, &t, json!({"connection": CONN, "email": "taken@example.com", "password": "Passw0rd!"})).await;
    let r = patch(json!({"email": "Taken@example.com", "name": "Clash"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["message"], "The specified new email already exists");
    let r = s.call("GET", &path, Some(&t), None).await;
    assert_eq!((r.body["email"].as_str(), r.body["name"].as_str()), (Some("new2@example.com"), Some("My name is...")));

    // GET with fields.
    let r = s.call("GET", &format!("{path}?fields=email,user_id&include_fields=true"), Some(&t), None).await;
    assert_eq!(r.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["email", "user_id"]);
    let r = s.call("GET", &format!("{path}?fields=identities,picture&include_fields=false"), Some(&t), None).await;
    assert!(r.body.get("identities").is_none() && r.body.get("email").is_some());

    // DELETE is 204 with an empty body, and again 204 when gone.
    let r = s.call("DELETE", &path, Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty());
    assert_eq!(s.call("DELETE", &path, Some(&t), None).await.status, StatusCode::NO_CONTENT);
    let r = s.call("GET", &path, Some(&t), None).await;
    assert_eq!(
        r.body,
        json!({"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"})
    );
    assert_eq!(patch(json!({"name": "x"})).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn app_metadata_only_token() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let u = create(&s, &admin, json!({"connection": CONN, "email": "w@example.com", "password": "Passw0rd!"})).await;
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    s.client_with_scopes("appmeta", "appmeta-secret", &["update:users_app_metadata"]).await;
    let t = s.token_for("appmeta", "appmeta-secret").await;
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"app_metadata": {"winner": true}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["app_metadata"], json!({"winner": true}));
    for body in
        [json!({"user_metadata": {"x": 1}}), json!({"app_metadata": {"a": 1}, "name": "n"}), json!({"blocked": true})]
    {
        let r = s.call("PATCH", &path, Some(&t), Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(r.body["errorCode"], "insufficient_scope");
    }
    let r = s.call("GET", &path, Some(&admin), None).await;
    assert!(
        r.body.get("user_metadata").is_none() && r.body.get("blocked").is_none(),
        "forbidden patches changed nothing"
    );
}

#[tokio::test]
async fn list_shapes_paging_sort_and_cap() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    for (i, n) in ["delta", "alpha", "charlie", "bravo", "echo"].iter().enumerate() {
        s.clock.advance_ms(1000);
        create(&s, &t, json!({"connection": CONN, "email": format!("{n}@example.com"), "password": "Passw0rd!", "name": n, "app_metadata": {"i": i}})).await;
    }
    let r = s.call("GET", "/api/v2/users", Some(&t), None).await;
    assert!(r.body.is_array(), "bare array without include_totals");
    assert_eq!(r.body.as_array().unwrap().len(), 5);
    let r = s.call("GET", "/api/v2/users?per_page=2&page=1&include_totals=true&sort=name:1", Some(&t), None).await;
    assert_eq!(
        (r.body["start"].as_u64(), r.body["limit"].as_u64(), r.body["length"].as_u64(), r.body["total"].as_u64()),
        (Some(2), Some(2), Some(2), Some(5))
    );
    let names: Vec<&str> = r.body["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["charlie", "delta"]);
    let r = s.call("GET", "/api/v2/users?per_page=2&page=9&include_totals=true", Some(&t), None).await;
    assert_eq!(r.body["users"], json!([]));
    assert_eq!(r.body["total"], 5);
    let r = s.call("GET", "/api/v2/users?sort=created_at:-1&per_page=1", Some(&t), None).await;
    assert_eq!(r.body[0]["name"], "echo");
    let r = s
        .call(
            "GET",
            "/api/v2/users?q=name%3Ab*%20OR%20name%3Ae*&search_engine=v3&sort=name:-1&fields=name&include_fields=true",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.body, json!([{"name": "echo"}, {"name": "bravo"}]));
    // The seed's lottery: count, then a page of one.
    let r = s.call("GET", "/api/v2/users?per_page=1&include_fields=false&search_engine=v3&q=NOT%20app_metadata.winner%3Atrue&include_totals=true&page=0", Some(&t), None).await;
    assert_eq!(r.body["total"], 5);

    let cap = s.call("GET", "/api/v2/users?per_page=100&page=10", Some(&t), None).await;
    assert_eq!(cap.status, StatusCode::BAD_REQUEST);
    assert!(cap.body["message"].as_str().unwrap().starts_with("You can only page through the first 1000 records."));
    assert_eq!(s.call("GET", "/api/v2/users?per_page=100&page=9", Some(&t), None).await.status, StatusCode::OK);
    // Lifted by the tenant setting.
    let tenant = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    s.app.store.set_tenant_settings(tenant.id, &json!({"lift_search_cap": true})).await.unwrap();
    s.app.invalidate_tenants().await;
    assert_eq!(s.call("GET", "/api/v2/users?per_page=100&page=10", Some(&t), None).await.status, StatusCode::OK);

    let r = s.call("GET", "/api/v2/users-by-email?email=alpha%40example.com", Some(&t), None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["name"], "alpha");
    let r = s.call("GET", "/api/v2/users-by-email?email=ALPHA%40example.com", Some(&t), None).await;
    assert_eq!(r.body, json!([]));
    assert_eq!(s.call("GET", "/api/v2/users-by-email", Some(&t), None).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_query_strings_are_400_invalid_query_string() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let deep = format!("q={}name:x{}", "(".repeat(40), ")".repeat(40));
    let huge = format!("q=name:{}", "a".repeat(5000));
    let bad = [
        "q=name:(unclosed&search_engine=v3",
        "q=name:a%3F&search_engine=v3",
        "q=name:*ab&search_engine=v3",
        "q=user_metadata.theme:dar*",
        "q=logins_count:abc",
        "q=nosuchfield:x",
        "q=AND",
        deep.as_str(),
        "search_engine=v2&q=name:x",
        "search_engine=v1",
        "per_page=101",
        "per_page=-1",
        "page=abc",
        "include_totals=yes",
        "sort=name",
        "sort=user_metadata.x:1",
    ];
    for q in bad {
        let r = s.call("GET", &format!("/api/v2/users?{q}"), Some(&t), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {:?}", r.body);
        assert_eq!(r.body["statusCode"], 400, "{q}");
        assert_eq!(r.body["error"], "Bad Request", "{q}");
        assert_eq!(r.body["errorCode"], "invalid_query_string", "{q}");
    }
    let r = s.call("GET", "/api/v2/users?q=name:(unclosed&search_engine=v3", Some(&t), None).await;
    assert!(r.body["message"].as_str().unwrap().contains("position"), "{:?}", r.body);
    // A long but valid query is fine and matches nothing.
    let r = s.call("GET", &format!("/api/v2/users?{huge}"), Some(&t), None).await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn bad_bodies_change_nothing() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let u = create(
        &s,
        &t,
        json!({"connection": CONN, "email": "keep@example.com", "password": "Passw0rd!", "user_metadata": {"k": 1}}),
    )
    .await;
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    let raw = |method: &str, uri: &str, body: Vec<u8>| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, DOMAIN)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let broken = s.send(raw("PATCH", &path, b"{\"name\": ".to_vec())).await;
    assert_eq!(
        broken.body,
        json!({"statusCode":400,"error":"Bad Request","message":"Invalid request payload JSON format","errorCode":"invalid_body"})
    );
    let big = format!("{{\"user_metadata\": {{\"x\": \"{}\"}}}}", "a".repeat(1_100_000));
    let r = s.send(raw("PATCH", &path, big.into_bytes())).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["statusCode"], 413);
    assert_eq!(s.send(raw("POST", "/api/v2/users", b"[1,2]".to_vec())).await.body["errorCode"], "invalid_body");
    assert_eq!(s.send(raw("POST", "/api/v2/users", vec![0xff, 0xfe])).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(s.send(raw("POST", "/api/v2/users", Vec::new())).await.status, StatusCode::BAD_REQUEST);
    for body in [
        json!({"name": 5}),
        json!({"email": "not-an-email"}),
        json!({"user_metadata": "x"}),
        json!({"user_metadata": {"a.b": 1}}),
        json!({"app_metadata": {"user_id": "x"}}),
        json!({"blocked": "true"}),
        json!({"picture": "ftp://x"}),
        json!({"phone_number": "12"}),
        json!({"name": ""}),
        json!({"given_name": "x".repeat(151)}),
        json!("string"),
    ] {
        let r = s.call("PATCH", &path, Some(&t), Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    let after = s.call("GET", &path, Some(&t), None).await.body;
    assert_eq!(after, u, "bad input changed the user");
    // Odd ids: encoded slashes, unicode, very long.
    for id in ["auth0%7Cno%2Fsuch", "%F0%9F%92%A9", &"x".repeat(3000)] {
        let r = s.call("GET", &format!("/api/v2/users/{id}"), Some(&t), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
    }
    let r = s.call("GET", "/api/v2/users/%FF", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn nul_characters_are_refused_at_the_edge() {
    // PostgreSQL cannot store U+0000, so it is refused before any store is asked.
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let u = create(&s, &t, json!({"connection": CONN, "email": "nul@example.com", "password": "Passw0rd!"})).await;
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    let r = s.call("GET", "/api/v2/users/auth0%7C%00x", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["errorCode"], "invalid_uri");
    let r = s.call("GET", "/api/v2/users?q=name:%00", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["errorCode"], "invalid_query_string");
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"name": "a\u{0}b"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["errorCode"], "invalid_body");
    let r = s.call("PATCH", &path, Some(&t), Some(json!({"user_metadata": {"k\u{0}": 1}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": CONN, "email": "x\u{0}@example.com", "password": "Passw0rd!"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let after = s.call("GET", &path, Some(&t), None).await;
    assert_eq!(after.body["name"], u["name"]);
    assert!(after.body.get("user_metadata").is_none_or(|m| m.get("k\u{0}").is_none()));
}
