//! castellan-bench: loads deterministic data sets into castellan's store and
//! drives named workloads over HTTPS keep-alive connections, printing one
//! table (req/s, p50/p90/p99/max latency, errors, server RSS).
//!
//! ```text
//! castellan-bench load --data-dir D --users 100000 [--database-url postgres://…]
//! castellan-bench load-logs --data-dir D --events 10000000
//! castellan-bench run --data-dir D --workloads token,search:all,get-user
//! castellan-bench run --data-dir D --workloads logs:all,stream-throughput,event-cost
//! castellan-bench run --url https://127.0.0.1:P --ca CA.pem --workloads token …
//! castellan-bench startup --data-dir D
//! castellan-bench reference
//! ```
//!
//! See BENCHMARKS.md for the workloads, the data set and the results.

/// The load generator shares the machine with the server it measures:
/// mimalloc (as the server) leaves the server more of the CPU.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client;
mod dashboard;
mod data;
mod dump;
mod load;
mod load_logs;
mod logs_data;
mod reference;
mod report;
mod runner;
mod server;
mod stream;
mod suite;
mod workloads;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "castellan-bench", about = "Benchmarks for castellan (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

// Parsed once at start-up; the size of `Run` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Generate and bulk-load N users (seeded) into a data dir's store.
    Load {
        #[arg(long)]
        data_dir: PathBuf,
        /// Load into PostgreSQL instead of the data dir's SQLite file.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        users: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Users per transaction.
        #[arg(long, default_value_t = 5000)]
        batch: usize,
        /// Batches inserted concurrently (PostgreSQL; SQLite has one writer).
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// The castellan binary [default: $CASTELLAN_BIN or target/{release,debug}/castellan].
        #[arg(long)]
        bin: Option<PathBuf>,
    },
    /// Bulk-load deterministic log events (naming the loaded users) until the
    /// data dir holds N; sets the tenant's log retention to 3650 days.
    LoadLogs {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        events: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Events per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        #[arg(long)]
        bin: Option<PathBuf>,
    },
    /// Run workloads and print the table.
    Run(RunArgs),
    /// Time castellan's start-up to ready on an existing store, and its idle RSS.
    Startup {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 5)]
        times: usize,
        #[arg(long)]
        bin: Option<PathBuf>,
    },
    /// Write the users of a data set as JSON lines to stdout (to load a peer).
    DumpUsers {
        #[arg(long)]
        users: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// List the workloads and search classes.
    List,
    /// Measure the machine's RS256 (openssl) and bcrypt-10 rates.
    Reference {
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// A loaded data dir (see `load`): castellan is started on it.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Target an already running server instead (https://host:port or http://…).
    #[arg(long)]
    pub url: Option<String>,
    /// CA to trust for --url.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// PIDs of the --url server, comma-separated (summed), for its RSS.
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Comma-separated: token, search:all, search:<class>, get-user,
    /// patch-user, create-user, create-user-with-probes, all; logs:all,
    /// logs:<class>, stream-throughput, event-cost, dash:all, dash:<page>
    /// (not part of `all`).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub workloads: Vec<String>,
    /// Measured seconds per workload.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured seconds before each workload.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Connections for every workload [default: 32 for token, 4 for the others].
    #[arg(long)]
    pub connections: Option<usize>,
    /// Connections for create-user (saturating the hashing pool).
    #[arg(long, default_value_t = 8)]
    pub create_connections: usize,
    /// Load-generator threads.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Also measure openssl RS256 and bcrypt-10 rates and print the ratios.
    #[arg(long)]
    pub reference: bool,
    /// Seconds for each reference measurement.
    #[arg(long, default_value_t = 5)]
    pub reference_seconds: u64,
    /// The server's log filter when the tool starts it.
    #[arg(long, default_value = "info")]
    pub server_log: String,
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// For --url: the data set loaded there.
    #[arg(long)]
    pub users: Option<u64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// For --url: the client-credentials application.
    #[arg(long)]
    pub client_id: Option<String>,
    #[arg(long)]
    pub client_secret: Option<String>,
    /// API identifier for tokens [default: https://DOMAIN/api/v2/].
    #[arg(long)]
    pub audience: Option<String>,
    /// Scopes the token workload asks for [default: every granted scope].
    #[arg(long)]
    pub scope: Option<String>,
    #[arg(long, default_value = "/oauth/token")]
    pub token_path: String,
    /// Send the token request form-encoded (oidc-provider) instead of JSON.
    #[arg(long)]
    pub token_form: bool,
    /// `audience` (Auth0) or `resource` (RFC 8707, oidc-provider).
    #[arg(long, default_value = "audience")]
    pub audience_param: String,
    /// Before each workload, wait up to this many seconds for the machine's
    /// CPUs to be at most 25% busy (shared machines); 0 disables.
    #[arg(long, default_value_t = 0)]
    pub quiet_wait: u64,
    /// Append the rows as JSON lines to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A label stored with the JSON rows (e.g. "sqlite 100k").
    #[arg(long, default_value = "")]
    pub label: String,
    /// Extra environment for the server the tool starts, KEY=VALUE
    /// (repeatable), e.g. CASTELLAN_STREAM_POLL_MS=10.
    #[arg(long)]
    pub server_env: Vec<String>,
    /// Events stream-throughput generates (one token request each).
    #[arg(long, default_value_t = 20_000)]
    pub stream_events: u64,
    /// event-cost: how many (events on, events off) pairs of server runs.
    #[arg(long, default_value_t = 2)]
    pub cost_rounds: usize,
    /// Exit non-zero if any workload had an error (used by the smoke test).
    #[arg(long)]
    pub fail_on_error: bool,
}

fn main() {
    let cli = Cli::parse();
    let threads = match &cli.cmd {
        Cmd::Run(a) => a.client_threads.max(1),
        _ => 2,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => fail(&format!("runtime: {e}")),
    };
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Load { data_dir, database_url, users, seed, batch, parallel, bin } => {
                let bin = server::find_bin(bin.as_deref())?;
                let args = load::LoadArgs { bin, data_dir, database_url, users, seed, batch, parallel, quiet: false };
                let started = std::time::Instant::now();
                let m = load::load(&args).await?;
                println!(
                    "{} holds {} users (seed {}); this load took {:.1} s, all loads {:.1} s",
                    args.data_dir.display(),
                    m.users,
                    m.seed,
                    started.elapsed().as_secs_f64(),
                    m.load_secs
                );
                Ok(())
            }
            Cmd::LoadLogs { data_dir, events, seed, batch, bin } => {
                let bin = server::find_bin(bin.as_deref())?;
                let started = std::time::Instant::now();
                let a = load_logs::LoadLogsArgs { bin: &bin, data_dir: &data_dir, events, seed, batch, quiet: false };
                let (m, rate) = load_logs::load_logs(&a).await?;
                let logs = m.logs.unwrap_or(load::LogsManifest {
                    events: 0,
                    seed,
                    start_ms: 0,
                    end_ms: 0,
                    load_secs: 0.0,
                });
                println!(
                    "{} holds {} events (seed {}) naming {} users; this load took {:.1} s ({rate:.0} events/s), all loads {:.1} s",
                    data_dir.display(),
                    logs.events,
                    logs.seed,
                    m.users,
                    started.elapsed().as_secs_f64(),
                    logs.load_secs
                );
                Ok(())
            }
            Cmd::Run(args) => suite::run(args).await,
            Cmd::Startup { data_dir, times, bin } => suite::startup(&data_dir, times, bin.as_deref()).await,
            Cmd::DumpUsers { users, seed } => dump::dump_users(users, seed),
            Cmd::List => {
                println!("token                    POST /oauth/token, client credentials (32 connections)");
                for c in workloads::SEARCH_CLASSES {
                    println!("search:{:<17} {}", c.name, c.what);
                }
                println!("get-user                 GET /api/v2/users/{{random loaded id}}");
                println!("patch-user               PATCH /api/v2/users/{{id}} merging one user_metadata key");
                println!("create-user              POST /api/v2/users with a password (bcrypt-10)");
                println!("create-user-with-probes  create-user at saturation with token and search:email probes");
                for c in workloads::LOG_CLASSES {
                    println!("logs:{:<19} {}", c.name, c.what);
                }
                println!("stream-throughput        events/s an http log stream delivers from its backlog to a local receiver");
                println!("event-cost               token and patch-user with log events on and off (restarts the server)");
                for p in dashboard::PAGES {
                    println!("dash:{:<19} {} (signed in)", p.name, p.what);
                }
                Ok(())
            }
            Cmd::Reference { seconds } => {
                suite::print_machine();
                let rsa = reference::openssl_rsa2048_sign(seconds)?;
                println!("openssl speed -seconds {seconds} -multi {} rsa2048: {rsa:.0} sign/s", reference::cores());
                let b = reference::bcrypt_rate(reference::cores(), std::time::Duration::from_secs(seconds));
                println!("bcrypt cost 10 on {} threads: {b:.1} hashes/s", reference::cores());
                Ok(())
            }
        }
    });
    if let Err(e) = result {
        fail(&e);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("castellan-bench: {msg}");
    std::process::exit(1);
}
