//! Log streams: CRUD (Auth0's `/api/v2/log-streams`, type `http`) and the
//! delivery worker. Delivery is at least once: events wait in the stream's
//! durable queue until a receiver answers 2xx; a failed batch is retried in
//! order with exponential backoff (1 s doubling to 5 min); a stream failing
//! for longer than `suspend_after` is suspended, as Auth0 pauses streams that
//! fail for days. Instances take a per-stream lease so that each batch is
//! sent by one of them.

use std::time::Duration;

use castellan_domain::log_event::LogEvent;
use castellan_store::{DocFilter, DocKind, Queued, StoreError};
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::{webclient, App, Principal, ServiceError, Tenant};

pub fn stream_not_found() -> ServiceError {
    ServiceError::NotFound { message: "The log stream does not exist.".into(), code: "inexistent_log_stream" }
}

const STATUSES: &[&str] = &["active", "paused", "suspended"];
const FORMATS: &[&str] = &["JSONLINES", "JSONARRAY", "JSONOBJECT"];

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::bad_request(msg, Some("invalid_body"))
}

/// Checks what castellan relies on in a stream document.
fn check(doc: &Map<String, Value>) -> Result<(), ServiceError> {
    if doc.get("type").and_then(Value::as_str) != Some("http") {
        return Err(ServiceError::bad_request(
            "castellan delivers log streams of type http only.",
            Some("operation_not_supported"),
        ));
    }
    let sink = doc
        .get("sink")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Payload validation error: 'Missing required property: sink'."))?;
    let endpoint = sink.get("httpEndpoint").and_then(Value::as_str).unwrap_or("");
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) || endpoint.len() > 2048 {
        return Err(bad(
            "Payload validation error: 'httpEndpoint must be an http(s) URL' on property sink.httpEndpoint.",
        ));
    }
    if let Some(f) = sink.get("httpContentFormat").and_then(Value::as_str) {
        if !FORMATS.contains(&f) {
            return Err(bad(format!(
                "Payload validation error: 'No enum match for: {f}' on property sink.httpContentFormat."
            )));
        }
    }
    if let Some(s) = doc.get("status").and_then(Value::as_str) {
        if !STATUSES.contains(&s) {
            return Err(bad(format!("Payload validation error: 'No enum match for: {s}' on property status.")));
        }
    }
    Ok(())
}

impl App {
    pub async fn create_log_stream(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let mut doc = body.as_object().cloned().unwrap_or_default();
        let n: u64 = rand::random::<u64>() % 10_000_000_000_000_000;
        let id = format!("lst_{n:016}");
        doc.insert("id".into(), json!(id));
        doc.insert("status".into(), json!("active"));
        doc.entry("isPriority").or_insert(json!(false));
        doc.remove("startFrom");
        check(&doc)?;
        let out = Value::Object(doc);
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&out));
        // Events of requests answered before the stream exists are written
        // before it, so it starts with the events after its creation.
        self.flush_events().await;
        self.store.insert_log_stream(tenant.id, &id, &out, self.now_ms(), &[event]).await?;
        Ok(out)
    }

    pub async fn list_log_streams(&self, tenant: &Tenant) -> Result<Vec<Value>, ServiceError> {
        Ok(self.store.list_docs(tenant.id, DocKind::LogStream, &DocFilter::default(), 0, 10_000).await?.0)
    }

    pub async fn get_log_stream(&self, tenant: &Tenant, id: &str) -> Result<Value, ServiceError> {
        self.store.get_doc(tenant.id, DocKind::LogStream, id).await?.ok_or_else(stream_not_found)
    }

    /// PATCH: `sink` merges key by key; other properties replace.
    pub async fn update_log_stream(
        &self,
        tenant: &Tenant,
        caller: &Principal,
        id: &str,
        body: &Value,
    ) -> Result<Value, ServiceError> {
        let Value::Object(mut doc) = self.get_log_stream(tenant, id).await? else {
            return Err(ServiceError::Internal("log stream is not an object".into()));
        };
        for (k, v) in body.as_object().into_iter().flatten() {
            match (k.as_str(), v) {
                ("sink", Value::Object(patch)) => {
                    let sink = doc.entry("sink").or_insert(json!({}));
                    if let Value::Object(s) = sink {
                        for (sk, sv) in patch {
                            s.insert(sk.clone(), sv.clone());
                        }
                    }
                }
                ("isPriority", _) => return Err(bad("isPriority cannot be changed after the stream is created.")),
                (_, Value::Null) => {
                    doc.remove(k);
                }
                _ => {
                    doc.insert(k.clone(), v.clone());
                }
            }
        }
        check(&doc)?;
        let out = Value::Object(doc);
        let event = self.sapi(tenant, caller, 200, Some(body), Some(&out));
        // New filters apply to the events after the change (as above).
        self.flush_events().await;
        self.store.put_doc(tenant.id, DocKind::LogStream, id, &out, &[event]).await.map_err(|e| match e {
            StoreError::NotFound => stream_not_found(),
            other => other.into(),
        })?;
        Ok(out)
    }

    pub async fn delete_log_stream(&self, tenant: &Tenant, caller: &Principal, id: &str) -> Result<(), ServiceError> {
        let event = self.sapi(tenant, caller, 204, None, None);
        if !self.store.delete_log_stream(tenant.id, id, &[event]).await? {
            return Err(stream_not_found());
        }
        Ok(())
    }
}

/// How the delivery worker behaves.
#[derive(Debug, Clone)]
pub struct StreamWorker {
    /// This instance's lease owner name.
    pub owner: String,
    pub poll: Duration,
    pub batch: u64,
    pub lease: Duration,
    pub suspend_after: Duration,
    pub request_timeout: Duration,
}

impl Default for StreamWorker {
    fn default() -> Self {
        StreamWorker {
            owner: castellan_domain::ids::random_token(16),
            poll: Duration::from_millis(500),
            batch: 100,
            lease: Duration::from_secs(30),
            suspend_after: Duration::from_secs(7 * 24 * 3600),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// `{log_id, data}` as Auth0 sends each event.
fn wrapper(e: &LogEvent) -> Value {
    json!({"log_id": e.log_id, "data": e})
}

/// The request bodies for a batch in the sink's format.
fn bodies(format: &str, batch: &[Queued]) -> Vec<Vec<u8>> {
    match format {
        "JSONARRAY" => vec![Value::Array(batch.iter().map(|q| wrapper(&q.event)).collect()).to_string().into_bytes()],
        "JSONOBJECT" => batch.iter().map(|q| wrapper(&q.event).to_string().into_bytes()).collect(),
        _ => {
            let lines: Vec<String> = batch.iter().map(|q| wrapper(&q.event).to_string()).collect();
            vec![lines.join("\n").into_bytes()]
        }
    }
}

/// Batches one stream sends per round before the others get their turn.
const ROUND_BATCHES: usize = 20;

fn backoff_ms(attempts: i64) -> i64 {
    (1000_i64 << attempts.clamp(0, 9)).min(300_000)
}

impl App {
    /// Runs until `stop` turns true.
    pub async fn run_stream_worker(&self, cfg: StreamWorker, mut stop: watch::Receiver<bool>) {
        loop {
            let backlog = match self.deliver_round(&cfg).await {
                Ok(more) => more,
                Err(e) => {
                    tracing::warn!(error = %e, "log stream delivery round failed");
                    false
                }
            };
            // A stream stopped at the per-round cap has more waiting: the
            // next round starts at once (the cap only keeps streams fair).
            let pause = if backlog { Duration::ZERO } else { cfg.poll };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
        if let Err(e) = self.store.release_log_stream_leases(&cfg.owner).await {
            tracing::warn!(error = %e, "could not release log stream leases");
        }
    }

    /// One pass over every active stream. True when a stream has more
    /// events waiting than one round sends. Public for tests.
    pub async fn deliver_round(&self, cfg: &StreamWorker) -> Result<bool, ServiceError> {
        // Events queued before the round (see `events`) are in it.
        self.flush_events().await;
        let mut backlog = false;
        for s in self.store.all_log_streams().await? {
            if s.doc.get("status").and_then(Value::as_str) != Some("active") {
                continue;
            }
            let now = self.now_ms();
            if let Some(since) = s.failing_since {
                if now - since > cfg.suspend_after.as_millis() as i64 {
                    self.suspend_stream(s.tenant_id, &s.id, s.doc.clone()).await?;
                    continue;
                }
            }
            if !self
                .store
                .lease_log_stream(s.tenant_id, &s.id, &cfg.owner, now, now + cfg.lease.as_millis() as i64)
                .await?
            {
                continue;
            }
            backlog |= self.deliver_stream(cfg, s.tenant_id, &s.id, &s.doc).await?;
        }
        Ok(backlog)
    }

    async fn suspend_stream(&self, tenant: i64, id: &str, mut doc: Value) -> Result<(), ServiceError> {
        doc["status"] = json!("suspended");
        tracing::warn!(stream = id, "log stream suspended after failing too long");
        self.store.put_doc(tenant, DocKind::LogStream, id, &doc, &[]).await?;
        Ok(())
    }

    /// Sends up to `ROUND_BATCHES` batches; true when it stopped at that cap.
    async fn deliver_stream(
        &self,
        cfg: &StreamWorker,
        tenant: i64,
        id: &str,
        doc: &Value,
    ) -> Result<bool, ServiceError> {
        let sink = doc.get("sink").cloned().unwrap_or(json!({}));
        let endpoint = sink.get("httpEndpoint").and_then(Value::as_str).unwrap_or("").to_string();
        let format = sink.get("httpContentFormat").and_then(Value::as_str).unwrap_or("JSONLINES").to_string();
        let mut headers = vec![(
            "content-type".to_string(),
            sink.get("httpContentType").and_then(Value::as_str).unwrap_or("application/json").to_string(),
        )];
        if let Some(a) = sink.get("httpAuthorization").and_then(Value::as_str).filter(|a| !a.is_empty()) {
            headers.push(("authorization".into(), a.to_string()));
        }
        for h in sink.get("httpCustomHeaders").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(k), Some(v)) =
                (h.get("header").and_then(Value::as_str), h.get("value").and_then(Value::as_str))
            {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        // A bounded number of batches per round keeps streams fair.
        for _ in 0..ROUND_BATCHES {
            let batch = self.store.log_outbox_batch(tenant, id, self.now_ms(), cfg.batch).await?;
            if batch.is_empty() {
                return Ok(false);
            }
            let seqs: Vec<i64> = batch.iter().map(|q| q.seq).collect();
            let mut ok = true;
            for body in bodies(&format, &batch) {
                match webclient::send("POST", &endpoint, &headers, body, cfg.request_timeout).await {
                    Ok(r) if (200..300).contains(&r.status) => {}
                    Ok(r) => {
                        tracing::info!(stream = id, status = r.status, "log stream receiver refused a batch");
                        ok = false;
                        break;
                    }
                    Err(e) => {
                        tracing::info!(stream = id, error = %e, "log stream receiver unreachable");
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                self.store.log_outbox_delivered(tenant, id, &seqs).await?;
            } else {
                let now = self.now_ms();
                let attempts = batch.iter().map(|q| q.attempts).max().unwrap_or(0);
                self.store.log_outbox_failed(tenant, id, &seqs, now + backoff_ms(attempts), now).await?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Removes events older than each tenant's retention, in small batches
    /// so writers are never held up for long. Returns how many went.
    pub async fn apply_log_retention(&self) -> Result<u64, ServiceError> {
        // The events queued so far are judged with the others.
        self.flush_events().await;
        let mut removed = 0;
        for domain in self.store.list_tenant_domains().await? {
            let Some(t) = self.tenant_for_host(&domain).await? else { continue };
            let cutoff = self.now_ms() - t.settings.log_retention_days() * 86_400_000;
            loop {
                let n = self.store.delete_logs_before(t.id, cutoff, 1000).await?;
                removed += n;
                if n < 1000 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(n: usize) -> Vec<Queued> {
        (0..n).map(|i| Queued { seq: i as i64, attempts: 0, event: LogEvent::new("s", i as i64) }).collect()
    }

    #[test]
    fn payload_formats() {
        let b = bodies("JSONLINES", &queued(2));
        assert_eq!(b.len(), 1);
        let text = String::from_utf8(b[0].clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["log_id"], lines[0]["data"]["log_id"]);
        let arr: Value = serde_json::from_slice(&bodies("JSONARRAY", &queued(3))[0]).unwrap();
        assert_eq!(arr.as_array().unwrap().len(), 3);
        assert_eq!(bodies("JSONOBJECT", &queued(3)).len(), 3);
    }

    #[test]
    fn backoff_doubles_to_five_minutes() {
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(3), 8000);
        assert_eq!(backoff_ms(50), 300_000);
    }

    #[test]
    fn checks() {
        let ok =
            json!({"type": "http", "sink": {"httpEndpoint": "https://x.example/in", "httpContentFormat": "JSONLINES"}});
        assert!(check(ok.as_object().unwrap()).is_ok());
        for bad in [
            json!({"type": "datadog", "sink": {}}),
            json!({"type": "http"}),
            json!({"type": "http", "sink": {"httpEndpoint": "ftp://x"}}),
            json!({"type": "http", "sink": {"httpEndpoint": "https://x", "httpContentFormat": "XML"}}),
            json!({"type": "http", "status": "gone", "sink": {"httpEndpoint": "https://x"}}),
        ] {
            assert!(check(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
