//! Group commit of the log events that record no other change (token
//! exchanges, failures, reads): each request still waits until its events are
//! durable, but the events of concurrent requests share one write
//! transaction. The first waiter to take the commit lock writes everything
//! queued so far and marks each entry; the others find theirs marked when
//! they get the lock. No long-lived task: it works in any runtime.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use castellan_domain::log_event::LogEvent;
use castellan_store::{Store, StoreError};
use tokio::sync::{Mutex, Notify};

/// The most events one transaction takes; the rest wait for the next one.
const MAX_BATCH: usize = 1000;

const QUEUED: u8 = 0;
const WRITTEN: u8 = 1;
const FAILED: u8 = 2;

#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: StdMutex<Vec<(i64, LogEvent, Arc<AtomicU8>)>>,
    commit: Arc<Mutex<()>>,
    /// Woken after every batch: waiters re-check their state.
    done: Arc<Notify>,
}

impl GroupCommit {
    pub(crate) async fn write(&self, store: &Store, tenant: i64, events: &[LogEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let state = Arc::new(AtomicU8::new(QUEUED));
        {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            // One state for all of this call's events: they are queued
            // together, and a batch takes them all.
            for e in events {
                q.push((tenant, e.clone(), state.clone()));
            }
        }
        loop {
            // Registered before looking, so a batch finishing in between
            // still wakes us.
            let woken = self.done.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match state.load(Ordering::Acquire) {
                WRITTEN => return Ok(()),
                FAILED => return Err(StoreError::Corrupt("the log events could not be written".into())),
                _ => {}
            }
            // One writer at a time; the others wait for its batch to end
            // (theirs may be in it) instead of queueing for the lock.
            let Ok(turn) = self.commit.clone().try_lock_owned() else {
                woken.await;
                continue;
            };
            let batch: Vec<_> = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                // Whole calls only: a call's events are queued side by side.
                let mut n = q.len().min(MAX_BATCH);
                while n > 0 && n < q.len() && Arc::ptr_eq(&q[n - 1].2, &q[n].2) {
                    n += 1;
                }
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                // Ours was taken by a batch that never finished (its task
                // panicked): nothing will write it.
                return Err(StoreError::Corrupt("the log events could not be written".into()));
            }
            // Written by a task of its own, which holds the turn until every
            // entry is marked: a request that goes away mid-commit (its
            // future dropped) neither loses the batch nor strands the others.
            let store = store.clone();
            let done = self.done.clone();
            let task = tokio::spawn(async move {
                // Dropped in reverse order, even if the write panics: the
                // turn is released, then the waiters are woken.
                let _wake = WakeOnDrop(done);
                let _turn = turn;
                let rows: Vec<(i64, &LogEvent)> = batch.iter().map(|(t, e, _)| (*t, e)).collect();
                let outcome = store.insert_logs_grouped(&rows).await;
                if let Err(e) = &outcome {
                    tracing::error!(error = %e, events = batch.len(), "could not write log events");
                }
                let mark = if outcome.is_ok() { WRITTEN } else { FAILED };
                for (_, _, s) in &batch {
                    s.store(mark, Ordering::Release);
                }
            });
            if task.await.is_err() {
                return Err(StoreError::Corrupt("the log events could not be written".into()));
            }
        }
    }
}

/// Wakes every waiter when dropped.
struct WakeOnDrop(Arc<Notify>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.notify_waiters();
    }
}
