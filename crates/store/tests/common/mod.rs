//! Shared by the store suites: every backend to run a test on (SQLite in a
//! temporary file, and PostgreSQL when CASTELLAN_TEST_PG_URL names a server:
//! each run gets its own database, dropped by `finish`).

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use castellan_store::{Dialect, Store};

pub struct Backend {
    pub name: &'static str,
    pub store: Store,
    /// The store's URL, for tests that look at what it wrote.
    pub url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), castellan_domain::ids::random_token(10).to_lowercase())
}

pub async fn backends() -> Vec<Backend> {
    let dir = std::env::temp_dir().join(unique("castellan_store"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = Store::sqlite_url(&dir.join("t.db"));
    let sqlite = Store::connect(&url).await.unwrap();
    let mut out = vec![Backend { name: "sqlite", store: sqlite, url, cleanup: None, _dir: Some(TempDir(dir)) }];
    match std::env::var("CASTELLAN_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            let db = unique("castellan_test");
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await.unwrap();
            admin.close().await;
            let (base, _) = url.rsplit_once('/').unwrap();
            let own = format!("{base}/{db}");
            let store = Store::connect(&own).await.unwrap();
            assert_eq!(store.dialect(), Dialect::Postgres);
            out.push(Backend { name: "postgres", store, url: own, cleanup: Some((url, db)), _dir: None });
        }
        _ => {
            assert!(
                std::env::var("CASTELLAN_REQUIRE_PG").as_deref() != Ok("1"),
                "CASTELLAN_REQUIRE_PG=1 but CASTELLAN_TEST_PG_URL is not set"
            );
            eprintln!("note: CASTELLAN_TEST_PG_URL not set; PostgreSQL half of the conformance suite skipped");
        }
    }
    out
}

pub async fn finish(backends: Vec<Backend>) {
    for b in backends {
        b.store.close().await;
        if let Some((url, db)) = b.cleanup {
            if let Ok(admin) = sqlx::PgPool::connect(&url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&admin).await;
                admin.close().await;
            }
        }
    }
}
