//! Clients, client grants, resource servers and connections in process, and
//! seed 000's machine-to-machine flow end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn ok(s: &TestServer, t: &str, method: &str, uri: &str, body: Option<Value>, want: u16) -> Value {
    let r = s.call(method, uri, Some(t), body.clone()).await;
    assert_eq!(r.status.as_u16(), want, "{method} {uri} {body:?}: {:?}", r.body);
    r.body
}

async fn token(s: &TestServer, id: &str, secret: &str, audience: &str) -> (StatusCode, Value) {
    let r = s
        .call(
            "POST",
            "/oauth/token",
            None,
            Some(json!({"grant_type":"client_credentials","client_id":id,"client_secret":secret,"audience":audience})),
        )
        .await;
    (r.status, r.body)
}

#[tokio::test]
async fn seed_000_machine_to_machine_flow() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let app = ok(
        &s,
        &t,
        "POST",
        "/api/v2/clients",
        Some(json!({"name": "Reporting job", "app_type": "non_interactive"})),
        201,
    )
    .await;
    let (id, secret) =
        (app["client_id"].as_str().unwrap().to_string(), app["client_secret"].as_str().unwrap().to_string());
    assert_eq!(id.len(), 32);
    assert_eq!(app["grant_types"], json!(["client_credentials"]));
    assert_eq!(app["token_endpoint_auth_method"], "client_secret_post");

    let api = ok(&s, &t, "POST", "/api/v2/resource-servers", Some(json!({
        "name": "Orders", "identifier": "https://orders.example/",
        "scopes": [{"value": "read:orders", "description": "Read"}, {"value": "write:orders"}, {"value": "delete:orders"}],
        "enforce_policies": true, "token_dialect": "access_token_authz"
    })), 201).await;
    assert_eq!(api["signing_alg"], "RS256");
    assert_eq!(api["token_lifetime"], 86400);

    // Not authorized yet.
    let (st, body) = token(&s, &id, &secret, "https://orders.example/").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");

    let grant = ok(
        &s,
        &t,
        "POST",
        "/api/v2/client-grants",
        Some(json!({"client_id": id, "audience": "https://orders.example/", "scope": ["read:orders", "write:orders"]})),
        201,
    )
    .await;
    assert!(grant["id"].as_str().unwrap().starts_with("cgr_"));
    let (st, body) = token(&s, &id, &secret, "https://orders.example/").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "read:orders write:orders");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["permissions"], json!(["read:orders", "write:orders"]));
    assert_eq!(c["sub"], format!("{id}@clients"));
    assert_eq!(c["aud"], "https://orders.example/");
    // The app cannot use the Management API without a grant for it.
    let (st, _) = token(&s, &id, &secret, AUDIENCE).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Narrow the grant: new tokens carry the new scopes.
    ok(
        &s,
        &t,
        "PATCH",
        &format!("/api/v2/client-grants/{}", grant["id"].as_str().unwrap()),
        Some(json!({"scope": ["read:orders"]})),
        200,
    )
    .await;
    let (_, body) = token(&s, &id, &secret, "https://orders.example/").await;
    assert_eq!(body["scope"], "read:orders");

    // Deleting the client revokes its grants and its credentials.
    ok(&s, &t, "DELETE", &format!("/api/v2/clients/{id}"), None, 204).await;
    ok(&s, &t, "DELETE", &format!("/api/v2/clients/{id}"), None, 204).await;
    assert_eq!(ok(&s, &t, "GET", &format!("/api/v2/client-grants?client_id={id}"), None, 200).await, json!([]));
    let (st, _) = token(&s, &id, &secret, "https://orders.example/").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn clients_crud_secrets_and_lists() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let c = ok(
        &s,
        &t,
        "POST",
        "/api/v2/clients",
        Some(json!({"name": "Web", "callbacks": ["https://app.example/cb"], "client_metadata": {"team": "a"}})),
        201,
    )
    .await;
    let id = c["client_id"].as_str().unwrap().to_string();
    let old_secret = c["client_secret"].as_str().unwrap().to_string();
    assert_eq!(c["grant_types"], json!(["authorization_code", "implicit", "refresh_token", "client_credentials"]));
    assert_eq!(c["jwt_configuration"], json!({"secret_encoded": false, "lifetime_in_seconds": 36000}));
    assert_eq!(c["callbacks"], json!(["https://app.example/cb"]));
    let got = ok(&s, &t, "GET", &format!("/api/v2/clients/{id}"), None, 200).await;
    assert_eq!(got, c, "GET returns what POST returned (the admin holds read:client_keys)");
    let r =
        ok(&s, &t, "GET", &format!("/api/v2/clients/{id}?fields=name,client_id&include_fields=true"), None, 200).await;
    assert_eq!(r, json!({"name": "Web", "client_id": id}));

    let p = ok(
        &s,
        &t,
        "PATCH",
        &format!("/api/v2/clients/{id}"),
        Some(json!({"name": "Web 2", "app_type": "regular_web", "callbacks": []})),
        200,
    )
    .await;
    assert_eq!((p["name"].as_str(), p["callbacks"].clone()), (Some("Web 2"), json!([])));
    assert_eq!(p["client_metadata"], json!({"team": "a"}));
    let rot = ok(&s, &t, "POST", &format!("/api/v2/clients/{id}/rotate-secret"), None, 200).await;
    let new_secret = rot["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);

    // A reader without read:client_keys never sees secrets.
    s.client_with_scopes("reader", "reader-secret", &["read:clients"]).await;
    let rt = s.token_for("reader", "reader-secret").await;
    let r = ok(&s, &rt, "GET", &format!("/api/v2/clients/{id}"), None, 200).await;
    assert!(r.get("client_secret").is_none(), "{r}");
    assert_eq!(
        s.call("POST", "/api/v2/clients", Some(&rt), Some(json!({"name": "x"}))).await.status,
        StatusCode::FORBIDDEN
    );

    // Envelopes: bare array, totals, checkpoint with `next` left out at the end.
    for i in 0..3 {
        ok(&s, &t, "POST", "/api/v2/clients", Some(json!({"name": format!("c{i}"), "app_type": "spa"})), 201).await;
    }
    let all = ok(&s, &t, "GET", "/api/v2/clients", None, 200).await;
    assert_eq!(all.as_array().unwrap().len(), 6, "admin, reader and 4 created: {all}");
    let page = ok(&s, &t, "GET", "/api/v2/clients?page=1&per_page=2&include_totals=true&app_type=spa", None, 200).await;
    assert_eq!((page["start"].as_u64(), page["limit"].as_u64(), page["total"].as_u64()), (Some(2), Some(2), Some(3)));
    assert_eq!(page["clients"].as_array().unwrap().len(), 1);
    let first = ok(&s, &t, "GET", "/api/v2/clients?take=3", None, 200).await;
    assert_eq!(first["clients"].as_array().unwrap().len(), 3);
    let next = first["next"].as_str().unwrap();
    let last = ok(&s, &t, "GET", &format!("/api/v2/clients?take=3&from={next}"), None, 200).await;
    assert_eq!(last["clients"].as_array().unwrap().len(), 3);
    assert!(last.get("next").is_none(), "{last}");

    // Bad input changes nothing.
    for body in [
        json!({"name": "x", "enabled": true}),
        json!({"description": "no name"}),
        json!({"name": 5}),
        json!({"name": "<b>"}),
        json!({"name": "x", "app_type": "robot"}),
        json!([1]),
    ] {
        ok(&s, &t, "POST", "/api/v2/clients", Some(body), 400).await;
    }
    ok(&s, &t, "PATCH", &format!("/api/v2/clients/{id}"), Some(json!({"client_id": "hijack"})), 400).await;
    assert_eq!(ok(&s, &t, "GET", "/api/v2/clients", None, 200).await.as_array().unwrap().len(), 6);
    let r = ok(&s, &t, "GET", "/api/v2/clients/nope", None, 404).await;
    assert_eq!(r["errorCode"], "inexistent_client");
    ok(&s, &t, "POST", "/api/v2/clients/nope/rotate-secret", None, 404).await;
}

#[tokio::test]
async fn resource_servers_and_grants() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let api = ok(
        &s,
        &t,
        "POST",
        "/api/v2/resource-servers",
        Some(json!({"identifier": "urn:billing", "signing_alg": "HS256", "scopes": [{"value": "bill"}]})),
        201,
    )
    .await;
    assert_eq!(api["name"], "urn:billing");
    let hs_secret = api["signing_secret"].as_str().unwrap().to_string();
    ok(&s, &t, "POST", "/api/v2/resource-servers", Some(json!({"identifier": "urn:billing"})), 409).await;
    // By id and by URL-encoded identifier.
    let by_id =
        ok(&s, &t, "GET", &format!("/api/v2/resource-servers/{}", api["id"].as_str().unwrap()), None, 200).await;
    let by_ident = ok(&s, &t, "GET", "/api/v2/resource-servers/urn%3Abilling", None, 200).await;
    assert_eq!(by_id, by_ident);
    let list = ok(&s, &t, "GET", "/api/v2/resource-servers?include_totals=true", None, 200).await;
    assert_eq!(list["total"], 2, "the Management API and billing");
    let only = ok(&s, &t, "GET", "/api/v2/resource-servers?identifiers=urn%3Abilling", None, 200).await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    ok(&s, &t, "PATCH", "/api/v2/resource-servers/urn%3Abilling", Some(json!({"identifier": "urn:other"})), 400).await;
    ok(&s, &t, "PATCH", "/api/v2/resource-servers/urn%3Abilling", Some(json!({"token_lifetime": 600})), 200).await;
    ok(&s, &t, "PATCH", "/api/v2/resource-servers/urn%3Abilling", Some(json!({"token_lifetime": 0})), 400).await;
    ok(
        &s,
        &t,
        "PATCH",
        "/api/v2/resource-servers/urn%3Abilling",
        Some(json!({"scopes": [{"value": "a"}, {"value": "a"}]})),
        400,
    )
    .await;

    // The Management API is a system API: token settings only, and it stays.
    let mgmt = format!("/api/v2/resource-servers/{}", AUDIENCE.replace(':', "%3A").replace('/', "%2F"));
    let m = ok(&s, &t, "GET", &mgmt, None, 200).await;
    assert_eq!(m["is_system"], true);
    ok(&s, &t, "PATCH", &mgmt, Some(json!({"name": "Mine"})), 400).await;
    ok(&s, &t, "PATCH", &mgmt, Some(json!({"token_lifetime": 3600})), 200).await;
    ok(&s, &t, "DELETE", &mgmt, None, 400).await;

    // An HS256 API signs tokens with its secret.
    let c = ok(&s, &t, "POST", "/api/v2/clients", Some(json!({"name": "biller", "app_type": "non_interactive"})), 201)
        .await;
    let cid = c["client_id"].as_str().unwrap();
    ok(&s, &t, "POST", "/api/v2/client-grants", Some(json!({"client_id": cid, "audience": "nope"})), 404).await;
    ok(&s, &t, "POST", "/api/v2/client-grants", Some(json!({"client_id": "nobody", "audience": "urn:billing"})), 404)
        .await;
    let g = ok(
        &s,
        &t,
        "POST",
        "/api/v2/client-grants",
        Some(json!({"client_id": cid, "audience": "urn:billing", "scope": ["bill"]})),
        201,
    )
    .await;
    ok(
        &s,
        &t,
        "POST",
        "/api/v2/client-grants",
        Some(json!({"client_id": cid, "audience": "urn:billing", "scope": []})),
        409,
    )
    .await;
    let (st, body) = token(&s, cid, c["client_secret"].as_str().unwrap(), "urn:billing").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let tok = body["access_token"].as_str().unwrap();
    assert_eq!(claims(tok)["exp"].as_i64().unwrap() - claims(tok)["iat"].as_i64().unwrap(), 600);
    let parts: Vec<&str> = tok.split('.').collect();
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(hs_secret.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        mac.finalize().into_bytes().to_vec()
    );

    let gid = g["id"].as_str().unwrap();
    assert_eq!(ok(&s, &t, "GET", &format!("/api/v2/client-grants/{gid}"), None, 200).await, g);
    let listed = ok(&s, &t, "GET", "/api/v2/client-grants?audience=urn%3Abilling", None, 200).await;
    assert_eq!(listed, json!([g]));
    let r = ok(&s, &t, "GET", "/api/v2/client-grants/cgr_nope", None, 404).await;
    assert_eq!(r["errorCode"], "inexistent_client_grant");
    ok(&s, &t, "PATCH", &format!("/api/v2/client-grants/{gid}"), Some(json!({"audience": "x"})), 400).await;

    // Deleting the API removes its grants; deleting again is still 204.
    ok(&s, &t, "DELETE", "/api/v2/resource-servers/urn%3Abilling", None, 204).await;
    ok(&s, &t, "DELETE", "/api/v2/resource-servers/urn%3Abilling", None, 204).await;
    ok(&s, &t, "GET", &format!("/api/v2/client-grants/{gid}"), None, 404).await;
    ok(&s, &t, "DELETE", &format!("/api/v2/client-grants/{gid}"), None, 204).await;
}

#[tokio::test]
async fn connections_and_their_users() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let c = ok(
        &s,
        &t,
        "POST",
        "/api/v2/connections",
        Some(json!({"name": "partners", "strategy": "auth0",
        "options": {"passwordPolicy": "low", "requires_username": false}, "enabled_clients": [ADMIN_ID]})),
        201,
    )
    .await;
    assert!(c["id"].as_str().unwrap().starts_with("con_"));
    assert_eq!(c["realms"], json!(["partners"]));
    assert_eq!(c["options"]["passwordPolicy"], "low");
    let cid = c["id"].as_str().unwrap().to_string();
    ok(&s, &t, "POST", "/api/v2/connections", Some(json!({"name": "partners", "strategy": "auth0"})), 409).await;
    for bad in [
        json!({"name": "bad name", "strategy": "auth0"}),
        json!({"name": "x"}),
        json!({"name": "x", "strategy": "auth0", "bogus": 1}),
        json!({"name": "x", "strategy": "auth0", "enabled_clients": ["nobody"]}),
    ] {
        ok(&s, &t, "POST", "/api/v2/connections", Some(bad), 400).await;
    }
    // The connection's password policy applies to its users.
    let u = ok(
        &s,
        &t,
        "POST",
        "/api/v2/users",
        Some(json!({"connection": "partners", "email": "p@x.example", "password": "simple"})),
        201,
    )
    .await;
    ok(
        &s,
        &t,
        "POST",
        "/api/v2/users",
        Some(json!({"connection": "Username-Password-Authentication", "email": "q@x.example", "password": "simple"})),
        400,
    )
    .await;

    let list = ok(&s, &t, "GET", "/api/v2/connections?strategy=auth0&include_totals=true", None, 200).await;
    assert_eq!(list["total"], 2);
    assert_eq!(ok(&s, &t, "GET", "/api/v2/connections?name=partners", None, 200).await.as_array().unwrap().len(), 1);
    assert_eq!(ok(&s, &t, "GET", "/api/v2/connections?strategy=google-oauth2", None, 200).await, json!([]));

    // Enabled clients: bare-array PATCH, checkpoint GET.
    let app = ok(&s, &t, "POST", "/api/v2/clients", Some(json!({"name": "second"})), 201).await;
    let app_id = app["client_id"].as_str().unwrap();
    ok(
        &s,
        &t,
        "PATCH",
        &format!("/api/v2/connections/{cid}/clients"),
        Some(json!([{"client_id": app_id, "status": true}])),
        204,
    )
    .await;
    let ec = ok(&s, &t, "GET", &format!("/api/v2/connections/{cid}/clients?take=1"), None, 200).await;
    assert_eq!(ec["clients"], json!([{"client_id": ADMIN_ID}]));
    let ec2 = ok(
        &s,
        &t,
        "GET",
        &format!("/api/v2/connections/{cid}/clients?take=1&from={}", ec["next"].as_str().unwrap()),
        None,
        200,
    )
    .await;
    assert_eq!(ec2, json!({"clients": [{"client_id": app_id}]}));
    ok(&s, &t, "PATCH", &format!("/api/v2/connections/{cid}/clients"), Some(json!([{"client_id": app_id}])), 400).await;
    ok(&s, &t, "PATCH", &format!("/api/v2/connections/{cid}/clients"), Some(json!({"client_id": app_id})), 400).await;
    // Deleting the client takes it out of enabled_clients.
    ok(&s, &t, "DELETE", &format!("/api/v2/clients/{app_id}"), None, 204).await;
    let got = ok(&s, &t, "GET", &format!("/api/v2/connections/{cid}"), None, 200).await;
    assert_eq!(got["enabled_clients"], json!([ADMIN_ID]));

    // PATCH replaces options as a whole.
    let p = ok(
        &s,
        &t,
        "PATCH",
        &format!("/api/v2/connections/{cid}"),
        Some(json!({"options": {"passwordPolicy": "excellent"}})),
        200,
    )
    .await;
    assert_eq!(p["options"], json!({"passwordPolicy": "excellent"}));
    ok(&s, &t, "PATCH", &format!("/api/v2/connections/{cid}"), Some(json!({"name": "renamed"})), 400).await;

    // Deleting the connection is 202 and takes its users with it.
    let d = ok(&s, &t, "DELETE", &format!("/api/v2/connections/{cid}"), None, 202).await;
    assert!(d["deleted_at"].as_str().unwrap().ends_with('Z'));
    ok(&s, &t, "GET", &format!("/api/v2/users/{}", u["user_id"].as_str().unwrap().replace('|', "%7C")), None, 404)
        .await;
    let r = ok(&s, &t, "GET", &format!("/api/v2/connections/{cid}"), None, 404).await;
    assert_eq!(r["errorCode"], "inexistent_connection");
    ok(&s, &t, "DELETE", &format!("/api/v2/connections/{cid}"), None, 404).await;
}

#[tokio::test]
async fn grants_subject_types_summaries_metadata_and_rfc9068() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    // The bootstrap admin app has Auth0's client defaults.
    let admin = ok(&s, &t, "GET", &format!("/api/v2/clients/{ADMIN_ID}"), None, 200).await;
    assert_eq!(admin["token_endpoint_auth_method"], "client_secret_post");
    assert!(admin["jwt_configuration"].is_object() && admin["refresh_token"].is_object());
    // The Management API as observed: 24-hex id, web lifetime.
    let mgmt = ok(
        &s,
        &t,
        "GET",
        &format!("/api/v2/resource-servers/{}", AUDIENCE.replace(':', "%3A").replace('/', "%2F")),
        None,
        200,
    )
    .await;
    assert_eq!(mgmt["token_lifetime_for_web"], 7200);
    let id = mgmt["id"].as_str().unwrap();
    assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");

    ok(
        &s,
        &t,
        "POST",
        "/api/v2/resource-servers",
        Some(json!({"identifier": "urn:r", "token_lifetime": 900, "token_dialect": "rfc9068_profile_authz"})),
        201,
    )
    .await;
    ok(&s, &t, "PATCH", "/api/v2/resource-servers/urn%3Ar", Some(json!({"token_lifetime_for_web": 600})), 200).await;
    ok(&s, &t, "PATCH", "/api/v2/resource-servers/urn%3Ar", Some(json!({"token_lifetime_for_web": 901})), 400).await;
    let c = ok(
        &s,
        &t,
        "POST",
        "/api/v2/clients",
        Some(json!({"name": "m2m", "app_type": "non_interactive", "client_metadata": {"team": "x"}})),
        201,
    )
    .await;
    let cid = c["client_id"].as_str().unwrap();
    let g = ok(
        &s,
        &t,
        "POST",
        "/api/v2/client-grants",
        Some(json!({"client_id": cid, "audience": "urn:r", "scope": []})),
        201,
    )
    .await;
    assert_eq!(g["subject_type"], "client");
    let (st, body) = token(&s, cid, c["client_secret"].as_str().unwrap(), "urn:r").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let tok = body["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tok.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    let cl = claims(tok);
    assert_eq!(cl["client_id"], cid);
    assert!(cl["jti"].is_string() && cl.get("azp").is_none() && cl.get("gty").is_none());
    assert_eq!(cl["permissions"], json!([]));

    // A user-flow grant does not allow client credentials; filters find it.
    let u = ok(&s, &t, "POST", "/api/v2/clients", Some(json!({"name": "web"})), 201).await;
    let uid = u["client_id"].as_str().unwrap();
    ok(
        &s,
        &t,
        "POST",
        "/api/v2/client-grants",
        Some(json!({"client_id": uid, "audience": "urn:r", "scope": [], "subject_type": "user"})),
        201,
    )
    .await;
    let (st, _) = token(&s, uid, u["client_secret"].as_str().unwrap(), "urn:r").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        ok(&s, &t, "GET", "/api/v2/client-grants?audience=urn%3Ar&subject_type=user", None, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(&s, &t, "GET", "/api/v2/client-grants?audience=urn%3Ar&subject_type=client", None, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(&s, &t, "GET", "/api/v2/client-grants?audience=urn%3Ar&allow_any_organization=true", None, 200).await,
        json!([])
    );
    ok(&s, &t, "GET", "/api/v2/client-grants?subject_type=robot", None, 400).await;
    ok(&s, &t, "GET", "/api/v2/client-grants?allow_any_organization=maybe", None, 400).await;

    // client_metadata values are short strings.
    for md in [json!({"n": 1}), json!({"o": {"x": "y"}}), json!({"s": "x".repeat(256)})] {
        ok(&s, &t, "POST", "/api/v2/clients", Some(json!({"name": "md", "client_metadata": md})), 400).await;
    }
    // read:client_summary sees the summary only.
    s.client_with_scopes("summary", "summary-secret", &["read:client_summary"]).await;
    let st = s.token_for("summary", "summary-secret").await;
    let one = ok(&s, &st, "GET", &format!("/api/v2/clients/{cid}"), None, 200).await;
    assert_eq!(one, json!({"client_id": cid, "app_type": "non_interactive", "name": "m2m"}));
    let list = ok(&s, &st, "GET", "/api/v2/clients", None, 200).await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c.get("callbacks").is_none() && c.get("client_metadata").is_none() && c.get("grant_types").is_none()));
}

#[tokio::test]
async fn connection_password_rules_are_enforced() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    ok(
        &s,
        &t,
        "POST",
        "/api/v2/connections",
        Some(json!({"name": "strict", "strategy": "auth0", "enabled_clients": [ADMIN_ID],
        "options": {"passwordPolicy": "low", "password_no_personal_info": {"enable": true},
                    "password_dictionary": {"enable": true, "dictionary": ["castellan-rocks"]},
                    "password_history": {"enable": true, "size": 2}}})),
        201,
    )
    .await;
    let create =
        |email: &str, pw: &str| json!({"connection": "strict", "email": email, "password": pw, "name": "Zebedee Quux"});
    let r = ok(&s, &t, "POST", "/api/v2/users", Some(create("zeb@example.com", "my-zebedee-pw")), 400).await;
    assert_eq!(r["message"], "PasswordNoUserInfoError: Password contains user information");
    let r = ok(&s, &t, "POST", "/api/v2/users", Some(create("zeb@example.com", "password123")), 400).await;
    assert_eq!(r["message"], "PasswordDictionaryError: Password is too common");
    ok(&s, &t, "POST", "/api/v2/users", Some(create("zeb@example.com", "Castellan-Rocks")), 400).await;
    let u = ok(&s, &t, "POST", "/api/v2/users", Some(create("zeb@example.com", "first-secret-1")), 201).await;
    let path = format!("/api/v2/users/{}", u["user_id"].as_str().unwrap().replace('|', "%7C"));
    let r = ok(&s, &t, "PATCH", &path, Some(json!({"password": "first-secret-1"})), 400).await;
    assert_eq!(r["message"], "PasswordHistoryError: Password has previously been used");
    ok(&s, &t, "PATCH", &path, Some(json!({"password": "second-secret-2"})), 200).await;
    ok(&s, &t, "PATCH", &path, Some(json!({"password": "first-secret-1"})), 400).await;
    ok(&s, &t, "PATCH", &path, Some(json!({"password": "third-secret-3"})), 200).await;
    // Size 2: the current and the one before; the first is out of the window now.
    ok(&s, &t, "PATCH", &path, Some(json!({"password": "first-secret-1"})), 200).await;
}
