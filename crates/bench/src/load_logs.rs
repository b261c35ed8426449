//! `load-logs`: bulk-loads deterministic log events (see `logs_data.rs`)
//! into a data dir that already holds users, straight into the store with
//! `castellan_store::Store::insert_logs_bulk` (one transaction per batch;
//! generation runs on another thread ahead of the writer).
//!
//! The first load fixes the window: the 30 days before it. A later, larger
//! load adds events spread over the same window. Before inserting, the
//! tenant's log retention is set to 3650 days (`castellan tenants set`):
//! with the default 30 days the server's retention task would start deleting
//! the oldest events during the benchmark.

use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use castellan_domain::log_event::LogEvent;
use castellan_store::Store;

use crate::data::{self, Handle};
use crate::load::{LogsManifest, Manifest};
use crate::logs_data::{self, Window};

pub const RETENTION_DAYS: i64 = 3650;
const WINDOW_MS: i64 = 30 * 86_400_000;

pub struct LoadLogsArgs<'a> {
    pub bin: &'a Path,
    pub data_dir: &'a Path,
    pub events: u64,
    pub seed: u64,
    pub batch: usize,
    pub quiet: bool,
}

/// Loads events `[already loaded, a.events)`. Returns the manifest and the
/// insert rate of this load (events/s; 0 when nothing was loaded).
pub async fn load_logs(a: &LoadLogsArgs<'_>) -> Result<(Manifest, f64), String> {
    let mut m = Manifest::read(a.data_dir)?.ok_or_else(|| {
        format!("{} holds no data set: run `castellan-bench load --users N` on it first", a.data_dir.display())
    })?;
    if m.users == 0 {
        return Err("the data set has no users: load users first, so events can name them".into());
    }
    set_retention(a.bin, a.data_dir, &m)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .map_err(|e| e.to_string())?;
    let mut logs = match m.logs.clone() {
        Some(l) if l.seed != a.seed => {
            return Err(format!("{} holds events of seed {}, not {}", a.data_dir.display(), l.seed, a.seed))
        }
        Some(l) => l,
        None => LogsManifest { events: 0, seed: a.seed, start_ms: now - WINDOW_MS, end_ms: now, load_secs: 0.0 },
    };
    if logs.events >= a.events {
        if !a.quiet {
            println!("{} already holds {} events of seed {}", a.data_dir.display(), logs.events, logs.seed);
        }
        return Ok((m, 0.0));
    }
    let store = Store::connect(&m.store_url(a.data_dir)).await.map_err(|e| format!("store: {e}"))?;
    let tenant = store
        .tenant_by_domain(&m.domain)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant {} in the store", m.domain))?;
    let users: Vec<Handle> = (0..m.users).map(|i| data::handle(m.seed, i)).collect();
    let w = Window { from: logs.events, to: a.events, start_ms: logs.start_ms, end_ms: logs.end_ms };
    let (seed, batch, domain) = (a.seed, a.batch.max(1) as u64, m.domain.clone());
    let (tx, rx) = mpsc::sync_channel::<(u64, Vec<LogEvent>)>(2);
    let producer = std::thread::spawn(move || {
        let mut i = w.from;
        while i < w.to {
            let end = (i + batch).min(w.to);
            let events: Vec<LogEvent> = (i..end).map(|k| logs_data::event(seed, k, &w, &users, &domain)).collect();
            if tx.send((end, events)).is_err() {
                return;
            }
            i = end;
        }
    });
    let started = Instant::now();
    let mut last_report = Instant::now();
    let base_secs = logs.load_secs;
    while let Ok((end, events)) = tokio::task::block_in_place(|| rx.recv()) {
        store.insert_logs_bulk(tenant.id, &events).await.map_err(|e| format!("bulk insert at {end}: {e}"))?;
        logs.events = end;
        logs.load_secs = base_secs + started.elapsed().as_secs_f64();
        m.logs = Some(logs.clone());
        m.write(a.data_dir)?;
        if !a.quiet && (last_report.elapsed().as_secs() >= 10 || end == w.to) {
            last_report = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "loaded {end} events ({:.0} events/s over {secs:.0} s, load avg {})",
                (end - w.from) as f64 / secs,
                crate::server::loadavg()
            );
        }
    }
    let _ = producer.join();
    store.close().await;
    if logs.events < a.events {
        return Err(format!("the generator stopped at {} events", logs.events));
    }
    Ok((m, (a.events - w.from) as f64 / started.elapsed().as_secs_f64()))
}

/// `castellan tenants set --log-retention-days 3650` on the store.
fn set_retention(bin: &Path, dir: &Path, m: &Manifest) -> Result<(), String> {
    crate::load::tenants_set(bin, dir, m, "--log-retention-days", &RETENTION_DAYS.to_string())
}
