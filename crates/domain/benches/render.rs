//! Rendering and reading the stored user document: the store decodes a
//! row's JSON into `User`, the service turns it into a `Value` and the HTTP
//! layer serializes that. A realistic profile with nested metadata.
//!
//! `cargo bench -p castellan-domain --bench render`

// A benchmark, like a test, stops at the first broken fixture.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use castellan_domain::user::User;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn user() -> User {
    serde_json::from_value(serde_json::json!({
        "created_at": "2019-03-14T09:26:53.589Z",
        "email": "jennifer.smith12345@gmail.com",
        "email_verified": true,
        "family_name": "Smith",
        "given_name": "Jennifer",
        "identities": [{"connection": "Username-Password-Authentication", "user_id": "5c8a1d5d0123456789abcdef",
                        "provider": "auth0", "isSocial": false}],
        "name": "Jennifer Smith",
        "nickname": "jennifer345",
        "picture": "https://s.gravatar.com/avatar/0b79e7b1b1c0e5a4d3e3f0a8a9d2c1b0?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fje.png",
        "updated_at": "2023-07-01T12:00:00.000Z",
        "user_id": "auth0|5c8a1d5d0123456789abcdef",
        "last_ip": "81.2.69.160",
        "last_login": "2024-11-02T18:44:10.001Z",
        "logins_count": 42,
        "user_metadata": {"preferences": {"theme": "dark", "language": "fr", "newsletter": true},
                          "tags": ["mobile", "vip"],
                          "address": {"city": "Paris", "country": "FR", "zip": "75011"}},
        "app_metadata": {"plan": "pro", "roles": ["user", "admin"], "tenant": {"region": "eu", "shard": 17}}
    }))
    .expect("valid user")
}

fn bench(c: &mut Criterion) {
    let u = user();
    let doc = serde_json::to_string(&u).expect("serialize");
    // Every log event is made with a new id and date.
    c.bench_function("log event new (id and date)", |b| {
        b.iter(|| castellan_domain::log_event::LogEvent::new(black_box("seccft"), black_box(1_795_426_156_762)))
    });
    c.bench_function("user decode (stored doc -> User)", |b| b.iter(|| serde_json::from_str::<User>(black_box(&doc))));
    c.bench_function("user to_json (User -> Value)", |b| b.iter(|| black_box(&u).to_json()));
    c.bench_function("user render (User -> Value -> bytes)", |b| {
        b.iter(|| serde_json::to_vec(&black_box(&u).to_json()))
    });
    c.bench_function("user serialize direct (User -> bytes)", |b| b.iter(|| serde_json::to_vec(black_box(&u))));
    let page: Vec<User> = (0..50).map(|_| u.clone()).collect();
    c.bench_function("page of 50 users render", |b| {
        b.iter(|| serde_json::to_vec(&black_box(&page).iter().map(User::to_json).collect::<Vec<_>>()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
