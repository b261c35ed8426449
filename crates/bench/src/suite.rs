//! `run` and `startup`: resolve the target (start castellan on a loaded data
//! dir, or use a running URL), expand the workload list, measure the
//! references if asked, run each workload with RSS sampling, print the table.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Target;
use crate::data::Rng;
use crate::load::{self, Manifest};
use crate::report::{self, Row};
use crate::runner::{self, Plan, Stats};
use crate::server::{self, Server};
use crate::stream;
use crate::workloads::{self, Ctx, Kind, LogsCtx, TokenStyle, LOG_CLASSES, SEARCH_CLASSES};
use crate::{reference, RunArgs};

pub fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("machine: nproc {} | cpu {cpu} | {date} | loadavg {}", reference::cores(), load.trim());
}

/// What a workload list item expands to.
fn expand(items: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for it in items {
        match it.as_str() {
            "all" => {
                out.push("token".into());
                out.extend(SEARCH_CLASSES.iter().map(|c| format!("search:{}", c.name)));
                out.extend(["get-user", "patch-user", "create-user-with-probes"].map(String::from));
            }
            "search:all" | "search" => out.extend(SEARCH_CLASSES.iter().map(|c| format!("search:{}", c.name))),
            "logs:all" | "logs" => out.extend(LOG_CLASSES.iter().map(|c| format!("logs:{}", c.name))),
            "dash:all" | "dash" => out.extend(crate::dashboard::all()),
            "create-user-with-probes" | "stream-throughput" | "event-cost" => out.push(it.clone()),
            other => {
                Kind::parse(other).ok_or_else(|| {
                    let classes: Vec<&str> = SEARCH_CLASSES.iter().map(|c| c.name).collect();
                    format!(
                        "unknown workload {other}: use token, search:all, search:<{}>, get-user, patch-user, create-user, create-user-with-probes, all, logs:all, logs:<class>, stream-throughput, event-cost",
                        classes.join("|")
                    )
                })?;
                out.push(other.to_string());
            }
        }
    }
    Ok(out)
}

/// Samples the RSS and the CPU time of `pids` every 100 ms until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    cpu: Arc<std::sync::Mutex<Vec<(Instant, f64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start(pids: Vec<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let cpu = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, m, c) = (stop.clone(), max.clone(), cpu.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = server::rss_sum_kib(&pids) {
                    m.fetch_max(kib, Ordering::Relaxed);
                }
                if let Some(secs) = server::cpu_secs(&pids) {
                    c.lock().unwrap_or_else(|p| p.into_inner()).push((Instant::now(), secs));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        RssSampler { stop, max, cpu, task }
    }

    /// The largest RSS (MiB), and the cores the server kept busy over the
    /// last `window` of the run (the measured part, after the warm-up).
    async fn finish(self, window: Duration) -> (Option<f64>, Option<f64>) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let kib = self.max.load(Ordering::Relaxed);
        let samples = self.cpu.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let cores = samples.last().and_then(|&(end, end_cpu)| {
            let &(start, start_cpu) = samples.iter().find(|(t, _)| end.duration_since(*t) <= window)?;
            let secs = end.duration_since(start).as_secs_f64();
            (secs >= 0.3).then(|| (end_cpu - start_cpu) / secs)
        });
        ((kib > 0).then(|| kib as f64 / 1024.0), cores)
    }
}

struct Env {
    target: Target,
    ctx: Arc<Ctx>,
    pids: Vec<u32>,
    a: RunArgs,
}

impl Env {
    fn plan(&self, kind: Kind, connections: usize, pace: Option<Duration>) -> Plan {
        Plan {
            kind,
            connections,
            warmup: Duration::from_secs_f64(self.a.warmup),
            duration: Duration::from_secs_f64(self.a.duration),
            pace,
        }
    }

    fn connections(&self, kind: Kind) -> usize {
        match (self.a.connections, kind) {
            (_, Kind::CreateUser) => self.a.create_connections,
            (Some(c), _) => c,
            (None, Kind::Token) => 32,
            (None, _) => 4,
        }
    }

    async fn measure(&self, plan: &Plan, salt: u64) -> (Stats, Option<f64>) {
        let (stats, rss, _) = self.measure_cpu(plan, salt).await;
        (stats, rss)
    }

    /// `measure`, with the cores the server kept busy meanwhile (meaningful
    /// only when nothing else runs against it).
    async fn measure_cpu(&self, plan: &Plan, salt: u64) -> (Stats, Option<f64>, Option<f64>) {
        let sampler = RssSampler::start(self.pids.clone());
        let stats = runner::run(&self.target, self.ctx.clone(), plan, salt).await;
        let (rss, cores) = sampler.finish(plan.duration).await;
        (stats, rss, cores)
    }

    /// `total` of one search of the class, to show how selective it is.
    async fn matches(&self, class: &'static str) -> Option<u64> {
        let mut c = self.target.connect().await.ok()?;
        let mut r = Rng::new(12345);
        let resp = c.send(&workloads::search_request(class, &self.ctx, &mut r)).await.ok()?;
        workloads::total_of(&resp)
    }

    /// Matches of one request of a log class: `total`, or the page's length.
    async fn log_matches(&self, class: &'static str) -> Option<u64> {
        let mut c = self.target.connect().await.ok()?;
        let mut r = Rng::new(12345);
        let resp = c.send(&workloads::logs_request(class, &self.ctx, &mut r, true)).await.ok()?;
        match resp.json()? {
            serde_json::Value::Array(a) => Some(a.len() as u64),
            v => v.get("total")?.as_u64(),
        }
    }

    fn row(&self, name: String, conns: usize, s: &Stats, rss: Option<f64>) -> Row {
        let mut row = Row::new(name, conns, s);
        row.rss_mib = rss;
        if !s.samples.is_empty() && s.errors > 0 {
            eprintln!("  errors in {}: {}", row.workload, s.samples.join(" | "));
        }
        row
    }
}

async fn fetch_token(target: &Target, style: &TokenStyle) -> Result<Arc<str>, String> {
    let mut c = target.connect().await?;
    let r = c.send(&workloads::token_request(style)).await?;
    if !r.ok() {
        return Err(format!("token request failed: HTTP {} {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    let v = r.json().ok_or("token response is not JSON")?;
    let t = v.get("access_token").and_then(|t| t.as_str()).ok_or("no access_token in the token response")?;
    Ok(Arc::from(t))
}

pub async fn run(a: RunArgs) -> Result<(), String> {
    print_machine();
    let list = expand(&a.workloads)?;
    let cost = list.iter().any(|w| w == "event-cost");
    let list: Vec<String> = list.into_iter().filter(|w| w != "event-cost").collect();
    let mut header = Vec::new();
    let mut rows = if list.is_empty() { Vec::new() } else { run_list(&a, &list, &mut header).await? };
    if cost {
        let dir = a.data_dir.as_ref().ok_or("event-cost restarts the server: it needs --data-dir")?;
        rows.extend(event_cost(&a, dir, &mut header).await?);
    }
    println!();
    for h in &header {
        println!("{h}");
    }
    println!("warm-up {} s, measured {} s per workload", a.warmup, a.duration);
    report::print_table(&rows);
    if let Some(p) = &a.json {
        report::append_json(p, &rows, &a.label)?;
    }
    if a.fail_on_error {
        let bad: Vec<&str> = rows
            .iter()
            .filter(|r| is_measured(r) && (r.errors > 0 || r.requests == 0))
            .map(|r| r.workload.as_str())
            .collect();
        if !bad.is_empty() {
            return Err(format!("workloads with errors or no successful request: {}", bad.join(", ")));
        }
    }
    Ok(())
}

/// Rows that measured requests (not event-cost's summary rows).
fn is_measured(r: &Row) -> bool {
    !r.workload.starts_with("event cost:")
}

async fn run_list(a: &RunArgs, list: &[String], header: &mut Vec<String>) -> Result<Vec<Row>, String> {
    let (server, target, manifest) = match (&a.data_dir, &a.url) {
        (Some(dir), None) => {
            if list.iter().any(|w| w.starts_with("dash:")) {
                let m = Manifest::read(dir)?.ok_or_else(|| {
                    format!("{} has no {}: load it first (castellan-bench load)", dir.display(), load::MANIFEST)
                })?;
                crate::dashboard::ensure_admin(dir, &m).await?;
            }
            let (s, m, line) = start_server(a, dir, Vec::new()).await?;
            header.push(line);
            let t = s.target.clone();
            (Some(s), t, Some(m))
        }
        (None, Some(url)) => (None, Target::new(url, a.ca.as_deref())?, None),
        _ => return Err("give either --data-dir (a loaded dir) or --url".into()),
    };
    let result = run_on(a, list, target, manifest, server.as_ref().map(|s| s.pid), header).await;
    if let Some(s) = server {
        s.stop();
    }
    result
}

/// Starts castellan on a loaded data dir (with extra environment); the
/// header line describing it.
async fn start_server(
    a: &RunArgs,
    dir: &Path,
    env: Vec<(String, String)>,
) -> Result<(Server, Manifest, String), String> {
    let m = Manifest::read(dir)?
        .ok_or_else(|| format!("{} has no {}: load it first (castellan-bench load)", dir.display(), load::MANIFEST))?;
    let bin = server::find_bin(a.bin.as_deref())?;
    let mut opts = load::server_opts(&bin, dir, &m, &a.server_log);
    for kv in &a.server_env {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("--server-env {kv}: expected KEY=VALUE"))?;
        opts.env.push((k.to_string(), v.to_string()));
    }
    opts.env.extend(env);
    let s = Server::start(&opts).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let line = format!(
        "server: {}{} (pid {}), store {}, {} users (seed {}), {} log events, start-up to ready {:.0} ms, idle RSS {:.1} MiB",
        bin.display(),
        opts.env.iter().map(|(k, v)| format!(" {k}={v}")).collect::<String>(),
        s.pid,
        if m.database_url.is_some() { "PostgreSQL" } else { "SQLite" },
        m.users,
        m.seed,
        m.logs.as_ref().map(|l| l.events).unwrap_or(0),
        s.startup.as_secs_f64() * 1000.0,
        server::rss_kib(s.pid).unwrap_or(0) as f64 / 1024.0
    );
    Ok((s, m, line))
}

/// event-cost: token and patch-user with log events on and off
/// (`CASTELLAN_BENCH_NO_LOG_EVENTS=1`), each workload on a server of its own
/// (so that one workload's events, still being checkpointed, do not slow
/// the next), `cost_rounds` times, on and off alternating which goes first;
/// the cost is the throughput lost with events on, from the mean of each side.
async fn event_cost(a: &RunArgs, dir: &Path, header: &mut Vec<String>) -> Result<Vec<Row>, String> {
    const WORKLOADS: [&str; 2] = ["token", "patch-user"];
    let mut rows = Vec::new();
    // (workload, events on): (req/s, p50, p99, server CPU µs a request) of each round
    let mut seen: Vec<((&str, bool), [f64; 4])> = Vec::new();
    for round in 0..a.cost_rounds.max(1) {
        for w in WORKLOADS {
            let order = if round % 2 == 0 { [true, false] } else { [false, true] };
            for on in order {
                let env =
                    if on { Vec::new() } else { vec![("CASTELLAN_BENCH_NO_LOG_EVENTS".to_string(), "1".to_string())] };
                let (s, m, line) = start_server(a, dir, env).await?;
                if rows.is_empty() {
                    header.push(line);
                }
                let list = vec![w.to_string()];
                let mut h = Vec::new();
                let result = async {
                    // Check that the switch did what it says: the newest
                    // event changes during a run with events, and not without.
                    let bearer = fetch_token(&s.target, &token_style(a, &s.target, Some(&m))).await?;
                    let before = newest_log_id(&s.target, &bearer).await?;
                    let rows = run_on(a, &list, s.target.clone(), Some(m.clone()), Some(s.pid), &mut h).await?;
                    let after = newest_log_id(&s.target, &bearer).await?;
                    match (on, before == after) {
                        (true, true) => Err("events on, but the run recorded no log event".to_string()),
                        (false, false) => Err(
                            "CASTELLAN_BENCH_NO_LOG_EVENTS=1, but the run recorded log events: is the binary current?"
                                .to_string(),
                        ),
                        _ => Ok(rows),
                    }
                }
                .await;
                s.stop();
                for mut row in result? {
                    seen.push(((w, on), [row.rps, row.p50_ms, row.p99_ms, row.cpu_us.unwrap_or(0.0)]));
                    row.workload =
                        format!("{} (events {}, round {})", row.workload, if on { "on" } else { "off" }, round + 1);
                    rows.push(row);
                }
            }
        }
    }
    let mean = |w: &str, on: bool, i: usize| {
        let v: Vec<f64> = seen.iter().filter(|(k, _)| *k == (w, on)).map(|(_, m)| m[i]).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    for w in WORKLOADS {
        let (on, off) = (mean(w, true, 0), mean(w, false, 0));
        let (p50_on, p50_off) = (mean(w, true, 1), mean(w, false, 1));
        let (p99_on, p99_off) = (mean(w, true, 2), mean(w, false, 2));
        let (cpu_on, cpu_off) = (mean(w, true, 3), mean(w, false, 3));
        let cost = if off > 0.0 { (1.0 - on / off) * 100.0 } else { 0.0 };
        let cpu_cost = if cpu_off > 0.0 { (cpu_on / cpu_off - 1.0) * 100.0 } else { 0.0 };
        let line = format!(
            "event cost of {w}: {on:.0} req/s with events, {off:.0} without = {cost:.1}% of throughput (target < 10%); server CPU a request {cpu_on:.1} vs {cpu_off:.1} µs ({cpu_cost:+.1}%); p50 {p50_on:.2} vs {p50_off:.2} ms ({:+.1}%), p99 {p99_on:.1} vs {p99_off:.1} ms",
            if p50_off > 0.0 { (p50_on / p50_off - 1.0) * 100.0 } else { 0.0 }
        );
        eprintln!("{line}");
        header.push(line);
        let mut row = Row::new(format!("event cost: {w}"), 0, &Stats::default());
        row.rps = on;
        row.cpu_us = Some(cpu_on);
        row.note = format!(
            "{cost:.1}% fewer req/s with events (on {on:.0} vs off {off:.0}), {cpu_cost:+.1}% server CPU a request ({cpu_on:.1} vs {cpu_off:.1} µs); means of {} rounds",
            a.cost_rounds.max(1)
        );
        rows.push(row);
    }
    Ok(rows)
}

/// How the workloads ask for tokens: the flags, else the data set's admin application.
fn token_style(a: &RunArgs, target: &Target, m: Option<&Manifest>) -> TokenStyle {
    let domain = m.map(|m| m.domain.clone()).unwrap_or_else(|| target.host.clone());
    TokenStyle {
        path: a.token_path.clone(),
        form: a.token_form,
        audience_param: a.audience_param.clone(),
        audience: a.audience.clone().unwrap_or_else(|| format!("https://{domain}/api/v2/")),
        client_id: a.client_id.clone().or_else(|| m.map(|m| m.client_id.clone())).unwrap_or_default(),
        client_secret: a.client_secret.clone().or_else(|| m.map(|m| m.client_secret.clone())).unwrap_or_default(),
        scope: a.scope.clone(),
    }
}

/// The newest log event's id (`GET /api/v2/logs?take=1`), to check whether
/// a run recorded events.
async fn newest_log_id(target: &Target, bearer: &Arc<str>) -> Result<Option<String>, String> {
    let mut c = target.connect().await?;
    let r = c.send(&crate::client::Req::get("/api/v2/logs?take=1", Some(bearer.clone()))).await?;
    if !r.ok() {
        return Err(format!("GET /api/v2/logs?take=1: HTTP {}", r.status));
    }
    let v = r.json().ok_or("the logs answer is not JSON")?;
    Ok(v.get(0).and_then(|e| e.get("log_id")).and_then(|x| x.as_str()).map(str::to_string))
}

async fn run_on(
    a: &RunArgs,
    list: &[String],
    target: Target,
    m: Option<Manifest>,
    pid: Option<u32>,
    header: &mut Vec<String>,
) -> Result<Vec<Row>, String> {
    let token_style = token_style(a, &target, m.as_ref());
    let needs_bearer = list.iter().any(|w| w != "token");
    let bearer = if needs_bearer { Some(fetch_token(&target, &token_style).await?) } else { None };
    let users = a.users.or(m.as_ref().map(|m| m.users)).unwrap_or(0);
    let nonce =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let ctx = Arc::new(Ctx {
        seed: a.seed.or(m.as_ref().map(|m| m.seed)).unwrap_or(1),
        users,
        token_style,
        bearer,
        nonce,
        created: AtomicU64::new(0),
        logs: m.as_ref().and_then(|m| m.logs.as_ref()).map(|l| LogsCtx { start_ms: l.start_ms, end_ms: l.end_ms }),
    });
    let mut pids = a.server_pid.clone();
    pids.extend(pid);
    let env = Env { target, ctx, pids, a: a.clone() };

    let (mut rsa, mut bcrypt) = (None, None);
    if a.reference {
        quiet(a).await;
        let r = reference::openssl_rsa2048_sign(a.reference_seconds)?;
        let b = reference::bcrypt_rate(reference::cores(), Duration::from_secs(a.reference_seconds));
        header.push(format!(
            "reference: openssl speed -seconds {} -multi {} rsa2048 = {r:.0} sign/s; bcrypt-10 on {} threads = {b:.1} hashes/s",
            a.reference_seconds,
            reference::cores(),
            reference::cores()
        ));
        (rsa, bcrypt) = (Some(r), Some(b));
    }

    let mut rows = Vec::new();
    for (name, rate, secs) in [
        ("ref: openssl rsa2048 sign/s", rsa, a.reference_seconds),
        ("ref: bcrypt-10 hashes/s", bcrypt, a.reference_seconds),
    ] {
        if let Some(rate) = rate {
            let mut row = Row::new(name.into(), reference::cores(), &Stats::default());
            row.secs = secs as f64;
            row.rps = rate;
            row.note = format!("{} threads/processes", reference::cores());
            rows.push(row);
        }
    }
    for (i, w) in list.iter().enumerate() {
        let busy = quiet(a).await;
        eprintln!("running {w} (load avg {}, CPUs {:.0}% busy before)", server::loadavg(), busy * 100.0);
        if w == "create-user-with-probes" {
            let mut r = probes(&env, bcrypt).await;
            for row in &mut r {
                row.load = format!("{} ({:.0}%)", row.load, busy * 100.0);
            }
            rows.extend(r);
            continue;
        }
        if w == "stream-throughput" {
            let conns = a.connections.unwrap_or(8);
            let mut row = stream::throughput(&env.target, &env.ctx, a.stream_events, conns).await?;
            row.load = format!("{} ({:.0}%)", row.load, busy * 100.0);
            eprintln!("{}", report::line(&row));
            rows.push(row);
            continue;
        }
        let kind = Kind::parse(w).ok_or_else(|| format!("unknown workload {w}"))?;
        if kind.needs_users() && users == 0 {
            return Err(format!("{w} needs a loaded data set (--data-dir, or --users/--seed with --url)"));
        }
        if matches!(kind, Kind::Logs(_)) && env.ctx.logs.is_none() {
            return Err(format!("{w} needs loaded log events (castellan-bench load-logs)"));
        }
        let conns = env.connections(kind);
        let (stats, rss, cores) = env.measure_cpu(&env.plan(kind, conns, None), i as u64).await;
        let mut row = env.row(kind.name(), conns, &stats, rss);
        row.cpu_us = cores.filter(|_| row.rps > 0.0).map(|c| c * 1e6 / row.rps);
        row.load = format!("{} ({:.0}%)", row.load, busy * 100.0);
        match kind {
            Kind::Search(class) => row.matches = env.matches(class).await,
            Kind::Logs(class) => row.matches = env.log_matches(class).await,
            Kind::Token => {
                if let Some(r) = rsa {
                    row.note = format!("{:.2} of openssl RS256", row.rps / r);
                }
            }
            Kind::CreateUser => {
                if let Some(b) = bcrypt {
                    row.note = format!("{:.2} of bcrypt-10", row.rps / b);
                }
            }
            _ => {}
        }
        eprintln!("{}", report::line(&row));
        rows.push(row);
    }
    Ok(rows)
}

/// Waits for a quiet machine if asked; the CPUs' busy fraction before the run.
async fn quiet(a: &RunArgs) -> f64 {
    if a.quiet_wait == 0 {
        return 0.0;
    }
    server::wait_quiet(Duration::from_secs(a.quiet_wait), 0.25).await
}

/// create-user at saturation while token and search:email probes (one
/// connection each, one request every 20 ms) measure the latency others see;
/// the probes also run alone first, for their idle values.
async fn probes(env: &Env, bcrypt: Option<f64>) -> Vec<Row> {
    let pace = Some(Duration::from_millis(20));
    let tp = env.plan(Kind::Token, 1, pace);
    let sp = env.plan(Kind::Search("email"), 1, pace);
    let (t_idle, s_idle) = tokio::join!(env.measure(&tp, 101), env.measure(&sp, 102));
    let conns = env.connections(Kind::CreateUser);
    let cp = env.plan(Kind::CreateUser, conns, None);
    let ((c, c_rss), (t_load, _), (s_load, _)) =
        tokio::join!(env.measure(&cp, 103), env.measure(&tp, 104), env.measure(&sp, 105));
    let mut rows = vec![
        env.row("probe token (idle)".into(), 1, &t_idle.0, t_idle.1),
        env.row("probe search:email (idle)".into(), 1, &s_idle.0, s_idle.1),
    ];
    let mut create = env.row("create-user (+probes)".into(), conns, &c, c_rss);
    if let Some(b) = bcrypt {
        create.note = format!("{:.2} of bcrypt-10", create.rps / b);
    }
    rows.push(create);
    for (name, idle, loaded) in [
        ("probe token (under create-user)", &t_idle.0, &t_load),
        ("probe search:email (under create-user)", &s_idle.0, &s_load),
    ] {
        let mut r = env.row(name.into(), 1, loaded, None);
        let base = idle.quantile_ms(0.99);
        if base > 0.0 {
            r.note = format!("p99 {:.1}x idle", r.p99_ms / base);
        }
        rows.push(r);
    }
    for r in &rows {
        eprintln!("{}", report::line(r));
    }
    rows
}

/// Starts castellan `times` times on an existing store: time to ready and
/// RSS one second after.
pub async fn startup(dir: &Path, times: usize, bin: Option<&Path>) -> Result<(), String> {
    print_machine();
    let m = Manifest::read(dir)?.ok_or_else(|| format!("{} is not a loaded data dir", dir.display()))?;
    let bin = server::find_bin(bin)?;
    println!("store: {}, {} users", if m.database_url.is_some() { "PostgreSQL" } else { "SQLite" }, m.users);
    println!("| start | ready ms | RSS after 1 s MiB |\n|--:|--:|--:|");
    let mut all = Vec::new();
    for i in 0..times.max(1) {
        let s = Server::start(&load::server_opts(&bin, dir, &m, "info")).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ms = s.startup.as_secs_f64() * 1000.0;
        let rss = server::rss_kib(s.pid).unwrap_or(0) as f64 / 1024.0;
        println!("| {} | {ms:.0} | {rss:.1} |", i + 1);
        all.push(ms);
        s.stop();
    }
    all.sort_by(f64::total_cmp);
    println!("median {:.0} ms, max {:.0} ms (load avg {})", all[all.len() / 2], all[all.len() - 1], server::loadavg());
    Ok(())
}
