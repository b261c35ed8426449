//! The castellan binary: `castellan serve` runs the server; `castellan
//! tenants ...` manages tenants in the configured store.

mod config;
mod logs_tail;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use castellan_crypto::PasswordHasher;
use castellan_domain::SystemClock;
use castellan_service::bootstrap::BootstrapInput;
use castellan_service::App;
use castellan_store::Store;
use clap::{Parser, Subcommand};

use config::{ServeArgs, Settings};

/// mimalloc instead of glibc's allocator: a token request allocates and
/// frees hundreds of small strings and maps, and glibc's malloc and free
/// were a quarter of its CPU samples (BENCHMARKS.md, round 6).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "castellan", version, about = "A self-hosted identity server that speaks Auth0's APIs")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage tenants (each is served at its own domain).
    #[command(subcommand)]
    Tenants(TenantsCmd),
    /// Read a tenant's log events.
    #[command(subcommand)]
    Logs(LogsCmd),
}

#[derive(Subcommand)]
enum LogsCmd {
    /// Follow new log events as they happen (like `auth0 logs tail`).
    Tail(logs_tail::TailArgs),
}

#[derive(Subcommand)]
enum TenantsCmd {
    /// Create a tenant at --domain HOST[:PORT] with the same bootstrap as the first start.
    Create {
        #[command(flatten)]
        store: ServeArgs,
    },
    /// Change castellan's own settings of the tenant at --domain.
    Set {
        /// Lift Auth0's 1000-result cap on user search and role-users paging.
        #[arg(long)]
        lift_search_cap: Option<bool>,
        /// Days log events are kept (1..3650; default 30).
        #[arg(long)]
        log_retention_days: Option<i64>,
        #[command(flatten)]
        store: ServeArgs,
    },
    /// List tenant domains.
    List {
        #[command(flatten)]
        store: ServeArgs,
    },
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async move {
        match cli.cmd {
            Cmd::Serve(args) => serve(args.resolve()?).await,
            Cmd::Tenants(t) => tenants(t).await,
            Cmd::Logs(LogsCmd::Tail(a)) => logs_tail::run(a).await,
        }
    });
    if let Err(e) = result {
        fail(&e);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("castellan: {msg}");
    std::process::exit(1);
}

/// Every Management API scope named in Auth0's OpenAPI, with a readable
/// description ("read:users" -> "Read Users").
fn management_scopes() -> Vec<(String, String)> {
    let mut all: Vec<&str> =
        castellan_http::endpoints::ENDPOINTS.iter().flat_map(|e| e.scopes.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .map(|s| {
            let words: Vec<String> = s
                .split([':', '_'])
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
                })
                .collect();
            (s.to_string(), words.join(" "))
        })
        .collect()
}

async fn open(settings: &Settings) -> Result<App, String> {
    if !settings.database_url.starts_with("postgres") {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", settings.data_dir.display()))?;
    }
    let store = Store::connect(&settings.database_url).await.map_err(|e| format!("cannot open the store: {e}"))?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    Ok(App::new(store, Arc::new(SystemClock), PasswordHasher::new(cores)))
}

/// `admin`: the first dashboard administrator's email and password, when fixed.
async fn bootstrap(
    app: &App,
    domain: &str,
    id: Option<String>,
    secret: Option<String>,
    admin: (Option<String>, Option<String>),
) -> Result<(), String> {
    let scopes = management_scopes();
    let made = app
        .bootstrap_tenant(BootstrapInput {
            domain,
            management_scopes: &scopes,
            admin_client_id: id,
            admin_client_secret: secret,
            admin_email: admin.0,
            admin_password: admin.1,
        })
        .await
        .map_err(|e| format!("bootstrap of {domain} failed: {e}"))?;
    if let Some(b) = made {
        tracing::info!(domain, client_id = %b.admin_client_id, "created tenant with an admin application");
        if let Some(secret) = b.generated_secret {
            // Printed once, on stdout only, so it can be captured; never logged.
            println!("castellan: tenant {domain} created.\n  admin client_id:     {}\n  admin client_secret: {secret}\n  (the secret is shown only now; store it safely)", b.admin_client_id);
        }
        if let Some(password) = b.generated_admin_password {
            // Printed once, like the client secret; never logged.
            println!("castellan: dashboard of {domain}: https://{domain}/dashboard\n  administrator email:    {}\n  administrator password: {password}\n  (the password is shown only now; store it safely)", b.admin_email);
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> Result<(), String> {
    init_logging(&settings.log);
    // A benchmarking aid, not a feature: castellan-bench's event-cost
    // workload compares runs with and without log events.
    if std::env::var("CASTELLAN_BENCH_NO_LOG_EVENTS").is_ok_and(|v| v == "1") {
        castellan_store::set_record_events(false);
        tracing::warn!("CASTELLAN_BENCH_NO_LOG_EVENTS=1: log events are NOT recorded (benchmarking only)");
    }
    if std::env::var("CASTELLAN_BENCH_SIGN_EVERY_TOKEN").is_ok_and(|v| v == "1") {
        castellan_service::token::set_sign_every_token(true);
        tracing::warn!("CASTELLAN_BENCH_SIGN_EVERY_TOKEN=1: identical tokens of the same second are signed again");
    }
    let app = open(&settings).await?;
    let admin = (
        config::secret_env("CASTELLAN_BOOTSTRAP_ADMIN_EMAIL")?,
        config::secret_env("CASTELLAN_BOOTSTRAP_ADMIN_PASSWORD")?,
    );
    bootstrap(
        &app,
        &settings.domain,
        settings.bootstrap_client_id.clone(),
        settings.bootstrap_client_secret.clone(),
        admin,
    )
    .await?;
    let addr: SocketAddr = settings.listen.parse().map_err(|e| format!("--listen {}: {e}", settings.listen))?;
    let router = castellan_http::router(app.clone());
    let handle = axum_server::Handle::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(shutdown_on_signal(handle.clone(), stop_tx));
    spawn_background(&app, stop_rx);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    if settings.tls {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let pem = match (&settings.tls_cert, &settings.tls_key) {
            (Some(c), Some(k)) => tls::Pem {
                cert: std::fs::read(c).map_err(|e| format!("{}: {e}", c.display()))?,
                key: std::fs::read(k).map_err(|e| format!("{}: {e}", k.display()))?,
            },
            _ => tls::ensure_local_certs(&settings.data_dir, &settings.domain)?,
        };
        let cfg = axum_server::tls_rustls::RustlsConfig::from_pem(pem.cert, pem.key)
            .await
            .map_err(|e| format!("invalid TLS certificate or key: {e}"))?;
        tracing::info!(%addr, domain = %settings.domain, "castellan listening (https)");
        axum_server::bind_rustls(addr, cfg).handle(handle).serve(service).await.map_err(|e| e.to_string())?;
    } else {
        tracing::info!(%addr, domain = %settings.domain, "castellan listening (http)");
        axum_server::bind(addr).handle(handle).serve(service).await.map_err(|e| e.to_string())?;
    }
    // Every request has been answered: write the events still queued.
    app.flush_events().await;
    app.store.close().await;
    tracing::info!("castellan stopped");
    Ok(())
}

/// Log-stream delivery and log retention, until shutdown. Intervals can be
/// changed for tests: CASTELLAN_STREAM_POLL_MS, CASTELLAN_STREAM_SUSPEND_AFTER_SECS,
/// CASTELLAN_LOG_RETENTION_INTERVAL_SECS, and CASTELLAN_EVENT_GATHER_MS (how
/// long queued log events wait for the writer, 10 ms; a test lengthens it to
/// check that a graceful stop writes them).
fn spawn_background(app: &App, stop: tokio::sync::watch::Receiver<bool>) {
    let env_u64 = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(ms) = env_u64("CASTELLAN_EVENT_GATHER_MS") {
        app.set_event_gather(Duration::from_millis(ms.min(60_000)));
    }
    let mut worker = castellan_service::streams::StreamWorker::default();
    if let Some(ms) = env_u64("CASTELLAN_STREAM_POLL_MS") {
        worker.poll = Duration::from_millis(ms.max(10));
    }
    if let Some(secs) = env_u64("CASTELLAN_STREAM_SUSPEND_AFTER_SECS") {
        worker.suspend_after = Duration::from_secs(secs);
    }
    let a = app.clone();
    let s = stop.clone();
    tokio::spawn(async move { a.run_stream_worker(worker, s).await });
    if !app.store.terms_unique() {
        // A store written by an earlier version: its search terms become a
        // set, a hundred users a transaction; totals are exact meanwhile.
        // A stop ends the pass (its open transaction rolls back); the next
        // start runs it again.
        let store = app.store.clone();
        let mut s = stop.clone();
        tokio::spawn(async move {
            tracing::info!("making each user's search terms unique (once, in the background)");
            tokio::select! {
                done = store.dedupe_terms() => match done {
                    Ok(n) => tracing::info!(removed = n, "search terms are unique"),
                    Err(e) => tracing::warn!(error = %e, "could not make search terms unique; totals stay exact, slower"),
                },
                _ = s.changed() => tracing::info!("search terms pass stopped; the next start runs it again"),
            }
        });
    }
    let every = Duration::from_secs(env_u64("CASTELLAN_LOG_RETENTION_INTERVAL_SECS").unwrap_or(3600).max(1));
    let a = app.clone();
    let mut s = stop;
    tokio::spawn(async move {
        loop {
            match a.apply_log_retention().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "log retention removed expired events"),
                Err(e) => tracing::warn!(error = %e, "log retention failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = s.changed() => return,
            }
        }
    });
}

async fn shutdown_on_signal(handle: axum_server::Handle, stop: tokio::sync::watch::Sender<bool>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining connections");
    let _ = stop.send(true);
    handle.graceful_shutdown(Some(Duration::from_secs(10)));
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).try_init();
}

async fn tenants(cmd: TenantsCmd) -> Result<(), String> {
    match cmd {
        TenantsCmd::Create { store } => {
            let tenant_domain = store.domain.clone().ok_or("--domain HOST is required")?;
            let settings = store.resolve()?;
            init_logging("warn");
            let app = open(&settings).await?;
            let domain = tenant_domain.to_ascii_lowercase();
            if app.store.tenant_by_domain(&domain).await.map_err(|e| e.to_string())?.is_some() {
                return Err(format!("tenant {domain} already exists"));
            }
            bootstrap(&app, &domain, None, None, (None, None)).await
        }
        TenantsCmd::Set { lift_search_cap, log_retention_days, store } => {
            let tenant_domain = store.domain.clone().ok_or("--domain HOST is required")?;
            let settings = store.resolve()?;
            let app = open(&settings).await?;
            let domain = tenant_domain.to_ascii_lowercase();
            let tenant = app
                .store
                .tenant_by_domain(&domain)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no tenant {domain}"))?;
            let mut s: castellan_service::TenantSettings = serde_json::from_value(tenant.settings).unwrap_or_default();
            if let Some(v) = lift_search_cap {
                s.lift_search_cap = v;
            }
            if let Some(d) = log_retention_days {
                if !(1..=3650).contains(&d) {
                    return Err("--log-retention-days must be between 1 and 3650".into());
                }
                s.log_retention_days = Some(d);
            }
            let json = serde_json::to_value(&s).map_err(|e| e.to_string())?;
            app.store.set_tenant_settings(tenant.id, &json).await.map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
            Ok(())
        }
        TenantsCmd::List { store } => {
            let settings = store.resolve()?;
            let app = open(&settings).await?;
            for d in app.store.list_tenant_domains().await.map_err(|e| e.to_string())? {
                println!("{d}");
            }
            Ok(())
        }
    }
}
