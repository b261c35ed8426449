//! /oauth/token (client credentials), discovery, and Management API token
//! verification, in process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn client_credentials_json_form_and_basic() {
    let s = TestServer::start().await;
    // JSON as auth0-python sends it, with an explicit null.
    let r = s
        .call("POST", "/oauth/token", None, Some(json!({"client_id":ADMIN_ID,"audience":AUDIENCE,"grant_type":"client_credentials","organization":null,"client_secret":ADMIN_SECRET})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 86400);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json; charset=utf-8");
    let c = claims(r.body["access_token"].as_str().unwrap());
    assert_eq!(c["iss"], "https://tenant.test/");
    assert_eq!(c["sub"], format!("{ADMIN_ID}@clients"));
    assert_eq!(c["aud"], AUDIENCE);
    assert_eq!(c["azp"], ADMIN_ID);
    assert_eq!(c["gty"], "client-credentials");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 86400);
    assert_eq!(c["iat"].as_i64().unwrap(), s.now_ms() / 1000);
    assert!(c["scope"].as_str().unwrap().split(' ').any(|x| x == "read:users"));
    assert_eq!(r.body["scope"], c["scope"]);

    // Form body, as node's SDK sends it; a subset of scopes.
    let form = format!(
        "grant_type=client_credentials&client_id={ADMIN_ID}&client_secret={ADMIN_SECRET}&audience={}&scope=read%3Ausers+delete%3Ausers",
        AUDIENCE.replace(':', "%3A").replace('/', "%2F")
    );
    let req = Request::post("/oauth/token")
        .header(header::HOST, DOMAIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let r = s.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["scope"], "delete:users read:users");

    // client_secret_basic.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN_ID}:{ADMIN_SECRET}"));
    let req = Request::post("/oauth/token")
        .header(header::HOST, DOMAIN)
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("grant_type=client_credentials&audience={AUDIENCE}")))
        .unwrap();
    assert_eq!(s.send(req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn token_errors_are_auth0s() {
    let s = TestServer::start().await;
    let base = json!({"grant_type":"client_credentials","client_id":ADMIN_ID,"client_secret":ADMIN_SECRET,"audience":AUDIENCE});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        if v.is_null() {
            b.as_object_mut().unwrap().remove(k);
        } else {
            b[k] = v;
        }
        b
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (with("client_secret", json!("wrong")), 401, "access_denied", "Unauthorized"),
        (with("client_id", json!("nobody")), 401, "access_denied", "Unauthorized"),
        (with("client_secret", Value::Null), 401, "access_denied", "Unauthorized"),
        (
            with("audience", json!("https://nope/")),
            403,
            "access_denied",
            "Service not enabled within domain: https://nope/",
        ),
        (
            with("audience", Value::Null),
            403,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        ),
        (
            with("scope", json!("read:users fly:planes")),
            403,
            "access_denied",
            "Client has not been granted scopes: fly:planes",
        ),
        (with("grant_type", Value::Null), 400, "invalid_request", "Missing required parameter: grant_type"),
        (with("grant_type", json!("magic")), 403, "unsupported_grant_type", "Unsupported grant type: magic"),
        (
            with("grant_type", json!("urn:ietf:params:oauth:grant-type:device_code")),
            501,
            "unsupported_grant_type",
            "castellan does not support the grant type 'urn:ietf:params:oauth:grant-type:device_code' yet.",
        ),
        (with("client_id", json!(["array"])), 400, "invalid_request", "Invalid value for parameter: client_id"),
    ];
    for (body, status, error, desc) in cases {
        let r = s.call("POST", "/oauth/token", None, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {:?}", r.body);
        assert_eq!(r.body, json!({"error": error, "error_description": desc}), "{body}");
    }
    // A client from another tenant is unknown here.
    let r = s.call("POST", "/oauth/token", None, Some(with("client_id", json!("otheradmin")).clone())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Broken JSON.
    let req = Request::post("/oauth/token")
        .header(header::HOST, DOMAIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"grant_type\":"))
        .unwrap();
    let r = s.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "invalid_request");
}

#[tokio::test]
async fn grant_is_required_and_m2m_only() {
    let s = TestServer::start().await;
    s.client_with_scopes("limited", "limited-secret", &["read:users"]).await;
    let t = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    // A second API with no grant for this client.
    let api = castellan_domain::tenant_model::ResourceServer {
        id: "rs1".into(),
        name: "Orders".into(),
        identifier: "https://orders.example/".into(),
        scopes: vec![],
        signing_alg: "RS256".into(),
        token_lifetime: 600,
        allow_offline_access: false,
        skip_consent_for_verifiable_first_party_clients: false,
        is_system: false,
        extra: Default::default(),
    };
    s.app.store.insert_resource_server(t.id, &api, &[]).await.unwrap();
    let r = s
        .call("POST", "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":"limited","client_secret":"limited-secret","audience":"https://orders.example/"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["error_description"],
        "Client is not authorized to access \"https://orders.example/\". You need to create a \"client-grant\" associated to this API."
    );
}

#[tokio::test]
async fn discovery_documents() {
    let s = TestServer::start().await;
    let jwks = s.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str(), key["e"].as_str()),
        (Some("RSA"), Some("RS256"), Some("sig"), Some("AQAB"))
    );
    // The token's kid is published.
    let token = s.admin_token().await;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "RS256");
    let oidc = s.call("GET", "/.well-known/openid-configuration", None, None).await;
    assert_eq!(oidc.body["issuer"], "https://tenant.test/");
    assert_eq!(oidc.body["jwks_uri"], "https://tenant.test/.well-known/jwks.json");
    assert_eq!(oidc.body["token_endpoint"], "https://tenant.test/oauth/token");
}

#[tokio::test]
async fn management_tokens_are_verified_strictly() {
    let s = TestServer::start().await;
    let good = s.admin_token().await;
    assert_eq!(s.call("GET", "/api/v2/users", Some(&good), None).await.status, StatusCode::OK);
    // Again: now from the tenant's cache of verified tokens, which the
    // checks below (a forged variant, then expiry) must not get around.
    assert_eq!(s.call("GET", "/api/v2/users", Some(&good), None).await.status, StatusCode::OK);

    let r = s.call("GET", "/api/v2/users", None, None).await;
    assert_eq!(r.body, json!({"statusCode":401,"error":"Unauthorized","message":"Missing authentication"}));

    let invalid = json!({"statusCode":401,"error":"Unauthorized","message":"Invalid token","attributes":{"error":"Invalid token"}});
    assert_eq!(s.call("GET", "/api/v2/users", Some("garbage"), None).await.body, invalid);

    // Forged: payload changed, signature kept.
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims(&good);
    c["scope"] = json!("read:users delete:everything");
    let forged =
        format!("{}.{}.{}", parts[0], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string()), parts[2]);
    let r = s.call("GET", "/api/v2/users", Some(&forged), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["message"], "Invalid signature received for JSON Web Token validation");

    // alg=none.
    let none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    assert_eq!(s.call("GET", "/api/v2/users", Some(&none), None).await.body, invalid);

    // A token of another tenant (its own keys, issuer, audience) is refused here.
    let r = s
        .send(
            Request::post("/oauth/token")
                .header(header::HOST, "other.test")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"grant_type":"client_credentials","client_id":"otheradmin","client_secret":"other-secret","audience":"https://other.test/api/v2/"}).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let foreign = r.body["access_token"].as_str().unwrap();
    assert_eq!(s.call("GET", "/api/v2/users", Some(foreign), None).await.status, StatusCode::UNAUTHORIZED);

    // Expired once the clock passes exp.
    s.clock.advance_ms(86_400_000);
    let r = s.call("GET", "/api/v2/users", Some(&good), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["message"], "Expired token received for JSON Web Token validation");
}

#[tokio::test]
async fn scopes_are_enforced_per_endpoint() {
    let s = TestServer::start().await;
    s.client_with_scopes("reader", "reader-secret", &["read:users"]).await;
    let t = s.token_for("reader", "reader-secret").await;
    assert_eq!(s.call("GET", "/api/v2/users", Some(&t), None).await.status, StatusCode::OK);
    let r = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection":"Username-Password-Authentication","email":"a@b.co","password":"Passw0rd!"})),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: create:users","errorCode":"insufficient_scope"})
    );
    assert_eq!(s.call("DELETE", "/api/v2/users/auth0%7Cx", Some(&t), None).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_host_and_unserved_endpoints() {
    let s = TestServer::start().await;
    let r =
        s.send(Request::get("/api/v2/users").header(header::HOST, "nobody.test").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["errorCode"], "inexistent_tenant");
    let token = s.admin_token().await;
    let r = s.call("GET", "/api/v2/rules", Some(&token), None).await;
    assert_eq!(
        r.body,
        json!({"statusCode":501,"error":"Not Implemented","message":"castellan does not implement GET /api/v2/rules yet.","errorCode":"not_implemented"})
    );
    let r = s.call("POST", "/api/v2/jobs/users-imports", Some(&token), Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    let r = s.call("GET", "/no/such/path", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["statusCode"], 404);
    // A served path with a method Auth0 does not have.
    let r = s.call("PUT", "/api/v2/users", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(s.call("GET", "/healthz", None, None).await.status, StatusCode::OK);
    assert_eq!(s.call("GET", "/readyz", None, None).await.status, StatusCode::OK);
}

/// The token endpoint caches the client, API and grant; a change made through
/// the Management API is seen by the very next token request.
#[tokio::test]
async fn token_config_changes_apply_at_once() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    s.client_with_scopes("m2m-c", "m2m-secret", &["read:users", "read:roles"]).await;
    let ask = |secret: &str| json!({"grant_type": "client_credentials", "client_id": "m2m-c", "client_secret": secret, "audience": AUDIENCE});
    // Warm the cache, then narrow the grant.
    let r = s.call("POST", "/oauth/token", None, Some(ask("m2m-secret"))).await;
    assert_eq!(r.body["scope"], "read:users read:roles");
    let r = s.call("PATCH", "/api/v2/client-grants/cgr_m2m-c", Some(&t), Some(json!({"scope": ["read:users"]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = s.call("POST", "/oauth/token", None, Some(ask("m2m-secret"))).await;
    assert_eq!(r.body["scope"], "read:users");
    // Rotating the secret retires the old one at once.
    let rot = s.call("POST", "/api/v2/clients/m2m-c/rotate-secret", Some(&t), None).await;
    assert_eq!(rot.status, StatusCode::OK);
    let r = s.call("POST", "/oauth/token", None, Some(ask("m2m-secret"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let fresh = rot.body["client_secret"].as_str().unwrap();
    assert_eq!(s.call("POST", "/oauth/token", None, Some(ask(fresh))).await.status, StatusCode::OK);
    // Deleting the grant, then the client.
    let r = s.call("DELETE", "/api/v2/client-grants/cgr_m2m-c", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = s.call("POST", "/oauth/token", None, Some(ask(fresh))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(s.call("DELETE", "/api/v2/clients/m2m-c", Some(&t), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.call("POST", "/oauth/token", None, Some(ask(fresh))).await.status, StatusCode::UNAUTHORIZED);
}

/// Tokens of the same claims in the same second are the same bytes (signed
/// once, see `SignedTokens`); any other claim, a later second, or a `jti`
/// (RFC 9068 profile) gives a token of its own, each verifiable.
#[tokio::test]
async fn identical_token_requests_share_one_signature_and_nothing_else() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    s.client_with_scopes("m2m-s", "m2m-secret", &["read:users", "read:roles"]).await;
    let ask = |scope: &str| json!({"grant_type": "client_credentials", "client_id": "m2m-s", "client_secret": "m2m-secret", "audience": AUDIENCE, "scope": scope});
    let token = |r: &Resp| r.body["access_token"].as_str().unwrap().to_string();
    let a1 = token(&s.call("POST", "/oauth/token", None, Some(ask("read:users"))).await);
    let a2 = token(&s.call("POST", "/oauth/token", None, Some(ask("read:users"))).await);
    assert_eq!(a1, a2, "same claims, same second");
    let b = token(&s.call("POST", "/oauth/token", None, Some(ask("read:roles"))).await);
    assert_ne!(a1, b);
    assert_eq!(claims(&b)["scope"], "read:roles", "a token is never another request's");
    s.clock.advance_ms(1000);
    let a3 = token(&s.call("POST", "/oauth/token", None, Some(ask("read:users"))).await);
    assert_ne!(a1, a3);
    assert_eq!(claims(&a3)["iat"].as_i64().unwrap(), claims(&a1)["iat"].as_i64().unwrap() + 1);
    // Each is a valid Management API token (the signature checks out).
    for tok in [&a1, &b, &a3] {
        let r = s.call("GET", "/api/v2/users?per_page=1", Some(tok), None).await;
        let want = if claims(tok)["scope"] == "read:users" { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(r.status, want, "{:?}", r.body);
    }
    // RFC 9068 tokens carry a jti: never shared.
    let r = s
        .call(
            "POST",
            "/api/v2/resource-servers",
            Some(&t),
            Some(json!({"identifier": "urn:rfc", "token_dialect": "rfc9068_profile"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = s
        .call(
            "POST",
            "/api/v2/client-grants",
            Some(&t),
            Some(json!({"client_id": "m2m-s", "audience": "urn:rfc", "scope": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ask9068 = json!({"grant_type": "client_credentials", "client_id": "m2m-s", "client_secret": "m2m-secret", "audience": "urn:rfc"});
    let j1 = token(&s.call("POST", "/oauth/token", None, Some(ask9068.clone())).await);
    let j2 = token(&s.call("POST", "/oauth/token", None, Some(ask9068)).await);
    assert_ne!(claims(&j1)["jti"], claims(&j2)["jti"]);
    assert_ne!(j1, j2);
}
