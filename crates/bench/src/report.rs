//! The result table: one row per workload run, printed as Markdown so it can
//! be pasted into BENCHMARKS.md, and optionally appended as JSON lines.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::runner::Stats;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub workload: String,
    pub conns: usize,
    pub secs: f64,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    /// `total` of the search (for randomized classes: of one sample).
    pub matches: Option<u64>,
    /// Largest server RSS sampled during the run.
    pub rss_mib: Option<f64>,
    /// The server's CPU time per request over the measured seconds, in
    /// microseconds (every thread; less sensitive than req/s to other work
    /// on a shared machine).
    pub cpu_us: Option<f64>,
    /// 1-minute load average at the end of the run, and (with --quiet-wait)
    /// how busy the CPUs were just before it.
    pub load: String,
    pub note: String,
}

impl Row {
    pub fn new(workload: String, conns: usize, s: &Stats) -> Row {
        Row {
            workload,
            conns,
            secs: s.secs,
            requests: s.requests,
            rps: s.rps(),
            p50_ms: s.quantile_ms(0.50),
            p90_ms: s.quantile_ms(0.90),
            p99_ms: s.quantile_ms(0.99),
            max_ms: s.max_ms(),
            errors: s.errors,
            matches: None,
            rss_mib: None,
            cpu_us: None,
            load: crate::server::loadavg(),
            note: String::new(),
        }
    }
}

pub const HEADER: &str = "| workload | conns | secs | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | matches | RSS MiB | CPU µs/req | load | note |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|";

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn line(r: &Row) -> String {
    format!(
        "| {} | {} | {:.1} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        r.workload,
        r.conns,
        r.secs,
        r.requests,
        r.rps,
        ms(r.p50_ms),
        ms(r.p90_ms),
        ms(r.p99_ms),
        ms(r.max_ms),
        r.errors,
        r.matches.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
        r.rss_mib.map(|m| format!("{m:.0}")).unwrap_or_else(|| "-".into()),
        r.cpu_us.map(|c| format!("{c:.0}")).unwrap_or_else(|| "-".into()),
        r.load,
        r.note
    )
}

pub fn print_table(rows: &[Row]) {
    println!("{HEADER}");
    for r in rows {
        println!("{}", line(r));
    }
}

pub fn append_json(path: &Path, rows: &[Row], label: &str) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for r in rows {
        let mut v = serde_json::to_value(r).map_err(|e| e.to_string())?;
        v["label"] = serde_json::json!(label);
        writeln!(f, "{v}").map_err(|e| e.to_string())?;
    }
    Ok(())
}
