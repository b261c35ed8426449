//! The queue of log events that record no other change (token exchanges,
//! failures, logins): a request queues its events and goes on; one writer
//! task at a time lets them gather for 10 ms (less when a reader waits),
//! writes everything queued in one transaction, then the next batch.
//! Auth0's own logs are written after the request too.
//!
//! What keeps it honest:
//! - reads of the logs (`flush`) first wait until every event queued before
//!   them is written, so a caller sees its own events;
//! - shutdown waits the same way, after the last request has been answered;
//! - the queue is bounded: past `MAX_PENDING`, callers wait for the writer
//!   instead of growing it;
//! - a failed batch is retried with a growing pause, then dropped with an
//!   error in the server log (a full disk must not hang every request).
//!
//! A process killed outright loses what is still queued: the events of the
//! last few milliseconds of requests (see docs/compatibility.md). Events
//! that record a change (a user created, updated, deleted…) are not queued:
//! they commit in the change's own transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use castellan_domain::log_event::LogEvent;
use castellan_store::Store;
use tokio::sync::Notify;

/// The most events one transaction takes; the rest wait for the next one.
const MAX_BATCH: usize = 1000;
/// Queued events beyond which callers wait for the writer.
const MAX_PENDING: u64 = 20_000;
/// Attempts at writing one batch before it is dropped.
const ATTEMPTS: u32 = 5;
/// How long the writer lets events gather before each batch (unless a
/// reader waits): each commit rewrites the last pages of the table and its
/// indexes, so larger batches write fewer pages an event. Requests do not
/// wait for it. Tests lengthen it (`set_gather`).
const GATHER_MS: u64 = 10;

#[derive(Default)]
struct State {
    pending: Vec<(i64, LogEvent)>,
    /// Events ever queued (the sequence number of the newest).
    queued: u64,
    /// A writer task is running: it takes everything queued until it
    /// finds the queue empty.
    writing: bool,
}

pub(crate) struct EventQueue {
    store: Store,
    state: StdMutex<State>,
    /// Events ever written or given up, in queue order.
    done: AtomicU64,
    /// Woken after every batch.
    progress: Notify,
    /// A reader waits: the writer stops gathering.
    urgent: Notify,
    gather_ms: AtomicU64,
}

impl EventQueue {
    pub(crate) fn new(store: Store) -> Arc<Self> {
        Arc::new(EventQueue {
            store,
            state: StdMutex::default(),
            done: AtomicU64::new(0),
            progress: Notify::new(),
            urgent: Notify::new(),
            gather_ms: AtomicU64::new(GATHER_MS),
        })
    }

    pub(crate) fn set_gather(&self, gather: Duration) {
        self.gather_ms.store(gather.as_millis() as u64, Ordering::Relaxed);
    }

    /// Queues `events` of `tenant`; they are written within milliseconds.
    /// Waits only when the queue is full.
    pub(crate) async fn push(self: &Arc<Self>, tenant: i64, events: Vec<LogEvent>) {
        if events.is_empty() {
            return;
        }
        let (start, backlog) = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.queued += events.len() as u64;
            s.pending.extend(events.into_iter().map(|e| (tenant, e)));
            let start = !s.writing;
            s.writing = true;
            (start, s.queued)
        };
        if start {
            tokio::spawn(self.clone().drain());
        }
        if backlog.saturating_sub(self.done.load(Ordering::Acquire)) > MAX_PENDING {
            self.wait_for(backlog - MAX_PENDING).await;
        }
    }

    /// Returns once every event queued before the call is written (or, after
    /// repeated failures, given up).
    pub(crate) async fn flush(&self) {
        let target = self.state.lock().unwrap_or_else(|p| p.into_inner()).queued;
        if self.done.load(Ordering::Acquire) < target {
            self.urgent.notify_one();
        }
        self.wait_for(target).await;
    }

    async fn wait_for(&self, target: u64) {
        loop {
            // Registered before looking, so a batch ending in between still
            // wakes us.
            let woken = self.progress.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.done.load(Ordering::Acquire) >= target {
                return;
            }
            woken.await;
        }
    }

    /// The writer: batch after batch until the queue is empty.
    async fn drain(self: Arc<Self>) {
        loop {
            // A full batch already waiting is written at once: gathering
            // then only caps the writer's rate (at 1,000 events a gather).
            let full = self.state.lock().unwrap_or_else(|p| p.into_inner()).pending.len() >= MAX_BATCH;
            if !full {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(self.gather_ms.load(Ordering::Relaxed))) => {}
                    _ = self.urgent.notified() => {}
                }
            }
            let batch: Vec<(i64, LogEvent)> = {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                if s.pending.is_empty() {
                    s.writing = false;
                    return;
                }
                let n = s.pending.len().min(MAX_BATCH);
                s.pending.drain(..n).collect()
            };
            let n = batch.len() as u64;
            let batch = Arc::new(batch);
            let mut pause = Duration::from_millis(50);
            for attempt in 1..=ATTEMPTS {
                // In a task of its own: a panic in the driver loses this
                // batch, not the writer.
                let (store, rows) = (self.store.clone(), batch.clone());
                let written = tokio::spawn(async move {
                    let refs: Vec<(i64, &LogEvent)> = rows.iter().map(|(t, e)| (*t, e)).collect();
                    store.insert_logs_grouped(&refs).await.map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|_| Err("the writer panicked".into()));
                match written {
                    Ok(()) => break,
                    Err(e) if attempt < ATTEMPTS => {
                        tracing::warn!(error = %e, events = n, attempt, "could not write log events; retrying");
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, events = n, "could not write log events; they are lost")
                    }
                }
            }
            self.done.fetch_add(n, Ordering::AcqRel);
            self.progress.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    async fn store() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "castellan_events_{}_{}",
            std::process::id(),
            castellan_domain::ids::random_token(8)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        (Store::connect(&Store::sqlite_url(&dir.join("e.db"))).await.unwrap(), dir)
    }

    fn event(i: i64) -> LogEvent {
        let mut e = LogEvent::new("seccft", 1_700_000_000_000 + i);
        e.description = Some(format!("event {i}"));
        e
    }

    #[tokio::test]
    async fn flush_waits_for_every_event_queued_before_it() {
        let (s, dir) = store().await;
        let t = s.create_tenant("q.example", "00", 0).await.unwrap().id;
        let q = EventQueue::new(s.clone());
        for i in 0..250 {
            q.push(t, vec![event(i)]).await;
        }
        q.flush().await;
        let (_, total) = s
            .search_logs(t, &castellan_query::Filter::All, castellan_store::LogSort { descending: true }, 0, 1, true)
            .await
            .unwrap();
        assert_eq!(total, Some(250));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_batch_that_cannot_be_written_is_dropped_after_retries_not_waited_for_for_ever() {
        let (s, dir) = store().await;
        let t = s.create_tenant("q.example", "00", 0).await.unwrap().id;
        let q = EventQueue::new(s.clone());
        // Every write now fails (the pool is closed).
        s.close().await;
        q.push(t, vec![event(1)]).await;
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), q.flush()).await.expect("flush gives up with the batch");
        // Five attempts with pauses of 50, 100, 200 and 400 ms between them.
        assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());
        assert_eq!(q.done.load(Ordering::Acquire), 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
