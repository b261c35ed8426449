//! An in-process castellan (real SQLite file, real router) for HTTP tests
//! driven with `Router::oneshot`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use castellan_crypto::PasswordHasher;
use castellan_domain::tenant_model::{Client, ClientGrant};
use castellan_domain::{Clock, FixedClock};
use castellan_service::bootstrap::BootstrapInput;
use castellan_service::App;
use castellan_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const DOMAIN: &str = "tenant.test";
pub const ADMIN_ID: &str = "adminclient";
pub const ADMIN_SECRET: &str = "admin-secret-value";
pub const AUDIENCE: &str = "https://tenant.test/api/v2/";

pub struct TestServer {
    pub app: App,
    pub router: Router,
    pub clock: FixedClock,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scopes() -> Vec<(String, String)> {
    let mut all: Vec<&str> =
        castellan_http::endpoints::ENDPOINTS.iter().flat_map(|e| e.scopes.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter().map(|s| (s.to_string(), String::new())).collect()
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = std::env::temp_dir().join(format!(
            "castellan_http_{}_{}",
            std::process::id(),
            castellan_domain::ids::random_token(10)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&Store::sqlite_url(&dir.join("t.db"))).await.unwrap();
        let clock = FixedClock::new(1_700_000_000_000);
        let app = App::new(store, Arc::new(clock.clone()), PasswordHasher::with_cost(2, 4));
        for (domain, id, secret) in [(DOMAIN, ADMIN_ID, ADMIN_SECRET), ("other.test", "otheradmin", "other-secret")] {
            app.bootstrap_tenant(BootstrapInput {
                domain,
                management_scopes: &scopes(),
                admin_client_id: Some(id.into()),
                admin_client_secret: Some(secret.into()),
            })
            .await
            .unwrap();
        }
        let router = castellan_http::router(app.clone());
        TestServer { app, router, clock, _dir: TempDir(dir) }
    }

    /// Adds an M2M client with a grant of `scopes` on the Management API.
    pub async fn client_with_scopes(&self, id: &str, secret: &str, scopes: &[&str]) {
        let t = self.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
        let client = Client {
            client_id: id.into(),
            name: id.into(),
            app_type: Some("non_interactive".into()),
            grant_types: vec!["client_credentials".into()],
            is_first_party: true,
            global: false,
            extra: Default::default(),
        };
        self.app.store.insert_client(t.id, &client, &t.secrets.hash(secret)).await.unwrap();
        let grant = ClientGrant {
            id: format!("cgr_{id}"),
            client_id: id.into(),
            audience: AUDIENCE.into(),
            scope: scopes.iter().map(|s| s.to_string()).collect(),
            extra: Default::default(),
        };
        self.app.store.insert_client_grant(t.id, &grant, &[]).await.unwrap();
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024).await.unwrap().to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status, headers, body, raw }
    }

    pub async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut b = Request::builder().method(method).uri(uri).header(header::HOST, DOMAIN);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let r = self
            .call(
                "POST",
                "/oauth/token",
                None,
                Some(json!({"grant_type":"client_credentials","client_id":id,"client_secret":secret,"audience":AUDIENCE})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.token_for(ADMIN_ID, ADMIN_SECRET).await
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Replaces values that change between runs (ids, times, hashes) so whole
/// bodies can be compared.
pub fn redact(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, val) in m.iter_mut() {
                    match k.as_str() {
                        "user_id" if val.is_string() => *val = json!("[id]"),
                        "picture" if val.is_string() => *val = json!("[picture]"),
                        _ => walk(val),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}
