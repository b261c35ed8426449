//! Parsing search v3 queries (`q=`) into a typed filter, for the query
//! classes the load tool runs (castellan-bench list). Compiling the filter to
//! SQL is private to the store crate and is measured end to end by the tool.
//!
//! `cargo bench -p castellan-query --bench parse`

// A benchmark, like a test, stops at the first broken fixture.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use castellan_query::{parse, UserSchema};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const QUERIES: &[(&str, &str)] = &[
    ("exact email", "email:\"jennifer.smith12345@gmail.com\""),
    ("prefix", "name:j*"),
    ("email.domain", "email.domain:gmail.com"),
    ("metadata eq", "app_metadata.plan:enterprise"),
    ("range", "logins_count:[300 TO 305]"),
    ("exists", "_exists_:app_metadata.beta_features"),
    ("boolean", "email.domain:gmail.com AND (app_metadata.plan:enterprise OR app_metadata.roles:auditor)"),
    ("suffix", "family_name:*son"),
    ("not", "NOT app_metadata.winner:true"),
    ("unfielded", "jane"),
    ("date range", "created_at:[2019-01-01 TO 2020-06-30T12:00]"),
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (name, q) in QUERIES {
        g.bench_function(*name, |b| b.iter(|| parse(black_box(q), &UserSchema)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
