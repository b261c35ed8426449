//! castellan's storage: one SQL code path for SQLite (the embedded default)
//! and PostgreSQL (several instances sharing one database), through sqlx's
//! `Any` driver. Per-dialect DDL is embedded and applied at start-up.
//!
//! Every row carries its tenant. Writes that belong together (a user and its
//! search terms) commit in one transaction. SQLite allows one writer at a
//! time; writes take an in-process lock so they queue instead of failing.

mod auth;
mod config;
mod dashboard;
mod devices;
mod docs;
mod logs;
mod logs_bulk;
mod protection;
mod rbac;
mod schema;
mod search;
mod sql;
mod streams;
mod terms;
mod users;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::{Mutex, MutexGuard};

pub use auth::{NewSession, RefreshTokenRow, RevokeBy};
pub use config::{KeyRow, TenantRow};
pub use dashboard::{DashboardAdmin, DashboardSession};
pub use devices::{Cursor, LiveRefreshToken, SessionRow, SessionsOf, TokenFilter, TokensOf};
pub use docs::{DocFilter, DocKind};
pub use logs::{set_record_events, LogSort};
pub use protection::{Bucket, LoginBlock};
pub use rbac::{EffectivePermission, Listed, Missing};
pub use search::{SearchPage, Sort, SortField};
pub use streams::{Queued, StreamRow};
pub use terms::{user_terms, Term};
pub use users::StoredUser;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    write_lock: Option<Arc<Mutex<()>>>,
    /// Bumped after every committed change to clients, client grants,
    /// resource servers or connections (see `config_generation`).
    config_gen: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dialect", &self.dialect).finish_non_exhaustive()
    }
}

impl Store {
    /// Connects (`sqlite://path` or `postgres://...`), applies migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with_cache(url, 8_000).await
    }

    /// As `connect`, for bulk loads (imports, benchmark data): SQLite's page
    /// cache is `cache_kib` KiB per connection instead of 8 MB, so that the
    /// search-term indexes being filled stay in memory longer.
    pub async fn connect_for_bulk_load(url: &str) -> Result<Store> {
        Self::connect_with_cache(url, 256_000).await
    }

    async fn connect_with_cache(url: &str, cache_kib: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(4) as u32;
        let max = match dialect {
            // One writer at a time; readers beyond two a core only add page
            // caches (and resident memory), not throughput.
            Dialect::Sqlite => (2 * cores).clamp(4, 16),
            Dialect::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute("PRAGMA synchronous=NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout=10000").await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
                        // 8 MB a connection (8 connections) for a server: the
                        // OS keeps the rest of the hot pages; larger caches
                        // only multiplied the resident set under search.
                        conn.execute(format!("PRAGMA cache_size=-{cache_kib}").as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let store = Store {
            pool,
            dialect,
            write_lock: (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(()))),
            config_gen: Arc::default(),
        };
        schema::migrate(&store).await?;
        Ok(store)
    }

    /// The SQLite URL for a file in `dir`.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// A counter of the configuration changes this process has committed
    /// (clients, grants, resource servers, connections): a cache that read
    /// the counter before reading the data is current while it is unchanged.
    /// Changes by other processes (another instance, the CLI) are not
    /// counted: caches also expire.
    pub fn config_generation(&self) -> u64 {
        self.config_gen.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn config_changed(&self) {
        self.config_gen.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so
    /// it takes the database's write lock up front, waiting (busy timeout)
    /// for a writer still rolling back rather than failing later on upgrade.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        }
    }
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String> {
    row.try_get::<String, _>(col).map_err(StoreError::from)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    row.try_get::<i64, _>(col).map_err(StoreError::from)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col).map_err(StoreError::from)
}

pub(crate) fn get_opt_f64(row: &AnyRow, col: &str) -> Result<Option<f64>> {
    row.try_get::<Option<f64>, _>(col).map_err(StoreError::from)
}

/// Maps a unique-constraint violation to `Conflict`.
pub(crate) fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(what.to_string());
        }
    }
    StoreError::Db(e)
}
