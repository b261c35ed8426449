//! Attack protection in process: the settings' round trips and their effect
//! on password logins (brute-force threshold, off switch, allowlist, Account
//! Lockout mode, suspicious-IP throttling), user blocks and anomaly IP
//! blocks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod enduser_common;

use axum::http::StatusCode;
use common::*;
use enduser_common::*;
use serde_json::{json, Value};

const BRUTE: &str = "/api/v2/attack-protection/brute-force-protection";
const SUSPICIOUS: &str = "/api/v2/attack-protection/suspicious-ip-throttling";
const BREACHED: &str = "/api/v2/attack-protection/breached-password-detection";
const HOME: [u8; 4] = [192, 0, 2, 1];

async fn patch_ok(s: &TestServer, t: &str, path: &str, body: Value) -> Value {
    let r = s.call("PATCH", path, Some(t), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn fail_logins(s: &TestServer, u: &EndUser, ip: [u8; 4], n: usize) {
    for _ in 0..n {
        let r = login_from(s, u, ip, EMAIL, "wrong").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
}

#[tokio::test]
async fn settings_round_trip_with_auth0_defaults() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let defaults = [
        (
            BRUTE,
            json!({"enabled": true, "shields": ["block", "user_notification"], "mode": "count_per_identifier_and_ip",
                   "allowlist": [], "max_attempts": 10}),
        ),
        (
            SUSPICIOUS,
            json!({"enabled": true, "shields": ["block", "admin_notification"], "allowlist": [],
                   "stage": {"pre-login": {"max_attempts": 100, "rate": 864000},
                             "pre-user-registration": {"max_attempts": 50, "rate": 1728000},
                             "pre-custom-token-exchange": {"max_attempts": 10, "rate": 600000}}}),
        ),
        (
            BREACHED,
            json!({"enabled": false, "shields": [], "admin_notification_frequency": [], "method": "standard",
                   "stage": {"pre-user-registration": {"shields": []}, "pre-change-password": {"shields": []}}}),
        ),
    ];
    for (path, want) in &defaults {
        let r = s.call("GET", path, Some(&t), None).await;
        assert_eq!((r.status, &r.body), (StatusCode::OK, want), "{path}");
    }

    // PATCH merges and answers the whole object; GET agrees.
    let out = patch_ok(&s, &t, BRUTE, json!({"max_attempts": 3, "allowlist": ["10.0.0.0/8", "2001:db8::1"]})).await;
    assert_eq!(
        out,
        json!({"enabled": true, "shields": ["block", "user_notification"], "mode": "count_per_identifier_and_ip",
               "allowlist": ["10.0.0.0/8", "2001:db8::1"], "max_attempts": 3})
    );
    assert_eq!(s.call("GET", BRUTE, Some(&t), None).await.body, out);
    let out = patch_ok(&s, &t, SUSPICIOUS, json!({"stage": {"pre-login": {"max_attempts": 5}}})).await;
    assert_eq!(out["stage"]["pre-login"], json!({"max_attempts": 5, "rate": 864000}));
    assert_eq!(out["stage"]["pre-user-registration"], json!({"max_attempts": 50, "rate": 1728000}));
    let out = patch_ok(
        &s,
        &t,
        BREACHED,
        json!({"enabled": true, "shields": ["block"], "stage": {"pre-change-password": {"shields": ["block"]}}}),
    )
    .await;
    assert_eq!(
        out,
        json!({"enabled": true, "shields": ["block"], "admin_notification_frequency": [], "method": "standard",
               "stage": {"pre-user-registration": {"shields": []}, "pre-change-password": {"shields": ["block"]}}})
    );
    assert_eq!(s.call("GET", BREACHED, Some(&t), None).await.body, out);

    // Bad bodies are 400 and change nothing.
    let before = s.call("GET", BRUTE, Some(&t), None).await.body;
    for bad in [
        json!({"max_attempts": 0}),
        json!({"max_attempts": 101}),
        json!({"mode": "sometimes"}),
        json!({"shields": ["shout"]}),
        json!({"allowlist": ["not-an-ip"]}),
        json!({"allowlist": ["10.0.0.0/33"]}),
        json!({"enabled": "yes"}),
        json!({"unknown": true}),
        json!([]),
    ] {
        let r = s.call("PATCH", BRUTE, Some(&t), Some(bad.clone())).await;
        assert_eq!((r.status, r.body["errorCode"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{bad}");
    }
    let r = s.call("PATCH", SUSPICIOUS, Some(&t), Some(json!({"stage": {"pre-login": {"rate": 1}}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "rate below Auth0's minimum");
    assert_eq!(s.call("GET", BRUTE, Some(&t), None).await.body, before);

    // Each write is recorded; scopes are Auth0's.
    assert_eq!(count_events(&s, &t, "sapi").await, 3);
    s.client_with_scopes("reader", "reader-secret-value", &["read:attack_protection"]).await;
    let reader = s.token_for("reader", "reader-secret-value").await;
    assert_eq!(s.call("GET", BRUTE, Some(&reader), None).await.status, StatusCode::OK);
    let r = s.call("PATCH", BRUTE, Some(&reader), Some(json!({"enabled": false}))).await;
    assert_eq!(r.body["message"], "Insufficient scope, expected any of: update:attack_protection");
}

#[tokio::test]
async fn max_attempts_blocks_and_user_blocks_lift_it() {
    let s = TestServer::start().await;
    let u = setup(&s, false).await;
    let t = s.admin_token().await;
    patch_ok(&s, &t, BRUTE, json!({"max_attempts": 3})).await;
    fail_logins(&s, &u, HOME, 2).await;
    assert_eq!(login(&s, &u).await.status, StatusCode::OK, "a success resets the count");
    fail_logins(&s, &u, HOME, 3).await;
    let r = login(&s, &u).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")));
    assert_eq!(login_from(&s, &u, [198, 51, 100, 1], EMAIL, PASSWORD).await.status, StatusCode::OK, "other IPs");
    assert_eq!(count_events(&s, &t, "limit_wc").await, 1);

    let uid = u.user_id.replace('|', "%7C");
    let blocked = json!({"blocked_for": [{"identifier": EMAIL, "ip": "192.0.2.1", "connection": CONN}]});
    let r = s.call("GET", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await;
    assert_eq!((r.status, &r.body), (StatusCode::OK, &blocked));
    let r = s.call("GET", "/api/v2/user-blocks?identifier=Jane%40Example.com", Some(&t), None).await;
    assert_eq!(r.body["blocked_for"][0]["ip"], "192.0.2.1");
    let r = s.call("GET", "/api/v2/user-blocks?identifier=nobody%40example.com", Some(&t), None).await;
    assert_eq!(r.body, json!({"blocked_for": []}));
    let r = s.call("GET", "/api/v2/user-blocks", Some(&t), None).await;
    assert_eq!((r.status, r.body["errorCode"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query_string")));
    let r = s.call("GET", "/api/v2/user-blocks/auth0%7Cnobody", Some(&t), None).await;
    assert_eq!((r.status, r.body["errorCode"].as_str()), (StatusCode::NOT_FOUND, Some("inexistent_user")));

    // Raising the threshold lifts the block; lowering it again does not block by itself.
    patch_ok(&s, &t, BRUTE, json!({"max_attempts": 5})).await;
    let r = s.call("GET", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await;
    assert_eq!(r.body, json!({"blocked_for": []}));
    patch_ok(&s, &t, BRUTE, json!({"max_attempts": 3})).await;
    assert_eq!(s.call("GET", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await.body, blocked);

    // consider_brute_force_enablement hides blocks while protection is off.
    patch_ok(&s, &t, BRUTE, json!({"enabled": false})).await;
    let r =
        s.call("GET", &format!("/api/v2/user-blocks/{uid}?consider_brute_force_enablement=true"), Some(&t), None).await;
    assert_eq!(r.body, json!({"blocked_for": []}));
    assert_eq!(s.call("GET", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await.body, blocked);
    patch_ok(&s, &t, BRUTE, json!({"enabled": true})).await;

    // DELETE lifts it (204) and logs ublkdu; the login works again.
    let r = s.call("DELETE", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    assert_eq!(
        s.call("GET", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await.body,
        json!({"blocked_for": []})
    );
    assert_eq!(login(&s, &u).await.status, StatusCode::OK);
    assert_eq!(count_events(&s, &t, "ublkdu").await, 1);
    let r = s.call("DELETE", "/api/v2/user-blocks/auth0%7Cnobody", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // By identifier; an administrator's block stays.
    fail_logins(&s, &u, HOME, 3).await;
    let r = s.call("PATCH", &u.user_path(), Some(&t), Some(json!({"blocked": true}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .call("DELETE", &format!("/api/v2/user-blocks?identifier={}", EMAIL.replace('@', "%40")), Some(&t), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = login(&s, &u).await;
    assert_eq!((r.status, r.body["error_description"].as_str()), (StatusCode::UNAUTHORIZED, Some("user is blocked")));
    let r = s.call("DELETE", "/api/v2/user-blocks?identifier=nobody%40example.com", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn disabled_protection_and_allowlisted_ips_never_block() {
    let s = TestServer::start().await;
    let u = setup(&s, false).await;
    let t = s.admin_token().await;
    patch_ok(&s, &t, BRUTE, json!({"max_attempts": 3, "enabled": false})).await;
    fail_logins(&s, &u, HOME, 6).await;
    assert_eq!(login(&s, &u).await.status, StatusCode::OK);

    patch_ok(&s, &t, BRUTE, json!({"enabled": true, "allowlist": ["10.0.0.0/8"]})).await;
    fail_logins(&s, &u, [10, 1, 2, 3], 6).await;
    assert_eq!(login_from(&s, &u, [10, 1, 2, 3], EMAIL, PASSWORD).await.status, StatusCode::OK);
    fail_logins(&s, &u, [10, 9, 9, 9], 6).await;
    assert_eq!(login_from(&s, &u, [10, 9, 9, 9], EMAIL, PASSWORD).await.status, StatusCode::OK);
    // Without the block shield nothing is blocked either.
    patch_ok(&s, &t, BRUTE, json!({"shields": ["user_notification"]})).await;
    fail_logins(&s, &u, HOME, 4).await;
    assert_eq!(login(&s, &u).await.status, StatusCode::OK);
    patch_ok(&s, &t, BRUTE, json!({"shields": ["block"]})).await;
    fail_logins(&s, &u, HOME, 3).await;
    assert_eq!(login(&s, &u).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(count_events(&s, &t, "limit_wc").await, 1);
}

#[tokio::test]
async fn account_lockout_counts_every_ip_together() {
    let s = TestServer::start().await;
    let u = setup(&s, false).await;
    let t = s.admin_token().await;
    patch_ok(&s, &t, BRUTE, json!({"max_attempts": 3, "mode": "count_per_identifier"})).await;
    for last in 1..=3 {
        fail_logins(&s, &u, [203, 0, 113, last], 1).await;
    }
    let r = login_from(&s, &u, [198, 51, 100, 200], EMAIL, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "blocked from every IP: {:?}", r.body);
    let uid = u.user_id.replace('|', "%7C");
    let r = s.call("GET", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await;
    assert_eq!(r.body, json!({"blocked_for": [{"identifier": EMAIL, "connection": CONN}]}), "no ip in Account Lockout");
    s.call("DELETE", &format!("/api/v2/user-blocks/{uid}"), Some(&t), None).await;
    assert_eq!(login(&s, &u).await.status, StatusCode::OK);
}

#[tokio::test]
async fn suspicious_ips_are_throttled_and_anomaly_blocks_lifted() {
    let s = TestServer::start().await;
    let u = setup(&s, false).await;
    let t = s.admin_token().await;
    patch_ok(
        &s,
        &t,
        SUSPICIOUS,
        json!({"allowlist": ["203.0.113.0/24"], "stage": {"pre-login": {"max_attempts": 3, "rate": 60000}}}),
    )
    .await;
    let attacker = [198, 51, 100, 7];
    let not_found = json!({"statusCode": 404, "error": "Not Found", "message": "Not Found"});
    let r = s.call("GET", "/api/v2/anomaly/blocks/ips/198.51.100.7", Some(&t), None).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::NOT_FOUND, not_found.clone()));

    // Failures against different accounts from one IP.
    for name in ["a@example.com", "b@example.com", EMAIL] {
        let r = login_from(&s, &u, attacker, name, "guess").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = login_from(&s, &u, attacker, EMAIL, PASSWORD).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")));
    assert_eq!(login(&s, &u).await.status, StatusCode::OK, "other IPs are not throttled");
    assert_eq!(count_events(&s, &t, "limit_mu").await, 1);
    let r = s.call("GET", "/api/v2/anomaly/blocks/ips/198.51.100.7", Some(&t), None).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::OK, 0));
    let r = s.call("GET", "/api/v2/anomaly/blocks/ips/198.51.100.8", Some(&t), None).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, not_found.clone()));
    let r = s.call("GET", "/api/v2/anomaly/blocks/ips/not-an-ip", Some(&t), None).await;
    assert_eq!((r.status, r.body["errorCode"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_uri")));

    // One attempt comes back per `rate`.
    s.clock.advance_ms(60_000);
    assert_eq!(login_from(&s, &u, attacker, EMAIL, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(login_from(&s, &u, attacker, EMAIL, "guess").await.status, StatusCode::FORBIDDEN);
    assert_eq!(login_from(&s, &u, attacker, EMAIL, PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);

    // DELETE lifts the block.
    let r = s.call("DELETE", "/api/v2/anomaly/blocks/ips/198.51.100.7", Some(&t), None).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    assert_eq!(
        s.call("GET", "/api/v2/anomaly/blocks/ips/198.51.100.7", Some(&t), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(login_from(&s, &u, attacker, EMAIL, PASSWORD).await.status, StatusCode::OK);
    assert_eq!(count_events(&s, &t, "ublkdu").await, 1);
    let r = s.call("DELETE", "/api/v2/anomaly/blocks/ips/198.51.100.99", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "nothing to lift is still 204");

    // Allowlisted IPs and a disabled setting never throttle.
    let trusted = [203, 0, 113, 5];
    for _ in 0..5 {
        login_from(&s, &u, trusted, "x@example.com", "guess").await;
    }
    assert_eq!(login_from(&s, &u, trusted, EMAIL, PASSWORD).await.status, StatusCode::OK);
    patch_ok(&s, &t, SUSPICIOUS, json!({"enabled": false})).await;
    let other = [198, 51, 100, 66];
    for _ in 0..5 {
        login_from(&s, &u, other, "x@example.com", "guess").await;
    }
    assert_eq!(login_from(&s, &u, other, EMAIL, PASSWORD).await.status, StatusCode::OK);

    // Scopes.
    s.client_with_scopes("reader", "reader-secret-value", &["read:anomaly_blocks"]).await;
    let reader = s.token_for("reader", "reader-secret-value").await;
    let r = s.call("DELETE", "/api/v2/anomaly/blocks/ips/1.1.1.1", Some(&reader), None).await;
    assert_eq!(r.body["message"], "Insufficient scope, expected any of: delete:anomaly_blocks");
}
