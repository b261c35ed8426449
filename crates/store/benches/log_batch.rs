//! One batch of queued log events written to a real SQLite file: what the
//! event writer does ~100 times a second under the token workload. The
//! events have the token workload's shape (a client granted every
//! Management API scope: ~5.5 KB of scope, stored apart), so the time a
//! batch divided by its size is the write side of a token event's cost.
//!
//! `cargo bench -p castellan-store --bench log_batch`

// A benchmark, like a test, stops at the first broken fixture.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use castellan_domain::log_event::LogEvent;
use castellan_store::Store;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Events a batch: what 10 ms of gathering collects at ~30,000 tokens/s.
const BATCH: usize = 300;

fn token_event(scope: &str) -> LogEvent {
    let mut e = LogEvent::new("seccft", 1_795_426_156_762);
    e.description = Some("Client Credentials for Access Token".into());
    e.client_id = Some("castellan-bench-admin".into());
    e.client_name = Some("castellan admin (bootstrap)".into());
    e.ip = Some("127.0.0.1".into());
    e.hostname = Some("localhost:8443".into());
    e.audience = Some("https://localhost:8443/api/v2/".into());
    e.scope = Some(scope.to_string());
    e
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("castellan_log_batch_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = rt.block_on(Store::connect(&Store::sqlite_url(&dir.join("b.db")))).unwrap();
    let tenant = rt.block_on(store.create_tenant("bench.example", "00", 0)).unwrap().id;
    // The scope of an application granted ~150 Management API scopes.
    let scope: String = (0..150).map(|i| format!("read:resource_{i:03} ")).collect::<String>() + "update:users";
    let mut g = c.benchmark_group("log events");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("insert_logs_grouped, {BATCH} token events"), |b| {
        b.iter_batched(
            || (0..BATCH).map(|_| token_event(&scope)).collect::<Vec<_>>(),
            |events| {
                let refs: Vec<(i64, &LogEvent)> = events.iter().map(|e| (tenant, e)).collect();
                rt.block_on(store.insert_logs_grouped(&refs)).unwrap();
                events
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    rt.block_on(store.close());
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
