//! The bundled SQLite is built as `.cargo/config.toml` asks
//! (`LIBSQLITE3_FLAGS`): one page cache a connection, no global mutex on
//! every allocation. Both used to serialize concurrent readers; a checkout
//! that loses the setting (a build outside this workspace, a renamed file)
//! fails here instead of quietly getting slower.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;

#[tokio::test]
async fn bundled_sqlite_keeps_page_caches_apart() {
    // The options are the library's, not a database's: an in-memory one
    // reads them.
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options").fetch_all(&mut conn).await.unwrap();
    assert!(!options.is_empty(), "no compile options read");
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "SQLite was built with ENABLE_MEMORY_MANAGEMENT (one page cache for every connection): {options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "SQLite was built with memory statistics on: {options:?}"
    );
    conn.close().await.unwrap();
}
