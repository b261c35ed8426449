//! `stream-throughput`: how fast castellan delivers a log stream's backlog
//! to a local receiver.
//!
//! 1. A plain-HTTP receiver listens on 127.0.0.1 (the stream check accepts
//!    `http://`), answers 200 and records every event's `log_id`.
//! 2. An `http` stream (JSON lines) is created through the Management API
//!    pointing at it, then paused.
//! 3. N client-credentials token requests each record one `seccft` event,
//!    queued in the paused stream's durable outbox (bulk-loaded events are
//!    not: `insert_logs_bulk` queues nothing).
//! 4. The stream is set active; the clock runs from that PATCH until the
//!    last of the N `seccft` events has arrived. Events/s = N / that time.
//!    Distinct log_ids are counted; a log_id seen twice is a duplicate.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::client::{enc, Req, Target};
use crate::report::Row;
use crate::runner::Stats;
use crate::workloads::{token_request, Ctx};

#[derive(Default)]
struct Received {
    ids: HashSet<String>,
    seccft: u64,
    duplicates: u64,
    posts: u64,
    unparsed: u64,
    last: Option<Instant>,
}

type Shared = Arc<Mutex<Received>>;

fn record(state: &Shared, body: &[u8]) {
    let items: Vec<Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(a)) => a,
        Ok(v) => vec![v],
        Err(_) => String::from_utf8_lossy(body)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect(),
    };
    let Ok(mut s) = state.lock() else { return };
    s.posts += 1;
    for it in items {
        let id = it.get("log_id").and_then(Value::as_str).map(str::to_string);
        let kind = it.get("data").and_then(|d| d.get("type")).and_then(Value::as_str).unwrap_or("");
        let Some(id) = id else {
            s.unparsed += 1;
            continue;
        };
        let seccft = kind == "seccft";
        if s.ids.insert(id) {
            if seccft {
                s.seccft += 1;
            }
        } else {
            s.duplicates += 1;
        }
    }
    s.last = Some(Instant::now());
}

/// Starts the receiver; its port. It runs until the runtime ends.
async fn receiver(state: Shared) -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("receiver: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        record(&state, &body);
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
            });
        }
    });
    Ok(port)
}

async fn call(target: &Target, ctx: &Ctx, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
    let mut c = target.connect().await?;
    let req = match body {
        Some(b) => Req::json(method.clone(), path, &b, ctx.bearer.clone()),
        None => Req { method: method.clone(), path: path.to_string(), body: None, bearer: ctx.bearer.clone() },
    };
    let r = c.send(&req).await?;
    if !r.ok() {
        return Err(format!("{method} {path}: HTTP {} {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    Ok(r.json().unwrap_or(Value::Null))
}

/// Sends `n` token requests over `conns` connections; (successes, errors, seconds).
async fn tokens(target: &Target, ctx: &Arc<Ctx>, n: u64, conns: usize) -> (u64, u64, f64) {
    let issued = Arc::new(AtomicU64::new(0));
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns.max(1) {
        let (target, ctx, issued, ok, bad) = (target.clone(), ctx.clone(), issued.clone(), ok.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            let req = token_request(&ctx.token_style);
            let mut conn = None;
            while issued.fetch_add(1, Ordering::Relaxed) < n {
                if conn.is_none() {
                    conn = target.connect().await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    bad.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match c.send(&req).await {
                    Ok(r) if r.ok() => ok.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => bad.fetch_add(1, Ordering::Relaxed),
                    Err(_) => {
                        conn = None;
                        bad.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed), started.elapsed().as_secs_f64())
}

/// Runs the workload with `n` events; one row (req/s = events delivered per second).
pub async fn throughput(target: &Target, ctx: &Arc<Ctx>, n: u64, conns: usize) -> Result<Row, String> {
    let state: Shared = Arc::new(Mutex::new(Received::default()));
    let port = receiver(state.clone()).await?;
    let created = call(
        target,
        ctx,
        Method::POST,
        "/api/v2/log-streams",
        Some(json!({
            "name": format!("bench-stream-{:x}", ctx.nonce),
            "type": "http",
            "sink": {
                "httpEndpoint": format!("http://127.0.0.1:{port}/ingest"),
                "httpContentFormat": "JSONLINES",
                "httpContentType": "application/json",
            },
        })),
    )
    .await?;
    let id = created.get("id").and_then(Value::as_str).ok_or("the new log stream has no id")?.to_string();
    let path = format!("/api/v2/log-streams/{}", enc(&id));
    let result = async {
        call(target, ctx, Method::PATCH, &path, Some(json!({"status": "paused"}))).await?;
        let (sent, gen_errors, gen_secs) = tokens(target, ctx, n, conns).await;
        let resumed = Instant::now();
        call(target, ctx, Method::PATCH, &path, Some(json!({"status": "active"}))).await?;
        let limit = Duration::from_secs(60 + sent / 50);
        let mut first_at = None;
        loop {
            let (got, last) = match state.lock() {
                Ok(s) => (s.seccft, s.last),
                Err(_) => return Err("receiver state poisoned".to_string()),
            };
            if first_at.is_none() && got > 0 {
                first_at = last.map(|l| l.saturating_duration_since(resumed));
            }
            if got >= sent || resumed.elapsed() > limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = state.lock().map_err(|_| "receiver state poisoned".to_string())?;
        let secs = s.last.map(|l| l.saturating_duration_since(resumed).as_secs_f64()).unwrap_or(0.0);
        let stats = Stats { requests: s.seccft, errors: gen_errors + sent.saturating_sub(s.seccft), secs, ..Default::default() };
        let mut row = Row::new("stream-throughput".into(), conns, &stats);
        row.matches = Some(s.ids.len() as u64);
        row.note = format!(
            "{sent} seccft events queued while paused ({:.0} tokens/s); after resume: first event {:.0} ms, all {:.2} s; {} POSTs, {} duplicates, {} unparsed",
            sent as f64 / gen_secs.max(1e-9),
            first_at.unwrap_or_default().as_secs_f64() * 1000.0,
            secs,
            s.posts,
            s.duplicates,
            s.unparsed
        );
        Ok(row)
    }
    .await;
    let deleted = call(target, ctx, Method::DELETE, &path, None).await;
    let row = result?;
    deleted?;
    Ok(row)
}
