//! Log events recorded for every action, and the logs API, in process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

const CONN: &str = "Username-Password-Authentication";

async fn logs(s: &TestServer, t: &str, query: &str) -> Value {
    let query = query.replace(' ', "%20").replace('[', "%5B").replace(']', "%5D").replace('"', "%22");
    let r = s.call("GET", &format!("/api/v2/logs?{query}"), Some(t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {:?}", r.body);
    r.body
}

fn types(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn every_action_leaves_an_event() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let bad = s
        .call("POST", "/oauth/token", None, Some(json!({"grant_type":"client_credentials","client_id":ADMIN_ID,"client_secret":"wrong","audience":AUDIENCE})))
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);

    let seccft = logs(&s, &t, "q=type:seccft").await;
    let e = &seccft[0];
    assert_eq!((e["client_id"].as_str(), e["audience"].as_str()), (Some(ADMIN_ID), Some(AUDIENCE)));
    assert!(e["scope"].as_str().unwrap().contains("read:users"));
    assert_eq!(e["client_name"], "castellan admin (bootstrap)");
    assert_eq!(e["_id"], e["log_id"]);
    assert_eq!(e["log_id"].as_str().unwrap().len(), 56);
    let feccft = logs(&s, &t, "q=type:feccft").await;
    assert_eq!(feccft[0]["description"], "Unauthorized");

    let u = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": CONN, "email": "h@example.com", "password": "S3cret-Passw0rd"})),
        )
        .await
        .body;
    let uid = u["user_id"].as_str().unwrap();
    let path = format!("/api/v2/users/{}", uid.replace('|', "%7C"));
    s.call("PATCH", &path, Some(&t), Some(json!({"password": "An0ther-Passw0rd"}))).await;
    s.call("PATCH", &path, Some(&t), Some(json!({"blocked": true}))).await;
    // A duplicate: fails, and leaves no signup event.
    let dup = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": CONN, "email": "h@example.com", "password": "S3cret-Passw0rd"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    s.call("GET", "/api/v2/users/auth0%7Cmissing", Some(&t), None).await;
    s.call("DELETE", &path, Some(&t), None).await;

    let all = logs(&s, &t, "per_page=100&sort=date:1").await;
    let kinds = types(&all);
    assert_eq!(kinds, ["seccft", "feccft", "sapi", "ss", "sapi", "scp", "sapi", "fapi", "fapi", "sapi", "sdu"]);
    let text = all.to_string();
    for secret in ["S3cret-Passw0rd", "An0ther-Passw0rd", ADMIN_SECRET, "$2b$", &t] {
        assert!(!text.contains(secret), "an event leaks {secret}");
    }
    let ss = all.as_array().unwrap().iter().find(|e| e["type"] == "ss").unwrap();
    assert_eq!(ss["details"]["body"]["password"], "*****");
    assert_eq!(
        (ss["user_id"].as_str(), ss["user_name"].as_str(), ss["connection"].as_str()),
        (Some(uid), Some("h@example.com"), Some(CONN))
    );
    let sapi = all.as_array().unwrap().iter().find(|e| e["type"] == "sapi").unwrap();
    assert_eq!(sapi["description"], "Create a User");
    assert_eq!(sapi["details"]["request"]["auth"]["credentials"]["scopes"], json!(["create:users"]));
    assert_eq!(sapi["details"]["request"]["method"], "post");
    assert_eq!(sapi["details"]["request"]["path"], "/api/v2/users");
    assert_eq!(sapi["details"]["response"]["statusCode"], 201);
    let fapi = all.as_array().unwrap().iter().find(|e| e["type"] == "fapi").unwrap();
    assert_eq!(fapi["details"]["response"]["statusCode"], 409);
    assert_eq!(fapi["description"], "The user already exists.");

    // A user's history, newest first.
    let r = s.call("GET", &format!("{path}/logs"), Some(&t), None).await;
    assert_eq!(types(&r.body), ["sdu", "scp", "ss"]);
    let r = s.call("GET", &format!("{path}/logs?include_totals=true&per_page=2&page=0"), Some(&t), None).await;
    assert_eq!(
        (r.body["total"].as_u64(), r.body["length"].as_u64(), r.body["limit"].as_u64()),
        (Some(3), Some(2), Some(2))
    );
}

#[tokio::test]
async fn search_paging_and_checkpoints() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    for i in 0..5 {
        s.clock.advance_ms(1000);
        s.call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": CONN, "email": format!("u{i}@example.com"), "password": "S3cret-Passw0rd"})),
        )
        .await;
    }
    let r = logs(&s, &t, "q=type:ss&include_totals=true&per_page=2&page=1").await;
    assert_eq!(
        (r["start"].as_u64(), r["limit"].as_u64(), r["length"].as_u64(), r["total"].as_u64()),
        (Some(2), Some(2), Some(2), Some(5))
    );
    assert_eq!(r["logs"][0]["user_name"], "u2@example.com", "newest first: u4, u3 | u2, u1");
    // The newer SDKs' `search` parameter, and a bare term over user_name.
    assert_eq!(logs(&s, &t, "search=user_name:u1@example.com").await.as_array().unwrap().len(), 1);
    assert_eq!(logs(&s, &t, "q=type:ss AND user_name:u1*").await.as_array().unwrap().len(), 1);
    assert_eq!(logs(&s, &t, "q=NOT type:ss&per_page=100").await.as_array().unwrap().len(), 6, "seccft + 5 sapi");
    let dated = logs(&s, &t, "q=date:[2023-11-14T22:13:22 TO *] AND type:ss").await;
    assert_eq!(dated.as_array().unwrap().len(), 4);
    // Ranges bound log_id too (see log_id_bounds): the edges stay exact to
    // the millisecond. The five `ss` events are at 22:13:21 … 22:13:25.
    for (range, want) in [
        ("[2023-11-14T22:13:22 TO 2023-11-14T22:13:24]", 3),
        ("{2023-11-14T22:13:22 TO 2023-11-14T22:13:24}", 1),
        ("[2023-11-14T22:13:22.001 TO 2023-11-14T22:13:23.999]", 1),
        ("[2023-11-14T22:13:21.999 TO 2023-11-14T22:13:22.000]", 1),
        ("[* TO 2023-11-14T22:13:21]", 1),
        ("{2023-11-14T22:13:25 TO *]", 0),
        // Dates outside what a log_id can spell: no log_id bound, same answer.
        ("[0001-01-01 TO 9999-12-31]", 5),
    ] {
        let got = logs(&s, &t, &format!("q=date:{range} AND type:ss&per_page=100")).await;
        assert_eq!(got.as_array().map(Vec::len), Some(want), "date:{range}: {got}");
    }
    // `auth0 logs tail`'s query: everything from a log_id on.
    let first = logs(&s, &t, "sort=date:1&per_page=1").await[0]["log_id"].as_str().unwrap().to_string();
    let tail = logs(&s, &t, &format!("q=log_id:[{first} TO *]&per_page=100")).await;
    assert_eq!(tail.as_array().unwrap().len(), 11);
    // Checkpoints: events after an id, oldest first, as a bare array.
    let c1 = logs(&s, &t, &format!("from={first}&take=3")).await;
    assert_eq!(c1.as_array().unwrap().len(), 3);
    assert!(c1[0]["log_id"].as_str().unwrap() > first.as_str());
    assert!(c1[0]["log_id"].as_str().unwrap() < c1[1]["log_id"].as_str().unwrap());
    let last = c1[2]["log_id"].as_str().unwrap();
    let c2 = logs(&s, &t, &format!("from={last}&take=100")).await;
    assert_eq!(c2.as_array().unwrap().len(), 7);
    // One event; fields.
    let one = s.call("GET", &format!("/api/v2/logs/{first}"), Some(&t), None).await;
    assert_eq!(one.body["type"], "seccft");
    let r = s.call("GET", "/api/v2/logs/900123", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let f = logs(&s, &t, "fields=type,log_id&include_fields=true&per_page=1").await;
    assert_eq!(f[0].as_object().unwrap().len(), 2);
    // Bad input.
    for q in ["q=nosuch:x", "q=type:(", "per_page=101", "sort=type:1", "page=10&per_page=100", "take=0&from=1"] {
        let r = s.call("GET", &format!("/api/v2/logs?{q}"), Some(&t), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
    }
    // Scopes.
    s.client_with_scopes("noreader", "noreader-secret", &["read:users"]).await;
    let nt = s.token_for("noreader", "noreader-secret").await;
    assert_eq!(s.call("GET", "/api/v2/logs", Some(&nt), None).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn role_writes_leave_events() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let role = s.call("POST", "/api/v2/roles", Some(&t), Some(json!({"name": "auditors"}))).await.body;
    let rid = role["id"].as_str().unwrap();
    let u = s
        .call(
            "POST",
            "/api/v2/users",
            Some(&t),
            Some(json!({"connection": CONN, "email": "r@example.com", "password": "S3cret-Passw0rd"})),
        )
        .await
        .body;
    let uid = u["user_id"].as_str().unwrap().replace('|', "%7C");
    assert_eq!(
        s.call("POST", &format!("/api/v2/users/{uid}/roles"), Some(&t), Some(json!({"roles": [rid]}))).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.call("DELETE", &format!("/api/v2/roles/{rid}"), Some(&t), None).await.status, StatusCode::OK);
    let sapi = logs(&s, &t, "q=type:sapi&sort=date:1").await;
    let descriptions: Vec<&str> = sapi.as_array().unwrap().iter().map(|e| e["description"].as_str().unwrap()).collect();
    assert_eq!(descriptions, ["Create a role", "Create a User", "Assign roles to a user", "Delete a role"]);
    assert_eq!(sapi[2]["details"]["request"]["body"], json!({"roles": [rid]}));
}

/// Token events of concurrent requests share transactions (group commit):
/// every request still gets exactly its own event, written before it answers,
/// and events of two tenants in one batch stay with their tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_token_events_are_each_written_once() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let mut tasks = Vec::new();
    for i in 0..48 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let (id, secret, host) = match i % 3 {
                0 => (ADMIN_ID, ADMIN_SECRET.to_string(), DOMAIN),
                1 => (ADMIN_ID, format!("wrong-{i}"), DOMAIN),
                _ => ("otheradmin", "other-secret".to_string(), "other.test"),
            };
            let body = json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
                "audience": if host == DOMAIN { AUDIENCE.to_string() } else { "https://other.test/api/v2/".to_string() }});
            let req = axum::http::Request::builder()
                .method("POST")
                .uri("/oauth/token")
                .header("host", host)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            s.send(req).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 32, "{statuses:?}");
    let t = s.admin_token().await; // one more seccft
    let ok = s.call("GET", "/api/v2/logs?q=type:seccft&include_totals=true&per_page=100", Some(&t), None).await;
    assert_eq!(ok.body["total"], 17, "{:?}", ok.body["total"]);
    let failed = s.call("GET", "/api/v2/logs?q=type:feccft&include_totals=true&per_page=100", Some(&t), None).await;
    assert_eq!(failed.body["total"], 16);
    let mut ids: Vec<&str> =
        ok.body["logs"].as_array().unwrap().iter().map(|e| e["log_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 17, "log ids are unique");
    // The other tenant's 16 events are its own.
    let other = s.app.tenant_for_host("other.test").await.unwrap().unwrap();
    let f = castellan_query::parse("type:seccft", &castellan_query::LogSchema).unwrap();
    let (_, total) = s
        .app
        .store
        .search_logs(other.id, &f, castellan_store::LogSort { descending: true }, 0, 100, true)
        .await
        .unwrap();
    assert_eq!(total, Some(16));
}
