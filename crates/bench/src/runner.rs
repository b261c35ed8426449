//! The closed-loop driver: C connections, each sending its next request as
//! soon as the previous answer is read (or on a fixed pace for probes), for a
//! warm-up and then a measured window. Every request's latency is kept
//! (microseconds); percentiles come from the sorted samples.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Target;
use crate::data::Rng;
use crate::workloads::{iteration, Ctx, Kind};

#[derive(Debug, Clone)]
pub struct Plan {
    pub kind: Kind,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Probes: one iteration per connection every `pace` instead of back to back.
    pub pace: Option<Duration>,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub secs: f64,
    /// Sorted latencies of the successful requests, microseconds.
    pub micros: Vec<u64>,
    /// A few error descriptions (status and body start), for diagnosis.
    pub samples: Vec<String>,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests as f64 / self.secs
        } else {
            0.0
        }
    }

    /// The q-quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        let idx = ((self.micros.len() as f64 * q).ceil() as usize).clamp(1, self.micros.len()) - 1;
        self.micros[idx] as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.micros.last().map(|m| *m as f64 / 1000.0).unwrap_or(0.0)
    }
}

struct Partial {
    requests: u64,
    errors: u64,
    micros: Vec<u64>,
    samples: Vec<String>,
    last_done: Option<Instant>,
}

/// Runs `plan` against `target` and returns what was measured after warm-up.
pub async fn run(target: &Target, ctx: Arc<Ctx>, plan: &Plan, seed: u64) -> Stats {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let deadline = measure_from + plan.duration;
    let conn_errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(plan.connections);
    for w in 0..plan.connections {
        let target = target.clone();
        let ctx = ctx.clone();
        let kind = plan.kind;
        let pace = plan.pace;
        let conn_errors = conn_errors.clone();
        let mut rng = Rng::for_user(seed ^ 0xB3A7_0000, w as u64);
        tasks.push(tokio::spawn(async move {
            let mut p = Partial { requests: 0, errors: 0, micros: Vec::new(), samples: Vec::new(), last_done: None };
            let mut conn = None;
            let mut outcomes = Vec::with_capacity(2);
            let mut next_at = Instant::now();
            while Instant::now() < deadline {
                if let Some(pace) = pace {
                    tokio::time::sleep_until(next_at.into()).await;
                    next_at += pace;
                    if Instant::now() >= deadline {
                        break;
                    }
                }
                if conn.is_none() {
                    match target.connect().await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            conn_errors.fetch_add(1, Ordering::Relaxed);
                            if p.samples.len() < 3 {
                                p.samples.push(e);
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                outcomes.clear();
                iteration(kind, &ctx, c, &mut rng, &mut outcomes).await;
                let now = Instant::now();
                for o in outcomes.drain(..) {
                    let counted = now >= measure_from;
                    match o.resp {
                        Ok(r) if r.ok() => {
                            if counted {
                                p.requests += 1;
                                p.micros.push(o.micros);
                                p.last_done = Some(now);
                            }
                        }
                        Ok(r) => {
                            if counted {
                                p.errors += 1;
                            }
                            if p.samples.len() < 3 {
                                let body = String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).to_string();
                                p.samples.push(format!("HTTP {}: {body}", r.status));
                            }
                        }
                        Err(e) => {
                            if counted {
                                p.errors += 1;
                            }
                            if p.samples.len() < 3 {
                                p.samples.push(e);
                            }
                            conn = None;
                        }
                    }
                }
            }
            p
        }));
    }
    let mut stats = Stats::default();
    let mut last = deadline;
    for t in tasks {
        if let Ok(p) = t.await {
            stats.requests += p.requests;
            stats.errors += p.errors;
            stats.micros.extend(p.micros);
            if stats.samples.len() < 5 {
                stats.samples.extend(p.samples);
            }
            if let Some(l) = p.last_done {
                last = last.max(l);
            }
        } else {
            stats.errors += 1;
        }
    }
    stats.errors += conn_errors.load(Ordering::Relaxed);
    stats.micros.sort_unstable();
    stats.secs = last.saturating_duration_since(measure_from).as_secs_f64();
    stats
}
