//! The search terms of a user (`user_terms`): computed on every create and
//! every update, then diffed against the stored ones. Three profiles: the
//! benchmark data set's shape, one whose arrays repeat values (the set
//! drops the repeats), and one at the 2,000 metadata-term cap.
//!
//! `cargo bench -p castellan-store --bench terms`

// A benchmark, like a test, stops at the first broken fixture.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use castellan_domain::user::User;
use castellan_store::user_terms;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;

fn user(user_metadata: Value) -> User {
    serde_json::from_value(json!({
        "created_at": "2019-03-14T09:26:53.589Z", "updated_at": "2023-07-01T12:00:00.000Z",
        "email": "jennifer.smith12345@gmail.com", "email_verified": true,
        "family_name": "Smith", "given_name": "Jennifer", "name": "Jennifer Smith", "nickname": "jennifer345",
        "identities": [{"connection": "Username-Password-Authentication", "user_id": "5c8a1d5d0123456789abcdef",
                        "provider": "auth0", "isSocial": false}],
        "user_id": "auth0|5c8a1d5d0123456789abcdef", "last_ip": "81.2.69.160",
        "last_login": "2024-11-02T18:44:10.001Z", "logins_count": 42,
        "user_metadata": user_metadata,
        "app_metadata": {"plan": "pro", "roles": ["user", "admin"], "tenant": {"region": "eu", "shard": 17}}
    }))
    .expect("valid user")
}

fn bench(c: &mut Criterion) {
    let typical = user(json!({"preferences": {"theme": "dark", "language": "fr", "newsletter": true},
                              "tags": ["mobile", "vip"], "address": {"city": "Paris", "country": "FR", "zip": "75011"}}));
    let tags: Vec<String> = (0..40).map(|i| format!("tag{}", i % 10)).collect();
    let repeats = user(json!({"tags": tags, "scores": [1, 2, 1, 2, 3, "1"]}));
    let items: Vec<Value> = (0..700).map(|i| json!({"sku": format!("sku-{i}"), "qty": i % 7})).collect();
    let heavy = user(json!({"orders": items}));
    for (name, u) in [("typical", &typical), ("repeated array values", &repeats), ("2,000-term cap", &heavy)] {
        let n = user_terms(u).len();
        c.bench_function(&format!("user_terms, {name} ({n} terms)"), |b| b.iter(|| user_terms(black_box(u))));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
