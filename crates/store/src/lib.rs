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
mod log_doc;
mod log_scopes;
mod logs;
mod logs_bulk;
mod protection;
mod rbac;
mod schema;
mod search;
mod sql;
mod streams;
mod terms;
mod unique_terms;
mod users;
mod write;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Executor, Row};
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
    /// The store was written by a newer version of castellan.
    #[error("newer store: {0}")]
    Newer(String),
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
    /// The pool write transactions come from: on SQLite a single connection
    /// (see `connect_with_cache`), on PostgreSQL `pool`.
    writer: AnyPool,
    dialect: Dialect,
    write_lock: Option<Arc<Mutex<()>>>,
    /// Bumped after every committed change to clients, client grants,
    /// resource servers or connections (see `config_generation`).
    config_gen: Arc<std::sync::atomic::AtomicU64>,
    /// Each tenant's log streams with the configuration generation they
    /// were read at (SQLite only; see `insert_logs_tx`).
    streams: Arc<std::sync::Mutex<StreamsCache>>,
    /// Long event scopes read from `log_scopes`, by reference.
    log_scopes: Arc<log_scopes::ScopeCache>,
    /// Each tenant's user count (SQLite; see `tenant_user_count`).
    user_counts: Arc<users::UserCounts>,
    /// No user has a (field, value) term twice (see `dedupe_terms`).
    terms_unique: Arc<std::sync::atomic::AtomicBool>,
    /// The newest log_id written, by tenant (SQLite; see `in_commit_order`).
    last_log_ids: Arc<std::sync::Mutex<std::collections::HashMap<i64, String>>>,
}

type StreamsCache = std::collections::HashMap<i64, (u64, Arc<Vec<(String, serde_json::Value)>>)>;

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
        let options = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(1)
                // A SQLite connection is a file in this process: sqlx's ping
                // before each use would only add a hand-off to its thread.
                .test_before_acquire(dialect == Dialect::Postgres)
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if dialect == Dialect::Sqlite {
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute("PRAGMA synchronous=NORMAL").await?;
                            conn.execute("PRAGMA busy_timeout=10000").await?;
                            // Checkpoints run on a connection of their own (see
                            // `checkpoint_wal`), not inside the commit that
                            // crosses the threshold, where they would hold the
                            // write lock through their writes and fsyncs.
                            conn.execute("PRAGMA wal_autocheckpoint=0").await?;
                            // A WAL grown past 128 MB (readers kept it from
                            // starting over) is cut back when it does.
                            conn.execute("PRAGMA journal_size_limit=134217728").await?;
                            conn.execute("PRAGMA foreign_keys=ON").await?;
                            // 8 MB a connection (8 connections) for a server: the
                            // OS keeps the rest of the hot pages; larger caches
                            // only multiplied the resident set under search.
                            conn.execute(format!("PRAGMA cache_size=-{cache_kib}").as_str()).await?;
                        }
                        Ok(())
                    })
                })
        };
        let pool = options(max).connect(url).await?;
        // SQLite: every write goes through one connection. A connection's
        // page cache is dropped whenever another connection has changed the
        // database since its last transaction; with writes spread over the
        // pool, each write would first read again every page on its paths
        // (user row, terms and four log b-trees). One writer keeps them.
        let writer = match dialect {
            Dialect::Sqlite => options(1).connect(url).await?,
            Dialect::Postgres => pool.clone(),
        };
        let store = Store {
            pool,
            writer,
            dialect,
            write_lock: (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(()))),
            config_gen: Arc::default(),
            streams: Arc::default(),
            log_scopes: Arc::default(),
            user_counts: Arc::default(),
            terms_unique: Arc::default(),
            last_log_ids: Arc::default(),
        };
        schema::migrate(&store).await?;
        store.read_flags().await?;
        if dialect == Dialect::Sqlite {
            let mut conn = sqlx::AnyConnection::connect(url).await?;
            // A checkpoint never sleeps in SQLite's busy handler (whose
            // naps are 1–25 ms while the write lock is held): a RESTART
            // that meets readers says so at once, and `checkpoint_wal`
            // tries again a millisecond later.
            conn.execute("PRAGMA busy_timeout=0").await?;
            tokio::spawn(checkpoint_wal(
                conn,
                store.pool.clone(),
                store.write_lock.clone(),
                Arc::downgrade(&store.config_gen),
            ));
        }
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
        self.writer.close().await;
        self.pool.close().await;
    }

    /// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so
    /// it takes the database's write lock up front, waiting (busy timeout)
    /// for a writer still rolling back rather than failing later on upgrade.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
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

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// WAL frames (4 KiB pages) past which it is started over.
const RESTART_FRAMES: i64 = 16384;
/// Tries, a millisecond apart, of a RESTART that finds readers on the WAL
/// before it gives up until the next round.
const RESTART_TRIES: u32 = 8;

/// Copies the WAL's committed pages into the database file, every
/// `CHECKPOINT_EVERY` while the store is open (`alive` is one of its `Arc`s),
/// outside the commits: SQLite's own automatic checkpoint runs inside the
/// commit that crosses its threshold, where it holds the write lock (and
/// every queued writer) through its writes and fsyncs.
///
/// A PASSIVE checkpoint neither waits for nor blocks anyone, and copies what
/// no reader still needs; writers go on meanwhile. SQLite starts the WAL
/// over only when a write begins with the WAL fully copied and no reader on
/// it, which concurrent readers can put off for ever; so when the WAL has
/// grown past `RESTART_FRAMES`, a RESTART checkpoint runs holding the write
/// lock and waits (a few tries a millisecond apart) for the readers to move
/// off it. Its pages are already copied: it costs writers the wait.
async fn checkpoint_wal(
    mut conn: sqlx::AnyConnection,
    pool: AnyPool,
    write_lock: Option<Arc<Mutex<()>>>,
    alive: std::sync::Weak<std::sync::atomic::AtomicU64>,
) {
    /// (frames in the WAL, frames copied), or None when busy.
    async fn checkpoint(conn: &mut sqlx::AnyConnection, mode: &str) -> Option<(i64, i64)> {
        let result = sqlx::query(&format!("PRAGMA wal_checkpoint({mode})")).fetch_one(&mut *conn).await;
        match result.and_then(|row| Ok((row.try_get::<i64, _>(0)?, row.try_get(1)?, row.try_get(2)?))) {
            Ok((0, log, done)) => Some((log, done)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                None
            }
        }
    }
    let db_file: Option<std::path::PathBuf> = match sqlx::query("PRAGMA database_list").fetch_all(&mut conn).await {
        Ok(rows) => rows
            .iter()
            .filter(|r| r.try_get::<String, _>("name").is_ok_and(|n| n == "main"))
            .filter_map(|r| r.try_get::<String, _>("file").ok())
            .find(|f| !f.is_empty())
            .map(Into::into),
        Err(_) => None,
    };
    while alive.strong_count() > 0 && !pool.is_closed() {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let Some((mut log, mut done)) = checkpoint(&mut conn, "PASSIVE").await else { continue };
        if log <= done && log < RESTART_FRAMES {
            continue;
        }
        // Catch up without the lock first. The locked round costs the
        // writers the copy of the frames that came in since the last
        // unlocked one, and the fsync of every page copied since the last
        // sync (a checkpoint that copies every frame ends with an fsync of
        // the database file). So the unlocked rounds alternate a flush of
        // what was copied (fsync covers the file, whichever descriptor wrote
        // it) and a copy of what came in during that flush, until few came:
        // at 1,500 PATCHes a second that is ~28,000 frames a second, and a
        // locked round left 1,500 frames and a flush of 1,500 pages took
        // 7–10 ms, the p99 of every write.
        let sync = || {
            let f = db_file.clone();
            async move {
                let Some(f) = f else { return };
                let synced = tokio::task::spawn_blocking(move || std::fs::File::open(f)?.sync_data()).await;
                if let Ok(Err(e)) = synced {
                    tracing::warn!(error = %e, "could not sync the database file before a checkpoint");
                }
            }
        };
        let unlocked = std::time::Instant::now();
        let mut rounds = 0;
        for _ in 0..6 {
            sync().await;
            let before = log;
            let Some(now) = checkpoint(&mut conn, "PASSIVE").await else { break };
            (log, done) = now;
            rounds += 1;
            if log - before < 128 {
                break;
            }
        }
        sync().await;
        let unlocked_us = unlocked.elapsed().as_micros() as u64;
        let t = std::time::Instant::now();
        let _w = match &write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let waited = t.elapsed();
        let mode = if log >= RESTART_FRAMES { "RESTART" } else { "PASSIVE" };
        let mut outcome = checkpoint(&mut conn, mode).await;
        let mut tries = 1;
        // Readers that began before the last pages were copied still read
        // the WAL, and a RESTART waits for them; readers beginning now read
        // the database file, so they are done within a millisecond or two.
        while outcome.is_none() && mode == "RESTART" && tries < RESTART_TRIES {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            outcome = checkpoint(&mut conn, mode).await;
            tries += 1;
        }
        tracing::debug!(
            log,
            done,
            mode,
            ?outcome,
            tries,
            rounds,
            unlocked_us,
            lock_wait_us = waited.as_micros() as u64,
            us = t.elapsed().as_micros() as u64,
            "WAL checkpoint under the write lock"
        );
    }
    let _ = conn.close().await;
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
