//! Starting and stopping a castellan server for a benchmark, and reading a
//! process's memory from /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{Req, Target};

/// How to run castellan.
#[derive(Debug, Clone)]
pub struct ServerOpts {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub domain: String,
    pub database_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// The server's log filter (its default is `info`: one line per request).
    pub log: String,
    /// Extra environment (e.g. `CASTELLAN_BENCH_NO_LOG_EVENTS=1`).
    pub env: Vec<(String, String)>,
}

pub struct Server {
    child: Child,
    pub pid: u32,
    pub target: Target,
    /// From spawn to the first `GET /readyz` answering 200.
    pub startup: Duration,
}

/// A free local port (bound then released).
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The castellan binary: `explicit`, else $CASTELLAN_BIN, else target/release
/// or target/debug next to this workspace, whichever exists (release first).
pub fn find_bin(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.exists() { Ok(p.to_path_buf()) } else { Err(format!("{}: no such file", p.display())) };
    }
    if let Ok(p) = std::env::var("CASTELLAN_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for profile in ["release", "debug"] {
        let p = root.join("target").join(profile).join("castellan");
        if p.exists() {
            return Ok(p);
        }
    }
    Err("castellan binary not found: build it (cargo build --release -p castellan) or pass --bin / set CASTELLAN_BIN"
        .into())
}

impl Server {
    /// Starts castellan on a free port and waits until it is ready (60 s at most).
    pub async fn start(o: &ServerOpts) -> Result<Server, String> {
        std::fs::create_dir_all(&o.data_dir).map_err(|e| format!("{}: {e}", o.data_dir.display()))?;
        let port = free_port()?;
        let log_path = o.data_dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&o.bin);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&o.data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--domain")
            .arg(&o.domain)
            .arg("--log")
            .arg(&o.log)
            .env("CASTELLAN_BOOTSTRAP_CLIENT_ID", &o.client_id)
            .env("CASTELLAN_BOOTSTRAP_CLIENT_SECRET", &o.client_secret)
            .env_remove("CASTELLAN_DATABASE_URL")
            .env_remove("CASTELLAN_CONFIG")
            .env_remove("CASTELLAN_BENCH_NO_LOG_EVENTS")
            .env_remove("CASTELLAN_BENCH_SIGN_EVERY_TOKEN")
            .envs(o.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if let Some(url) = &o.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", o.bin.display()))?;
        let pid = child.id();
        let ca = o.data_dir.join("tls").join("ca.pem");
        let limit = Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("castellan exited with {status} at start; see {}", log_path.display()));
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                return Err(format!("castellan not ready after {limit:?}; see {}", log_path.display()));
            }
            if ca.exists() {
                // The Host header names the tenant; we dial the port we chose.
                if let Ok(mut target) = Target::new(&format!("https://{}", o.domain), Some(&ca)) {
                    target.addr = format!("127.0.0.1:{port}");
                    if let Ok(mut c) = target.connect().await {
                        if let Ok(r) = c.send(&Req::get("/readyz", None)).await {
                            if r.status == 200 {
                                return Ok(Server { child, pid, target, startup: started.elapsed() });
                            }
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGTERM (through `kill`, the workspace forbids unsafe), then waits up to
    /// 15 s before killing.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of `pid` in KiB (VmRSS), if the process exists.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system, every thread, exited ones included) of several
/// processes, in seconds: /proc/PID/stat counts it in USER_HZ ticks, which
/// Linux fixes at 100 a second for user space.
pub fn cpu_secs(pids: &[u32]) -> Option<f64> {
    let mut ticks = 0u64;
    for pid in pids {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces and parentheses).
        let rest = &s[s.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
        ticks += f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    }
    Some(ticks as f64 / 100.0)
}

/// Sum of VmRSS over several processes (a node cluster), KiB.
pub fn rss_sum_kib(pids: &[u32]) -> Option<u64> {
    let v: Vec<u64> = pids.iter().filter_map(|p| rss_kib(*p)).collect();
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum())
    }
}

/// The 1-minute load average.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// (busy, total) jiffies of all CPUs from /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = s.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some((total - idle, total))
}

/// Waits (at most `max`) until the machine's CPUs were at most `busy_max`
/// busy over one second, so a run does not start in the middle of someone
/// else's build. Returns the last measured busy fraction.
pub async fn wait_quiet(max: Duration, busy_max: f64) -> f64 {
    let until = Instant::now() + max;
    loop {
        let a = cpu_jiffies();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busy = match (a, cpu_jiffies()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64,
            _ => return 0.0,
        };
        if busy <= busy_max || Instant::now() >= until {
            return busy;
        }
    }
}
