//! Log streams in process, delivering to a real HTTP receiver on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use castellan_service::streams::StreamWorker;
use common::*;
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    fail_with: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let state = r.clone();
        let app = axum::Router::new().route(
            "/in",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let fail = state.fail_with.load(Ordering::SeqCst);
                    if fail != 0 {
                        return StatusCode::from_u16(fail).unwrap();
                    }
                    state.got.lock().unwrap().push((headers, body));
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, url)
    }

    /// Every delivered wrapper, in arrival order.
    fn events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for (_, body) in self.got.lock().unwrap().iter() {
            let text = String::from_utf8(body.to_vec()).unwrap();
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(items)) => out.extend(items),
                Ok(v) => out.push(v),
                Err(_) => out.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap())),
            }
        }
        out
    }
}

fn worker(owner: &str) -> StreamWorker {
    StreamWorker { owner: owner.into(), request_timeout: Duration::from_secs(5), ..Default::default() }
}

async fn make_events(s: &TestServer, n: usize) {
    for _ in 0..n {
        s.admin_token().await;
    }
}

#[tokio::test]
async fn delivers_once_in_order_through_an_outage() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let (rx, url) = Receiver::start().await;
    let r = s
        .call("POST", "/api/v2/log-streams", Some(&t), Some(json!({"name": "hook", "type": "http",
            "sink": {"httpEndpoint": url, "httpContentType": "application/json", "httpContentFormat": "JSONLINES",
                     "httpAuthorization": "Bearer sink-secret", "httpCustomHeaders": [{"header": "X-Tenant", "value": "t1"}]}})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("lst_") && id.len() == 20, "{id}");
    assert_eq!(r.body["status"], "active");

    make_events(&s, 3).await;
    s.app.deliver_round(&worker("a")).await.unwrap();
    let got = rx.events();
    // The stream's own creation (sapi) and three token exchanges.
    let kinds: Vec<&str> = got.iter().map(|w| w["data"]["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sapi", "seccft", "seccft", "seccft"]);
    assert!(got.iter().all(|w| w["log_id"] == w["data"]["log_id"]));
    let ids: Vec<&str> = got.iter().map(|w| w["log_id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    let (headers, _) = rx.got.lock().unwrap()[0].clone();
    assert_eq!(headers["authorization"], "Bearer sink-secret");
    assert_eq!(headers["x-tenant"], "t1");
    assert_eq!(headers["content-type"], "application/json");
    // Nothing is sent twice.
    s.app.deliver_round(&worker("a")).await.unwrap();
    assert_eq!(rx.events().len(), 4);

    // The receiver fails for a while: events wait, retried after backoff.
    rx.fail_with.store(503, Ordering::SeqCst);
    make_events(&s, 2).await;
    s.app.deliver_round(&worker("a")).await.unwrap();
    s.app.deliver_round(&worker("a")).await.unwrap();
    assert_eq!(rx.events().len(), 4);
    let tenant = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    assert_eq!(s.app.store.log_outbox_len(tenant.id, &id).await.unwrap(), 2);
    rx.fail_with.store(0, Ordering::SeqCst);
    s.app.deliver_round(&worker("a")).await.unwrap();
    assert_eq!(rx.events().len(), 4, "not before the backoff");
    s.clock.advance_ms(1500);
    s.app.deliver_round(&worker("a")).await.unwrap();
    assert_eq!(rx.events().len(), 6);
    assert_eq!(s.app.store.log_outbox_len(tenant.id, &id).await.unwrap(), 0);

    // Another instance cannot take the stream while the first holds its lease.
    make_events(&s, 1).await;
    s.app.deliver_round(&worker("b")).await.unwrap();
    assert_eq!(rx.events().len(), 6, "instance b is locked out");
    s.clock.advance_ms(31_000);
    s.app.deliver_round(&worker("b")).await.unwrap();
    assert_eq!(rx.events().len(), 7, "after the lease expired, b delivers");
}

#[tokio::test]
async fn a_round_says_when_a_stream_has_more_than_it_sends() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let (rx, url) = Receiver::start().await;
    let r = s
        .call(
            "POST",
            "/api/v2/log-streams",
            Some(&t),
            Some(json!({"name": "cap", "type": "http",
            "sink": {"httpEndpoint": url, "httpContentType": "application/json", "httpContentFormat": "JSONLINES"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    make_events(&s, 25).await;
    // One event a batch: a round sends 20 batches, then lets the worker
    // know that more are waiting (it starts the next round at once).
    let w = StreamWorker { batch: 1, ..worker("a") };
    assert!(s.app.deliver_round(&w).await.unwrap(), "stopped at the cap");
    assert_eq!(rx.events().len(), 20);
    assert!(!s.app.deliver_round(&w).await.unwrap(), "drained");
    // The stream's creation and the 25 token exchanges.
    assert_eq!(rx.events().len(), 26);
    assert!(!s.app.deliver_round(&w).await.unwrap());
}

#[tokio::test]
async fn queue_survives_a_restart_and_filters_formats_pause_suspend() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let (rx, url) = Receiver::start().await;
    let mk = |body: Value| {
        let (s, t) = (&s, &t);
        async move { s.call("POST", "/api/v2/log-streams", Some(t), Some(body)).await.body }
    };
    let mgmt =
        mk(json!({"name": "mgmt", "type": "http", "filters": [{"type": "category", "name": "management.success"}],
        "sink": {"httpEndpoint": format!("{url}?s=mgmt"), "httpContentFormat": "JSONARRAY"}}))
        .await;
    assert_eq!(mgmt["filters"][0]["name"], "management.success");
    make_events(&s, 2).await;
    s.call("POST", "/api/v2/users", Some(&t), Some(json!({"connection": "Username-Password-Authentication", "email": "a@b.example", "password": "S3cret-Passw0rd"}))).await;

    // "Restart": a new App on the same database file delivers what was queued.
    let restarted = castellan_service::App::new(
        s.app.store.clone(),
        Arc::new(s.clock.clone()),
        castellan_crypto::PasswordHasher::with_cost(1, 4),
    );
    restarted.deliver_round(&worker("after-restart")).await.unwrap();
    let kinds: Vec<String> = rx.events().iter().map(|w| w["data"]["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        kinds,
        ["sapi", "sapi"],
        "only management.success: the stream's and the user's creation, not ss or seccft"
    );

    // Paused: queued, not sent; active again: sent.
    let path = format!("/api/v2/log-streams/{}", mgmt["id"].as_str().unwrap());
    let p = s.call("PATCH", &path, Some(&t), Some(json!({"status": "paused"}))).await;
    assert_eq!(p.body["status"], "paused");
    s.call("DELETE", "/api/v2/users/auth0%7Cnobody", Some(&t), None).await;
    s.call("POST", "/api/v2/resource-servers", Some(&t), Some(json!({"identifier": "urn:x"}))).await;
    restarted.deliver_round(&worker("after-restart")).await.unwrap();
    assert_eq!(rx.events().len(), 2);
    s.call("PATCH", &path, Some(&t), Some(json!({"status": "active"}))).await;
    restarted.deliver_round(&worker("after-restart")).await.unwrap();
    let kinds: Vec<String> = rx.events().iter().map(|w| w["data"]["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds.len(), 6, "then the pausing PATCH, the DELETE, the API, and the re-activating PATCH: {kinds:?}");

    // A receiver that keeps failing gets the stream suspended.
    rx.fail_with.store(500, Ordering::SeqCst);
    make_events(&s, 1).await;
    s.call("POST", "/api/v2/resource-servers", Some(&t), Some(json!({"identifier": "urn:y"}))).await;
    let mut w = worker("after-restart");
    w.suspend_after = Duration::from_secs(60);
    restarted.deliver_round(&w).await.unwrap();
    s.clock.advance_ms(61_000);
    restarted.deliver_round(&w).await.unwrap();
    let got = s.call("GET", &path, Some(&t), None).await.body;
    assert_eq!(got["status"], "suspended");

    // CRUD and bad input.
    let list = s.call("GET", "/api/v2/log-streams", Some(&t), None).await.body;
    assert_eq!(list.as_array().unwrap().len(), 1);
    for bad in [
        json!({"name": "x", "type": "datadog", "sink": {"datadogApiKey": "k", "datadogRegion": "us"}}),
        json!({"name": "x", "type": "http", "sink": {"httpEndpoint": "ftp://nope"}}),
        json!({"name": "x", "type": "http"}),
        json!("not an object"),
    ] {
        let r = s.call("POST", "/api/v2/log-streams", Some(&t), Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
    assert_eq!(
        s.call("PATCH", &path, Some(&t), Some(json!({"status": "exploded"}))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.call("PATCH", &path, Some(&t), Some(json!({"isPriority": true}))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.call("DELETE", &path, Some(&t), None).await.status, StatusCode::NO_CONTENT);
    let r = s.call("GET", &path, Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["message"], "The log stream does not exist.");
    assert_eq!(s.call("DELETE", &path, Some(&t), None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn retention_removes_old_events_only() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    make_events(&s, 3).await;
    s.clock.advance_ms(31 * 86_400_000);
    let fresh = s.admin_token().await;
    assert_eq!(s.app.apply_log_retention().await.unwrap(), 4, "the four token events of 31 days ago");
    let r = s.call("GET", "/api/v2/logs?per_page=100", Some(&fresh), None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let _ = t;
}
