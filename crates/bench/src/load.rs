//! Loading a data set: the bulk path.
//!
//! 1. Start castellan once on the data directory (or PostgreSQL URL) so it
//!    bootstraps the tenant, its keys and the admin application; stop it.
//! 2. Insert users straight into the store with
//!    `castellan_store::Store::insert_users_bulk` (one transaction per batch; on
//!    PostgreSQL several batches at once),
//!    generated on another thread while the previous batch is written.
//!    Users get no password hash: hashing 1M bcrypt passwords is not what
//!    this measures (create-user measures hashing).
//! 3. Lift the 1000-result search cap (`castellan tenants set`), needed by the
//!    lottery's random page.
//!
//! Progress is recorded in `DATA_DIR/bench.json` after every batch, so a
//! larger load on the same seed extends a smaller one (100k, then 1M).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Instant;

use castellan_domain::user::User;
use castellan_store::Store;
use serde::{Deserialize, Serialize};

use crate::data;
use crate::server::{Server, ServerOpts};

pub const MANIFEST: &str = "bench.json";

/// What a data directory holds, for the runs that follow a load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub users: u64,
    pub domain: String,
    #[serde(default)]
    pub database_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// Seconds spent inserting, summed over every load into this store.
    #[serde(default)]
    pub load_secs: f64,
    /// Log events loaded by `load-logs` (see `load_logs.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogsManifest>,
}

/// The log events of a data set: how many, and the time window they fill.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogsManifest {
    pub events: u64,
    pub seed: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Seconds spent inserting events, summed over every load.
    pub load_secs: f64,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Option<Manifest>, String> {
        let p = dir.join(MANIFEST);
        if !p.exists() {
            return Ok(None);
        }
        let s = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&s).map(Some).map_err(|e| format!("{}: {e}", p.display()))
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let p = dir.join(MANIFEST);
        let s = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&p, s).map_err(|e| format!("{}: {e}", p.display()))
    }

    pub fn store_url(&self, dir: &Path) -> String {
        self.database_url.clone().unwrap_or_else(|| Store::sqlite_url(&dir.join("castellan.db")))
    }
}

#[derive(Debug, Clone)]
pub struct LoadArgs {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub users: u64,
    pub seed: u64,
    pub batch: usize,
    /// Batches written at once (PostgreSQL only).
    pub parallel: usize,
    pub quiet: bool,
}

pub const BENCH_CLIENT_ID: &str = "castellan-bench-admin";
pub const BENCH_CLIENT_SECRET: &str = "castellan-bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const BENCH_DOMAIN: &str = "localhost:8443";

pub fn server_opts(bin: &Path, dir: &Path, m: &Manifest, log: &str) -> ServerOpts {
    ServerOpts {
        bin: bin.to_path_buf(),
        data_dir: dir.to_path_buf(),
        domain: m.domain.clone(),
        database_url: m.database_url.clone(),
        client_id: m.client_id.clone(),
        client_secret: m.client_secret.clone(),
        log: log.to_string(),
        env: Vec::new(),
    }
}

/// Loads users `[already loaded, a.users)` into the store of `a.data_dir`.
pub async fn load(a: &LoadArgs) -> Result<Manifest, String> {
    std::fs::create_dir_all(&a.data_dir).map_err(|e| format!("{}: {e}", a.data_dir.display()))?;
    let mut m = match Manifest::read(&a.data_dir)? {
        Some(m) => {
            if m.seed != a.seed {
                return Err(format!(
                    "{} holds seed {}, not {}: use another --data-dir",
                    a.data_dir.display(),
                    m.seed,
                    a.seed
                ));
            }
            if m.database_url != a.database_url {
                return Err(format!("{} was loaded into another database", a.data_dir.display()));
            }
            m
        }
        None => {
            let m = Manifest {
                seed: a.seed,
                users: 0,
                domain: BENCH_DOMAIN.to_string(),
                database_url: a.database_url.clone(),
                client_id: BENCH_CLIENT_ID.to_string(),
                client_secret: BENCH_CLIENT_SECRET.to_string(),
                load_secs: 0.0,
                logs: None,
            };
            // First start: the server bootstraps the tenant and admin app.
            let s = Server::start(&server_opts(&a.bin, &a.data_dir, &m, "warn")).await?;
            s.stop();
            m.write(&a.data_dir)?;
            m
        }
    };
    if m.users >= a.users {
        if !a.quiet {
            println!("{} already holds {} users of seed {}", a.data_dir.display(), m.users, m.seed);
        }
        lift_cap(&a.bin, &a.data_dir, &m)?;
        return Ok(m);
    }
    let store = Store::connect_for_bulk_load(&m.store_url(&a.data_dir)).await.map_err(|e| format!("store: {e}"))?;
    let tenant = store
        .tenant_by_domain(&m.domain)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant {} in the store", m.domain))?;
    let (from, to, seed, batch) = (m.users, a.users, a.seed, a.batch.max(1) as u64);
    // Generation runs ahead on its own thread, two batches at most.
    let (tx, rx) = mpsc::sync_channel::<(u64, Vec<(User, Option<String>)>)>(a.parallel.max(2));
    let producer = std::thread::spawn(move || {
        let mut i = from;
        while i < to {
            let end = (i + batch).min(to);
            let users: Vec<(User, Option<String>)> = (i..end).map(|k| (data::user(seed, k), None)).collect();
            if tx.send((end, users)).is_err() {
                return;
            }
            i = end;
        }
    });
    let started = Instant::now();
    let mut last_report = Instant::now();
    let base_secs = m.load_secs;
    // SQLite takes one writer at a time; PostgreSQL takes `parallel` batches
    // at once, committed as a round before the manifest moves on.
    let parallel = if m.database_url.is_some() { a.parallel.max(1) } else { 1 };
    let mut done = false;
    while !done {
        let mut round = Vec::with_capacity(parallel);
        while round.len() < parallel {
            match tokio::task::block_in_place(|| rx.recv()) {
                Ok(b) => round.push(b),
                Err(_) => {
                    done = true;
                    break;
                }
            }
        }
        let Some(end) = round.last().map(|(end, _)| *end) else { break };
        let mut set = tokio::task::JoinSet::new();
        for (e, users) in round {
            let store = store.clone();
            let tenant = tenant.id;
            set.spawn(async move {
                store.insert_users_bulk(tenant, &users).await.map_err(|err| format!("bulk insert at {e}: {err}"))
            });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| e.to_string())??;
        }
        m.users = end;
        m.load_secs = base_secs + started.elapsed().as_secs_f64();
        m.write(&a.data_dir)?;
        if !a.quiet && (last_report.elapsed().as_secs() >= 10 || end == to) {
            last_report = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "loaded {end} users ({:.0} users/s over {secs:.0} s, load avg {})",
                (end - from) as f64 / secs,
                crate::server::loadavg()
            );
        }
    }
    let _ = producer.join();
    store.close().await;
    lift_cap(&a.bin, &a.data_dir, &m)?;
    Ok(m)
}

/// `castellan tenants set --lift-search-cap true` on the store.
pub fn lift_cap(bin: &Path, dir: &Path, m: &Manifest) -> Result<(), String> {
    tenants_set(bin, dir, m, "--lift-search-cap", "true")
}

/// `castellan tenants set FLAG VALUE` on the loaded store (its tenant, its
/// database).
pub fn tenants_set(bin: &Path, dir: &Path, m: &Manifest, flag: &str, value: &str) -> Result<(), String> {
    let mut cmd = Command::new(bin);
    cmd.args(["tenants", "set", flag, value, "--domain", &m.domain, "--data-dir"])
        .arg(dir)
        .env_remove("CASTELLAN_DATABASE_URL")
        .stdout(std::process::Stdio::null());
    if let Some(url) = &m.database_url {
        cmd.arg("--database-url").arg(url);
    }
    let st = cmd.status().map_err(|e| format!("{}: {e}", bin.display()))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("castellan tenants set {flag} failed ({st})"))
    }
}
