//! Hot paths of the token endpoint: RS256 signing of an access token (a
//! one-scope token and the admin application's every-scope token), strict
//! verification of a Management API bearer token, and the client-secret check.
//!
//! `cargo bench -p castellan-crypto --bench sign`

// A benchmark, like a test, stops at the first broken fixture.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use castellan_crypto::{verify, KeyRing, SecretHasher, SigningKey, VerifyOptions};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;
use std::sync::Arc;

fn claims(scope: &str) -> Value {
    json!({
        "iss": "https://localhost:8443/",
        "sub": "castellan-bench-admin@clients",
        "aud": "https://localhost:8443/api/v2/",
        "iat": 1_700_000_000,
        "exp": 4_000_000_000i64,
        "scope": scope,
        "gty": "client-credentials",
        "azp": "castellan-bench-admin",
    })
}

/// About as many scopes as the bootstrap admin application is granted.
fn admin_scope() -> String {
    let verbs = ["read", "create", "update", "delete"];
    let nouns = [
        "users",
        "clients",
        "connections",
        "roles",
        "logs",
        "grants",
        "rules",
        "hooks",
        "actions",
        "organizations",
        "resource_servers",
        "client_grants",
        "tenant_settings",
        "branding",
        "email_templates",
        "prompts",
        "stats",
        "users_app_metadata",
        "user_idp_tokens",
        "custom_domains",
        "guardian_factors",
        "log_streams",
        "attack_protection",
        "signing_keys",
        "sessions",
        "refresh_tokens",
        "forms",
        "flows",
        "phone_providers",
        "self_service_profiles",
        "encryption_keys",
        "client_credentials",
        "authentication_methods",
        "organization_members",
    ];
    let all: Vec<String> = nouns.iter().flat_map(|n| verbs.iter().map(move |v| format!("{v}:{n}"))).collect();
    all.join(" ")
}

fn bench(c: &mut Criterion) {
    let (key, _) = SigningKey::generate().expect("key");
    let key = Arc::new(key);
    let one = claims("read:users");
    let admin = claims(&admin_scope());
    c.bench_function("sign_jwt one scope", |b| b.iter(|| key.sign_jwt(black_box(&one))));
    c.bench_function("sign_jwt admin scopes (136)", |b| b.iter(|| key.sign_jwt(black_box(&admin))));

    let ring = KeyRing { keys: vec![key.clone()] };
    let token = key.sign_jwt(&admin).expect("sign");
    let opts = VerifyOptions {
        issuer: "https://localhost:8443/",
        audience: "https://localhost:8443/api/v2/",
        now_secs: 1_700_000_100,
    };
    c.bench_function("verify admin token", |b| b.iter(|| verify(black_box(&token), &ring, &opts)));

    let hasher = SecretHasher::new(&[7u8; 32]);
    let stored = hasher.hash("castellan-bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz");
    c.bench_function("client secret verify", |b| {
        b.iter(|| hasher.verify(black_box("castellan-bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"), &stored))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
